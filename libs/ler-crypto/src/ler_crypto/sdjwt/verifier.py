"""Verifying SD-JWT VCs and their key binding (RFC 9901 §7.1-§7.3, SD-JWT VC §3)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ler_crypto.errors import CryptoError, SdJwtError
from ler_crypto.keys import PublicKey
from ler_crypto.sdjwt.core import ClaimPath, SdJwt, parse_sd_jwt, reconstruct, sd_hash
from ler_crypto.sdjwt.disclosures import SD_ALG
from ler_crypto.sdjwt.holder import KB_JWT_TYP
from ler_crypto.sdjwt.issuer import SD_JWT_VC_TYP
from ler_crypto.sdjwt.jws import parse_compact

#: SD-JWT VC drafts before -06 used ``vc+sd-jwt``; verifiers accept both during the transition.
ACCEPTED_TYPS = frozenset({SD_JWT_VC_TYP, "vc+sd-jwt"})


@dataclass
class SdJwtVerification:
    """What a verified SD-JWT (VC) says: disclosed claims, and whether key binding was checked."""

    claims: dict[str, Any]
    header: dict[str, Any]
    disclosed_paths: list[ClaimPath]
    key_bound: bool
    holder_key: PublicKey | None
    kb_claims: dict[str, Any] = field(default_factory=dict)


def check_time_claims(payload: dict[str, Any], now: float, skew: float) -> None:
    for claim in ("iat", "exp", "nbf"):
        if claim in payload and (
            isinstance(payload[claim], bool) or not isinstance(payload[claim], int | float)
        ):
            raise SdJwtError(f"{claim} must be a NumericDate (seconds since the epoch)")
    if "exp" in payload and now > payload["exp"] + skew:
        raise SdJwtError("the SD-JWT has expired (exp)")
    if "nbf" in payload and now < payload["nbf"] - skew:
        raise SdJwtError("the SD-JWT is not valid yet (nbf)")
    if "iat" in payload and payload["iat"] > now + skew:
        raise SdJwtError("the SD-JWT was issued in the future (iat)")


def holder_key_of(payload: dict[str, Any]) -> PublicKey | None:
    """The RFC 7800 ``cnf.jwk`` confirmation key, if any."""
    cnf = payload.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        raise SdJwtError("cnf must be an object carrying a jwk")
    try:
        return PublicKey.from_jwk(cnf["jwk"])
    except CryptoError as err:
        raise SdJwtError(f"cnf.jwk is not a usable key: {err}") from err


def verify_key_binding(
    parsed: SdJwt,
    holder_key: PublicKey,
    *,
    audience: str,
    nonce: str,
    now: float,
    max_age: float,
    skew: float,
) -> dict[str, Any]:
    """RFC 9901 §7.3: typ, signature by the cnf key, sd_hash, aud, nonce, and the iat window."""
    if parsed.kb_jwt is None:
        raise SdJwtError("key binding is required but the presentation has no KB-JWT")
    kb = parse_compact(parsed.kb_jwt, what="key binding JWT")
    if kb.header.get("typ") != KB_JWT_TYP:
        raise SdJwtError(f"KB-JWT typ must be {KB_JWT_TYP!r}, got {kb.header.get('typ')!r}")
    kb.verify(holder_key)
    claims = kb.payload
    expected_hash = sd_hash(parsed.presented_prefix, parsed.jws.payload.get("_sd_alg", SD_ALG))
    if claims.get("sd_hash") != expected_hash:
        raise SdJwtError("KB-JWT sd_hash does not match the presented SD-JWT")
    aud = claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and aud == [audience]):
        raise SdJwtError(f"KB-JWT aud {aud!r} is not the expected audience {audience!r}")
    if claims.get("nonce") != nonce:
        raise SdJwtError("KB-JWT nonce does not match the verifier's nonce")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise SdJwtError("KB-JWT iat is missing or not a NumericDate")
    if iat > now + skew:
        raise SdJwtError("KB-JWT iat is in the future")
    if iat < now - max_age - skew:
        raise SdJwtError(f"KB-JWT is older than the accepted {int(max_age)} s window")
    return claims


def verify_sd_jwt(
    text: str,
    issuer_key: PublicKey,
    *,
    audience: str | None = None,
    nonce: str | None = None,
    require_key_binding: bool = True,
    now: float | None = None,
    max_kb_age: float = 300.0,
    clock_skew: float = 60.0,
    vc: bool = True,
    check_time: bool = True,
) -> SdJwtVerification:
    """Verify an SD-JWT (VC) presentation end to end; raise :class:`SdJwtError` on any failure.

    Checks: issuer signature and ``alg``, ``typ`` (for SD-JWT VC), ``_sd_alg``, every digest
    unique and every disclosure referenced exactly once, ``exp``/``nbf``/``iat``; then, when the
    credential has ``cnf`` and ``require_key_binding``, the KB-JWT (signature by the ``cnf`` key,
    ``sd_hash``, ``aud``, ``nonce``, ``iat`` within ``max_kb_age``). ``check_time=False`` leaves
    the credential's own ``exp``/``nbf``/``iat`` to the caller (the report checks them apart).
    """
    moment = time.time() if now is None else now
    parsed = parse_sd_jwt(text)
    header, payload = parsed.jws.header, parsed.jws.payload
    if vc and header.get("typ") not in ACCEPTED_TYPS:
        raise SdJwtError(f"SD-JWT VC typ must be {SD_JWT_VC_TYP!r}, got {header.get('typ')!r}")
    parsed.jws.verify(issuer_key)
    if vc:
        if not isinstance(payload.get("vct"), str) or not payload["vct"]:
            raise SdJwtError("SD-JWT VC requires a vct claim (string)")
        if "iss" in payload and not isinstance(payload["iss"], str):
            raise SdJwtError("iss must be a string")
    if check_time:
        check_time_claims(payload, moment, clock_skew)
    claims, paths = reconstruct(parsed)
    holder_key = holder_key_of(payload)
    kb_claims: dict[str, Any] = {}
    key_bound = False
    if require_key_binding:
        if holder_key is None:
            raise SdJwtError("key binding is required but the credential has no cnf key")
        if audience is None or nonce is None:
            raise SdJwtError("key binding verification needs the expected audience and nonce")
        kb_claims = verify_key_binding(
            parsed,
            holder_key,
            audience=audience,
            nonce=nonce,
            now=moment,
            max_age=max_kb_age,
            skew=clock_skew,
        )
        key_bound = True
    elif parsed.kb_jwt is not None and holder_key is not None and audience and nonce:
        kb_claims = verify_key_binding(
            parsed,
            holder_key,
            audience=audience,
            nonce=nonce,
            now=moment,
            max_age=max_kb_age,
            skew=clock_skew,
        )
        key_bound = True
    return SdJwtVerification(
        claims=claims,
        header=header,
        disclosed_paths=sorted(paths.values(), key=lambda p: [str(x) for x in p]),
        key_bound=key_bound,
        holder_key=holder_key,
        kb_claims=kb_claims,
    )
