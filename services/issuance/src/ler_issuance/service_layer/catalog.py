"""The public achievement catalog: which achievements registered issuers offer, by skill.

Wallets use it to suggest achievements that would evidence a learner's missing skills
(``IssuanceService.SearchAchievementTemplates``). Only public data leaves: issuer id and name,
template id, the achievement's name, type, criteria URL and alignments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ler_platform.errors import FieldViolation

from ler_issuance.domain.errors import InvalidSpec
from ler_issuance.domain.model import AchievementTemplate, Alignment

MAX_SKILLS = 100
DEFAULT_RESULTS = 50
MAX_RESULTS = 500


@dataclass(frozen=True)
class CatalogEntry:
    """One template with its issuer's name and the requested skills it matches."""

    template: AchievementTemplate
    issuer_name: str
    matched: tuple[Alignment, ...]


class TemplateSource(Protocol):
    """Every issuer's templates with the issuer's name (``adapters.catalog``)."""

    async def templates_with_issuers(self) -> list[tuple[AchievementTemplate, str]]: ...


def skill_matches(wanted: Alignment, have: Alignment) -> bool:
    """common/v1 SkillAlignment identity: framework + code (case-insensitive), else url."""
    if wanted.code and have.code:
        return (wanted.framework.lower(), wanted.code.lower()) == (
            have.framework.lower(),
            have.code.lower(),
        )
    return bool(wanted.url) and wanted.url == have.url


async def search_catalog(
    source: TemplateSource, skills: Sequence[Alignment], max_results: int = 0
) -> list[CatalogEntry]:
    """Templates aligned to any of ``skills``: covering more of them first, then by name."""
    if not skills:
        raise InvalidSpec([FieldViolation("skills", "give at least one skill")])
    if len(skills) > MAX_SKILLS:
        raise InvalidSpec([FieldViolation("skills", f"give at most {MAX_SKILLS}")])
    for i, s in enumerate(skills):
        if not s.code and not s.url:
            raise InvalidSpec([FieldViolation(f"skills[{i}]", "needs a framework code or a url")])
    limit = min(max_results or DEFAULT_RESULTS, MAX_RESULTS)
    found = []
    # templates are few per issuer (dozens to hundreds): matched in Python over one query
    for template, issuer_name in await source.templates_with_issuers():
        have = template.achievement.skills()
        matched = tuple(w for w in skills if any(skill_matches(w, h) for h in have))
        if matched:
            found.append(CatalogEntry(template, issuer_name, matched))
    found.sort(key=lambda e: (-len(e.matched), e.template.achievement.name, e.template.template_id))
    return found[:limit]
