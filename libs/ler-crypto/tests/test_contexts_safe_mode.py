"""Reference RDFC-1.0 canonicalization (pyld URDNA2015) with safe-mode data-loss checks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.canon.reference import canonize_reference
from ler_crypto.contexts import ContextLoader
from ler_crypto.errors import (
    CryptoError,
    DataLossError,
    MalformedInputError,
    UnknownContextError,
)

SHARED = Path(__file__).resolve().parents[4] / "shared"
EDDSA = SHARED / "vectors" / "vc-di-eddsa"
DATA = Path(__file__).resolve().parent / "data"
VC1 = ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/security/data-integrity/v2"]
VC2 = "https://www.w3.org/ns/credentials/v2"


def _vc11(**changes: Any) -> dict[str, Any]:
    document = {
        "@context": VC1,
        "id": "urn:uuid:5f6b3c2a-1111-4a4a-8b8b-000000000001",
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "issuanceDate": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject"},
    }
    document.update(changes)
    return document


def test_vector_document_and_proof_config_byte_for_byte() -> None:
    unsigned = json.loads((EDDSA / "unsigned.json").read_text())
    config = json.loads((EDDSA / "eddsa-rdfc-2022" / "proofConfigDataInt.json").read_text())
    assert (
        canonize_reference(unsigned)
        == (EDDSA / "eddsa-rdfc-2022" / "canonDocDataInt.txt").read_text()
    )
    assert (
        canonize_reference(config)
        == (EDDSA / "eddsa-rdfc-2022" / "proofCanonDataInt.txt").read_text()
    )


def test_vc11_document_canonicalizes() -> None:
    nquads = canonize_reference(_vc11())
    assert "<https://www.w3.org/2018/credentials#issuer> <did:example:issuer>" in nquads


def test_ob3_credential_canonicalizes() -> None:
    credential = json.loads((DATA / "ob3_credential.json").read_text())
    nquads = canonize_reference(credential)
    assert "https://purl.imsglobal.org/spec/vc/ob/vocab.html#alignment" in nquads


@pytest.mark.parametrize(
    ("document", "term"),
    [
        (_vc11(credentialSubject={"id": "did:example:s", "degree": "BSc"}), "degree"),
        (
            _vc11(type=["VerifiableCredential", "UniversityDegreeCredential"]),
            "UniversityDegreeCredential",
        ),
        (_vc11(id="relative/credential"), "relative/credential"),
        (_vc11(issuer="issuer-without-scheme"), "issuer-without-scheme"),
        (
            {"@context": {"@vocab": "relative/"}, "@id": "https://e.example/s", "p": "v"},
            "relative/p",
        ),
        ({"@context": {"p": "_:b0"}, "@id": "https://e.example/s", "p": "v"}, "_:b0"),
        ({"@context": [VC1[0], {"@reserved": "https://e.example/r"}], "@reserved": 1}, "@reserved"),
    ],
    ids=[
        "undefined-term",
        "undefined-type",
        "relative-id",
        "relative-issuer",
        "relative-vocab",
        "blank-predicate",
        "reserved-term",
    ],
)
def test_data_loss_is_an_error_naming_the_term(document: dict[str, Any], term: str) -> None:
    with pytest.raises(DataLossError) as info:
        canonize_reference(document)
    assert info.value.term == term
    assert repr(term)[1:-1] in str(info.value)


def test_vc2_undefined_term_is_data_loss_unless_a_vocab_defines_it() -> None:
    # The bundled VC 2.0 context (the Recommendation's) has no @vocab: undefined terms
    # are errors; the examples context maps them into its own vocabulary.
    document = {
        "@context": [VC2],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:i",
        "credentialSubject": {"id": "did:example:s", "custom": "kept"},
    }
    with pytest.raises(DataLossError, match="'custom'"):
        canonize_reference(document)
    document["@context"] = [VC2, "https://www.w3.org/ns/credentials/examples/v2"]
    nquads = canonize_reference(document)
    assert '<https://www.w3.org/ns/credentials/examples#custom> "kept"' in nquads


def test_unknown_context_url_named() -> None:
    signed = json.loads((EDDSA / "eddsa-rdfc-2022" / "employ" / "signedDataInt.json").read_text())
    with pytest.raises(UnknownContextError, match=r"https://w3id\.org/citizenship/v4rc1"):
        canonize_reference(signed)


_REMOTE = "https://attacker.example/ctx.jsonld"


@pytest.mark.parametrize(
    "document",
    [
        {"@context": [VC2, {"@import": _REMOTE, "x": "https://e.example/x"}], "x": 1},
        {
            "@context": [VC2, {"Foo": {"@id": "https://e.example/Foo", "@context": _REMOTE}}],
            "type": ["VerifiableCredential", "Foo"],
        },
        {"@context": [VC2, _REMOTE], "type": ["VerifiableCredential"]},
        {
            "@context": [VC2],
            "type": ["VerifiableCredential"],
            "credentialSubject": {"@context": _REMOTE, "id": "did:example:s"},
        },
        {
            "@context": [
                VC2,
                {"p": {"@id": "https://e.example/p", "@context": [{"@import": _REMOTE}]}},
            ],
            "p": {"q": 1},
        },
    ],
    ids=["import", "type-scoped-url", "plain-url", "embedded-in-node", "property-scoped-import"],
)
def test_contexts_pointing_at_remote_urls_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(UnknownContextError, match=r"attacker\.example") as info:
        canonize_reference(document)
    assert info.value.url == _REMOTE


def test_extra_context_served_when_configured() -> None:
    loader = ContextLoader(
        extra={"https://e.example/ctx": {"@context": {"degree": "https://e.example/degree"}}}
    )
    document = _vc11(credentialSubject={"id": "did:example:s", "degree": "BSc"})
    document["@context"] = [*VC1, "https://e.example/ctx"]
    assert '<https://e.example/degree> "BSc"' in canonize_reference(document, loader)


@pytest.mark.parametrize(
    "document",
    [
        {"@context": 5, "x": 1},
        _vc11(id=5),
        {"@context": VC1, "https://e.example/p": {"@value": "x", "@type": "relative"}},
        {"@context": VC1, "@type": {"nested": "object"}},
        {"@context": [VC2, {"@version": 2.0}]},
    ],
)
def test_invalid_json_ld_is_malformed_input_not_pyld_error(document: dict[str, Any]) -> None:
    with pytest.raises(CryptoError):
        canonize_reference(document)


@pytest.mark.parametrize("value", [[1, 2], "string", None, 42])
def test_non_object_documents(value: Any) -> None:
    with pytest.raises(MalformedInputError, match="must be an object"):
        canonize_reference(value)


def test_wrong_python_types_rejected() -> None:
    with pytest.raises(MalformedInputError):
        canonize_reference({"@context": VC2, "x": {1, 2}})
    with pytest.raises(MalformedInputError):
        canonize_reference({"@context": VC2, 1: "x"})


def test_deep_nesting_fails_fast() -> None:
    document: dict[str, Any] = {"@context": VC2}
    node = document
    for _ in range(10_000):
        node["credentialSubject"] = {"id": "did:example:x"}
        node = node["credentialSubject"]
    started = time.perf_counter()
    with pytest.raises(MalformedInputError, match="nesting"):
        canonize_reference(document)
    assert time.perf_counter() - started < 2


def test_ten_megabyte_document_rejected() -> None:
    document = _vc11(
        credentialSubject={"id": "did:example:s", "https://e.example/p": "x" * 10_000_000}
    )
    with pytest.raises(MalformedInputError, match="larger than"):
        canonize_reference(document)


def test_poison_graph_is_bounded() -> None:
    # A clique of blank nodes is indistinguishable by first-degree hashes and makes
    # RDFC-1.0's N-degree step explode factorially without a bound.
    n = 10
    document = {
        "@context": {"p": {"@id": "https://e.example/p", "@type": "@id"}},
        "@graph": [
            {"@id": f"_:b{i}", "p": [f"_:b{j}" for j in range(n) if j != i]} for i in range(n)
        ],
    }
    started = time.perf_counter()
    with pytest.raises(MalformedInputError, match="work bound"):
        canonize_reference(document)
    assert time.perf_counter() - started < 10
