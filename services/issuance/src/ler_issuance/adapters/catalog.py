"""``TemplateSource`` of the public catalog: every issuer's templates with the issuer's name."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ler_issuance import tables as t
from ler_issuance.adapters.serialization import achievement_from_json
from ler_issuance.domain.model import AchievementTemplate


class SqlTemplateCatalog:
    """Reads achievement_templates joined with issuers, in its own read-only session."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def templates_with_issuers(self) -> list[tuple[AchievementTemplate, str]]:
        """All templates, each with its issuer's display name."""
        tpl, iss = t.achievement_templates.c, t.issuers.c
        query = select(
            tpl.template_id, tpl.issuer_id, tpl.achievement, tpl.created_at, iss.name
        ).join(t.issuers, iss.issuer_id == tpl.issuer_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            (
                AchievementTemplate(
                    template_id=r.template_id,
                    issuer_id=r.issuer_id,
                    achievement=achievement_from_json(r.achievement),
                    created_at=r.created_at,
                ),
                r.name,
            )
            for r in rows
        ]
