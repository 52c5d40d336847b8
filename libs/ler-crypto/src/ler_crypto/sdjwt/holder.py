"""Holder side: choose what to disclose and add a Key Binding JWT (RFC 9901 §4.3, §6)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from ler_crypto.errors import SdJwtError
from ler_crypto.keys import PublicKey, Signer
from ler_crypto.sdjwt.core import ClaimPath, SdJwt, parse_sd_jwt, reconstruct, sd_hash
from ler_crypto.sdjwt.disclosures import SD_ALG
from ler_crypto.sdjwt.jws import sign_compact

KB_JWT_TYP = "kb+jwt"


def _normalise(path: str | Sequence[str | int]) -> ClaimPath:
    """``"address"`` / ``"nationalities/0"`` / ``("address", "country")`` → a tuple path."""
    if isinstance(path, str):
        return tuple(int(p) if p.isdigit() else p for p in path.split("/") if p)
    return tuple(path)


def disclosable_paths(sd_jwt: str) -> list[ClaimPath]:
    """The claim paths the holder could disclose, e.g. ``[("given_name",), ("address",)]``."""
    parsed = parse_sd_jwt(sd_jwt)
    _, paths = reconstruct(parsed)
    return sorted(paths.values(), key=lambda p: [str(x) for x in p])


def select_disclosures(parsed: SdJwt, paths: Iterable[str | Sequence[str | int]]) -> SdJwt:
    """Keep only the disclosures needed to reveal ``paths`` (and their parents), in order."""
    wanted = [_normalise(p) for p in paths]
    _, by_digest = reconstruct(parsed)
    known = set(by_digest.values())
    for path in wanted:
        if not any(k[: len(path)] == path or path[: len(k)] == k for k in known):
            raise SdJwtError(f"no selectively disclosable claim at {list(path)}")
    keep = []
    for disclosure in parsed.disclosures:
        claim_path = by_digest[disclosure.digest]
        # A disclosure is needed if it is a chosen claim or a parent of one (a nested claim
        # cannot be revealed without the disclosure that carries its digest). Selectively
        # disclosable claims *inside* a chosen one stay hidden unless chosen too: data
        # minimisation by default.
        if any(w[: len(claim_path)] == claim_path for w in wanted):
            keep.append(disclosure)
    return SdJwt(parsed.issuer_jwt, parsed.jws, tuple(keep), None)


def create_presentation(
    sd_jwt: str,
    *,
    disclose: Iterable[str | Sequence[str | int]],
    holder: Signer | None,
    audience: str | None = None,
    nonce: str | None = None,
    iat: int | None = None,
) -> str:
    """Present only the chosen claims; with ``holder`` add a KB-JWT bound to ``audience``/``nonce``.

    The KB-JWT (RFC 9901 §4.3) has ``typ: kb+jwt`` and ``iat``, ``aud``, ``nonce`` and ``sd_hash``
    over the presented SD-JWT, signed by the key in the credential's ``cnf``.
    """
    parsed = parse_sd_jwt(sd_jwt)
    if parsed.kb_jwt is not None:
        raise SdJwtError("the SD-JWT already carries a key binding JWT")
    chosen = select_disclosures(parsed, disclose)
    prefix = chosen.presented_prefix
    if holder is None:
        return prefix
    if not audience or not nonce:
        raise SdJwtError("key binding needs an audience and a nonce from the verifier")
    cnf = parsed.jws.payload.get("cnf")
    if not isinstance(cnf, dict) or "jwk" not in cnf:
        raise SdJwtError("the SD-JWT has no cnf.jwk holder key to bind to")
    if PublicKey.from_jwk(cnf["jwk"]) != holder.public_key:
        raise SdJwtError("the holder key is not the key the credential is bound to (cnf.jwk)")
    payload = {
        "iat": int(time.time()) if iat is None else iat,
        "aud": audience,
        "nonce": nonce,
        "sd_hash": sd_hash(prefix, parsed.jws.payload.get("_sd_alg", SD_ALG)),
    }
    kb_jwt = sign_compact({"typ": KB_JWT_TYP}, payload, holder)
    return prefix + kb_jwt
