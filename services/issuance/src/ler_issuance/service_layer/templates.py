"""Achievement templates: define once, issue against many times."""

from __future__ import annotations

import uuid

from ler_issuance.domain.errors import (
    InvalidSpec,
    IssuerNotFound,
    TemplateAlreadyExists,
    TemplateNotFound,
)
from ler_issuance.domain.model import Achievement, AchievementTemplate, Alignment
from ler_issuance.domain.validation import achievement_violations
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuing import with_ids
from ler_issuance.service_layer.paging import (
    decode_token,
    encode_token,
    filters_digest,
    page_size,
)


async def create_template(
    ctx: Context, issuer_id: str, achievement: Achievement
) -> AchievementTemplate:
    """Store a validated achievement (ids assigned where empty) as a template."""
    violations = achievement_violations(achievement, "achievement")
    if violations:
        raise InvalidSpec(violations)
    template = AchievementTemplate(
        template_id="tpl_" + uuid.uuid4().hex,
        issuer_id=issuer_id,
        achievement=with_ids(achievement),
        created_at=ctx.now(),
    )
    async with ctx.uow() as uow:
        if await uow.issuers.get(issuer_id) is None:
            raise IssuerNotFound(issuer_id)
        if achievement.id and await uow.templates.exists_for_achievement(issuer_id, achievement.id):
            raise TemplateAlreadyExists(
                f"a template for achievement {achievement.id!r} already exists"
            )
        await uow.templates.add(template)
    return template


async def get_template(ctx: Context, issuer_id: str, template_id: str) -> AchievementTemplate:
    """One of the issuer's templates."""
    async with ctx.uow() as uow:
        template = await uow.templates.get(issuer_id, template_id)
    if template is None:
        raise TemplateNotFound(template_id)
    return template


def _skill_matches(wanted: Alignment, have: Alignment) -> bool:
    # common/v1 SkillAlignment: same framework+code (case-insensitive), else same URL
    if wanted.code and have.code:
        return (wanted.framework.lower(), wanted.code.lower()) == (
            have.framework.lower(),
            have.code.lower(),
        )
    return bool(wanted.url) and wanted.url == have.url


async def list_templates(
    ctx: Context,
    issuer_id: str,
    *,
    size: int,
    token: str,
    achievement_type: str = "",
    skill: Alignment | None = None,
) -> tuple[list[AchievementTemplate], str]:
    """A page of templates, newest first, and the next page token ("" on the last page)."""
    limit = page_size(size)
    digest = filters_digest(issuer_id, achievement_type, skill)
    after = decode_token(token, digest)
    found: list[AchievementTemplate] = []
    async with ctx.uow() as uow:
        # filters run in Python over pages from the store: templates are few per issuer
        while len(found) < limit + 1:
            batch = await uow.templates.page(issuer_id, after=after, limit=limit + 1)
            for template in batch:
                a = template.achievement
                if achievement_type and a.achievement_type != achievement_type:
                    continue
                if skill is not None and not any(_skill_matches(skill, s) for s in a.skills()):
                    continue
                found.append(template)
            if len(batch) < limit + 1:
                break
            after = (batch[-1].created_at, batch[-1].template_id)
    page = found[:limit]
    next_token = (
        encode_token((page[-1].created_at, page[-1].template_id), digest)
        if len(found) > limit
        else ""
    )
    return page, next_token
