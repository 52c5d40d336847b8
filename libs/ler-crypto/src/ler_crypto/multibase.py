"""Multibase (base58btc ``z``, base64url ``u``) and multicodec headers.

References: the Multibase draft (draft-multiformats-multibase), the multicodec
table, and the Controlled Identifiers / Multikey encoding (VC-DI-EDDSA §2.1.1).
"""

from __future__ import annotations

import base64
import binascii
import re

from ler_crypto.errors import KeyFormatError

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B64URL_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_B58_INDEX = {ch: i for i, ch in enumerate(_B58_ALPHABET)}
_B58_PAIRS = [a + b for a in _B58_ALPHABET for b in _B58_ALPHABET]  # index = 58*i + j

# Multicodec varint headers (unsigned LEB128 of the code).
ED25519_PUB = bytes([0xED, 0x01])  # 0xed   ed25519-pub
P256_PUB = bytes([0x80, 0x24])  # 0x1200 p256-pub (SEC1 compressed, 33 bytes)
ED25519_PRIV = bytes([0x80, 0x26])  # 0x1300 ed25519-priv (32-byte seed)
P256_PRIV = bytes([0x86, 0x26])  # 0x1306 p256-priv (32-byte scalar)

# Largest encoded string accepted by the decoder; keys and signatures are tiny,
# and base58 decoding is quadratic, so refuse absurd input early.
_MAX_B58_CHARS = 4096


def b58encode(data: bytes) -> str:
    """Encode bytes as base58 (Bitcoin alphabet) without multibase prefix."""
    zeros = len(data) - len(data.lstrip(b"\0"))
    num = int.from_bytes(data, "big")
    out = []
    # two digits per big-int division: half the work of the textbook loop
    while num >= 3364:
        num, rem = divmod(num, 3364)
        out.append(_B58_PAIRS[rem])
    text = "".join(reversed(out))
    if num >= 58:
        text = _B58_PAIRS[num] + text
    elif num:
        text = _B58_ALPHABET[num] + text
    return "1" * zeros + text


def b58decode(text: str) -> bytes:
    """Decode base58 (Bitcoin alphabet); raises KeyFormatError on bad characters."""
    if len(text) > _MAX_B58_CHARS:
        raise KeyFormatError("base58 value is too long")
    num = 0
    try:
        odd = len(text) % 2
        if odd:
            num = _B58_INDEX[text[0]]
        for i in range(odd, len(text), 2):  # two digits per big-int step
            num = num * 3364 + _B58_INDEX[text[i]] * 58 + _B58_INDEX[text[i + 1]]
    except KeyError as err:
        raise KeyFormatError("value is not valid base58btc") from err
    zeros = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\0" * zeros + body


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; rejects non-alphabet characters."""
    if not isinstance(text, str):
        raise KeyFormatError("base64url value must be a string")
    stripped = text.rstrip("=")
    if not _B64URL_CHARS.fullmatch(stripped) or len(stripped) % 4 == 1:
        raise KeyFormatError("value is not valid base64url")
    try:
        raw = stripped.encode("ascii")
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as err:
        raise KeyFormatError("value is not valid base64url") from err


def multibase_encode_b58(data: bytes) -> str:
    """Multibase base58btc: ``z`` + base58."""
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    """Decode a multibase string with prefix ``z`` (base58btc) or ``u`` (base64url)."""
    if not isinstance(text, str) or not text:
        raise KeyFormatError("multibase value must be a non-empty string")
    prefix, body = text[0], text[1:]
    if prefix == "z":
        return b58decode(body)
    if prefix == "u":
        return b64url_decode(body)
    raise KeyFormatError(f"unsupported multibase prefix {prefix!r} (expected 'z' or 'u')")


def split_multicodec(data: bytes, allowed: dict[bytes, str]) -> tuple[str, bytes]:
    """Split a 2-byte multicodec header from ``data``; returns (codec name, payload)."""
    header = data[:2]
    name = allowed.get(header)
    if name is None:
        raise KeyFormatError(f"unsupported multicodec header 0x{header.hex()}")
    return name, data[2:]
