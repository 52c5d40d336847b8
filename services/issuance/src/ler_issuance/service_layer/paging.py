"""Cursor pagination (AIP-158): opaque tokens bound to the filters they were issued for."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime

from ler_issuance.domain.errors import invalid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    """0 → default; above the maximum → the maximum; negative → INVALID_ARGUMENT."""
    if requested < 0:
        raise invalid("page.page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def filters_digest(*parts: object) -> str:
    """A short digest of the filters a token belongs to."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode_token(position: tuple[datetime, str], digest: str) -> str:
    """Token for the page after ``position`` (created_at, id)."""
    body = json.dumps([position[0].isoformat(), position[1], digest]).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode_token(token: str, digest: str) -> tuple[datetime, str] | None:
    """The position in ``token``; INVALID_ARGUMENT if malformed or issued for other filters."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        moment, ident, token_digest = json.loads(raw)
        position = (datetime.fromisoformat(moment), str(ident))
    except (binascii.Error, ValueError, TypeError) as err:
        raise invalid("page.page_token", "is not a token this service issued") from err
    if token_digest != digest:
        raise invalid("page.page_token", "was issued for different filters")
    return position
