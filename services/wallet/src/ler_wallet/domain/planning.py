"""Career planning: which goal skills the learner's profile evidences and which are missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ler_wallet.domain.errors import InvalidRequest
from ler_wallet.domain.model import Skill
from ler_wallet.domain.skills import ProfileSkill


@dataclass(frozen=True)
class Requirement:
    """One goal skill with its weight (0 means the default 1.0)."""

    skill: Skill
    weight: float = 0.0
    required: bool = True

    @property
    def effective_weight(self) -> float:
        """The weight used in the coverage (``ler.common.v1.SkillRequirement``)."""
        return self.weight or 1.0


@dataclass(frozen=True)
class GoalMatch:
    """A goal skill with the evidence for it (empty: missing)."""

    requirement: Requirement
    credential_ids: tuple[str, ...]
    self_asserted_only: bool

    @property
    def evidenced(self) -> bool:
        """Backed by a credential, or (when counted) a self-assertion."""
        return bool(self.credential_ids) or self.self_asserted_only


@dataclass(frozen=True)
class CareerPlan:
    """Evidenced and missing goal skills, and the weighted required coverage."""

    matches: tuple[GoalMatch, ...]
    required_coverage: float


def plan(
    requirements: Sequence[Requirement],
    profile: Sequence[ProfileSkill],
    *,
    include_self_asserted: bool,
) -> CareerPlan:
    """Match each requirement against the profile by skill identity (framework + code, or url)."""
    if not requirements:
        raise InvalidRequest("give an opportunity or at least one target skill")
    for requirement in requirements:
        requirement.skill.validate()
        if requirement.weight < 0:
            raise InvalidRequest("a skill weight must not be negative")
    by_key = {entry.skill.key: entry for entry in profile}
    matches = []
    for requirement in requirements:
        entry = by_key.get(requirement.skill.key)
        if entry is not None and entry.verified:
            matches.append(GoalMatch(requirement, tuple(entry.credential_ids), False))
        elif entry is not None and include_self_asserted:
            matches.append(GoalMatch(requirement, (), True))
        else:
            matches.append(GoalMatch(requirement, (), False))
    required = [m for m in matches if m.requirement.required]
    total = sum(m.requirement.effective_weight for m in required)
    covered = sum(m.requirement.effective_weight for m in required if m.evidenced)
    return CareerPlan(tuple(matches), covered / total if total else 1.0)
