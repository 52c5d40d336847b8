"""SD-JWT VC path of the verification report (used by :mod:`ler_crypto.verifier`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ler_crypto.errors import CryptoError
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.sdjwt.core import parse_sd_jwt
from ler_crypto.sdjwt.issuer_key import resolve_issuer_key
from ler_crypto.sdjwt.token_status import check_token_status
from ler_crypto.sdjwt.verifier import check_time_claims, holder_key_of, verify_key_binding
from ler_crypto.sdjwt.verifier import verify_sd_jwt as _verify

if TYPE_CHECKING:
    from ler_crypto.verifier.options import VerifyOptions

#: How old a key-binding JWT may be.
MAX_KB_AGE_S = 300.0


async def verify_sd_jwt_vc(
    text: str,
    report: VerificationReport,
    opts: VerifyOptions,
    *,
    nonce: str | None,
    audience: str | None,
) -> None:
    """Fill ``report`` with the checks of an SD-JWT VC: issuer key, signature and disclosures,
    key binding, trust, validity, status."""
    try:
        parsed = parse_sd_jwt(text)
    except CryptoError as err:
        report.malformed = True
        report.add("parse", "SD-JWT VC structure", Outcome.FAIL, f"PARSING_ERROR: {err}")
        return
    header, payload = parsed.jws.header, parsed.jws.payload
    iss = payload.get("iss") if isinstance(payload.get("iss"), str) else None
    report.issuer = iss
    try:
        vm_id, key = await resolve_issuer_key(header, payload.get("iss"), opts.resolver)
    except CryptoError as err:
        report.add("issuer", "Issuer controls the signing key", Outcome.FAIL, str(err)[:600])
        report.add(
            "proof",
            "SD-JWT signature and disclosures",
            Outcome.SKIPPED,
            "no issuer key to check the signature with",
        )
        return
    report.add(
        "issuer",
        "Issuer controls the signing key",
        Outcome.PASS,
        f"{vm_id} is an assertionMethod of the issuer",
    )
    moment = opts.moment().timestamp()
    skew = opts.clock_skew.total_seconds()
    try:
        result = _verify(text, key, require_key_binding=False, now=moment, check_time=False)
    except CryptoError as err:
        report.add("proof", "SD-JWT signature and disclosures", Outcome.FAIL, str(err)[:600])
        return
    report.add(
        "proof",
        "SD-JWT signature and disclosures",
        Outcome.PASS,
        f"{header.get('alg')} signature verified; {len(result.disclosed_paths)} "
        "disclosure(s), each referenced exactly once",
        {"disclosed": ["/".join(str(p) for p in path) for path in result.disclosed_paths]},
    )
    _key_binding(parsed, report, nonce=nonce, audience=audience, now=moment, skew=skew)
    if opts.trusted_issuers is None:
        report.add(
            "trust",
            "Issuer is trusted",
            Outcome.WARNING,
            "no trust list given: the issuer's identity was not checked against one",
        )
    elif iss in opts.trusted_issuers:
        report.add("trust", "Issuer is trusted", Outcome.PASS, f"{iss} is on the trust list")
    else:
        report.add("trust", "Issuer is trusted", Outcome.FAIL, f"issuer {iss!r} is not trusted")
    try:
        check_time_claims(payload, moment, skew)
        report.add(
            "validity",
            "Within the validity period",
            Outcome.PASS,
            "iat/nbf/exp are consistent with the current time",
        )
    except CryptoError as err:
        report.add("validity", "Within the validity period", Outcome.FAIL, str(err))
    await check_token_status(payload, iss, report, opts)


def _key_binding(
    parsed: Any,
    report: VerificationReport,
    *,
    nonce: str | None,
    audience: str | None,
    now: float,
    skew: float,
) -> None:
    title = "Key binding (holder possession)"
    try:
        holder_key = holder_key_of(parsed.jws.payload)
    except CryptoError as err:
        report.add("holder-binding", title, Outcome.FAIL, str(err))
        return
    if holder_key is None:
        report.add(
            "holder-binding",
            title,
            Outcome.WARNING,
            "the credential has no cnf key: anyone holding it can present it",
        )
        return
    if nonce is None or audience is None:
        outcome = Outcome.WARNING
        reason = (
            "no challenge/domain given, so the key-binding JWT was not checked"
            if parsed.kb_jwt is not None
            else "no key-binding JWT and no challenge/domain: possession not proven"
        )
        report.add("holder-binding", title, outcome, reason)
        return
    try:
        verify_key_binding(
            parsed,
            holder_key,
            audience=audience,
            nonce=nonce,
            now=now,
            max_age=MAX_KB_AGE_S,
            skew=skew,
        )
    except CryptoError as err:
        report.add("holder-binding", title, Outcome.FAIL, str(err))
        return
    report.add(
        "holder-binding",
        title,
        Outcome.PASS,
        "KB-JWT signed by the cnf key over this presentation, for this audience and nonce",
    )
