"""Credential checks in VERIFY-CHECKLIST order: parse, data model, profile, proofs, issuer,
trust and validity. Each appends one :class:`~ler_crypto.report.Check` to the report."""

from __future__ import annotations

from typing import Any

from ler_crypto import dataintegrity, obv3, vc_model
from ler_crypto.errors import CryptoError
from ler_crypto.limits import check_document, parse_json
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.verifier.options import VerifyOptions, short


def parse_input(raw: Any, report: VerificationReport) -> Any:
    """Checklist 1. Returns the JSON object, a compact JWT string, or None (malformed)."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            report.malformed = True
            report.add("parse", "Input is JSON", Outcome.FAIL, "input is not UTF-8 text")
            return None
    if isinstance(raw, str):
        text = raw.strip()
        if text and text[0] not in "{[" and "." in text:
            report.add("parse", "Input is a compact JWT", Outcome.PASS, "compact serialization")
            return text
        try:
            raw = parse_json(text)
        except CryptoError as err:
            report.malformed = True
            report.add("parse", "Input is JSON", Outcome.FAIL, f"PARSING_ERROR: {err}")
            return None
    else:
        try:
            check_document(raw)
        except CryptoError as err:
            report.malformed = True
            report.add("parse", "Input is JSON", Outcome.FAIL, f"PARSING_ERROR: {err}")
            return None
    if not isinstance(raw, dict):
        report.malformed = True
        report.add(
            "parse",
            "Input is JSON",
            Outcome.FAIL,
            f"PARSING_ERROR: expected a JSON object, got {type(raw).__name__}",
        )
        return None
    if "@context" not in raw and "type" not in raw:
        # Not even an attempt at a credential: unusable input rather than an invalid credential.
        report.malformed = True
        report.add(
            "parse",
            "Input is JSON",
            Outcome.FAIL,
            "PARSING_ERROR: a JSON object without @context or type is not a credential "
            "or presentation",
        )
        return None
    report.add("parse", "Input is JSON", Outcome.PASS, "a JSON object within the size limits")
    return raw


def check_data_model(
    doc: dict[str, Any], report: VerificationReport, opts: VerifyOptions, *, presentation: bool
) -> list[vc_model.ModelIssue]:
    """Checklist 2-8, plus JSON-LD data-loss detection (checklist 3).

    Returns the data-model issues found (for :func:`check_profile`, so that it need not
    validate the document again)."""
    issues = (
        vc_model.validate_presentation(doc, opts.policy)
        if presentation
        else vc_model.validate_credential(doc, opts.policy)
    )
    if issues:
        report.add(
            "data-model",
            "VC Data Model rules",
            Outcome.FAIL,
            short("; ".join(str(i) for i in issues)),
            {"issues": [{"path": i.path, "message": i.message} for i in issues]},
        )
    else:
        report.add(
            "data-model",
            "VC Data Model rules",
            Outcome.PASS,
            "contexts, types, identifiers, dates and typed objects are well formed",
        )
    # VC-DI-EDDSA §3.3: a JCS proof never RDFC-canonicalizes the document, so for a document
    # secured by JCS proofs only, data loss is judged without the canonical labelling step.
    # ``doc`` passed the input limits in parse_input.
    issue = vc_model.check_jsonld(
        doc, opts.loader, canonicalize=not _jcs_only(doc), limits_checked=True
    )
    if issue is None:
        report.add(
            "jsonld",
            "Every term is defined by a known context",
            Outcome.PASS,
            "JSON-LD expansion with bundled contexts lost nothing",
        )
    else:
        report.add(
            "jsonld",
            "Every term is defined by a known context",
            Outcome.FAIL,
            f"DATA_LOSS_DETECTION_ERROR: {short(issue.message)}",
        )
    return issues


def _jcs_only(doc: dict[str, Any]) -> bool:
    """Every proof of ``doc`` is an eddsa-jcs-2022 Data Integrity proof (and there is one)."""
    proofs = vc_model.as_list(doc.get("proof", []))
    return bool(proofs) and all(
        isinstance(p, dict) and p.get("cryptosuite") == "eddsa-jcs-2022" for p in proofs
    )


def check_profile(
    doc: dict[str, Any],
    report: VerificationReport,
    opts: VerifyOptions,
    *,
    generic: list[vc_model.ModelIssue] | None = None,
) -> None:
    """Open Badges 3.0 / CLR 2.0 required properties when the credential is typed so.

    ``generic``: the credential's VC data-model issues if already known (from
    :func:`check_data_model`); they are left out of this check's report."""
    if obv3.is_clr_credential(doc):
        issues, title = obv3.validate_clr_credential(doc, opts.policy), "CLR 2.0 ClrCredential"
    elif obv3.is_achievement_credential(doc):
        issues = obv3.validate_achievement_credential(doc, opts.policy)
        title = "Open Badges 3.0 AchievementCredential"
    else:
        return
    # The generic VC rules were reported already; list only what the profile adds.
    if generic is None:
        generic = vc_model.validate_credential(doc, opts.policy)
    known = {(i.path, i.message) for i in generic}
    extra = [i for i in issues if (i.path, i.message) not in known]
    if extra:
        report.add(
            "profile",
            title,
            Outcome.FAIL,
            short("; ".join(str(i) for i in extra)),
            {"issues": [{"path": i.path, "message": i.message} for i in extra]},
        )
    else:
        report.add("profile", title, Outcome.PASS, "all required properties present and typed")


def proof_signers(doc: dict[str, Any]) -> list[str]:
    """The DIDs of every proof's verification method, in proof order."""
    dids = []
    for proof in vc_model.as_list(doc.get("proof", [])):
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if isinstance(vm, str):
            dids.append(vm.split("#", 1)[0])
    return dids


async def check_proofs(
    doc: dict[str, Any],
    report: VerificationReport,
    opts: VerifyOptions,
    *,
    purpose: str,
    challenge: str | None = None,
    domain: str | None = None,
) -> bool:
    """Checklist 9-15 via ``dataintegrity.verify``. Returns True when every proof verified."""
    if "proof" not in doc:
        report.add(
            "proof",
            "Data Integrity proof",
            Outcome.FAIL,
            "PROOF_VERIFICATION_ERROR: the document has no proof (it is unsecured)",
        )
        return False
    try:
        results = await dataintegrity.verify(
            doc,
            opts.resolver,
            expected_purpose=purpose,
            challenge=challenge,
            domain=domain,
            loader=opts.loader,
            now=opts.moment(),
        )
    except CryptoError as err:
        report.add(
            "proof",
            "Data Integrity proof",
            Outcome.FAIL,
            f"PROOF_VERIFICATION_ERROR: {short(str(err))}",
        )
        return False
    details = {
        "proofs": [
            {
                "id": r.proof_id,
                "cryptosuite": r.cryptosuite,
                "verificationMethod": r.verification_method,
                "verified": r.verified,
                **({"error": r.error} if r.error else {}),
            }
            for r in results
        ]
    }
    failed = [r for r in results if not r.verified]
    if not results:
        report.add(
            "proof",
            "Data Integrity proof",
            Outcome.FAIL,
            "PROOF_VERIFICATION_ERROR: no proof to verify",
            details,
        )
        return False
    if failed:
        reasons = "; ".join(
            f"{r.cryptosuite or 'proof'} by {r.verification_method}: {r.error}" for r in failed
        )
        report.add(
            "proof",
            "Data Integrity proof",
            Outcome.FAIL,
            short(f"PROOF_VERIFICATION_ERROR: {reasons}"),
            details,
        )
        return False
    suites = ", ".join(sorted({str(r.cryptosuite) for r in results}))
    report.add(
        "proof",
        "Data Integrity proof",
        Outcome.PASS,
        f"{len(results)} proof(s) verified ({suites}) for proofPurpose {purpose}",
        details,
    )
    return True


async def check_issuer_key(
    doc: dict[str, Any], report: VerificationReport, opts: VerifyOptions
) -> None:
    """Checklist 12 (policy): the issuer DID resolves and controls every proof's method."""
    issuer = vc_model.issuer_id(doc)
    if issuer is None:
        report.add(
            "issuer", "Issuer controls the signing key", Outcome.SKIPPED, "no issuer id to check"
        )
        return
    if not proof_signers(doc):
        report.add(
            "issuer",
            "Issuer controls the signing key",
            Outcome.SKIPPED,
            "no proof verification method to compare with the issuer",
        )
        return
    if not issuer.startswith("did:"):
        # Checklist 12 makes "the key belongs to the issuer" a policy: official test vectors use
        # an https issuer with a did:key signer. Without a DID there is nothing to resolve, so
        # this is a warning — and check_trust() refuses to vouch for such an issuer.
        signers = ", ".join(sorted(set(proof_signers(doc)))) or "nobody"
        report.add(
            "issuer",
            "Issuer controls the signing key",
            Outcome.WARNING,
            f"issuer {issuer!r} is not a DID, so it cannot be confirmed that it controls "
            f"the signing key (signed by {signers})",
        )
        return
    try:
        document = await opts.resolver.resolve(issuer)
    except CryptoError as err:
        report.add(
            "issuer",
            "Issuer controls the signing key",
            Outcome.FAIL,
            f"cannot resolve issuer DID: {short(str(err))}",
        )
        return
    problems, by_issuer, others = [], [], []
    for proof in vc_model.as_list(doc.get("proof", [])):
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        if not isinstance(vm, str):
            continue
        if vm.split("#", 1)[0] != issuer:
            others.append(vm)
            continue
        try:
            method = document.verification_method(vm)
        except CryptoError as err:
            problems.append(str(err))
            continue
        controller = method.get("controller", issuer)
        if controller != issuer:
            problems.append(f"{vm} is controlled by {controller}, not the issuer")
        else:
            by_issuer.append(vm)
    # A proof set may carry co-signatures (e.g. a notary); at least one proof must be the
    # issuer's own, and none may claim an issuer key the issuer does not control.
    if not by_issuer and not problems:
        problems.append(f"no proof is by the issuer {issuer} (signed by {', '.join(others)})")
    if problems:
        report.add(
            "issuer", "Issuer controls the signing key", Outcome.FAIL, short("; ".join(problems))
        )
    else:
        also = f"; also signed by {', '.join(others)}" if others else ""
        report.add(
            "issuer",
            "Issuer controls the signing key",
            Outcome.PASS,
            f"issuer {issuer} resolved; its key {by_issuer[0]} signed the proof{also}",
        )


def check_trust(issuer: str | None, report: VerificationReport, opts: VerifyOptions) -> None:
    """Trust list membership — only meaningful once the issuer is bound to the signing key."""
    binding = report.check("issuer")
    if opts.trusted_issuers is None:
        report.add(
            "trust",
            "Issuer is trusted",
            Outcome.WARNING,
            "no trust list given: the issuer's identity was not checked against one",
        )
    elif binding is not None and binding.outcome is not Outcome.PASS:
        report.add(
            "trust",
            "Issuer is trusted",
            Outcome.FAIL,
            f"issuer {issuer!r} is not proven to control the signing key, so the trust "
            "list cannot vouch for it",
        )
    elif issuer is not None and issuer in opts.trusted_issuers:
        report.add("trust", "Issuer is trusted", Outcome.PASS, f"{issuer} is on the trust list")
    else:
        report.add(
            "trust",
            "Issuer is trusted",
            Outcome.FAIL,
            f"issuer {issuer!r} is not on the trust list",
        )


def check_validity(doc: dict[str, Any], report: VerificationReport, opts: VerifyOptions) -> None:
    """Checklist 5 at validation time: now inside [validFrom, validUntil] ± clock skew."""
    start, end = vc_model.validity_window(doc)
    now, skew = opts.moment(), opts.clock_skew
    if start is not None and now + skew < start:
        report.add(
            "validity",
            "Within the validity period",
            Outcome.FAIL,
            f"not valid until {start.isoformat()}",
        )
    elif end is not None and now - skew > end:
        report.add(
            "validity", "Within the validity period", Outcome.FAIL, f"expired at {end.isoformat()}"
        )
    elif start is None and end is None:
        report.add(
            "validity", "Within the validity period", Outcome.PASS, "no validity period stated"
        )
    else:
        report.add(
            "validity",
            "Within the validity period",
            Outcome.PASS,
            f"valid at {now.replace(microsecond=0).isoformat()}",
        )
