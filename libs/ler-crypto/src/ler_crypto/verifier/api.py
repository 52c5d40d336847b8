"""Entry points: verify a credential, a presentation, or whatever arrived."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from ler_crypto import vc_model
from ler_crypto.contexts import ContextLoader
from ler_crypto.did import DidResolver
from ler_crypto.errors import CryptoError
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.vc_model import Policy
from ler_crypto.verifier.checks import check_data_model, check_proofs, parse_input, proof_signers
from ler_crypto.verifier.options import VP_PURPOSE, StatusListFetcher, VerifyOptions, short
from ler_crypto.verifier.phases import (
    complete_credential,
    complete_document,
    default_policy,
    prepare_credential,
    prepare_document,
)
from ler_crypto.verifier.presentation import check_challenge_domain, check_holder_binding


def _new_report(kind: str) -> VerificationReport:
    return VerificationReport(kind=kind)


async def _verify_credential_doc(
    doc: dict[str, Any],
    report: VerificationReport,
    opts: VerifyOptions,
    *,
    secured_by: str | None = None,
) -> None:
    prepare_document(doc, report, opts)
    await complete_document(doc, report, opts, secured_by=secured_by)


async def verify_credential(
    doc_or_jwt: Any,
    *,
    resolver: DidResolver,
    status_fetcher: StatusListFetcher | None = None,
    loader: ContextLoader | None = None,
    now: datetime | None = None,
    clock_skew: timedelta = timedelta(seconds=60),
    trusted_issuers: Collection[str] | None = None,
    policy: Policy | None = None,
    challenge: str | None = None,
    domain: str | None = None,
) -> VerificationReport:
    """Verify a credential (dict or JSON text) or an SD-JWT VC (compact string).

    Never raises for bad input. For an SD-JWT VC, ``challenge``/``domain`` are the expected
    key-binding ``nonce``/``aud``. Exactly :func:`prepare_credential` (offline: parse, data
    model, profile) then :func:`complete_credential` (proofs, issuer, trust, validity, status).
    """
    prepared = prepare_credential(doc_or_jwt, policy=policy, loader=loader)
    return await complete_credential(
        prepared,
        resolver=resolver,
        status_fetcher=status_fetcher,
        loader=loader,
        now=now,
        clock_skew=clock_skew,
        trusted_issuers=trusted_issuers,
        policy=policy,
        challenge=challenge,
        domain=domain,
    )


async def verify_presentation(
    vp: Any,
    *,
    challenge: str | None,
    domain: str | None,
    resolver: DidResolver,
    status_fetcher: StatusListFetcher | None = None,
    loader: ContextLoader | None = None,
    now: datetime | None = None,
    clock_skew: timedelta = timedelta(seconds=60),
    trusted_issuers: Collection[str] | None = None,
    policy: Policy | None = None,
) -> VerificationReport:
    """Verify a presentation: its proof (``authentication``, challenge, domain), the holder
    binding, and every embedded credential (nested reports). Never raises for bad input."""
    opts = VerifyOptions(
        resolver,
        status_fetcher,
        loader,
        now,
        clock_skew,
        trusted_issuers,
        default_policy(policy),
    )
    report = _new_report("presentation")
    try:
        doc = parse_input(vp, report)
        if doc is None:
            return report
        if isinstance(doc, str):
            report.malformed = True
            report.add(
                "parse",
                "Input is a presentation",
                Outcome.FAIL,
                "a compact JWT is not a Data Integrity presentation",
            )
            return report
        report.subject = doc.get("id") if isinstance(doc.get("id"), str) else None
        check_data_model(doc, report, opts, presentation=True)
        proof_ok = await check_proofs(
            doc, report, opts, purpose=VP_PURPOSE, challenge=challenge, domain=domain
        )
        check_challenge_domain(doc, report, challenge, domain)
        signers = proof_signers(doc)
        if proof_ok:
            check_holder_binding(doc, report, signers)
        else:
            report.add(
                "holder-binding",
                "Presenter is the holder and subject",
                Outcome.SKIPPED,
                "the presentation proof did not verify",
            )
        signer = signers[0] if proof_ok and len(set(signers)) == 1 else None
        for item in vc_model.as_list(doc.get("verifiableCredential", [])):
            nested = _new_report("credential")
            report.credentials.append(nested)
            if not isinstance(item, dict):
                nested.add(
                    "parse",
                    "Embedded credential",
                    Outcome.FAIL,
                    "PARSING_ERROR: embedded credentials must be objects",
                )
            elif vc_model.is_enveloped_credential(item):
                nested.add(
                    "proof",
                    "Enveloped credential",
                    Outcome.FAIL,
                    "EnvelopedVerifiableCredential (VC-JOSE/COSE) is not supported",
                )
            else:
                self_asserted = signer is not None and vc_model.issuer_id(item) == signer
                await _verify_credential_doc(
                    item, nested, opts, secured_by=signer if self_asserted else None
                )
    except CryptoError as err:
        report.add("internal", "Verification completed", Outcome.FAIL, short(str(err)))
    return report


async def verify_document(
    document: Any,
    *,
    challenge: str | None = None,
    domain: str | None = None,
    resolver: DidResolver,
    **kwargs: Any,
) -> VerificationReport:
    """Dispatch on what arrived: a presentation, a credential, or an SD-JWT VC."""
    probe = _new_report("unknown")
    parsed = parse_input(document, probe)
    if parsed is None:
        return probe
    if isinstance(parsed, dict) and "VerifiablePresentation" in vc_model.types_of(parsed):
        return await verify_presentation(
            parsed, challenge=challenge, domain=domain, resolver=resolver, **kwargs
        )
    return await verify_credential(
        parsed, resolver=resolver, challenge=challenge, domain=domain, **kwargs
    )
