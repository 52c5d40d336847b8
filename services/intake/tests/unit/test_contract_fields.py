"""The contract fields added for issue 7's gaps: declared equivalents and trusted issuers on
Opportunity (decoded, validated, encoded back), and how trusted issuers limit the match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ler.common.v1 import skills_pb2 as spb
from ler.intake.v1 import resources_pb2 as rpb
from ler_intake.adapters import proto
from ler_intake.domain import matching
from ler_intake.domain.application import Evidence
from ler_intake.domain.errors import InvalidRequest
from ler_intake.domain.skills import Skill

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SQL = spb.SkillAlignment(framework="ESCO", code="S4.5.6", label="SQL")
SQL_ONET = spb.SkillAlignment(framework="O*NET", code="2.C.3.e", label="Structured query language")
PY = spb.SkillAlignment(framework="ESCO", code="S1.2.3", label="Python")


def _msg(**extra: object) -> rpb.Opportunity:
    return rpb.Opportunity(
        title="Analyst",
        required_skills=[spb.SkillRequirement(skill=SQL), spb.SkillRequirement(skill=PY)],
        **extra,  # type: ignore[arg-type]
    )


def test_equivalents_and_trusted_issuers_round_trip() -> None:
    msg = _msg(
        skill_equivalents=[rpb.SkillEquivalents(skill=SQL, equivalents=[SQL_ONET])],
        trusted_issuer_ids=["did:key:college"],
    )
    draft = proto.opportunity_from(msg).validate()
    sql_req, py_req = draft.required_skills
    assert sql_req.equivalents == (Skill("Structured query language", "O*NET", "2.C.3.e"),)
    assert py_req.equivalents == ()
    assert draft.trusted_issuer_ids == ("did:key:college",)
    back = proto.opportunity_to(draft, NOW)
    assert list(back.trusted_issuer_ids) == ["did:key:college"]
    ((entry),) = back.skill_equivalents
    assert entry.skill.code == "S4.5.6" and [e.code for e in entry.equivalents] == ["2.C.3.e"]
    posting = proto.posting_to(draft, "ACME")
    assert [e.skill.code for e in posting.skill_equivalents] == ["S4.5.6"]


def test_bad_equivalents_and_trusted_issuers_are_refused_by_field() -> None:
    unknown = rpb.SkillEquivalents(skill=spb.SkillAlignment(framework="ESCO", code="X"))
    with pytest.raises(InvalidRequest) as caught:
        proto.opportunity_from(_msg(skill_equivalents=[unknown]))
    assert caught.value.field == "opportunity.skill_equivalents[0].skill"
    vague = rpb.SkillEquivalents(skill=SQL, equivalents=[spb.SkillAlignment(label="SQL-ish")])
    with pytest.raises(InvalidRequest) as caught:
        proto.opportunity_from(_msg(skill_equivalents=[vague]))
    assert caught.value.field == "opportunity.skill_equivalents[0].equivalents[0]"
    with pytest.raises(InvalidRequest) as caught:
        proto.opportunity_from(_msg(trusted_issuer_ids=["did:key:a", "not an id"])).validate()
    assert caught.value.field == "opportunity.trusted_issuer_ids[1]"


def test_only_trusted_issuers_count_when_the_opportunity_names_them() -> None:
    draft = proto.opportunity_from(
        _msg(
            skill_equivalents=[rpb.SkillEquivalents(skill=SQL, equivalents=[SQL_ONET])],
            trusted_issuer_ids=["did:key:college"],
        )
    )
    college = Evidence(
        "urn:c:1", "did:key:college", True, skills=(Skill("SQL", "O*NET", "2.C.3.e"),)
    )
    mill = Evidence("urn:c:2", "did:key:mill", True, skills=(Skill("Python", "ESCO", "S1.2.3"),))
    result = matching.match(
        draft.required_skills, draft.preferred_skills, [college, mill], draft.trusted_issuer_ids
    )
    sql_match, py_match = result.skills
    assert (sql_match.evidenced, sql_match.via) == (True, "equivalent")
    assert not py_match.evidenced and py_match.unverified_credential_ids == ("urn:c:2",)
    assert result.score == pytest.approx(0.5)
    assert "1 credential(s) not counted (issuer not among this opportunity's trusted" in (
        result.explanation
    )
    # without a list of its own, the provider's trust list (already applied) is enough
    everyone = matching.match(draft.required_skills, (), [college, mill])
    assert everyone.score == pytest.approx(1.0)
