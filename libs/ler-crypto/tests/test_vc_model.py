"""VC Data Model 2.0 checks against every input of the W3C vc-data-model-2.0-test-suite.

The suite's inputs are *issuance requests*: its harness (``tests/mock.data.js``
``createRequestBody``) gives a credential the implementation's issuer id when ``issuer`` is
absent or an object without ``id``, and (``4-09-validity-period``) replaces the ``PAST DATE`` /
``FUTURE DATE`` placeholders. :func:`_as_issued` does the same before checking, so ``*-ok.json``
must be accepted and ``*-fail.json`` / ``*-fail-or-inject.json`` rejected (we never inject a
missing base context).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ler_crypto import vc_model
from ler_crypto.vc_model import DataModelError, Policy

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO.parent / "shared" / "vectors" / "vc-data-model-2.0-test-suite"
HARNESS_ISSUER = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"

# Vectors without an -ok/-fail verdict: the suite's default issuance template (VC 1.1, no issuer,
# no issuanceDate) and the self-asserted presentations, which need a presentation proof to be
# meaningful — the latter are exercised in test_verifier.py with a real signed presentation.
NO_VERDICT = {
    "validVc.json",
    "presentation-self-asserted-vc-holder-mismatch.json",
    "presentation-self-asserted-vc-issuer-mismatch.json",
    "presentation-self-asserted-vc-no-holder.json",
    "presentation-self-asserted-vc-ok.json",
}

# Failing vectors whose defect only JSON-LD expansion can see (undefined term, protected-term
# redefinition, unknown context). They must fail in the structural layer too when it can tell,
# but it is the core canonicalizer's data-loss detection that is required for them.
JSONLD_ONLY = {
    "credential-redef-type-fail.json",
    "credential-type-unmapped-fail.json",
}


def _vectors() -> list[Path]:
    files = sorted(SUITE.rglob("*.json"))
    assert files, f"no vectors found under {SUITE}"
    return [f for f in files if f.name not in NO_VERDICT]


def _as_issued(doc: dict[str, Any]) -> dict[str, Any]:
    """What the suite's issuer harness does to a credential before it reaches an implementation."""
    doc = copy.deepcopy(doc)
    if "issuer" not in doc:
        doc["issuer"] = HARNESS_ISSUER
    elif isinstance(doc["issuer"], dict) and "id" not in doc["issuer"]:
        doc["issuer"]["id"] = HARNESS_ISSUER
    now = datetime.now(UTC).replace(microsecond=0)
    for key, value in list(doc.items()):
        if value == "PAST DATE":
            doc[key] = (now - timedelta(days=365)).isoformat().replace("+00:00", "Z")
        elif value == "FUTURE DATE":
            doc[key] = (now + timedelta(days=365)).isoformat().replace("+00:00", "Z")
    return doc


def _check(path: Path, *, jsonld: bool) -> None:
    doc = json.loads(path.read_text())
    if path.name.startswith("presentation-"):
        vc_model.check_presentation(doc, jsonld=jsonld)
    else:
        vc_model.check_credential(_as_issued(doc), jsonld=jsonld)


@pytest.mark.parametrize("path", _vectors(), ids=lambda p: p.name)
def test_suite_vector(path: Path) -> None:
    if "-ok" in path.stem:
        _check(path, jsonld=True)
    else:
        assert "-fail" in path.stem, path.name
        with pytest.raises(DataModelError):
            _check(path, jsonld=True)


@pytest.mark.parametrize(
    "path",
    [p for p in _vectors() if "-fail" in p.stem and p.name not in JSONLD_ONLY],
    ids=lambda p: p.name,
)
def test_fail_vectors_are_caught_without_jsonld(path: Path) -> None:
    """Every failing vector except the JSON-LD-only ones is caught by the structural layer."""
    with pytest.raises(DataModelError):
        _check(path, jsonld=False)


@pytest.mark.parametrize("name", sorted(JSONLD_ONLY))
def test_jsonld_only_vectors_need_expansion(name: str) -> None:
    path = SUITE / name
    _check(path, jsonld=False)  # structurally fine ...
    with pytest.raises(DataModelError, match="JSON-LD"):
        _check(path, jsonld=True)  # ... but loses data / redefines a protected term


def test_vector_count() -> None:
    """Guard against the directory silently shrinking."""
    files = _vectors()
    assert sum("-ok" in p.stem for p in files) >= 55
    assert sum("-fail" in p.stem for p in files) >= 45


def _base() -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject"},
    }


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update({"@context": "https://www.w3.org/2018/credentials/v1"}), "/@context/0"),
        (lambda d: d.update({"issuer": {"id": "nope"}}), "/issuer/id"),
        (
            lambda d: d.update({"credentialSubject": [{"id": "did:x:1"}, {}]}),
            "/credentialSubject/1",
        ),
        (lambda d: d.update({"validFrom": "2024-01-01T00:00:00"}), "/validFrom"),
        (lambda d: d.update({"credentialStatus": {"id": "did:x:s"}}), "/credentialStatus/type"),
        (lambda d: d.update({"credentialSchema": [{"type": "X"}]}), "/credentialSchema/0/id"),
        (
            lambda d: d.update({"relatedResource": [{"id": "https://a.example/x"}]}),
            "/relatedResource/0",
        ),
        (lambda d: d.update({"name": {"@value": 3}}), "/name/@value"),
        (lambda d: d.update({"type": ["Other"]}), "/type"),
        (lambda d: d.pop("credentialSubject"), "/credentialSubject"),
    ],
)
def test_errors_name_the_property(mutate: Any, path: str) -> None:
    doc = _base()
    mutate(doc)
    issues = vc_model.validate_credential(doc)
    assert path in [i.path for i in issues], issues


def test_valid_until_before_valid_from_is_rejected_and_named() -> None:
    doc = _base() | {"validFrom": "2024-01-02T00:00:00Z", "validUntil": "2024-01-01T23:00:00-02:00"}
    # 23:00-02:00 on the 1st is 01:00Z on the 2nd, before validFrom? No: after midnight Z.
    assert vc_model.validate_credential(doc) == []
    doc["validUntil"] = "2024-01-01T21:00:00-02:00"  # 23:00Z on the 1st
    issues = vc_model.validate_credential(doc)
    assert [i.path for i in issues] == ["/validUntil"]


def test_related_resource_ids_must_be_unique() -> None:
    entry = {"id": "https://a.example/ctx", "digestSRI": "sha384-abc"}
    doc = _base() | {"relatedResource": [entry, dict(entry)]}
    assert [i.path for i in vc_model.validate_credential(doc)] == ["/relatedResource/1/id"]


def test_vc11_only_when_policy_allows() -> None:
    doc = _base() | {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "issuanceDate": "2010-01-01T19:23:24Z",
    }
    assert vc_model.validate_credential(doc) != []
    assert vc_model.validate_credential(doc, Policy(allow_v1=True)) == []
    del doc["issuanceDate"]
    issues = vc_model.validate_credential(doc, Policy(allow_v1=True))
    assert [i.path for i in issues] == ["/issuanceDate"]


def test_datetime_stamp_parsing() -> None:
    parse = vc_model.parse_datetime_stamp
    assert parse("2023-02-25T19:10:39-06:00") == datetime(2023, 2, 26, 1, 10, 39, tzinfo=UTC)
    assert parse("2023-02-26T01:02:58.447Z").microsecond == 447000
    assert parse("2023-12-31T24:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    for bad in (
        "2023-02-30T00:00:00Z",
        "2023-02-01T00:00:00",
        "2023-02-01 00:00:00Z",
        17,
        "Sat 25 Feb 2023 07:16:31 PM CST",
        "2023-02-01T00:00:00+15:00",
    ):
        with pytest.raises(ValueError):
            parse(bad)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://example.org/x", True),
        ("did:example:123", True),
        ("urn:uuid:9c9a36f8-518f-4976-a934-6649502d0008", True),
        ("data:application/vc-ld+jwt,eyJ", True),
        ("https ://not-a-url/x", False),
        ("fake-issuer", False),
        ("https://", False),
        ("z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj", False),
        (None, False),
        ("did:", False),
    ],
)
def test_is_url(value: Any, ok: bool) -> None:
    assert vc_model.is_url(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("HTTPS://Example.org", True),  # scheme names are case-insensitive (RFC 3986 §3.1)
        ("http:/x", False),  # a web URL names a host
        ("https:///x", False),
        ("https://?q", False),
        ("https://#f", False),
        ("httpx:y", True),  # another scheme, not http
        ("https://exa mple.org", False),
        ("https://example.org/\n", False),
        ("did:example:a<b", False),
        ("1did:example:x", False),
        ("d-i.d+x:y", True),
        ("", False),
        (b"https://example.org", False),
    ],
)
def test_is_url_edges(value: Any, ok: bool) -> None:
    assert vc_model.is_url(value) is ok


def _is_url_by_parts(value: str) -> bool:
    """The rule written step by step (the one regular expression in ``is_url`` must agree)."""
    if not re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", value):
        return False
    if re.search(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]", value):
        return False
    scheme, _, rest = value.partition(":")
    if not rest:
        return False
    if scheme.lower() in ("http", "https"):
        return rest.startswith("//") and len(rest) > 2 and rest[2] not in "/?#"
    return True


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(
            "".join,
            st.lists(
                st.sampled_from(["http", "HTTPS", "s", ":", "/", "?", "#", " ", "x", "did", "\t"]),
                max_size=8,
            ),
        ),
    )
)
def test_is_url_matches_the_rule(value: str) -> None:
    assert vc_model.is_url(value) is _is_url_by_parts(value)


def test_self_asserted_credential_requires_matching_holder() -> None:
    signer = "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"
    vp = json.loads((SUITE / "presentation-self-asserted-vc-ok.json").read_text())
    assert vc_model.self_asserted_issues(vp, signer) == []
    no_holder = json.loads((SUITE / "presentation-self-asserted-vc-no-holder.json").read_text())
    assert [i.path for i in vc_model.self_asserted_issues(no_holder, signer)] == ["/holder"]
    mismatch = json.loads(
        (SUITE / "presentation-self-asserted-vc-holder-mismatch.json").read_text()
    )
    assert [i.path for i in vc_model.self_asserted_issues(mismatch, signer)] == [
        "/verifiableCredential/0/issuer"
    ]
    # Signed by the holder, but the credential is someone else's: not self-asserted; it needs
    # its own proof, which the verifier reports separately.
    other = json.loads((SUITE / "presentation-self-asserted-vc-issuer-mismatch.json").read_text())
    assert vc_model.self_asserted_issues(other, signer) == []
