"""The skills profile: skills evidenced by valid credentials, plus self-asserted ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from ler_wallet.domain.model import HeldCredential, SelfAssertedSkill, Skill


@dataclass
class ProfileSkill:
    """One skill of the profile with what backs it."""

    skill: Skill
    source: str  # "credential" | "self_asserted"
    credential_ids: list[str] = field(default_factory=list)
    narrative: str = ""
    latest_evidence_at: datetime | None = None

    @property
    def verified(self) -> bool:
        """Backed by at least one valid credential; self-asserted skills never are."""
        return self.source == "credential"


def _earned(credential: HeldCredential) -> datetime | None:
    summary = credential.summary
    return summary.awarded_at or summary.valid_from or credential.stored_at


def build_profile(
    credentials: Iterable[HeldCredential], asserted: Iterable[SelfAssertedSkill]
) -> list[ProfileSkill]:
    """Aggregate alignments of non-hidden, valid credentials (verified, not revoked or
    suspended); self-asserted skills join as ``self_asserted`` unless a credential backs the
    same skill (CREDENTIAL wins, the narrative is kept). Credential-backed first, then by label.
    """
    by_key: dict[tuple[str, str], ProfileSkill] = {}
    for credential in credentials:
        if credential.curation.hidden or not credential.valid:
            continue
        earned = _earned(credential)
        for skill in credential.summary.skills:
            entry = by_key.setdefault(skill.key, ProfileSkill(skill, "credential"))
            if credential.credential_id not in entry.credential_ids:
                entry.credential_ids.append(credential.credential_id)
            if earned and (entry.latest_evidence_at is None or earned > entry.latest_evidence_at):
                entry.latest_evidence_at = earned
    for claim in asserted:
        existing = by_key.get(claim.skill.key)
        if existing is not None:
            existing.narrative = existing.narrative or claim.narrative
            continue
        by_key[claim.skill.key] = ProfileSkill(
            claim.skill,
            "self_asserted",
            narrative=claim.narrative,
            latest_evidence_at=claim.asserted_at,
        )
    return sorted(
        by_key.values(), key=lambda s: (s.source != "credential", s.skill.label.casefold())
    )
