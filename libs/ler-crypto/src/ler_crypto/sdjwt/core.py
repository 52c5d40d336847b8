"""Parsing an SD-JWT and reconstructing its claims (RFC 9901 §4, §7.1)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ler_crypto.errors import SdJwtError
from ler_crypto.multibase import b64url_encode
from ler_crypto.sdjwt.disclosures import SD_ALG, Disclosure
from ler_crypto.sdjwt.jws import MAX_JWS_CHARS, ParsedJws, parse_compact

#: More disclosures than any credential needs; bounds the work an attacker can cause.
MAX_DISCLOSURES = 1000
ClaimPath = tuple[str | int, ...]


@dataclass(frozen=True)
class SdJwt:
    """An SD-JWT split into issuer JWT, disclosures and optional key-binding JWT."""

    issuer_jwt: str
    jws: ParsedJws
    disclosures: tuple[Disclosure, ...]
    kb_jwt: str | None

    @property
    def presented_prefix(self) -> str:
        """``<issuer-jwt>~<d1>~...~<dn>~`` — the input of ``sd_hash`` (RFC 9901 §4.3.1)."""
        return "~".join([self.issuer_jwt, *(d.encoded for d in self.disclosures)]) + "~"


def parse_sd_jwt(text: Any) -> SdJwt:
    """Split ``<jwt>~<disclosure>~...~[<kb-jwt>]`` (RFC 9901 §4 format) without verifying."""
    if not isinstance(text, str) or len(text) > MAX_JWS_CHARS:
        raise SdJwtError(f"an SD-JWT must be a string of at most {MAX_JWS_CHARS} characters")
    text = text.strip()
    if "~" not in text:
        raise SdJwtError("not an SD-JWT: no '~' separator")
    parts = text.split("~")
    if len(parts) - 2 > MAX_DISCLOSURES:
        raise SdJwtError(f"an SD-JWT may carry at most {MAX_DISCLOSURES} disclosures")
    issuer_jwt, middle, last = parts[0], parts[1:-1], parts[-1]
    if any(not d for d in middle):
        raise SdJwtError("empty disclosure between '~' separators")
    if len(set(middle)) != len(middle):
        raise SdJwtError("the same disclosure appears more than once")
    jws = parse_compact(issuer_jwt, what="issuer-signed JWT")
    disclosures = tuple(Disclosure.parse(d) for d in middle)
    return SdJwt(issuer_jwt, jws, disclosures, last or None)


def sd_hash(presented_prefix: str, sd_alg: str = SD_ALG) -> str:
    """RFC 9901 §4.3.1: hash over the SD-JWT as presented, up to and including the last '~'."""
    if sd_alg != SD_ALG:
        raise SdJwtError(f"_sd_alg {sd_alg!r} is not supported (only sha-256)")
    return b64url_encode(hashlib.sha256(presented_prefix.encode("ascii")).digest())


@dataclass
class _Reconstruction:
    by_digest: dict[str, Disclosure]
    used: set[str]
    seen_digests: set[str]
    paths: dict[str, ClaimPath]


def _take(state: _Reconstruction, digest: Any, path: ClaimPath) -> Disclosure | None:
    if not isinstance(digest, str):
        raise SdJwtError(f"digest at {list(path)} must be a string")
    if digest in state.seen_digests:
        # RFC 9901 §7.1 step 4: a digest must not appear more than once.
        raise SdJwtError(f"digest {digest} appears more than once in the SD-JWT")
    state.seen_digests.add(digest)
    disclosure = state.by_digest.get(digest)
    if disclosure is not None:
        state.used.add(digest)
    return disclosure


def _object(obj: dict[str, Any], state: _Reconstruction, path: ClaimPath) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("_sd", "_sd_alg"):
            continue
        result[key] = _value(value, state, (*path, key))
    digests = obj.get("_sd", [])
    if not isinstance(digests, list):
        raise SdJwtError(f"_sd at {list(path)} must be an array of digests")
    for digest in digests:
        disclosure = _take(state, digest, path)
        if disclosure is None:
            continue  # a decoy, or a claim the holder did not disclose
        if disclosure.name is None:
            raise SdJwtError("an array-element disclosure is referenced from an object's _sd")
        if disclosure.name in result:
            raise SdJwtError(f"disclosed claim {disclosure.name!r} already exists in the object")
        state.paths[disclosure.digest] = (*path, disclosure.name)
        result[disclosure.name] = _value(disclosure.value, state, (*path, disclosure.name))
    return result


def _array(items: list[Any], state: _Reconstruction, path: ClaimPath) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if isinstance(item, dict) and "..." in item:
            if len(item) != 1:
                raise SdJwtError("an array-element digest object must contain only '...'")
            disclosure = _take(state, item["..."], path)
            if disclosure is None:
                continue  # undisclosed element or decoy: removed (RFC 9901 §7.1 step 3.3)
            if disclosure.name is not None:
                raise SdJwtError("an object-property disclosure is referenced as an array element")
            element_path = (*path, len(result))
            state.paths[disclosure.digest] = element_path
            result.append(_value(disclosure.value, state, element_path))
        else:
            result.append(_value(item, state, (*path, len(result))))
    return result


def _value(value: Any, state: _Reconstruction, path: ClaimPath) -> Any:
    if isinstance(value, dict):
        return _object(value, state, path)
    if isinstance(value, list):
        return _array(value, state, path)
    return value


def reconstruct(sd_jwt: SdJwt) -> tuple[dict[str, Any], dict[str, ClaimPath]]:
    """Replace digests by disclosed claims (RFC 9901 §7.1 steps 3-5).

    Returns the processed payload (without ``_sd``/``_sd_alg``) and each disclosure's claim path.
    Raises :class:`SdJwtError` for duplicate digests, unreferenced disclosures, or a disclosure
    whose claim name collides with a clear claim.
    """
    sd_alg = sd_jwt.jws.payload.get("_sd_alg", SD_ALG)
    if sd_alg != SD_ALG:
        raise SdJwtError(f"_sd_alg {sd_alg!r} is not supported (only sha-256)")
    state = _Reconstruction({d.digest: d for d in sd_jwt.disclosures}, set(), set(), {})
    claims = _object(sd_jwt.jws.payload, state, ())
    unused = set(state.by_digest) - state.used
    if unused:
        # RFC 9901 §7.1 step 5: every disclosure must be referenced by a digest.
        raise SdJwtError(f"{len(unused)} disclosure(s) are not referenced by any digest")
    return claims, state.paths
