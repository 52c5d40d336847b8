"""SD-JWT disclosures and digests (RFC 9901 §4.2)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from ler_crypto.errors import CryptoError, SdJwtError
from ler_crypto.limits import parse_json
from ler_crypto.multibase import b64url_decode, b64url_encode

SD_ALG = "sha-256"
#: Claim names an object-property disclosure may not use (RFC 9901 §4.2.1 / §7.1 step 3.2.2.2).
RESERVED_NAMES = frozenset({"_sd", "..."})


def digest(disclosure: str) -> str:
    """base64url(SHA-256(ASCII(disclosure))) — RFC 9901 §4.2.3: hash the encoded string as is."""
    return b64url_encode(hashlib.sha256(disclosure.encode("ascii")).digest())


def new_salt() -> str:
    """128 bits from the CSPRNG, base64url (RFC 9901 §4.2.1 / §9.3 recommends ≥128 bits)."""
    return b64url_encode(secrets.token_bytes(16))


def decoy_digest() -> str:
    """A digest of random data, indistinguishable from a real one (RFC 9901 §4.2.5)."""
    return b64url_encode(hashlib.sha256(secrets.token_bytes(32)).digest())


@dataclass(frozen=True)
class Disclosure:
    """One disclosure: ``name`` is None for an array element (RFC 9901 §4.2.2)."""

    encoded: str
    salt: str
    name: str | None
    value: Any

    @property
    def digest(self) -> str:
        """The digest that references this disclosure in the issuer JWT."""
        return digest(self.encoded)

    @classmethod
    def create(cls, name: str | None, value: Any, *, salt: str | None = None) -> Disclosure:
        """Encode a new disclosure for an object property (``name``) or array element."""
        if name is not None and name in RESERVED_NAMES:
            raise SdJwtError(f"claim name {name!r} cannot be selectively disclosed")
        salt = salt or new_salt()
        array = [salt, value] if name is None else [salt, name, value]
        text = json.dumps(array, ensure_ascii=False)
        return cls(b64url_encode(text.encode("utf-8")), salt, name, value)

    @classmethod
    def parse(cls, encoded: str) -> Disclosure:
        """Decode and validate a disclosure string (RFC 9901 §7.1 step 3)."""
        try:
            array = parse_json(b64url_decode(encoded))
        except CryptoError as err:
            raise SdJwtError(f"disclosure is not base64url-encoded JSON: {err}") from err
        if not isinstance(array, list) or len(array) not in (2, 3):
            raise SdJwtError("a disclosure must be a JSON array of 2 or 3 elements")
        salt = array[0]
        if not isinstance(salt, str):
            raise SdJwtError("disclosure salt must be a string")
        if len(array) == 2:
            return cls(encoded, salt, None, array[1])
        name = array[1]
        if not isinstance(name, str):
            raise SdJwtError("disclosure claim name must be a string")
        if name in RESERVED_NAMES:
            raise SdJwtError(f"disclosure uses the reserved claim name {name!r}")
        return cls(encoded, salt, name, array[2])

    def __repr__(self) -> str:
        # The value may be personal data; keep it out of logs.
        kind = f"claim {self.name!r}" if self.name is not None else "array element"
        return f"Disclosure({kind}, digest={self.digest})"
