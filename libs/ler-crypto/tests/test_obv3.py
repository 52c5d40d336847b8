"""Open Badges 3.0 / CLR 2.0 required properties, builders, and named errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from ler_crypto import obv3, status_list, vc_model
from ler_crypto.vc_model import DataModelError

ISSUER_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def make_badge(**overrides: Any) -> dict[str, Any]:
    issuer = obv3.build_profile(
        ISSUER_DID, "Example Community College", url="https://college.example.edu"
    )
    achievement = obv3.build_achievement(
        achievement_id="https://college.example.edu/achievements/python-101",
        name="Introduction to Python",
        description="Writes, tests and debugs small Python programs.",
        criteria_narrative="Passed the final project with at least 70%.",
        achievement_type="Course",
        alignments=[
            obv3.build_alignment(
                target_name="Computer programming",
                target_url="https://example.org/frameworks/esco/skill/21d2f96d",
                target_code="S1.2.1",
                target_framework="ESCO",
                target_type="ceasn:Competency",
            )
        ],
    )
    entry = status_list.build_status_list_entry(
        status_list_credential="https://college.example.edu/status/1", index=94567
    )
    kwargs: dict[str, Any] = {
        "issuer": issuer,
        "subject_id": "did:example:learner",
        "achievement": achievement,
        "valid_from": "2024-06-01T00:00:00Z",
        "credential_id": "urn:uuid:0b9f1f7c-5d3a-4d9e-8f4e-5b0f2d7c1a11",
        "results": [{"type": ["Result"], "value": "A", "status": "Completed"}],
        "credential_status": entry,
    }
    kwargs.update(overrides)
    return obv3.build_achievement_credential(**kwargs)


def test_builder_output_is_a_valid_open_badge() -> None:
    badge = make_badge()
    assert badge["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert obv3.validate_achievement_credential(badge) == []
    assert obv3.is_achievement_credential(badge)
    assert badge["credentialStatus"]["statusListIndex"] == "94567"


def test_builder_output_expands_without_data_loss() -> None:
    """Every property the builder writes is defined by the VC v2 + OB 3.0.3 contexts."""
    assert vc_model.check_jsonld(make_badge()) is None


def _without(doc: dict[str, Any], pointer: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parts = pointer.strip("/").split("/")
    target: Any = doc
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    del target[parts[-1]]
    return doc


@pytest.mark.parametrize(
    "pointer",
    [
        "/id",
        "/name",
        "/validFrom",
        "/issuer/id",
        "/issuer/type",
        "/credentialSubject/achievement",
        "/credentialSubject/achievement/id",
        "/credentialSubject/achievement/name",
        "/credentialSubject/achievement/description",
        "/credentialSubject/achievement/criteria",
        "/credentialSubject/achievement/type",
        "/credentialSubject/achievement/alignment/0/targetName",
        "/credentialSubject/achievement/alignment/0/targetUrl",
        "/credentialSubject/type",
        "/credentialSubject/result/0/type",
    ],
)
def test_missing_required_property_is_named(pointer: str) -> None:
    issues = obv3.validate_achievement_credential(_without(make_badge(), pointer))
    assert pointer in [i.path for i in issues], issues


def test_criteria_needs_id_or_narrative() -> None:
    badge = make_badge()
    badge["credentialSubject"]["achievement"]["criteria"] = {}
    issues = obv3.validate_achievement_credential(badge)
    assert [i.path for i in issues] == ["/credentialSubject/achievement/criteria"]


def test_subject_needs_id_or_identifier() -> None:
    badge = _without(make_badge(), "/credentialSubject/id")
    assert [i.path for i in obv3.validate_achievement_credential(badge)] == [
        "/credentialSubject/id"
    ]
    badge["credentialSubject"]["identifier"] = [
        {
            "type": "IdentityObject",
            "hashed": True,
            "identityHash": "sha256$28d4...",
            "identityType": "emailAddress",
        }
    ]
    assert obv3.validate_achievement_credential(badge) == []


def test_enumerations_are_checked() -> None:
    badge = make_badge()
    badge["credentialSubject"]["achievement"]["alignment"][0]["targetType"] = "Skill"
    badge["credentialSubject"]["result"][0]["status"] = "Done"
    paths = [i.path for i in obv3.validate_achievement_credential(badge)]
    assert paths == [
        "/credentialSubject/achievement/alignment/0/targetType",
        "/credentialSubject/result/0/status",
    ]
    badge["credentialSubject"]["achievement"]["alignment"][0]["targetType"] = "ext:SkillTag"
    badge["credentialSubject"]["result"][0]["status"] = "Completed"
    assert obv3.validate_achievement_credential(badge) == []


def test_missing_ob_context_and_wrong_type() -> None:
    badge = make_badge()
    badge["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    assert [i.path for i in obv3.validate_achievement_credential(badge)] == ["/@context"]
    badge["type"] = ["VerifiableCredential"]
    assert [i.path for i in obv3.validate_achievement_credential(badge)] == ["/type"]


def test_builder_refuses_invalid_input() -> None:
    with pytest.raises(DataModelError, match="/issuer/id"):
        make_badge(issuer={"type": ["Profile"], "name": "No id"})


def make_clr(**overrides: Any) -> dict[str, Any]:
    badge = make_badge()
    kwargs: dict[str, Any] = {
        "issuer": obv3.build_profile(ISSUER_DID, "Example Community College"),
        "subject_id": "did:example:learner",
        "credentials": [badge],
        "name": "Transcript",
        "valid_from": "2024-06-02T00:00:00Z",
        "associations": [
            obv3.build_association(
                "isPartOf",
                "https://college.example.edu/achievements/python-101",
                "https://college.example.edu/programs/software",
            )
        ],
    }
    kwargs.update(overrides)
    return obv3.build_clr_credential(**kwargs)


def test_clr_builder_and_validation() -> None:
    clr = make_clr()
    assert clr["@context"][1] == "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
    assert obv3.validate_clr_credential(clr) == []
    assert obv3.is_clr_credential(clr)
    assert vc_model.check_jsonld(clr) is None


def test_clr_requires_at_least_one_achievement_credential() -> None:
    with pytest.raises(DataModelError, match="/credentialSubject/verifiableCredential"):
        make_clr(credentials=[])


def test_clr_errors_point_into_nested_credentials() -> None:
    clr = make_clr()
    del clr["credentialSubject"]["verifiableCredential"][0]["credentialSubject"]["achievement"][
        "name"
    ]
    clr["credentialSubject"]["association"][0]["associationType"] = "sameAs"
    paths = [i.path for i in obv3.validate_clr_credential(clr)]
    assert paths == [
        "/credentialSubject/verifiableCredential/0/credentialSubject/achievement/name",
        "/credentialSubject/association/0/associationType",
    ]
