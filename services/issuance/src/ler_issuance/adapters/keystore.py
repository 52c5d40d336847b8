"""The key store: Ed25519 signing keys encrypted at rest with ``ler_crypto.kms``.

The key-encryption key comes from ``LER_KEK`` (a secret): ``<kid>:<base64url 32 bytes>`` or just
the base64url bytes. Decrypted key pairs are cached in memory by their blob so a busy issuer
does not decrypt per credential; nothing here logs or shows key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections import OrderedDict

from ler_crypto.errors import KeyFormatError
from ler_crypto.keys import KeyPair
from ler_crypto.kms import EnvelopeCipher, KeyEncryptionKey
from ler_platform.errors import ConfigurationError

from ler_issuance.domain.model import SigningKey

DEFAULT_KID = "kek-1"


def parse_kek(value: str) -> KeyEncryptionKey:
    """Parse ``LER_KEK``; the error never echoes the value."""
    kid, sep, encoded = value.strip().rpartition(":")
    if not sep:
        kid, encoded = DEFAULT_KID, value.strip()
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as err:
        raise ConfigurationError("LER_KEK is not base64url (expected [kid:]<32 bytes>)") from err
    try:
        return KeyEncryptionKey(kid or DEFAULT_KID, raw)
    except KeyFormatError as err:
        raise ConfigurationError("LER_KEK must hold exactly 32 bytes (AES-256)") from err


def new_kek_value() -> str:
    """A fresh ``LER_KEK`` value (for development set-ups and tests)."""
    return DEFAULT_KID + ":" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


class EnvelopeKeyStore:
    """Generates Ed25519 keys and opens them through an ``EnvelopeCipher``."""

    def __init__(self, cipher: EnvelopeCipher, *, cache_size: int = 256) -> None:
        self._cipher = cipher
        self._cache: OrderedDict[bytes, KeyPair] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def from_kek(cls, kek: KeyEncryptionKey) -> EnvelopeKeyStore:
        """A store with one KEK, active."""
        return cls(EnvelopeCipher([kek], active_kid=kek.kid))

    def generate(self) -> tuple[KeyPair, bytes]:
        """See ``KeyStore.generate``."""
        pair = KeyPair.generate("Ed25519")
        return pair, self._cipher.encrypt_private_key(pair)

    def signer(self, key: SigningKey) -> KeyPair:
        """See ``KeyStore.signer``."""
        tag = hashlib.sha256(key.encrypted_private_key).digest()
        pair = self._cache.get(tag)
        if pair is None:
            pair = self._cipher.decrypt(key.encrypted_private_key)
            self._cache[tag] = pair
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(tag)
        return pair

    def __repr__(self) -> str:
        return f"EnvelopeKeyStore({self._cipher!r})"
