"""DCQL (OpenID4VP 1.0 §6, §7) on the wallet side: parsing, matching, claims path pointers."""

from __future__ import annotations

from typing import Any

import pytest
from ler_wallet.domain import dcql
from ler_wallet.domain.errors import InvalidRequest

SD = {
    "vct": "https://example.org/vct/degree",
    "given_name": "Ada",
    "degrees": [{"type": "BSc", "year": 2020}, {"type": "MSc", "year": 2022}],
    "address": {"country": "UK"},
}


def _query(**extra: Any) -> dict[str, Any]:
    return {"credentials": [{"id": "q", "format": "dc+sd-jwt", **extra}]}


def test_claims_sets_values_and_null_paths() -> None:
    parsed = dcql.parse_query(
        _query(
            meta={"vct_values": ["https://example.org/vct/degree"]},
            claims=[
                {"id": "a", "path": ["nickname"]},
                {"id": "b", "path": ["given_name"]},
                {"id": "c", "path": ["degrees", None, "type"], "values": ["MSc"]},
            ],
            claim_sets=[["a", "c"], ["b", "c"]],
        )
    )
    q = parsed.get("q")
    assert dcql.format_matches(q, "dc+sd-jwt", SD)
    assert not dcql.format_matches(q, "dc+sd-jwt", {**SD, "vct": "other"})
    assert not dcql.format_matches(q, "ldp_vc", SD)
    # the first option lacks "nickname": the second claim set is the one presented
    chosen = dcql.selected_claims(q, SD)
    assert chosen is not None and [c.claim_id for c in chosen] == ["b", "c"]
    assert dcql.concrete_paths(SD, chosen[1].path) == [
        ("degrees", 0, "type"),
        ("degrees", 1, "type"),
    ]
    # value matching: no degree of type PhD, so nothing answers
    phd = dcql.parse_query(_query(claims=[{"path": ["degrees", None, "type"], "values": ["PhD"]}]))
    assert dcql.selected_claims(phd.get("q"), SD) is None
    assert dcql.to_pointer(("a/b", "c~d", None, 0)) == "/a~1b/c~0d/*/0"


def test_credential_sets_decide_what_is_required() -> None:
    base = [
        {"id": "pid", "format": "dc+sd-jwt"},
        {"id": "degree", "format": "ldp_vc"},
        {"id": "diploma", "format": "ldp_vc"},
    ]
    assert dcql.parse_query({"credentials": base}).required_ids == {"pid", "degree", "diploma"}
    sets = dcql.parse_query(
        {
            "credentials": base,
            "credential_sets": [
                {"options": [["pid"]]},
                {"options": [["degree"], ["diploma"]]},
                {"options": [["degree"]], "required": False},
            ],
        }
    )
    assert sets.required_ids == {"pid"}


def test_ldp_type_values_match_expanded_iris() -> None:
    q = dcql.parse_query(
        {
            "credentials": [
                {
                    "id": "q",
                    "format": "ldp_vc",
                    "meta": {
                        "type_values": [
                            ["https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential"]
                        ]
                    },
                }
            ]
        }
    ).get("q")
    badge = {"type": ["VerifiableCredential", "OpenBadgeCredential"]}
    assert dcql.format_matches(q, "ldp_vc", badge)
    assert not dcql.format_matches(q, "ldp_vc", {"type": ["VerifiableCredential"]})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "JSON object"),
        ({"credentials": []}, "1 to 20"),
        (_query(format="mso_mdoc"), "mso_mdoc"),
        ({"credentials": [{"id": "bad id!", "format": "ldp_vc"}]}, ".id"),
        ({"credentials": [{"id": "q", "format": "ldp_vc"}] * 2}, "unique"),
        (_query(claims=[{"path": []}]), "non-empty"),
        (_query(claims=[{"path": ["a", -1]}]), "negative"),
        (_query(claims=[{"path": ["a", True]}]), "strings, integers or null"),
        (_query(claims=[{"id": "a", "path": ["a"]}], claim_sets=[["zz"]]), "unknown claim ids"),
        (_query(claim_sets=[["a"]]), "needs claims"),
        (
            {
                "credentials": [{"id": "q", "format": "ldp_vc"}],
                "credential_sets": [{"options": [["x"]]}],
            },
            "unknown credential queries",
        ),
    ],
)
def test_malformed_queries_are_named(raw: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message.replace(".", r"\.").replace("*", r"\*")):
        dcql.parse_query(raw)
