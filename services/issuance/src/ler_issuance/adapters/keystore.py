"""The key store: Ed25519 signing keys encrypted at rest with ``ler_crypto.kms``.

The key-encryption key comes from ``LER_KEK`` (a secret): ``<kid>:<base64url 32 bytes>`` or just
the base64url bytes. Decrypted key pairs are cached in memory by their blob so a busy issuer
does not decrypt per credential; nothing here logs or shows key material.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from ler_crypto.keys import KeyPair
from ler_crypto.kms import EnvelopeCipher, KeyEncryptionKey

from ler_issuance.domain.model import SigningKey


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
