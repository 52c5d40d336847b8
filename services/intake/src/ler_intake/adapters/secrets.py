"""Webhook secrets sealed at rest under the KEK (``LER_KEK``, ``ler_platform.kek``).

The webhook secret must stay usable (it keys the HMAC), so unlike an API key it cannot be
hashed: it is encrypted. Envelope encryption: each secret gets a fresh 256-bit data key,
used with AES-256-GCM; the data key is wrapped by ``ler_crypto.kms.EnvelopeCipher`` under the
KEK (so KEK ids and rotation work as for the services' private keys). ``EnvelopeCipher`` wraps
private keys only, so the data key travels as the 32-byte seed of a key pair — it is just 32
random bytes either way.

Blob layout, version 1 (the whole header is authenticated as AAD)::

    b"LERS" | 0x01 | len(wrapped) (2 bytes, big-endian) | wrapped data key | nonce (12) | ct+tag
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from ler_crypto.errors import CryptoError
from ler_crypto.keys import KeyPair
from ler_crypto.kms import EnvelopeCipher, KeyEncryptionKey

from ler_intake.domain.errors import IntakeError

_MAGIC = b"LERS"
_VERSION = 1
_NONCE = 12


class SecretUnreadable(IntakeError):
    """A sealed secret cannot be opened (wrong KEK or corrupted); never carries the secret."""


class SecretBox:
    """Seals and opens short secrets under the KEKs given (new seals use the active one)."""

    def __init__(self, keks: list[KeyEncryptionKey], active_kid: str) -> None:
        self._cipher = EnvelopeCipher(keks, active_kid)

    @classmethod
    def of(cls, kek: KeyEncryptionKey) -> SecretBox:
        """A box with one KEK."""
        return cls([kek], kek.kid)

    def seal(self, secret: str) -> bytes:
        """The sealed form of ``secret``."""
        data_key = os.urandom(32)
        wrapped = self._cipher.encrypt_private_key(KeyPair.from_private_bytes("Ed25519", data_key))
        header = _MAGIC + bytes([_VERSION]) + len(wrapped).to_bytes(2, "big") + wrapped
        nonce = os.urandom(_NONCE)
        return header + nonce + AESGCM(data_key).encrypt(nonce, secret.encode(), header)

    def open(self, blob: bytes) -> str:
        """The secret sealed in ``blob``; ``SecretUnreadable`` when it cannot be opened."""
        blob = bytes(blob)
        if len(blob) < 7 or blob[:4] != _MAGIC or blob[4] != _VERSION:
            raise SecretUnreadable("not a sealed secret (unknown format or version)")
        end = 7 + int.from_bytes(blob[5:7], "big")
        if len(blob) < end + _NONCE + 16:
            raise SecretUnreadable("sealed secret is truncated")
        try:
            data_key = self._cipher.decrypt(blob[7:end]).private_bytes()
            plain = AESGCM(data_key).decrypt(
                blob[end : end + _NONCE], blob[end + _NONCE :], blob[:end]
            )
        except (CryptoError, InvalidTag) as err:
            raise SecretUnreadable(
                "cannot open a sealed webhook secret: wrong key-encryption key or corrupted data"
            ) from err
        return plain.decode()

    def __repr__(self) -> str:
        return "SecretBox()"
