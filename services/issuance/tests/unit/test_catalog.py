"""The public achievement catalog: matching by skill identity, ranking, limits, bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ler_issuance.domain.errors import InvalidSpec
from ler_issuance.domain.model import Achievement, AchievementTemplate, Alignment
from ler_issuance.service_layer.catalog import search_catalog

SQL = Alignment(url="https://e.org/sql", label="SQL", framework="ESCO", code="SQL1")
VIZ = Alignment(url="https://e.org/viz", label="Viz", framework="ESCO", code="VIZ1")
PY = Alignment(url="https://e.org/py", label="Python", framework="ESCO", code="PY1")


def _template(tid: str, name: str, *skills: Alignment) -> AchievementTemplate:
    return AchievementTemplate(
        template_id=tid,
        issuer_id="iss_" + tid,
        achievement=Achievement(id=f"urn:{tid}", name=name, description=".", alignments=skills),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


class Source:
    def __init__(self, *templates: AchievementTemplate) -> None:
        self.templates = templates

    async def templates_with_issuers(self) -> list[tuple[AchievementTemplate, str]]:
        return [(t, f"Issuer of {t.template_id}") for t in self.templates]


async def test_matches_by_framework_code_case_insensitively_or_url_and_ranks_breadth() -> None:
    source = Source(
        _template("t1", "Databases", SQL),
        _template("t2", "Bootcamp", SQL, VIZ),
        _template("t3", "Python", PY),
    )
    wanted = [
        Alignment(url="", label="", framework="esco", code="sql1"),
        Alignment(url="https://e.org/viz", label="Viz"),
    ]
    found = await search_catalog(source, wanted)
    assert [(e.template.template_id, len(e.matched)) for e in found] == [("t2", 2), ("t1", 1)]
    assert found[0].issuer_name == "Issuer of t2"
    assert [e.template.template_id for e in await search_catalog(source, wanted, 1)] == ["t2"]
    other_framework = Alignment(url="", label="", framework="ONET", code="SQL1")
    assert await search_catalog(source, [other_framework]) == []


@pytest.mark.parametrize(
    ("skills", "message"),
    [
        ([], "at least one"),
        ([Alignment(url="", label="x")], "framework code or a url"),
        ([SQL] * 101, "at most 100"),
    ],
)
async def test_bad_searches_are_named(skills: list[Alignment], message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        await search_catalog(Source(), skills)
