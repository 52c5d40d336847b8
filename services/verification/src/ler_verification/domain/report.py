"""The verification report as this service states it: stable check ids, spec error codes,
targets and a verdict, derived from ``ler_crypto``'s report and the verifier's policy.

``ler_crypto`` names its checks ``parse``, ``data-model``, ``proof``...; the contract
(``ler.common.v1.Check.id``) names them ``syntax``, ``schema``, ``proof``,
``issuer.resolution``, ``issuer.trust``, ``validity.window``, ``status.revocation``,
``status.suspension``, ``holder.binding``, ``presentation.challenge``,
``presentation.domain``, ``presentation.replay``. The mapping lives here, once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ler_crypto.report import Check as CryptoCheck
from ler_crypto.report import Outcome as CryptoOutcome
from ler_crypto.report import VerificationReport as CryptoReport


class Outcome(StrEnum):
    """One check's outcome."""

    PASS = "pass"
    FAIL = "fail"
    WARNING = "warning"
    SKIPPED = "skipped"


class Verdict(StrEnum):
    """The overall result."""

    VERIFIED = "verified"
    VERIFIED_WITH_WARNINGS = "verified_with_warnings"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ReportCheck:
    """One check: id, title, outcome, a reason a person can read, the spec error code, target."""

    id: str
    title: str
    outcome: Outcome
    reason: str
    error_code: str = ""
    target: str = "$"


@dataclass(frozen=True, slots=True)
class Policy:
    """``ler.common.v1.VerificationPolicy``: every zero value is the strict choice."""

    allow_untrusted_issuers: bool = False
    allow_expired: bool = False
    allow_unreachable_status: bool = False
    accept_vc_v1: bool = False
    required_accreditations: tuple[str, ...] = ()


@dataclass(slots=True)
class Report:
    """Every check of one verification, in the order they ran."""

    checks: list[ReportCheck] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """FAILED if any check failed (or none ran), WITH_WARNINGS if any warned."""
        if not self.checks or any(c.outcome is Outcome.FAIL for c in self.checks):
            return Verdict.FAILED
        if any(c.outcome is Outcome.WARNING for c in self.checks):
            return Verdict.VERIFIED_WITH_WARNINGS
        return Verdict.VERIFIED

    def failed(self) -> list[ReportCheck]:
        """The failed checks."""
        return [c for c in self.checks if c.outcome is Outcome.FAIL]

    def by_id(self, check_id: str, target: str = "$") -> ReportCheck | None:
        """The first check with this id and target."""
        return next((c for c in self.checks if c.id == check_id and c.target == target), None)


_IDS = {
    "parse": "syntax",
    "data-model": "schema",
    "jsonld": "schema.jsonld",
    "profile": "schema.profile",
    "proof": "proof",
    "issuer": "issuer.resolution",
    "trust": "issuer.trust",
    "validity": "validity.window",
    "holder-binding": "holder.binding",
    "internal": "internal",
}
# Our own codes where the specifications define none (ErrorDetail.reason style).
_DEFAULT_CODES = {
    "syntax": "PARSING_ERROR",
    "schema": "MALFORMED_VALUE_ERROR",
    "schema.jsonld": "DATA_LOSS_DETECTION_ERROR",
    "schema.profile": "MALFORMED_VALUE_ERROR",
    "proof": "PROOF_VERIFICATION_ERROR",
    "issuer.resolution": "ISSUER_RESOLUTION_ERROR",
    "issuer.trust": "UNTRUSTED_ISSUER",
    "holder.binding": "HOLDER_BINDING_ERROR",
    "internal": "VERIFICATION_ERROR",
}
_CODE = re.compile(r"^([A-Z][A-Z_]*_ERROR):\s*")


def _code_of(reason: str, check_id: str) -> str:
    match = _CODE.match(reason)
    return match.group(1) if match else _DEFAULT_CODES.get(check_id, "VERIFICATION_ERROR")


def _outcome(outcome: CryptoOutcome) -> Outcome:
    return Outcome(outcome.value)


def _make(
    check_id: str, source: CryptoCheck, target: str, *, code: str | None = None
) -> ReportCheck:
    outcome = _outcome(source.outcome)
    error_code = ""
    if outcome in (Outcome.FAIL, Outcome.WARNING):
        error_code = code or _code_of(source.reason, check_id)
    return ReportCheck(check_id, source.title, outcome, source.reason, error_code, target)


def _status_purposes(document: Any) -> list[str]:
    """The statusPurpose of each credentialStatus entry, in order (one status check each)."""
    if not isinstance(document, dict) or "credentialStatus" not in document:
        return []
    entries = document["credentialStatus"]
    entries = entries if isinstance(entries, list) else [entries]
    return [str(e.get("statusPurpose", "")) if isinstance(e, dict) else "" for e in entries]


def _status_check(source: CryptoCheck, purpose: str, target: str) -> ReportCheck:
    if not purpose and source.details:
        # an SD-JWT VC has no credentialStatus: its Token Status List check names the purpose
        purpose = str(source.details.get("purpose", ""))
    check_id = f"status.{purpose}" if purpose in ("revocation", "suspension") else "status"
    code = None
    if source.outcome is CryptoOutcome.FAIL and not _CODE.match(source.reason):
        # "the credential is revoked (...)": not a processing error, the status itself
        code = {
            "status.revocation": "CREDENTIAL_REVOKED",
            "status.suspension": "CREDENTIAL_SUSPENDED",
        }.get(check_id, "STATUS_VERIFICATION_ERROR")
    return _make(check_id, source, target, code=code)


def _challenge_checks(source: CryptoCheck, target: str) -> list[ReportCheck]:
    """ler_crypto reports challenge and domain together; the contract has one check each."""
    outcome = _outcome(source.outcome)
    results = []
    for check_id, title, code in (
        ("presentation.challenge", "Challenge", "INVALID_CHALLENGE_ERROR"),
        ("presentation.domain", "Domain", "INVALID_DOMAIN_ERROR"),
    ):
        if outcome is Outcome.FAIL:
            mine = [p for p in source.reason.split("; ") if p.startswith(code)]
            if mine:
                results.append(
                    ReportCheck(check_id, title, Outcome.FAIL, "; ".join(mine), code, target)
                )
            else:
                results.append(ReportCheck(check_id, title, Outcome.PASS, "matches", "", target))
        else:
            error = code if outcome is Outcome.WARNING else ""
            results.append(ReportCheck(check_id, title, outcome, source.reason, error, target))
    return results


def _credential_checks(crypto: CryptoReport, document: Any, target: str) -> list[ReportCheck]:
    purposes = iter(_status_purposes(document))
    checks: list[ReportCheck] = []
    for source in crypto.checks:
        if source.id == "status":
            checks.append(_status_check(source, next(purposes, ""), target))
        elif source.id == "challenge":
            checks.extend(_challenge_checks(source, target))
        elif source.id == "validity" and source.outcome is CryptoOutcome.FAIL:
            code = (
                "CREDENTIAL_EXPIRED"
                if source.reason.startswith("expired")
                else "CREDENTIAL_NOT_YET_VALID"
            )
            checks.append(_make("validity.window", source, target, code=code))
        else:
            checks.append(_make(_IDS.get(source.id, source.id), source, target))
    return checks


def from_crypto(crypto: CryptoReport, document: Any) -> Report:
    """Map ``ler_crypto``'s report (and its nested credential reports) to a flat ``Report``.

    ``document`` is the parsed input (or ``None``), used to tell status purposes apart.
    """
    report = Report(_credential_checks(crypto, document, "$"))
    nested_docs: Sequence[Any] = []
    if isinstance(document, dict):
        vcs = document.get("verifiableCredential", [])
        nested_docs = vcs if isinstance(vcs, list) else [vcs]
    for i, nested in enumerate(crypto.credentials):
        doc = nested_docs[i] if i < len(nested_docs) else None
        report.checks.extend(_credential_checks(nested, doc, f"$.verifiableCredential[{i}]"))
    if crypto.malformed and not report.failed():
        report.checks.append(
            ReportCheck(
                "syntax", "Input is usable", Outcome.FAIL, "the input is malformed", "PARSING_ERROR"
            )
        )
    return report


def apply_policy(report: Report, policy: Policy) -> Report:
    """Downgrade to WARNING what the policy tolerates; revoked or suspended stays FAIL."""
    checks = []
    for check in report.checks:
        if check.outcome is Outcome.FAIL and _tolerated(check, policy):
            check = replace(
                check, outcome=Outcome.WARNING, reason=f"{check.reason} (tolerated by policy)"
            )
        checks.append(check)
    return Report(checks)


def _tolerated(check: ReportCheck, policy: Policy) -> bool:
    if check.id == "issuer.trust":
        return policy.allow_untrusted_issuers
    if check.id == "validity.window":
        return policy.allow_expired
    if check.id.startswith("status"):
        return policy.allow_unreachable_status and check.error_code == "STATUS_RETRIEVAL_ERROR"
    return False


def syntax_failure(reason: str) -> Report:
    """A report for input that could not be examined as the declared format."""
    return Report(
        [ReportCheck("syntax", "Input is well formed", Outcome.FAIL, reason, "PARSING_ERROR")]
    )
