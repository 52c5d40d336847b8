"""Domain events of the verification context (mapped to protobuf by the adapters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ler_verification.domain.report import Outcome, Report, Verdict


class Kind(StrEnum):
    """What was verified."""

    CREDENTIAL = "credential"
    PRESENTATION = "presentation"


class Format(StrEnum):
    """How the input was secured (``ler.common.v1.CredentialFormat``)."""

    UNKNOWN = "unknown"
    LDP_VC = "ldp_vc"
    SD_JWT_VC = "sd_jwt_vc"


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """A check's id, outcome and error code — never its reason text."""

    id: str
    outcome: Outcome
    error_code: str


@dataclass(frozen=True, slots=True)
class VerificationCompleted:
    """A verification finished. A summary for metrics and audit: no personal contents,
    no credential bytes, no subject or holder ids, no reason texts."""

    verification_id: str
    verifier_id: str
    kind: Kind
    format: Format
    verdict: Verdict
    checks: tuple[CheckSummary, ...]
    issuer_ids: tuple[str, ...]
    credential_count: int
    completed_at: datetime
    duration: timedelta

    @classmethod
    def of(
        cls,
        *,
        verification_id: str,
        verifier_id: str,
        kind: Kind,
        fmt: Format,
        report: Report,
        issuer_ids: tuple[str, ...],
        credential_count: int,
        completed_at: datetime,
        duration: timedelta,
    ) -> VerificationCompleted:
        """Summarise ``report``."""
        return cls(
            verification_id=verification_id,
            verifier_id=verifier_id,
            kind=kind,
            format=fmt,
            verdict=report.verdict,
            checks=tuple(CheckSummary(c.id, c.outcome, c.error_code) for c in report.checks),
            issuer_ids=issuer_ids,
            credential_count=credential_count,
            completed_at=completed_at,
            duration=duration,
        )
