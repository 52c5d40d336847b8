"""Entities and value objects of the wallet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from ler_wallet.domain.errors import InvalidRequest

MAX_TAGS = 20
MAX_TAG_CHARS = 50
MAX_NARRATIVE_CHARS = 2000
STUDY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class CredentialFormat(StrEnum):
    """How a credential is secured."""

    LDP_VC = "ldp_vc"
    SD_JWT_VC = "sd_jwt_vc"


class Source(StrEnum):
    """How a credential reached the wallet."""

    DELIVERY = "delivery"
    OFFER = "offer"
    IMPORT = "import"


class StatusState(StrEnum):
    """A held credential's status as last known."""

    ACTIVE = "active"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class AccessOutcome(StrEnum):
    """Result of one attempt to see shared credentials."""

    GRANTED = "granted"
    DENIED_EXPIRED = "denied_expired"
    DENIED_REVOKED = "denied_revoked"
    DENIED_EXHAUSTED = "denied_exhausted"
    DENIED_AUDIENCE = "denied_audience"


@dataclass(frozen=True)
class Skill:
    """A skill or competency in a public framework (OB 3.0 ``Alignment``, §B.1.3)."""

    label: str
    url: str = ""
    framework: str = ""
    code: str = ""
    description: str = ""
    target_type: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """Identity: framework and code (case-insensitive), or the url when there is no code
        (as ``ler.common.v1.SkillAlignment`` defines "the same skill")."""
        if self.code:
            return (self.framework.casefold(), self.code.casefold())
        return ("url", self.url)

    def validate(self) -> None:
        """A skill must be identifiable (a code or a url) and named."""
        if not self.code and not self.url:
            raise InvalidRequest("skill needs a framework code or a url")
        if not self.label:
            raise InvalidRequest("skill needs a label (its name)")


@dataclass(frozen=True)
class CredentialSummary:
    """What the wallet read out of a credential (never re-serialised into one)."""

    credential_id: str
    kind: str  # "achievement" | "clr" | "other"
    types: tuple[str, ...]
    issuer_id: str
    issuer_name: str = ""
    subject_id: str = ""
    achievement_name: str = ""
    achievement_type: str = ""  # OB AchievementType term, e.g. "BachelorDegree"
    skills: tuple[Skill, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    awarded_at: datetime | None = None
    embedded_credential_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Curation:
    """How the learner arranges a credential."""

    hidden: bool = False
    featured: bool = False
    tags: tuple[str, ...] = ()
    sort_order: int = 0

    def validate(self) -> None:
        """At most 20 non-empty tags of at most 50 characters; a non-negative order."""
        if len(self.tags) > MAX_TAGS:
            raise InvalidRequest(f"at most {MAX_TAGS} tags are allowed, got {len(self.tags)}")
        for tag in self.tags:
            if not tag.strip() or len(tag) > MAX_TAG_CHARS:
                raise InvalidRequest(f"each tag must have 1 to {MAX_TAG_CHARS} characters")
        if self.sort_order < 0:
            raise InvalidRequest("sort_order must not be negative")


@dataclass
class Account:
    """A learner's wallet, with its holder key (encrypted at rest) and hashed API key."""

    account_id: str
    display_name: str
    email: str
    holder_did: str
    holder_verification_method: str
    encrypted_holder_key: bytes = field(repr=False)
    api_key_hash: str = field(repr=False)
    created_at: datetime
    idempotency_key: str = ""


@dataclass
class HeldCredential:
    """A credential in a learner's wallet: signed bytes exactly as received plus what we know."""

    account_id: str
    credential_id: str
    format: CredentialFormat
    media_type: str
    signed: bytes = field(repr=False)
    bytes_hash: str
    summary: CredentialSummary
    receipt_report: dict[str, object] = field(repr=False)
    verified: bool
    source: Source
    stored_at: datetime
    status: StatusState = StatusState.ACTIVE
    curation: Curation = field(default_factory=Curation)

    @property
    def valid(self) -> bool:
        """Counts as evidence: verified on receipt and neither revoked nor suspended."""
        return self.verified and self.status is StatusState.ACTIVE

    def apply_status(self, new: StatusState) -> None:
        """Record a status change; revocation is final (Bitstring Status List §2.1)."""
        if self.status is StatusState.REVOKED:
            return
        self.status = new


@dataclass(frozen=True)
class SelfAssertedSkill:
    """A skill the learner claims with no credential behind it; always shown as unverified."""

    account_id: str
    skill: Skill
    narrative: str
    asserted_at: datetime

    def validate(self) -> None:
        """The skill must be identifiable; the narrative bounded."""
        self.skill.validate()
        if len(self.narrative) > MAX_NARRATIVE_CHARS:
            raise InvalidRequest(f"narrative must have at most {MAX_NARRATIVE_CHARS} characters")


@dataclass
class ShareLink:
    """A capability URL for chosen credentials; its token is stored only hashed."""

    share_link_id: str
    account_id: str
    token_hash: str = field(repr=False)
    credential_ids: tuple[str, ...]
    label: str
    created_at: datetime
    expires_at: datetime
    max_accesses: int = 0  # 0 = unlimited
    access_count: int = 0
    revoked_at: datetime | None = None
    audience: str = ""  # a verifier id, or "" for public

    def state(self, now: datetime) -> str:
        """``active`` | ``expired`` | ``revoked`` | ``exhausted`` (revocation wins)."""
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if self.max_accesses and self.access_count >= self.max_accesses:
            return "exhausted"
        return "active"

    def admit(self, now: datetime, verifier_id: str) -> AccessOutcome:
        """Decide one access attempt and count it when granted."""
        state = self.state(now)
        if state != "active":
            return AccessOutcome(f"denied_{state}")
        if self.audience and verifier_id != self.audience:
            return AccessOutcome.DENIED_AUDIENCE
        self.access_count += 1
        return AccessOutcome.GRANTED

    def revoke(self, now: datetime) -> None:
        """Stop the link at once (revoking twice keeps the first instant)."""
        if self.revoked_at is None:
            self.revoked_at = now


@dataclass(frozen=True)
class AccessLogEntry:
    """One access to a learner's shared data: when, by whom, with what outcome, what was seen."""

    entry_id: str
    account_id: str
    share_link_id: str
    accessed_at: datetime
    outcome: AccessOutcome
    verifier_id: str = ""
    client_network: str = ""
    user_agent: str = ""
    seen_credential_ids: tuple[str, ...] = ()
    channel: str = "share_link"  # or "presentation", "openid4vp"
    # selectively disclosed credentials: (credential_id, JSON pointers shown); others shown whole
    seen_claims: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class ResearchConsent:
    """A learner's choice about one impact study."""

    account_id: str
    study_id: str
    opted_in: bool
    pseudonym: str
    updated_at: datetime

    @staticmethod
    def check_study_id(study_id: str) -> None:
        """Lowercase letters, digits and '-', at most 64."""
        if not STUDY_ID.match(study_id):
            raise InvalidRequest(
                "study_id must be 1-64 lowercase letters, digits or '-', starting alphanumeric"
            )


def with_curation(credential: HeldCredential, curation: Curation) -> HeldCredential:
    """A copy of ``credential`` with a new curation."""
    return replace(credential, curation=curation)
