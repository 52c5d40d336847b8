"""Webhook secrets sealed at rest under the KEK (``LER_KEK``, ``ler_platform.kek``).

The webhook secret must stay usable (it keys the HMAC), so unlike an API key it cannot be
hashed: it is encrypted with ``ler_crypto.kms.EnvelopeCipher.seal`` (AES-256-GCM under the KEK,
the same KEK ids and rotation as the services' private keys).
"""

from __future__ import annotations

from ler_crypto.errors import KeyFormatError
from ler_crypto.kms import EnvelopeCipher, KeyEncryptionKey

from ler_intake.domain.errors import IntakeError


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
        return self._cipher.seal(secret.encode())

    def open(self, blob: bytes) -> str:
        """The secret sealed in ``blob``; ``SecretUnreadable`` when it cannot be opened."""
        try:
            return self._cipher.open(bytes(blob)).decode()
        except KeyFormatError as err:  # its message names the problem, never the secret
            raise SecretUnreadable(f"cannot open a sealed webhook secret: {err}") from err

    def __repr__(self) -> str:
        return "SecretBox()"
