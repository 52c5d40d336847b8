"""The application aggregate: evidence, its verification report, the match, flags, outcome."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from ler_intake.domain.model import Applicant, EducationLevel
from ler_intake.domain.skills import Skill


class ApplicationState(StrEnum):
    """Where an application stands."""

    SUBMITTED = "submitted"
    VERIFIED = "verified"
    FLAGGED = "flagged"
    DECIDED = "decided"


class EvidenceKind(StrEnum):
    """How the applicant supplied their credentials."""

    PRESENTATION = "presentation"
    SHARE_LINK = "share_link"


class FlagReason(StrEnum):
    """Why an application needs attention."""

    VERIFICATION_FAILED = "verification_failed"
    EVIDENCE_REVOKED = "evidence_revoked"
    EVIDENCE_SUSPENDED = "evidence_suspended"
    BELOW_MINIMUM_LEVEL = "below_minimum_level"
    VERIFICATION_UNAVAILABLE = "verification_unavailable"


class OutcomeKind(StrEnum):
    """The decision on an application (interviewed, offered, hired/admitted/awarded...)."""

    INTERVIEW = "interview"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class CheckOutcome(StrEnum):
    """Outcome of one verification check."""

    PASS = "pass"
    FAIL = "fail"
    WARNING = "warning"
    SKIPPED = "skipped"


class Verdict(StrEnum):
    """Overall verification verdict."""

    VERIFIED = "verified"
    VERIFIED_WITH_WARNINGS = "verified_with_warnings"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Check:
    """One verification check as the verification service reported it."""

    id: str
    outcome: CheckOutcome
    title: str = ""
    reason: str = ""
    error_code: str = ""
    target: str = "$"


@dataclass(frozen=True, slots=True)
class Report:
    """A verification report (``ler.common.v1.VerificationReport``)."""

    verdict: Verdict
    checks: tuple[Check, ...]
    verified_at: datetime
    verification_id: str = ""

    def failures(self, target_prefix: str | None = None) -> tuple[Check, ...]:
        """FAIL checks, optionally only those about ``target_prefix`` (e.g. a credential)."""
        return tuple(
            c
            for c in self.checks
            if c.outcome is CheckOutcome.FAIL
            and (target_prefix is None or c.target == target_prefix)
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """One credential of an application, as summarised by the verification service.

    ``verified`` is True only when no check about this credential (nor about the presentation
    as a whole) failed; ``status`` is "active", "revoked" or "suspended" as last known.
    ``signed`` is the credential exactly as received, kept to re-verify it later.
    """

    credential_id: str
    issuer_id: str
    verified: bool
    issuer_name: str = ""
    subject_id: str = ""
    achievement_name: str = ""
    achievement_type: str = ""
    education_level: EducationLevel = EducationLevel.UNSPECIFIED
    types: tuple[str, ...] = ()
    skills: tuple[Skill, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    awarded_at: datetime | None = None
    status: str = "active"
    signed: str = field(default="", repr=False)

    @property
    def counts(self) -> bool:
        """Whether it may evidence skills: verified and neither revoked nor suspended."""
        return self.verified and self.status == "active"


@dataclass(frozen=True, slots=True)
class SkillMatch:
    """One requirement against the evidence."""

    label: str
    required: bool
    weight: float
    evidenced: bool
    credential_ids: tuple[str, ...] = ()
    via: str = ""  # "exact" | "equivalent" | ""
    unverified_credential_ids: tuple[str, ...] = ()
    requirement_index: int = 0


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The skills-first score (0..1) with one entry per requirement and an explanation."""

    score: float
    skills: tuple[SkillMatch, ...]
    explanation: str

    @property
    def required_evidenced(self) -> int:
        """Required skills evidenced by verified credentials."""
        return sum(1 for s in self.skills if s.required and s.evidenced)

    @property
    def required_total(self) -> int:
        """Required skills asked."""
        return sum(1 for s in self.skills if s.required)


@dataclass(frozen=True, slots=True)
class Flag:
    """One reason an application needs attention."""

    reason: FlagReason
    message: str
    raised_at: datetime
    credential_id: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A recorded decision."""

    kind: OutcomeKind
    decided_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class Reveal:
    """A reviewer revealed a redacted field ("*" for the full view)."""

    field: str
    reason: str
    revealed_by: str
    revealed_at: datetime


@dataclass(frozen=True, slots=True)
class Application:
    """One applicant's application to one opportunity (the aggregate)."""

    application_id: str
    opportunity_id: str
    provider_id: str
    idempotency_key: str
    submission_digest: str
    evidence_kind: EvidenceKind
    applicant: Applicant
    submitted_at: datetime
    updated_at: datetime
    state: ApplicationState = ApplicationState.SUBMITTED
    evidence: tuple[Evidence, ...] = ()
    report: Report | None = None
    match: MatchResult | None = None
    flags: tuple[Flag, ...] = ()
    outcome: Outcome | None = None
    reveals: tuple[Reveal, ...] = ()
    presentation: str = field(default="", repr=False)
    # the challenge the presentation was bound to, kept to verify it later when the
    # verification service was unavailable at submission
    challenge: str = field(default="", repr=False)
    # re-verification of a SUBMITTED application: tries so far and when the next may start
    verify_attempts: int = 0
    next_verify_at: datetime | None = None

    def verification_postponed(self, attempts: int, next_at: datetime) -> Application:
        """Still SUBMITTED: the verification service was unavailable; try again at ``next_at``."""
        return replace(self, verify_attempts=attempts, next_verify_at=next_at)

    def verification_abandoned(self, flag: Flag, now: datetime) -> Application:
        """FLAGGED without a report: verification never completed within the retries."""
        return replace(
            self,
            flags=(*self.flags, flag),
            state=ApplicationState.FLAGGED,
            next_verify_at=None,
            updated_at=now,
        )

    def with_verification(
        self,
        report: Report,
        evidence: tuple[Evidence, ...],
        match: MatchResult,
        flags: tuple[Flag, ...],
        now: datetime,
    ) -> Application:
        """The application once verified and matched: FLAGGED when any flag was raised."""
        state = ApplicationState.FLAGGED if flags else ApplicationState.VERIFIED
        if self.outcome is not None:
            state = ApplicationState.DECIDED if not flags else ApplicationState.FLAGGED
        return replace(
            self,
            report=report,
            evidence=evidence,
            match=match,
            flags=self.flags + flags,
            state=state,
            next_verify_at=None,
            updated_at=now,
        )

    def flagged(
        self, flag: Flag, evidence: tuple[Evidence, ...], match: MatchResult, now: datetime
    ) -> Application:
        """The application with evidence found revoked or suspended later."""
        return replace(
            self,
            flags=(*self.flags, flag),
            evidence=evidence,
            match=match,
            state=ApplicationState.FLAGGED,
            updated_at=now,
        )

    def decided(self, outcome: Outcome, now: datetime) -> Application:
        """The application with its (new) outcome."""
        return replace(self, outcome=outcome, state=ApplicationState.DECIDED, updated_at=now)

    def revealed(self, reveal: Reveal, now: datetime) -> Application:
        """The application with one more recorded reveal."""
        return replace(self, reveals=(*self.reveals, reveal), updated_at=now)

    def evidence_by_id(self, credential_id: str) -> Evidence | None:
        """The evidence with this credential id."""
        return next((e for e in self.evidence if e.credential_id == credential_id), None)
