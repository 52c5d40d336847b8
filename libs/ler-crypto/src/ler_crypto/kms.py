"""Envelope encryption of private keys at rest (AES-256-GCM under a KEK).

Blob layout, version 1 (all of the header is authenticated as AAD)::

    b"LERK" | 0x01 | len(kid) (1 byte) | kid (UTF-8) | nonce (12 bytes) | ciphertext+tag

The plaintext is a curve byte (1 = Ed25519, 2 = P-256) followed by the 32-byte
private seed/scalar. Other secrets a service must keep usable (e.g. webhook HMAC keys) are
sealed the same way with :meth:`EnvelopeCipher.seal`, under the magic ``b"LERD"`` so a data
blob is never taken for a key blob. Rotation: configure the new KEK as active and keep the old
one until every blob has been :meth:`EnvelopeCipher.rewrap`-ped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ler_crypto.errors import KeyFormatError
from ler_crypto.keys import Curve, KeyPair

_MAGIC = b"LERK"
_DATA_MAGIC = b"LERD"
_VERSION = 1
_NONCE_LEN = 12
_CURVE_CODES: dict[str, int] = {"Ed25519": 1, "P-256": 2}
_CODE_CURVES: dict[int, Curve] = {1: "Ed25519", 2: "P-256"}


class KeyEncryptionKey:
    """A named 256-bit AES key used to wrap private keys. Never shown in repr."""

    __slots__ = ("_aead", "kid")

    def __init__(self, kid: str, key: bytes) -> None:
        if not isinstance(kid, str) or not kid or len(kid.encode()) > 255:
            raise KeyFormatError("KEK id must be a non-empty string of at most 255 bytes")
        if not isinstance(key, bytes | bytearray) or len(key) != 32:
            raise KeyFormatError(f"KEK {kid!r} must be exactly 32 bytes (AES-256)")
        self.kid = kid
        self._aead = AESGCM(bytes(key))

    @classmethod
    def generate(cls, kid: str) -> KeyEncryptionKey:
        """A fresh random KEK."""
        return cls(kid, AESGCM.generate_key(bit_length=256))

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(kid={self.kid!r})"

    __str__ = __repr__


def blob_kid(blob: bytes) -> str:
    """The KEK id a blob was encrypted under (without decrypting it)."""
    if bytes(blob[:4]) == _DATA_MAGIC:
        return _parse_header(blob, _DATA_MAGIC, "sealed data blob")[0]
    return _parse_header(blob)[0]


def _header(kid: str, magic: bytes = _MAGIC) -> bytes:
    encoded = kid.encode()
    return magic + bytes([_VERSION, len(encoded)]) + encoded


def _parse_header(
    blob: bytes, magic: bytes = _MAGIC, what: str = "encrypted private-key blob"
) -> tuple[str, int]:
    if not isinstance(blob, bytes | bytearray) or len(blob) < 6 or blob[:4] != magic:
        raise KeyFormatError(f"not a valid {what} (unknown format)")
    if blob[4] != _VERSION:
        raise KeyFormatError(f"unsupported {what} version {blob[4]}")
    kid_len = blob[5]
    end = 6 + kid_len
    if len(blob) < end + _NONCE_LEN + 16:
        raise KeyFormatError(f"{what} is truncated")
    try:
        kid = bytes(blob[6:end]).decode()
    except UnicodeDecodeError as err:
        raise KeyFormatError(f"{what} has an invalid KEK id") from err
    return kid, end


class EnvelopeCipher:
    """Encrypts/decrypts private keys under a set of KEKs; new blobs use the active one."""

    def __init__(
        self,
        keks: Mapping[str, KeyEncryptionKey] | Iterable[KeyEncryptionKey],
        active_kid: str,
    ) -> None:
        values = keks.values() if isinstance(keks, Mapping) else keks
        self._keks: dict[str, KeyEncryptionKey] = {k.kid: k for k in values}
        if active_kid not in self._keks:
            raise KeyFormatError(f"active KEK {active_kid!r} is not among the configured KEKs")
        self.active_kid = active_kid

    def encrypt_private_key(self, key_pair: KeyPair) -> bytes:
        """Wrap ``key_pair`` under the active KEK; returns a versioned blob."""
        plaintext = bytes([_CURVE_CODES[key_pair.curve]]) + key_pair.private_bytes()
        return self._encrypt(_MAGIC, plaintext)

    def decrypt(self, blob: bytes) -> KeyPair:
        """Unwrap a blob; KeyFormatError (without key material) if it cannot be opened."""
        plaintext = self._decrypt(blob, _MAGIC, "encrypted private-key blob", "private key")
        curve = _CODE_CURVES.get(plaintext[0]) if plaintext else None
        if curve is None or len(plaintext) != 33:
            raise KeyFormatError("decrypted private key has an unknown format")
        return KeyPair.from_private_bytes(curve, plaintext[1:])

    def seal(self, data: bytes) -> bytes:
        """Encrypt a secret that must stay usable (not a key pair) under the active KEK."""
        return self._encrypt(_DATA_MAGIC, bytes(data))

    def open(self, blob: bytes) -> bytes:
        """The secret sealed in ``blob``; KeyFormatError (without the secret) otherwise."""
        return self._decrypt(blob, _DATA_MAGIC, "sealed data blob", "sealed data")

    def _encrypt(self, magic: bytes, plaintext: bytes) -> bytes:
        kek = self._keks[self.active_kid]
        header = _header(kek.kid, magic)
        nonce = os.urandom(_NONCE_LEN)
        return header + nonce + kek._aead.encrypt(nonce, plaintext, header)

    def _decrypt(self, blob: bytes, magic: bytes, what: str, contents: str) -> bytes:
        kid, end = _parse_header(blob, magic, what)
        kek = self._keks.get(kid)
        if kek is None:
            raise KeyFormatError(
                f"{contents} was encrypted under KEK {kid!r}, which is not configured"
            )
        nonce = bytes(blob[end : end + _NONCE_LEN])
        try:
            return kek._aead.decrypt(nonce, bytes(blob[end + _NONCE_LEN :]), bytes(blob[:end]))
        except InvalidTag as err:
            raise KeyFormatError(
                f"cannot decrypt {contents} with KEK {kid!r}: wrong key-encryption key "
                "or corrupted blob"
            ) from err

    def rewrap(self, blob: bytes) -> bytes:
        """Re-encrypt a blob (private key or sealed data) under the active KEK (KEK rotation)."""
        if bytes(blob[:4]) == _DATA_MAGIC:
            return self.seal(self.open(blob))
        return self.encrypt_private_key(self.decrypt(blob))

    def needs_rewrap(self, blob: bytes) -> bool:
        """True when ``blob`` is not under the active KEK."""
        return blob_kid(blob) != self.active_kid

    def __repr__(self) -> str:
        return f"EnvelopeCipher(kids={sorted(self._keks)}, active={self.active_kid!r})"


__all__ = ["EnvelopeCipher", "KeyEncryptionKey", "blob_kid"]
