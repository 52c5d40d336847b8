"""Short-lived bearer access tokens (OAuth 2.0 client credentials, RFC 6749 §4.4).

A token is ``lat1.<base64url payload>.<base64url HMAC-SHA256>``: stateless, so gRPC and HTTP
check it without a database round trip, and it expires after ``ttl`` seconds. The HMAC key is
a service secret (``LER_TOKEN_SECRET``, or derived from the KEK).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable

from ler_issuance.domain.errors import InvalidClient

PREFIX = "lat1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AccessTokens:
    """Issues and checks access tokens for issuer tenants."""

    def __init__(
        self, key: bytes, *, ttl_seconds: int = 900, clock: Callable[[], float] = time.time
    ) -> None:
        if len(key) < 32:
            raise ValueError("token key must be at least 32 bytes")
        self._key = key
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, subject: str, scope: str = "issuer") -> str:
        """A token for ``subject`` valid for ``ttl_seconds``."""
        payload = {
            "sub": subject,
            "scope": scope,
            "exp": int(self._clock()) + self.ttl_seconds,
            "jti": secrets.token_hex(8),
        }
        body = PREFIX + "." + _b64(json.dumps(payload, separators=(",", ":")).encode())
        return body + "." + self._mac(body)

    def verify(self, token: str, scope: str = "issuer") -> str:
        """The subject of a valid, unexpired token of ``scope``; else ``InvalidClient``."""
        prefix, _, rest = token.partition(".")
        encoded, _, mac = rest.partition(".")
        if prefix != PREFIX or not encoded or not mac:
            raise InvalidClient("the bearer token is not valid")
        body = f"{prefix}.{encoded}"
        if not hmac.compare_digest(self._mac(body), mac):
            raise InvalidClient("the bearer token is not valid")
        try:
            payload = json.loads(_unb64(encoded))
        except (binascii.Error, ValueError) as err:
            raise InvalidClient("the bearer token is not valid") from err
        if payload.get("scope") != scope or not isinstance(payload.get("sub"), str):
            raise InvalidClient("the bearer token is not valid for this service")
        if not isinstance(payload.get("exp"), int) or payload["exp"] <= self._clock():
            raise InvalidClient("the bearer token has expired; request a new one")
        return str(payload["sub"])

    @staticmethod
    def looks_like_token(value: str) -> bool:
        """True for strings in this token format (as opposed to API keys)."""
        return value.startswith(PREFIX + ".")
