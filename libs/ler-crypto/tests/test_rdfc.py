"""canon.rdfc against the official vectors and against pyld itself (differential tests).

Every JSON-LD document under ../shared/vectors is canonicalized three ways: the
production canonicalizer, its fast path alone (where it claims support), and the
reference (pyld URDNA2015 + safe-mode checks); outputs -- or errors -- must agree
byte for byte, and the published canonical forms must be reproduced exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ler_crypto.bench import realistic_ob3_credential
from ler_crypto.canon import _context as rdfc_context
from ler_crypto.canon import rdfc
from ler_crypto.canon.rdfc import Unsupported, canonize, canonize_fast
from ler_crypto.canon.reference import canonize_reference
from ler_crypto.contexts import ContextLoader, default_loader
from ler_crypto.errors import (
    CryptoError,
    DataLossError,
    MalformedInputError,
    UnknownContextError,
)
from pyld import jsonld  # type: ignore[import-untyped]

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO.parent / "shared" / "vectors"
EDDSA = VECTORS / "vc-di-eddsa"


def _derived(name: str, doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A secured document's signing inputs: the unsecured document and each proof
    configuration (proof options without proofValue, with the document's @context,
    VC-DI-EDDSA §3.2.5)."""
    out = [(name, doc)]
    if "proof" in doc:
        out.append((f"{name} (unsecured)", {k: v for k, v in doc.items() if k != "proof"}))
        proofs = doc["proof"] if isinstance(doc["proof"], list) else [doc["proof"]]
        for i, proof in enumerate(proofs):
            if isinstance(proof, dict):
                config = {k: v for k, v in proof.items() if k != "proofValue"}
                config["@context"] = doc["@context"]
                out.append((f"{name} (proof config {i})", config))
    return out


def _jsonld_vectors() -> list[tuple[str, dict[str, Any]]]:
    """Every JSON-LD document in the vectors: files, documents nested one level down
    (the status list examples), and the signing inputs derived from secured ones."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(VECTORS.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        name = str(path.relative_to(VECTORS))
        if not isinstance(doc, dict):
            continue
        if "@context" in doc:
            found.extend(_derived(name, doc))
        else:
            for key, value in doc.items():
                if isinstance(value, dict) and "@context" in value:
                    found.extend(_derived(f"{name}#{key}", value))
    return found


VECTOR_DOCS = _jsonld_vectors()


def _outcome(fn: Any, doc: Any, loader: ContextLoader) -> tuple[str, str]:
    try:
        return ("ok", fn(doc, loader))
    except CryptoError as err:
        return (type(err).__name__, str(err))


def _pyld_normalize(doc: dict[str, Any], loader: ContextLoader) -> str:
    return str(
        jsonld.normalize(
            doc,
            {
                "algorithm": "URDNA2015",
                "format": "application/n-quads",
                "documentLoader": loader.pyld_loader,
            },
        )
    )


def test_vectors_are_present() -> None:
    # The differential test below is only meaningful with the shared vectors.
    names = {name for name, _ in VECTOR_DOCS}
    assert len(names) > 150
    assert "vc-di-eddsa/unsigned.json" in names
    assert "bitstring-status-list/spec-examples.json#statusListCredential" in names
    assert "vc-di-eddsa/eddsa-rdfc-2022/signedDataInt.json (proof config 0)" in names


@pytest.mark.parametrize(("name", "doc"), VECTOR_DOCS, ids=[name for name, _ in VECTOR_DOCS])
def test_vector_matches_reference(name: str, doc: dict[str, Any]) -> None:
    loader = default_loader()
    expected = _outcome(canonize_reference, doc, loader)
    assert _outcome(canonize, doc, loader) == expected
    try:
        fast = canonize_fast(doc, loader)
    except Unsupported:
        # Declining is always allowed; what the fast path must never do is produce
        # output where the reference raises.
        return
    assert expected == ("ok", fast)
    assert fast == _pyld_normalize(doc, loader)


def test_fast_path_covers_the_valid_vectors() -> None:
    """Guard against a vacuous differential test: valid documents take the fast path."""
    loader = default_loader()
    fast = declined = 0
    for _name, doc in VECTOR_DOCS:
        if _outcome(canonize_reference, doc, loader)[0] != "ok":
            continue
        try:
            canonize_fast(doc, loader)
            fast += 1
        except Unsupported:
            declined += 1
    assert fast >= 120
    assert declined == 0  # every valid vector document takes the fast path


@pytest.mark.parametrize(
    ("document", "canonical"),
    [
        ("unsigned.json", "eddsa-rdfc-2022/canonDocDataInt.txt"),
        ("eddsa-rdfc-2022/proofConfigDataInt.json", "eddsa-rdfc-2022/proofCanonDataInt.txt"),
        ("proof-set-chain/unsigned.json", "eddsa-rdfc-2022/canonDocDataInt.txt"),
    ],
)
def test_published_canonical_forms(document: str, canonical: str) -> None:
    doc = json.loads((EDDSA / document).read_text(encoding="utf-8"))
    expected = (EDDSA / canonical).read_text(encoding="utf-8")
    assert canonize_fast(doc, default_loader()) == expected
    assert canonize(doc, default_loader()) == expected


def test_realistic_ob3_credential_takes_fast_path_and_matches_pyld() -> None:
    loader = default_loader()
    doc = realistic_ob3_credential("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
    fast = canonize_fast(doc, loader)
    assert fast == canonize_reference(doc, loader) == _pyld_normalize(doc, loader)
    # type-scoped OB terms really became RDF (not dropped): alignment, criteria, achievement
    assert '<https://purl.imsglobal.org/spec/vc/ob/vocab.html#targetCode> "NSF-DA-041"' in fast
    assert "<https://purl.imsglobal.org/spec/vc/ob/vocab.html#Criteria> _:c14n" in fast
    # OB 3.0.3 maps creditsEarned to (sic) https://www.w3.org/2001/XMLSchema#float
    assert '"1.25E1"^^<https://www.w3.org/2001/XMLSchema#float>' in fast


def test_employ_vector_needs_unbundled_context() -> None:
    doc = json.loads((EDDSA / "eddsa-rdfc-2022/employ/signedDataInt.json").read_text("utf-8"))
    with pytest.raises(UnknownContextError) as caught:
        canonize(doc, default_loader())
    assert "citizenship" in str(caught.value)


def test_undefined_term_is_data_loss_naming_the_term() -> None:
    doc = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:1", "undefinedTerm": "x"},
    }
    with pytest.raises(DataLossError) as caught:
        canonize(doc, default_loader())
    assert "undefinedTerm" in str(caught.value)


def test_relative_type_matches_reference() -> None:
    doc = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "NotDefinedAnywhere"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:1"},
    }
    loader = default_loader()
    assert _outcome(canonize, doc, loader) == _outcome(canonize_reference, doc, loader)
    with pytest.raises(Unsupported):
        canonize_fast(doc, loader)  # never resolved against a placeholder base here


def test_relative_type_is_data_loss() -> None:
    doc = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "NotDefinedAnywhere"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:1"},
    }
    with pytest.raises(DataLossError, match="NotDefinedAnywhere"):
        canonize(doc, default_loader())


@pytest.mark.parametrize(
    "document",
    [
        [],
        "not a document",
        {"@context": "https://evil.example/context.jsonld", "name": "x"},
        {"@context": {"@vocab": "https://ex.example/", "@foo": "bar"}, "name": "x"},
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": 5},
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "@value": [1]},
        {"@context": {"@vocab": "relative#"}, "@id": "https://ex.example/s", "name": "x"},
        {
            "@context": {"@base": "https://ex.example/", "name": "https://ex.example/n"},
            "@id": "relative",
            "name": "x",
        },
    ],
)
def test_bad_input_raises_the_reference_error(document: Any) -> None:
    loader = default_loader()
    expected = _outcome(canonize_reference, document, loader)
    assert expected[0] != "ok"
    assert _outcome(canonize, document, loader) == expected


def test_deep_nesting_is_malformed() -> None:
    doc: dict[str, Any] = {"@context": {"@vocab": "https://ex.example/"}, "name": "x"}
    inner = doc
    for _ in range(200):
        inner["child"] = {"name": "y"}
        inner = inner["child"]
    with pytest.raises(MalformedInputError):
        canonize(doc, default_loader())


def test_inline_keyword_like_term_is_not_silently_ignored() -> None:
    # pyld only warns about "@custom" and ignores it; the library treats it as data loss.
    doc = {
        "@context": [{"@vocab": "https://ex.example/"}, {"@custom": "https://ex.example/c"}],
        "name": "x",
    }
    loader = default_loader()
    assert _outcome(canonize, doc, loader) == _outcome(canonize_reference, doc, loader)
    with pytest.raises(Unsupported):
        canonize_fast(doc, loader)


def test_contexts_are_processed_once_per_shape() -> None:
    """Issue 3 profiling: pyld rebuilds OB's type-scoped contexts per document; we do not."""
    loader = ContextLoader()  # a fresh loader, so a fresh context cache
    cache = rdfc._cache_for(loader)
    canonize(realistic_ob3_credential("did:example:issuer", serial=1), loader)
    size = cache.size
    for serial in range(2, 12):
        canonize(realistic_ob3_credential("did:example:issuer", serial=serial), loader)
    assert cache.size == size


def test_input_is_not_modified() -> None:
    doc = realistic_ob3_credential("did:example:issuer")
    before = json.dumps(doc, sort_keys=True)
    canonize(doc, default_loader())
    assert json.dumps(doc, sort_keys=True) == before


def test_context_caches_are_per_loader() -> None:
    """A context served by one loader must never be usable through another."""
    url = "https://contexts.example/skills/v1"
    extra = {url: {"@context": {"skill": "https://contexts.example/skills#skill"}}}
    with_extra = ContextLoader(extra=extra)
    doc = {
        "@context": ["https://www.w3.org/ns/credentials/v2", url],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:1", "skill": "SQL"},
    }
    fast = canonize_fast(doc, with_extra)
    assert fast == canonize_reference(doc, with_extra)
    assert '<https://contexts.example/skills#skill> "SQL"' in fast
    with pytest.raises(UnknownContextError, match="skills/v1"):
        canonize(doc, ContextLoader())


def test_context_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents with ever-new inline contexts and keys cannot grow the caches without bound."""
    monkeypatch.setattr(rdfc_context, "MAX_CACHED_CONTEXTS", 8)
    monkeypatch.setattr(rdfc_context, "MAX_MEMO_ENTRIES", 16)
    loader = ContextLoader()
    cache = rdfc._cache_for(loader)
    for i in range(40):
        doc = {
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                {f"term{i}": f"https://ex.example/t{i}", "@vocab": f"https://ex.example/v{i}#"},
            ],
            "type": ["VerifiableCredential"],
            "issuer": "did:example:issuer",
            "credentialSubject": {
                "id": "did:example:1",
                f"term{i}": i,
                **{f"k{i}_{j}": j for j in range(20)},
            },
        }
        assert canonize(doc, loader) == canonize_reference(doc, loader)
    assert cache.size <= 8


# --- handcrafted JSON-LD corner cases ------------------------------------------------
# Merging of nodes, pyld's duplicate rules (1 / 1.0 / "1"^^xsd:integer / true ...),
# free-floating nodes, named graphs, @propagate, @vocab-typed terms, lists, @json,
# keyword aliases, default language and direction, xsd:double lexical forms, control
# characters. Features outside the fast path must be declined, never guessed.

VOCAB = {"@vocab": "https://ex.example/v#"}
XSD = "http://www.w3.org/2001/XMLSchema#"
TRICKY_DOCUMENTS: dict[str, Any] = {
    "merge same id": {
        "@context": VOCAB,
        "@graph": [
            {"@id": "https://ex.example/a", "p": 1},
            {
                "@id": "https://ex.example/a",
                "p": [
                    1,
                    1.0,
                    "1",
                    {"@value": "1", "@type": XSD + "integer"},
                    True,
                    {"@value": "true", "@type": XSD + "boolean"},
                ],
            },
        ],
    },
    "lang dup with direction": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": [
            {"@value": "x", "@language": "en"},
            {"@value": "x", "@language": "EN", "@direction": "rtl"},
            {"@value": "x", "@language": "en", "@direction": "ltr"},
        ],
    },
    "index value": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": {"@value": "x", "@index": "i"},
    },
    "top graph free floating": {
        "@context": VOCAB,
        "@graph": [{"@id": "https://ex.example/a"}, {"p": "x"}, "scalar", {"@value": "v"}],
    },
    "named graph with id": {
        "@context": VOCAB,
        "@id": "https://ex.example/g",
        "@graph": [{"@id": "https://ex.example/a", "p": "x"}],
        "q": "y",
    },
    "embedded context propagate false": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "child": {
            "@context": {"@propagate": False, "name": "https://other.example/name"},
            "name": "n",
            "deeper": {"name": "m"},
        },
    },
    "vocab typed": {
        "@context": [
            VOCAB,
            {
                "k": {"@id": "https://ex.example/k", "@type": "@vocab"},
                "Foo": "https://ex.example/Foo",
            },
        ],
        "@id": "https://ex.example/a",
        "k": ["Foo", "Bar", "https://abs.example/x", "_:b"],
    },
    "list container objects": {
        "@context": [VOCAB, {"l": {"@id": "https://ex.example/l", "@container": "@list"}}],
        "@id": "https://ex.example/a",
        "l": [{"p": 1}, {"@id": "https://ex.example/b"}, "s", [], None],
    },
    "empty list": {
        "@context": [VOCAB, {"l": {"@id": "https://ex.example/l", "@container": "@list"}}],
        "@id": "https://ex.example/a",
        "l": [],
    },
    "explicit list": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": {"@list": [1, 2, {"@list": []}]},
    },
    "set object": {"@context": VOCAB, "@id": "https://ex.example/a", "p": {"@set": [1, 2]}},
    "empty things": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": [],
        "q": {},
        "r": [[], {}],
        "s": None,
    },
    "bnode ids shared": {
        "@context": VOCAB,
        "@graph": [{"@id": "_:x", "p": {"@id": "_:y"}}, {"@id": "_:y", "p": {"@id": "_:x"}}],
    },
    "json literal dup": {
        "@context": [VOCAB, {"j": {"@id": "https://ex.example/j", "@type": "@json"}}],
        "@id": "https://ex.example/a",
        "j": {"a": [1, 2.5, "é", None, True]},
    },
    "json typed value": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": {"@value": {"b": 1, "a": 2}, "@type": "@json"},
    },
    "type alias twice": {
        "@context": [VOCAB, {"kind": "@type"}],
        "@id": "https://ex.example/a",
        "@type": "A",
        "kind": ["B", "A"],
    },
    "default language": {
        "@context": [
            VOCAB,
            {"@language": "de", "t": {"@id": "https://ex.example/t", "@language": None}},
        ],
        "@id": "https://ex.example/a",
        "p": "x",
        "t": "y",
        "n": 5,
    },
    "default direction": {
        "@context": [VOCAB, {"@direction": "rtl"}],
        "@id": "https://ex.example/a",
        "p": "x",
    },
    "language empty": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": {"@value": "x", "@language": ""},
    },
    "double typed string": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": [
            {"@value": "1.50", "@type": XSD + "double"},
            {"@value": "abc", "@type": XSD + "double"},
            {"@value": 5, "@type": XSD + "double"},
            {"@value": 1e300},
            {"@value": 2.5, "@type": XSD + "integer"},
        ],
    },
    "rdf type property and @type": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "@type": "https://ex.example/T",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#type": {"@id": "https://ex.example/T"},
    },
    "graph container vc": {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "VerifiablePresentation",
        "verifiableCredential": [
            {
                "@context": "https://www.w3.org/ns/credentials/v2",
                "type": "VerifiableCredential",
                "issuer": "did:ex:1",
                "credentialSubject": {"id": "did:ex:2"},
            },
            {
                "id": "urn:x",
                "type": "VerifiableCredential",
                "issuer": "did:ex:1",
                "credentialSubject": {"id": "did:ex:2"},
            },
        ],
    },
    "nested @context null": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "c": {"@context": None, "https://abs.example/p": "x"},
    },
    "protected redefinition": {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            {"issuer": "https://evil.example/issuer"},
        ],
        "issuer": "did:ex:1",
    },
    "compact iri keys": {
        "@context": [VOCAB, {"ex": "https://ex.example/ns#"}],
        "@id": "https://ex.example/a",
        "ex:p": "x",
        "ex:q": {"@id": "ex:r"},
    },
    "reverse": {
        "@context": [VOCAB, {"rev": {"@reverse": "https://ex.example/r"}}],
        "@id": "https://ex.example/a",
        "rev": {"@id": "https://ex.example/b"},
    },
    "included": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "@included": [{"@id": "https://ex.example/b", "p": 1}],
    },
    "nest": {"@context": [VOCAB, {"n": "@nest"}], "@id": "https://ex.example/a", "n": {"p": 1}},
    "type map": {
        "@context": [VOCAB, {"tm": {"@id": "https://ex.example/tm", "@container": "@type"}}],
        "@id": "https://ex.example/a",
        "tm": {"T": {"p": 1}},
    },
    "value with @type and node type": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": {"@value": "2020-01-01", "@type": "https://ex.example/Date"},
    },
    "unicode and control": {
        "@context": VOCAB,
        "@id": "https://ex.example/a",
        "p": '\u0000\u0001\b\f\u007f\u2028\ud7ff\U0010ffff "\\\n\r\t',
    },
}

DECLINED = {
    "index value",
    "list container objects",
    "explicit list",
    "graph container vc",
    "reverse",
    "included",
    "nest",
    "type map",
}


@pytest.mark.parametrize("name", sorted(TRICKY_DOCUMENTS))
def test_tricky_document_matches_reference(name: str) -> None:
    loader = default_loader()
    doc = TRICKY_DOCUMENTS[name]
    expected = _outcome(canonize_reference, doc, loader)
    assert _outcome(canonize, doc, loader) == expected
    if name in DECLINED:
        with pytest.raises(Unsupported):
            canonize_fast(doc, loader)
    else:
        assert ("ok", canonize_fast(doc, loader)) == expected


def test_context_cache_is_released_with_its_loader() -> None:
    import gc

    loader = ContextLoader()
    canonize(realistic_ob3_credential("did:example:issuer"), loader)
    before = len(rdfc._caches)
    del loader
    gc.collect()
    assert len(rdfc._caches) == before - 1


def test_concurrent_canonicalization_with_cold_caches() -> None:
    """Services call canonize from thread pools; a cold shared cache must not race."""
    from concurrent.futures import ThreadPoolExecutor

    docs = [realistic_ob3_credential(f"did:example:issuer{i % 3}", serial=i) for i in range(24)]
    for i, doc in enumerate(docs):
        if i % 2:
            doc["@context"] = [*doc["@context"], {"note": "https://ex.example/note"}]
            doc["credentialSubject"]["note"] = f"thread test {i}"
    expected = [canonize_reference(doc, default_loader()) for doc in docs]
    loader = ContextLoader()  # cold context cache shared by all threads
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda d: canonize_fast(d, loader), docs))
    assert results == expected
