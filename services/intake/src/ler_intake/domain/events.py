"""Domain events of the intake context, published on ``ler.applications.v1`` via the outbox.

They never carry the applicant's personal data or credential contents (events.proto).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ler_intake.domain.application import EvidenceKind, FlagReason, OutcomeKind, Verdict


@dataclass(frozen=True, slots=True)
class ApplicationSubmitted:
    """An application was received."""

    application_id: str
    opportunity_id: str
    provider_id: str
    evidence_kind: EvidenceKind
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class ApplicationVerified:
    """An application's evidence was verified and matched."""

    application_id: str
    opportunity_id: str
    provider_id: str
    verdict: Verdict
    verification_id: str
    match_score: float
    required_skills_evidenced: int
    required_skills_total: int
    credential_count: int
    verified_at: datetime


@dataclass(frozen=True, slots=True)
class ApplicationFlagged:
    """An application needs attention."""

    application_id: str
    opportunity_id: str
    provider_id: str
    reason: FlagReason
    credential_id: str
    flagged_at: datetime


@dataclass(frozen=True, slots=True)
class OutcomeRecorded:
    """A decision was recorded."""

    application_id: str
    opportunity_id: str
    provider_id: str
    outcome: OutcomeKind
    decided_at: datetime


DomainEvent = ApplicationSubmitted | ApplicationVerified | ApplicationFlagged | OutcomeRecorded
