"""The key-encryption key (``LER_KEK``) that wraps services' private keys at rest.

``LER_KEK`` is ``[kid:]<base64url of 32 bytes>``; the kid lets a KEK be rotated
(``ler_crypto.kms.EnvelopeCipher`` keeps old ones for decryption). With PostgreSQL it is
required; in embedded (SQLite) mode a development KEK is generated once into a 0600 file.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from ler_crypto.errors import KeyFormatError
from ler_crypto.kms import KeyEncryptionKey

from ler_platform.errors import ConfigurationError
from ler_platform.settings import ServiceSettings

log = logging.getLogger(__name__)

DEFAULT_KID = "kek-1"


def parse_kek(value: str) -> KeyEncryptionKey:
    """Parse a ``LER_KEK`` value; errors never echo it."""
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


def new_kek_value(kid: str = DEFAULT_KID) -> str:
    """A fresh ``LER_KEK`` value (development set-ups and tests)."""
    return kid + ":" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def kek_value(settings: ServiceSettings, dev_kek_file: str) -> str:
    """``LER_KEK``, or in embedded (SQLite) mode only a development KEK kept in
    ``dev_kek_file`` (created 0600 on first use). Any other database requires ``LER_KEK``."""
    if settings.kek is not None:
        return settings.kek.get_secret_value()
    if not settings.database_url.startswith("sqlite"):
        raise ConfigurationError("LER_KEK is required: private keys are encrypted with it")
    path = Path(dev_kek_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(new_kek_value())
        log.warning("LER_KEK is unset: generated a development KEK file (not for production)")
    return path.read_text().strip()
