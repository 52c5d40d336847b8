"""Holder keys: Ed25519, ``did:key`` (default) or ``did:jwk``, encrypted at rest with
``ler_crypto.kms`` under the KEK from ``LER_KEK``. Nothing here logs or shows key material."""

from __future__ import annotations

from ler_crypto.did import did_jwk_from_public_key, did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.kms import EnvelopeCipher, KeyEncryptionKey
from ler_platform.errors import ConfigurationError

from ler_wallet.service_layer.context import HolderKey


class EnvelopeHolderKeys:
    """Generates holder keys and opens their encrypted blobs."""

    def __init__(self, cipher: EnvelopeCipher, *, did_method: str = "key") -> None:
        if did_method not in ("key", "jwk"):
            raise ConfigurationError("holder DID method must be 'key' or 'jwk'")
        self._cipher = cipher
        self._method = did_method

    @classmethod
    def from_kek(cls, kek: KeyEncryptionKey, *, did_method: str = "key") -> EnvelopeHolderKeys:
        """A store with one, active KEK."""
        return cls(EnvelopeCipher([kek], active_kid=kek.kid), did_method=did_method)

    def generate(self) -> HolderKey:
        """A fresh Ed25519 pair with its DID and verification method."""
        pair = KeyPair.generate("Ed25519")
        make = did_key_from_public_key if self._method == "key" else did_jwk_from_public_key
        did, vm = make(pair.public_key)
        return HolderKey(pair, did, vm, self._cipher.encrypt_private_key(pair))

    def open(self, encrypted: bytes) -> KeyPair:
        """Decrypt a holder key (``KeyFormatError`` without key material when it cannot)."""
        return self._cipher.decrypt(encrypted)

    def __repr__(self) -> str:
        return f"EnvelopeHolderKeys(method=did:{self._method})"
