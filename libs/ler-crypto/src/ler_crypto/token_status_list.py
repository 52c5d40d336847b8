"""IETF Token Status List (draft-ietf-oauth-status-list): the status of SD-JWT VCs.

A Status List is a byte array holding one status of ``bits`` bits (1, 2, 4 or 8) per
Referenced Token, ZLIB-compressed and base64url-encoded as ``lst`` (TSL §4.1, §4.2). Unlike the
W3C Bitstring Status List, index 0 lives in the LEAST significant bits of byte 0 (TSL §4.1 step
3: blocks are "packed into bytes from the least significant bit ("0") to the most significant
bit ("7")"; the §4.1 examples: statuses 1,0,0,1,1,1,0,1 are byte 0xB9).

The list travels signed as a Status List Token, a JWT with ``typ: statuslist+jwt`` (TSL §5.1)
whose ``sub`` is the URI the Referenced Token names in ``status.status_list.uri`` (TSL §6.2).
Section numbers are those of draft-ietf-oauth-status-list-17.
"""

from __future__ import annotations

import enum
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ler_crypto.did import DidResolver
from ler_crypto.errors import CryptoError
from ler_crypto.keys import Signer
from ler_crypto.multibase import b64url_decode, b64url_encode
from ler_crypto.sdjwt.issuer_key import resolve_issuer_key
from ler_crypto.sdjwt.jws import MAX_JWS_CHARS, ParsedJws, parse_compact, sign_compact

#: JWT ``typ`` of a Status List Token (TSL §5.1) and the media type it is served with (TSL §8.2).
STATUS_LIST_JWT_TYP = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"
#: RFC 7515 §4.1.9: ``typ`` may carry the full media type; both spellings name the same type.
_ACCEPTED_TYPS = frozenset({STATUS_LIST_JWT_TYP, MEDIA_TYPE})
#: TSL §4.1 step 1: the only allowed bit sizes.
ALLOWED_BITS = frozenset({1, 2, 4, 8})
#: Bound on the decompressed byte array (16 MiB = 134M one-bit entries) so a ZLIB bomb is an
#: error and never an out-of-memory.
MAX_DECODED_BYTES = 16 * 1024 * 1024
#: Bound on the encoded ``lst`` we are willing to base64-decode at all.
MAX_LST_CHARS = 8 * 1024 * 1024


class TokenStatus(enum.IntEnum):
    """Status Type values (TSL §7.1). 0x03 and 0x0C-0x0F are application specific."""

    VALID = 0x00
    INVALID = 0x01
    SUSPENDED = 0x02


class TokenStatusError(CryptoError):
    """A Status List, Status List Token or status reference is malformed or does not verify."""


def _check_bits(bits: Any) -> int:
    if isinstance(bits, bool) or bits not in ALLOWED_BITS:
        raise TokenStatusError(f"bits must be one of 1, 2, 4 or 8 (TSL §4.1), got {bits!r}")
    return int(bits)


@dataclass(frozen=True)
class TokenStatusList:
    """A decoded Status List: the uncompressed byte array and its bit size."""

    data: bytes
    bits: int

    @property
    def size(self) -> int:
        """How many statuses the byte array holds."""
        return len(self.data) * 8 // self.bits

    def get(self, idx: int) -> int:
        """The status value at ``idx``; an index outside the list is an error (TSL §8.3 step 6)."""
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
            raise TokenStatusError(f"status index must be a non-negative integer, got {idx!r}")
        if idx >= self.size:
            raise TokenStatusError(
                f"status index {idx} is out of range: the list holds {self.size} statuses"
            )
        per_byte = 8 // self.bits
        # TSL §4.1 step 3: index 0 is in the least significant bits of byte 0.
        shift = (idx % per_byte) * self.bits
        return (self.data[idx // per_byte] >> shift) & ((1 << self.bits) - 1)


def pack_statuses(values: Sequence[int], bits: int) -> bytes:
    """Pack status values into the TSL §4.1 byte array (index 0 in byte 0's low bits)."""
    bits = _check_bits(bits)
    per_byte = 8 // bits
    limit = 1 << bits
    data = bytearray((len(values) + per_byte - 1) // per_byte)
    for idx, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
            raise TokenStatusError(f"status {value!r} at index {idx} does not fit in {bits} bit(s)")
        data[idx // per_byte] |= value << ((idx % per_byte) * bits)
    return bytes(data)


def encode_status_list(values: Sequence[int] | bytes | bytearray | memoryview, bits: int) -> str:
    """The ``lst`` string (TSL §4.2): base64url of the ZLIB-compressed byte array.

    ``values`` is either the already packed byte array (``bytes``, ``bytearray``,
    ``memoryview``) or a sequence of status values (``list``/``tuple`` of ints) to pack.
    """
    bits = _check_bits(bits)
    if isinstance(values, bytes | bytearray | memoryview):
        data = bytes(values)
    else:
        data = pack_statuses(values, bits)
    # TSL §4.1 step 4: DEFLATE in the ZLIB format, the highest compression level recommended.
    return b64url_encode(zlib.compress(data, 9))


def decode_status_list(
    lst: Any, bits: Any, *, max_bytes: int = MAX_DECODED_BYTES
) -> TokenStatusList:
    """Decode ``lst`` (TSL §4.2) into a :class:`TokenStatusList`, never inflating more than
    ``max_bytes``; a larger, truncated or trailing-garbage stream is a :class:`TokenStatusError`."""
    bits = _check_bits(bits)
    if not isinstance(lst, str) or not lst:
        raise TokenStatusError("lst must be a non-empty base64url string")
    if len(lst) > MAX_LST_CHARS:
        raise TokenStatusError(f"lst is longer than {MAX_LST_CHARS} characters")
    try:
        compressed = b64url_decode(lst)
    except CryptoError as err:
        raise TokenStatusError(f"lst is not base64url: {err}") from err
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, max_bytes + 1)
    except zlib.error as err:
        raise TokenStatusError(f"lst is not ZLIB-compressed data: {err}") from err
    if len(data) > max_bytes:
        raise TokenStatusError(f"the status list inflates to more than {max_bytes} bytes")
    if not inflater.eof:
        raise TokenStatusError("lst is a truncated ZLIB stream")
    if inflater.unused_data:
        raise TokenStatusError("lst has data after the end of its ZLIB stream")
    if not data:
        raise TokenStatusError("the status list is empty")
    return TokenStatusList(data, bits)


def _positive_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0


def build_status_list_token(
    *,
    uri: str,
    issuer: str,
    statuses: Sequence[int] | bytes | bytearray | memoryview,
    bits: int,
    iat: int,
    exp: int | None,
    ttl: int | None,
    signer: Signer,
    kid: str,
    aggregation_uri: str | None = None,
) -> str:
    """A signed Status List Token (TSL §5.1), compact JWS.

    Header ``{"alg", "typ": "statuslist+jwt", "kid"}`` (``alg`` from the signer, EdDSA for an
    Ed25519 key); claims ``iss``, ``sub`` = ``uri`` (what Referenced Tokens name), ``iat``,
    optional ``exp`` and ``ttl`` (seconds), and ``status_list {bits, lst[, aggregation_uri]}``.
    ``statuses`` is the packed byte array or the status values (see :func:`encode_status_list`).
    """
    if not isinstance(uri, str) or not uri:
        raise TokenStatusError("the Status List Token needs its URI (sub)")
    if not isinstance(issuer, str) or not issuer:
        raise TokenStatusError("the Status List Token needs an issuer (iss)")
    if isinstance(iat, bool) or not isinstance(iat, int):
        raise TokenStatusError("iat must be an integer NumericDate")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int) or exp <= iat):
        raise TokenStatusError("exp must be an integer NumericDate after iat")
    if ttl is not None and not _positive_number(ttl):
        raise TokenStatusError("ttl must be a positive number of seconds (TSL §5.1)")
    status_list: dict[str, Any] = {
        "bits": _check_bits(bits),
        "lst": encode_status_list(statuses, bits),
    }
    if aggregation_uri is not None:
        status_list["aggregation_uri"] = aggregation_uri
    payload: dict[str, Any] = {"iss": issuer, "sub": uri, "iat": iat}
    if exp is not None:
        payload["exp"] = exp
    if ttl is not None:
        payload["ttl"] = ttl
    payload["status_list"] = status_list
    return sign_compact({"typ": STATUS_LIST_JWT_TYP, "kid": kid}, payload, signer)


@dataclass(frozen=True)
class StatusReference:
    """A Referenced Token's ``status.status_list`` (TSL §6.2): where to look, and at which index."""

    idx: int
    uri: str


def parse_status_reference(status: Any) -> StatusReference | None:
    """The ``status_list`` reference in a ``status`` claim; None when the claim uses only other
    status mechanisms. A malformed claim is a :class:`TokenStatusError`."""
    if not isinstance(status, dict):
        raise TokenStatusError("the status claim must be a JSON object (TSL §6.2)")
    if "status_list" not in status:
        return None
    reference = status["status_list"]
    if not isinstance(reference, dict):
        raise TokenStatusError("status.status_list must be a JSON object (TSL §6.2)")
    idx, uri = reference.get("idx"), reference.get("uri")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise TokenStatusError(
            f"status.status_list.idx must be a non-negative integer, got {idx!r}"
        )
    if not isinstance(uri, str) or ":" not in uri or any(c.isspace() for c in uri):
        raise TokenStatusError(f"status.status_list.uri must be a URI, got {uri!r}"[:300])
    return StatusReference(idx, uri)


def _parse_token(token: Any) -> ParsedJws:
    try:
        return parse_compact(token, what="Status List Token")
    except CryptoError as err:
        raise TokenStatusError(str(err)) from err


def unverified_ttl(token: Any) -> float | None:
    """The ``ttl`` claim (seconds) of a Status List Token, read WITHOUT checking its signature.

    For caches only (TSL §8.3 step 4d): the verifier checks the token on every use. None when
    the token is unreadable or has no positive ``ttl``.
    """
    try:
        ttl = _parse_token(token).payload.get("ttl")
    except TokenStatusError:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        return None
    return float(ttl)


_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def compact_jwt_text(raw: Any) -> str | None:
    """``raw`` (bytes or text, as a fetcher returns a body) as JWS compact serialization text
    when it has that shape (RFC 7515 §7.1: three base64url parts), else None — JSON, for
    instance. Nothing is verified."""
    if isinstance(raw, bytes | bytearray | memoryview):
        if len(raw) > MAX_JWS_CHARS:
            return None
        try:
            raw = bytes(raw).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(raw, str) or len(raw) > MAX_JWS_CHARS:
        return None
    text = raw.strip()
    return text if _COMPACT_JWS.fullmatch(text) else None


def unverified_issuer(token: Any) -> str | None:
    """The ``iss`` claim of a Status List Token, read WITHOUT checking its signature: for
    keying caches (invalidation by issuer) only, never for a decision."""
    try:
        iss = _parse_token(token).payload.get("iss")
    except TokenStatusError:
        return None
    return iss if isinstance(iss, str) else None


def _numeric_date(payload: dict[str, Any], claim: str, *, required: bool) -> float | None:
    value = payload.get(claim)
    if value is None:
        if required:
            raise TokenStatusError(f"the Status List Token has no {claim} claim (TSL §5.1)")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenStatusError(f"{claim} must be a NumericDate (seconds since the epoch)")
    return float(value)


def _check_claims(payload: dict[str, Any], expected_uri: str, now: float, skew: float) -> None:
    """TSL §8.3 step 4: sub, iat, exp (and RFC 7519 nbf, ttl) against the reference and clock."""
    if payload.get("sub") != expected_uri:
        raise TokenStatusError(
            f"Status List Token sub {payload.get('sub')!r} is not the referenced URI "
            f"{expected_uri!r} (TSL §8.3 step 4a)"[:400]
        )
    iat = _numeric_date(payload, "iat", required=True)
    if iat is not None and iat > now + skew:
        raise TokenStatusError("the Status List Token was issued in the future (iat)")
    exp = _numeric_date(payload, "exp", required=False)
    if exp is not None and now > exp + skew:
        raise TokenStatusError("the Status List Token has expired (exp; TSL §8.3 step 4c)")
    nbf = _numeric_date(payload, "nbf", required=False)
    if nbf is not None and now < nbf - skew:
        raise TokenStatusError("the Status List Token is not valid yet (nbf)")
    if "ttl" in payload and not _positive_number(payload["ttl"]):
        raise TokenStatusError("ttl must be a positive number of seconds (TSL §5.1)")


async def verify_status_list_token(
    token: Any,
    *,
    expected_uri: str,
    issuer: str | None,
    resolver: DidResolver,
    now: float,
    skew: float = 60.0,
    max_bytes: int = MAX_DECODED_BYTES,
) -> TokenStatusList:
    """Verify a Status List Token for a Referenced Token (TSL §8.3 step 3-5) and decode its list.

    ``issuer`` is the Referenced Token's ``iss``. The token's key is resolved exactly as the
    SD-JWT VC's own key (``kid`` DID URL, or the issuer DID's first ``assertionMethod``) and must
    belong to that same issuer: TSL §11.3 lets the Status Issuer use "the same key resolution
    that is used for the Referenced Token"; we accept no other Status Issuer. A token ``iss``,
    when present, must equal the Referenced Token's (TSL §5.1 of earlier drafts; Simple String
    Comparison). Raises :class:`TokenStatusError` naming the failed check.
    """
    jws = _parse_token(token)
    typ = jws.header.get("typ")
    if typ not in _ACCEPTED_TYPS:
        raise TokenStatusError(
            f"Status List Token typ must be {STATUS_LIST_JWT_TYP!r}, got {typ!r}"
        )
    payload = jws.payload
    if not isinstance(issuer, str):
        raise TokenStatusError(
            "the credential has no issuer to check the Status List Token against"
        )
    if "iss" in payload and payload["iss"] != issuer:
        raise TokenStatusError(
            f"Status List Token issued by {payload['iss']!r}, not by the credential's issuer "
            f"{issuer!r}"[:400]
        )
    try:
        _vm, key = await resolve_issuer_key(jws.header, issuer, resolver)
    except CryptoError as err:
        raise TokenStatusError(f"Status List Token key: {err}"[:600]) from err
    try:
        # TSL §5.1 rule 2: asymmetric signatures only; jws.verify accepts EdDSA/ES256 alone.
        jws.verify(key)
    except CryptoError as err:
        raise TokenStatusError(f"Status List Token: {err}") from err
    _check_claims(payload, expected_uri, now, skew)
    status_list = payload.get("status_list")
    if not isinstance(status_list, dict):
        raise TokenStatusError("the Status List Token has no status_list object (TSL §5.1)")
    return decode_status_list(status_list.get("lst"), status_list.get("bits"), max_bytes=max_bytes)
