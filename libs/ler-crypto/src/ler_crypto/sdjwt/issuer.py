"""Issuing SD-JWT VCs (RFC 9901 §4, draft-ietf-oauth-sd-jwt-vc §3).

Mark a claim selectively disclosable by wrapping its value in :class:`Sd` — as an object
property (``{"email": Sd("a@b.example")}``) or an array element (``["DE", Sd("US")]``). Wrapped
values may themselves contain ``Sd`` values (recursive disclosures, RFC 9901 §4.2.6).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ler_crypto.errors import SdJwtError
from ler_crypto.keys import PublicKey, Signer
from ler_crypto.sdjwt.disclosures import SD_ALG, Disclosure, decoy_digest
from ler_crypto.sdjwt.jws import sign_compact

SD_JWT_VC_TYP = "dc+sd-jwt"
#: Registered JWT claims an SD-JWT VC must keep in the clear (SD-JWT VC §3.2.2.2).
NEVER_DISCLOSABLE = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})


@dataclass(frozen=True)
class Sd:
    """Marks a value as selectively disclosable."""

    value: Any


class _Builder:
    def __init__(self, decoys_per_level: int) -> None:
        self.disclosures: list[Disclosure] = []
        self.decoys = decoys_per_level

    def _decoys(self) -> list[str]:
        # A random number of decoys up to the configured maximum hides the real claim count.
        return [decoy_digest() for _ in range(secrets.randbelow(self.decoys + 1))]

    def value(self, value: Any) -> Any:
        if isinstance(value, Sd):
            raise SdJwtError("Sd() must wrap an object property or array element value")
        if isinstance(value, Mapping):
            return self.object(value)
        if isinstance(value, list | tuple):
            return self.array(value)
        return value

    def object(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        digests: list[str] = []
        for name, raw in obj.items():
            if not isinstance(name, str):
                raise SdJwtError("claim names must be strings")
            if name in ("_sd", "_sd_alg", "..."):
                raise SdJwtError(f"claim name {name!r} is reserved by SD-JWT")
            if isinstance(raw, Sd):
                disclosure = Disclosure.create(name, self.value(raw.value))
                self.disclosures.append(disclosure)
                digests.append(disclosure.digest)
            else:
                result[name] = self.value(raw)
        if digests:
            # RFC 9901 §4.2.4.1: hide the original claim order; sorting does that.
            result["_sd"] = sorted(digests + self._decoys())
        return result

    def array(self, items: Any) -> list[Any]:
        result: list[Any] = []
        for item in items:
            if isinstance(item, Sd):
                disclosure = Disclosure.create(None, self.value(item.value))
                self.disclosures.append(disclosure)
                result.append({"...": disclosure.digest})
            else:
                result.append(self.value(item))
        return result


def issue_sd_jwt(
    claims: Mapping[str, Any],
    signer: Signer,
    *,
    typ: str = SD_JWT_VC_TYP,
    kid: str | None = None,
    decoys: int = 0,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` (with :class:`Sd` markers) as an SD-JWT: ``<jwt>~<d1>~...~<dn>~``."""
    builder = _Builder(decoys)
    payload = builder.object(claims)
    payload["_sd_alg"] = SD_ALG
    header: dict[str, Any] = {"typ": typ, **dict(extra_header or {})}
    if kid is not None:
        header["kid"] = kid
    jwt = sign_compact(header, payload, signer)
    return "~".join([jwt, *(d.encoded for d in builder.disclosures)]) + "~"


def issue_sd_jwt_vc(
    *,
    issuer: str,
    vct: str,
    claims: Mapping[str, Any],
    signer: Signer,
    holder_key: PublicKey | None,
    kid: str | None = None,
    iat: int | None = None,
    exp: int | None = None,
    nbf: int | None = None,
    status: Mapping[str, Any] | None = None,
    decoys: int = 0,
) -> str:
    """An SD-JWT VC (``typ: dc+sd-jwt``) with ``iss``, ``iat``, ``vct``, ``cnf.jwk``.

    ``claims`` carries the credential's claims with :class:`Sd` markers; the registered claims
    listed in SD-JWT VC §3.2.2.2 are always in the clear. ``holder_key`` (RFC 7800 ``cnf``)
    enables key binding; pass None only for credentials that need no holder binding.
    """
    for name in NEVER_DISCLOSABLE:
        if isinstance(claims.get(name), Sd):
            raise SdJwtError(
                f"claim {name!r} must not be selectively disclosable (SD-JWT VC §3.2.2.2)"
            )
    payload: dict[str, Any] = {
        "iss": issuer,
        "iat": int(time.time()) if iat is None else iat,
        "vct": vct,
    }
    if exp is not None:
        payload["exp"] = exp
    if nbf is not None:
        payload["nbf"] = nbf
    if holder_key is not None:
        payload["cnf"] = {"jwk": holder_key.to_jwk()}
    if status is not None:
        if not isinstance(status, Mapping):
            raise SdJwtError("status must be an object (Token Status List §6.2)")
        payload["status"] = dict(status)
    for name, value in claims.items():
        if name in payload:
            raise SdJwtError(f"claim {name!r} clashes with a registered SD-JWT VC claim")
        payload[name] = value
    return issue_sd_jwt(payload, signer, typ=SD_JWT_VC_TYP, kid=kid, decoys=decoys)
