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
    # skills the goal accepts in its place (an intake opportunity's declared equivalents)
    equivalents: tuple[Skill, ...] = ()

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
        entry = by_key.get(requirement.skill.key) or next(
            (by_key[e.key] for e in requirement.equivalents if e.key in by_key), None
        )
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


@dataclass(frozen=True)
class Offer:
    """An achievement a registered institution offers (issuance's public catalog)."""

    template_id: str
    issuer_id: str
    issuer_name: str
    name: str
    achievement_type: str  # ler.common.v1.AchievementType name, e.g. "ACHIEVEMENT_TYPE_COURSE"
    url: str
    skills: tuple[Skill, ...]


@dataclass(frozen=True)
class Suggestion:
    """An offer that would evidence one missing goal skill."""

    skill: Skill
    offer: Offer


def suggest(made: CareerPlan, offers: Sequence[Offer]) -> list[Suggestion]:
    """For each missing skill (required first, heavier first), the offers aligned to it (or to
    an accepted equivalent); offers covering more missing skills rank first."""
    missing = [m.requirement for m in made.matches if not m.evidenced]
    missing.sort(key=lambda r: (not r.required, -r.effective_weight))

    def keys(r: Requirement) -> set[tuple[str, str]]:
        return {r.skill.key, *(e.key for e in r.equivalents)}

    def covers(offer: Offer, r: Requirement) -> bool:
        return bool(keys(r) & {s.key for s in offer.skills})

    breadth = {o.template_id: sum(covers(o, r) for r in missing) for o in offers}
    result: list[Suggestion] = []
    for requirement in missing:
        fitting = [o for o in offers if covers(o, requirement)]
        fitting.sort(key=lambda o: (-breadth[o.template_id], o.name, o.template_id))
        result.extend(Suggestion(requirement.skill, o) for o in fitting)
    return result
