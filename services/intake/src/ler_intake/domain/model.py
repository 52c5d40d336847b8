"""Entities of the intake context: providers, opportunities, applications and their parts.

Pure Python: no transport, database or broker imports. Validation lives in the constructors'
factories (``Opportunity.validated``...) so every entry point gets the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum

from ler_intake.domain.errors import InvalidRequest
from ler_intake.domain.skills import Skill, SkillRequirement

MAX_STATEMENT_CHARS = 20_000
MAX_TRUSTED_ISSUERS = 100


class OpportunityKind(StrEnum):
    """What an opportunity offers."""

    JOB = "job"
    APPRENTICESHIP = "apprenticeship"
    PROGRAM = "program"
    BENEFIT = "benefit"


class EducationLevel(IntEnum):
    """Ordered levels (ISCED 2011, loosely) as in ``ler.common.v1.EducationLevel``."""

    UNSPECIFIED = 0
    SECONDARY = 1
    POST_SECONDARY = 2
    SHORT_CYCLE_TERTIARY = 3
    BACHELOR = 4
    MASTER = 5
    DOCTORAL = 6


@dataclass(frozen=True, slots=True)
class Provider:
    """An opportunity provider (a tenant): employer, school or benefit program."""

    provider_id: str
    name: str
    url: str
    domain: str
    webhook_url: str
    created_at: datetime
    api_key_hash: str = field(repr=False, default="")
    webhook_secret: str = field(repr=False, default="")


@dataclass(frozen=True, slots=True)
class VerificationPolicy:
    """How strictly evidence is verified (``ler.common.v1.VerificationPolicy``)."""

    allow_untrusted_issuers: bool = False
    allow_expired: bool = False
    allow_unreachable_status: bool = False
    accept_vc_v1: bool = False
    required_accreditations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What reviewers do not see until they reveal it (skills-first review)."""

    hide_education_level: bool = False
    hide_institution_names: bool = False
    hide_dates: bool = False
    hide_applicant_identity: bool = False


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A job, program or benefit that takes applications."""

    opportunity_id: str
    provider_id: str
    title: str
    kind: OpportunityKind
    created_at: datetime
    description: str = ""
    location: str = ""
    url: str = ""
    required_skills: tuple[SkillRequirement, ...] = ()
    preferred_skills: tuple[SkillRequirement, ...] = ()
    minimum_education_level: EducationLevel = EducationLevel.UNSPECIFIED
    verification_policy: VerificationPolicy = VerificationPolicy()
    redaction_policy: RedactionPolicy = RedactionPolicy()
    closed: bool = False
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    # issuers whose credentials count for this opportunity; empty = the provider's trust list
    trusted_issuer_ids: tuple[str, ...] = ()

    def validate(self) -> Opportunity:
        """Raise ``InvalidRequest`` naming the first bad field; return self when valid."""
        if not self.title.strip():
            raise InvalidRequest("opportunity.title", "is required")
        for group in ("required_skills", "preferred_skills"):
            for i, req in enumerate(getattr(self, group)):
                where = f"opportunity.{group}[{i}]"
                if not (req.skill.code or req.skill.url):
                    raise InvalidRequest(f"{where}.skill", "needs a framework code or a url")
                if req.skill.code and not req.skill.framework:
                    raise InvalidRequest(f"{where}.skill.framework", "is required with a code")
                if req.weight < 0:
                    raise InvalidRequest(f"{where}.weight", "must not be negative")
        if len(self.trusted_issuer_ids) > MAX_TRUSTED_ISSUERS:
            raise InvalidRequest(
                "opportunity.trusted_issuer_ids", f"has more than {MAX_TRUSTED_ISSUERS} entries"
            )
        for i, issuer in enumerate(self.trusted_issuer_ids):
            if not issuer.strip() or len(issuer) > 500 or any(c.isspace() for c in issuer):
                raise InvalidRequest(
                    f"opportunity.trusted_issuer_ids[{i}]",
                    "must be an issuer DID or URL (1-500 characters, no spaces)",
                )
        if self.opens_at and self.closes_at and self.closes_at < self.opens_at:
            raise InvalidRequest("opportunity.closes_at", "is before opens_at")
        return self

    def is_open(self, now: datetime) -> bool:
        """Whether it takes applications at ``now``."""
        if self.closed:
            return False
        if self.opens_at is not None and now < self.opens_at:
            return False
        return self.closes_at is None or now < self.closes_at

    def asks_for(self, skill: Skill) -> bool:
        """Whether a required or preferred requirement names ``skill``."""
        return any(r.skill.same_as(skill) for r in self.required_skills + self.preferred_skills)


@dataclass(frozen=True, slots=True)
class Applicant:
    """What the applicant tells about themself."""

    name: str
    email: str
    phone: str = ""
    statement: str = ""
    answers: tuple[tuple[str, str], ...] = ()

    def validate(self) -> Applicant:
        """Raise ``InvalidRequest`` for a missing name/email or an over-long statement."""
        if not self.name.strip():
            raise InvalidRequest("applicant.name", "is required")
        if "@" not in self.email or len(self.email) > 320:
            raise InvalidRequest("applicant.email", "must be an email address")
        if len(self.statement) > MAX_STATEMENT_CHARS:
            raise InvalidRequest("applicant.statement", f"exceeds {MAX_STATEMENT_CHARS} characters")
        return self


# OB 3.0 achievement types and the level they imply (ler.common.v1.EducationLevel comments,
# loosely ISCED 2011); types implying no level are absent.
_LEVELS: dict[str, EducationLevel] = {
    "SecondarySchoolDiploma": EducationLevel.SECONDARY,
    "GeneralEducationDevelopment": EducationLevel.SECONDARY,
    "Certificate": EducationLevel.POST_SECONDARY,
    "ApprenticeshipCertificate": EducationLevel.POST_SECONDARY,
    "JourneymanCertificate": EducationLevel.POST_SECONDARY,
    "Diploma": EducationLevel.POST_SECONDARY,
    "AssociateDegree": EducationLevel.SHORT_CYCLE_TERTIARY,
    "BachelorDegree": EducationLevel.BACHELOR,
    "Degree": EducationLevel.BACHELOR,
    "MasterDegree": EducationLevel.MASTER,
    "MasterCertificate": EducationLevel.MASTER,
    "DoctoralDegree": EducationLevel.DOCTORAL,
    "ProfessionalDoctorate": EducationLevel.DOCTORAL,
    "ResearchDoctorate": EducationLevel.DOCTORAL,
}


def level_of(achievement_type: str) -> EducationLevel:
    """The education level an OB achievement type implies (UNSPECIFIED when none)."""
    return _LEVELS.get(achievement_type, EducationLevel.UNSPECIFIED)
