"""Differential test on generated credentials: canon.rdfc vs the pyld reference.

Hypothesis builds Open Badges 3.0 / VC 2.0 / VC 1.1 credentials and presentations
of random shape -- unicode and escape-heavy strings, integers and doubles of every
size, language-tagged values with directions, language maps, ``@list`` containers,
``@json`` literals, nested arrays, repeated node ids (node merging and duplicate
values), explicit blank nodes, several subjects, proof sets, presentations
embedding credentials (named graphs) -- and checks that

* a well-formed document takes the fast path and yields the reference's bytes;
* a document with an injected defect (undefined term, relative or non-string id,
  unknown context) gives the reference's error, or at least never different output.

The seed is fixed (``derandomize``), so a run is reproducible, and the example
counts are bounded: the always-on smoke run takes seconds, the ``slow`` run
(thousands of documents) well under a minute on this machine.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ler_crypto.canon.rdfc import Unsupported, canonize, canonize_fast
from ler_crypto.canon.reference import canonize_reference
from ler_crypto.contexts import default_loader
from ler_crypto.errors import CryptoError
from pyld import jsonld  # type: ignore[import-untyped, unused-ignore]

VC2 = "https://www.w3.org/ns/credentials/v2"
VC1 = "https://www.w3.org/2018/credentials/v1"
DI2 = "https://w3id.org/security/data-integrity/v2"
OB3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
EXAMPLES = "https://www.w3.org/ns/credentials/examples/v2"
XSD = "http://www.w3.org/2001/XMLSchema#"

INLINE_CONTEXT = {
    "ex": "https://ex.example/vocab#",
    "tags": {"@id": "https://ex.example/vocab#tags", "@container": "@language"},
    "steps": {"@id": "https://ex.example/vocab#steps", "@container": "@list"},
    "when": {"@id": "https://ex.example/vocab#when", "@type": XSD + "dateTime"},
    "score": {"@id": "https://ex.example/vocab#score", "@type": XSD + "double"},
    "link": {"@id": "https://ex.example/vocab#link", "@type": "@id"},
    "kind": {"@id": "https://ex.example/vocab#kind", "@type": "@vocab"},
    "blob": {"@id": "https://ex.example/vocab#blob", "@type": "@json"},
    "note": {"@id": "https://ex.example/vocab#note", "@language": "en"},
}

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

# Strings: printable unicode, astral characters, and everything N-Quads escapes.
_special = st.sampled_from(
    [
        '"',
        "\\",
        "\n",
        "\r",
        "\t",
        "\b",
        "\f",
        "\x00",
        "\x7f",
        "\u2028",
        "é",
        "中",
        "😀",
        "\U0001d11e",
        " ",
        "<",
        ">",
        "_:b0",
        "@",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=6), _special), max_size=5).map("".join)
IRIS = st.sampled_from(
    [
        "https://example.edu/issuers/565049",
        "did:example:ebfeb1f712ebc6f1c276e12ec21",
        "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
        "https://example.org/x?a=1&b=%20#frag",
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "mailto:someone@example.org",
    ]
)
BNODE_IDS = st.sampled_from(["_:one", "_:two"])
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            0,
            1,
            -1,
            1.0,
            -0.0,
            0.1,
            1e21,
            1e20,
            123456789012345678901234,
            1e-7,
            2**53 + 1,
            5e-324,
            1.7976931348623157e308,
        ]
    ),
)
LANGS = st.sampled_from(["en", "fr-CA", "EN-us", "ar", "zh-Hant-TW", ""])
DIRS = st.sampled_from(["ltr", "rtl"])


def _lang_value() -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"@value": TEXT, "@language": LANGS}, optional={"@direction": DIRS}
    )


def _name() -> st.SearchStrategy[Any]:
    return st.one_of(TEXT, _lang_value(), st.lists(_lang_value(), min_size=1, max_size=3))


def _optional(**entries: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return entries


# --- Open Badges 3.0 ---------------------------------------------------------------

ALIGNMENT = st.fixed_dictionaries(
    {"type": st.just(["Alignment"]), "targetName": TEXT, "targetUrl": IRIS},
    optional={
        "targetCode": TEXT,
        "targetFramework": TEXT,
        "targetDescription": TEXT,
        "targetType": st.sampled_from(["CFItem", "ceterms:Skill", "ext:Custom"]),
        "id": IRIS,
    },
)
RESULT_DESCRIPTION = st.fixed_dictionaries(
    {
        "id": IRIS,
        "type": st.just(["ResultDescription"]),
        "name": TEXT,
        "resultType": st.sampled_from(["GradePointAverage", "LetterGrade", "Percent"]),
    },
    optional={"allowedValue": st.lists(TEXT, max_size=4), "valueMax": TEXT},
)
ACHIEVEMENT = st.fixed_dictionaries(
    {
        "type": st.sampled_from([["Achievement"], "Achievement"]),
        "name": _name(),
        "criteria": st.fixed_dictionaries({"narrative": TEXT}, optional={"id": IRIS}),
    },
    optional={
        "id": IRIS,
        "description": _name(),
        "achievementType": st.sampled_from(["Certificate", "Badge", "ext:Other"]),
        "alignment": st.lists(ALIGNMENT, max_size=4),
        "tag": st.lists(TEXT, max_size=3),
        "creditsAvailable": NUMBERS,
        "humanCode": TEXT,
        "fieldOfStudy": TEXT,
        "resultDescription": st.lists(RESULT_DESCRIPTION, max_size=2),
        "image": st.fixed_dictionaries(
            {"id": IRIS, "type": st.just("Image")}, optional={"caption": _name()}
        ),
        "inLanguage": LANGS,
    },
)
OB_SUBJECT = st.fixed_dictionaries(
    {"type": st.just(["AchievementSubject"]), "achievement": ACHIEVEMENT},
    optional={
        "id": st.one_of(IRIS, BNODE_IDS),
        "creditsEarned": NUMBERS,
        "activityEndDate": TEXT,
        "result": st.lists(
            st.fixed_dictionaries(
                {"type": st.just(["Result"]), "resultDescription": IRIS},
                optional={"value": TEXT, "status": st.sampled_from(["Completed", "Enrolled"])},
            ),
            max_size=2,
        ),
    },
)
PROFILE = st.fixed_dictionaries(
    {"id": IRIS, "type": st.just(["Profile"])},
    optional={
        "name": _name(),
        "url": IRIS,
        "email": TEXT,
        "description": _name(),
        "address": st.fixed_dictionaries({"type": st.just(["Address"]), "addressCountry": TEXT}),
    },
)
STATUS = st.fixed_dictionaries(
    {
        "type": st.just("BitstringStatusListEntry"),
        "statusPurpose": st.sampled_from(["revocation", "suspension"]),
        "statusListIndex": st.integers(0, 131071).map(str),
        "statusListCredential": IRIS,
    },
    optional={"id": IRIS},
)
PROOF = st.fixed_dictionaries(
    {
        "type": st.just("DataIntegrityProof"),
        "cryptosuite": st.sampled_from(["eddsa-rdfc-2022", "eddsa-jcs-2022"]),
        "created": st.sampled_from(["2023-02-24T23:36:38Z", "2026-06-01T09:00:00Z"]),
        "verificationMethod": IRIS,
        "proofPurpose": st.sampled_from(["assertionMethod", "authentication"]),
    },
    optional={
        "proofValue": st.just("z" + "3" * 86),
        "id": IRIS,
        "challenge": TEXT,
        "domain": st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=2)),
        "previousProof": IRIS,
    },
)


def _vc2_credential(
    subject: st.SearchStrategy[Any], contexts: list[Any], types: list[str]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "@context": st.just(contexts),
            "type": st.just(["VerifiableCredential", *types]),
            "issuer": st.one_of(
                IRIS, PROFILE if OB3 in contexts else IRIS.map(lambda i: {"id": i})
            ),
            "credentialSubject": st.one_of(subject, st.lists(subject, min_size=1, max_size=3)),
        },
        optional={
            "id": IRIS,
            "name": _name(),
            "description": _name(),
            "validFrom": st.sampled_from(["2026-06-01T09:00:00Z", "2010-01-01T19:23:24.5+02:00"]),
            "validUntil": TEXT,
            "credentialStatus": st.one_of(STATUS, st.lists(STATUS, max_size=2)),
            "proof": st.one_of(PROOF, st.lists(PROOF, min_size=1, max_size=3)),
        },
    )


OB3_CREDENTIAL = _vc2_credential(OB_SUBJECT, [VC2, OB3], ["OpenBadgeCredential"])
OB3_ACHIEVEMENT_CREDENTIAL = _vc2_credential(OB_SUBJECT, [VC2, OB3], ["AchievementCredential"])

# --- free-form data under an @vocab (examples context) and an inline context -------

TERMS = st.sampled_from(["alpha", "beta", "gamma", "ex:delta", "https://other.example/abs"])
LEAF = st.one_of(
    TEXT,
    NUMBERS,
    st.booleans(),
    st.none(),
    IRIS.map(lambda i: {"id": i}),
    _lang_value(),
    st.fixed_dictionaries(
        {
            "@value": TEXT,
            "@type": st.sampled_from(
                [XSD + "date", XSD + "integer", XSD + "boolean", XSD + "double"]
            ),
        }
    ),
)
FREE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(TERMS, inner, max_size=3),
        st.dictionaries(TERMS, inner, max_size=2).map(lambda d: {**d, "type": "ThingType"}),
    ),
    max_leaves=8,
)
INLINE_TERMS = st.fixed_dictionaries(
    {},
    optional={
        "tags": st.dictionaries(
            st.sampled_from(["en", "fr", "DE", "@none"]),
            st.one_of(TEXT, st.lists(TEXT, max_size=2)),
            max_size=3,
        ),
        "steps": st.lists(st.one_of(TEXT, NUMBERS, IRIS.map(lambda i: {"id": i})), max_size=3),
        "when": TEXT,
        "score": st.one_of(NUMBERS, TEXT),
        "link": IRIS,
        "kind": st.sampled_from(["ex:Kind", "alpha", "https://abs.example/Kind"]),
        "blob": st.one_of(TEXT, NUMBERS, st.booleans(), st.none()),
        "note": TEXT,
    },
)
FREE_SUBJECT = st.tuples(
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(IRIS, BNODE_IDS),
            "type": st.sampled_from(["Person", ["Person", "ex:Learner"]]),
        },
    ),
    st.dictionaries(TERMS, FREE, max_size=4),
    INLINE_TERMS,
).map(lambda parts: {**parts[1], **parts[2], **parts[0]})
EXAMPLE_CREDENTIAL = _vc2_credential(
    FREE_SUBJECT, [VC2, EXAMPLES, INLINE_CONTEXT], ["ExampleCredential"]
)

VC11_CREDENTIAL = st.fixed_dictionaries(
    {
        "@context": st.just([VC1, DI2]),
        "type": st.just(["VerifiableCredential"]),
        "issuer": IRIS,
        "issuanceDate": st.just("2010-01-01T19:23:24Z"),
        "credentialSubject": st.fixed_dictionaries({"id": IRIS}),
    },
    optional={"id": IRIS, "expirationDate": st.just("2030-01-01T19:23:24Z"), "proof": PROOF},
)

CREDENTIALS = st.one_of(
    OB3_CREDENTIAL, OB3_ACHIEVEMENT_CREDENTIAL, EXAMPLE_CREDENTIAL, VC11_CREDENTIAL
)
PRESENTATION = st.fixed_dictionaries(
    {
        "@context": st.just([VC2, OB3]),
        "type": st.just(["VerifiablePresentation"]),
        "verifiableCredential": st.lists(
            st.one_of(OB3_CREDENTIAL, OB3_ACHIEVEMENT_CREDENTIAL), min_size=1, max_size=2
        ),
    },
    optional={"holder": IRIS, "id": IRIS, "proof": PROOF},
)


def _outcome(fn: Any, doc: dict[str, Any]) -> tuple[str, str]:
    try:
        return ("ok", fn(doc, default_loader()))
    except CryptoError as err:
        return (type(err).__name__, str(err))


# Characters whose canonical N-Quads escape pyld 3.3 gets wrong (it only escapes
# \\ " \t \n \r); canon.reference corrects them (see test_rdfc_pyld_fixes.py).
_PYLD_MISESCAPES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _strings(value: Any) -> list[str]:
    """Every key and string value in a JSON document."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _pyld_normalize(doc: dict[str, Any]) -> str:
    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": default_loader().pyld_loader,
    }
    return str(jsonld.normalize(doc, options))


def _assert_fast_and_identical(doc: dict[str, Any]) -> None:
    expected = _outcome(canonize_reference, doc)
    assert expected[0] == "ok", expected  # generators only build well-formed documents
    assert ("ok", canonize_fast(doc, default_loader())) == expected
    assert _outcome(canonize, doc) == expected
    # Plain pyld too, wherever its output is right: no mis-escaped characters in the
    # input and no duplicate quads in its output (an RDF dataset is a set).
    if not any(_PYLD_MISESCAPES.search(text) for text in _strings(doc)):
        plain = _pyld_normalize(doc)
        lines = plain.splitlines(keepends=True)
        if len(set(lines)) == len(lines):
            assert plain == expected[1]


# Thousands of examples under the ``slow`` marker (about 45 s here); a smaller run of
# the same properties is always on.
THOROUGH = {"credentials": 1000, "presentations": 150, "defects": 250}
SMOKE = {"credentials": 120, "presentations": 20, "defects": 40}


def _credentials_property(examples: int) -> Any:
    @settings(SETTINGS, max_examples=examples)
    @given(CREDENTIALS)
    def check(doc: dict[str, Any]) -> None:
        _assert_fast_and_identical(doc)

    return check


def _presentations_property(examples: int) -> Any:
    @settings(SETTINGS, max_examples=examples)
    @given(PRESENTATION)
    def check(doc: dict[str, Any]) -> None:
        _assert_fast_and_identical(doc)

    return check


def test_generated_credentials_match_reference() -> None:
    _credentials_property(SMOKE["credentials"])()


def test_generated_presentations_match_reference() -> None:
    _presentations_property(SMOKE["presentations"])()


@pytest.mark.slow
def test_thousands_of_generated_credentials_match_reference() -> None:
    _credentials_property(THOROUGH["credentials"])()


@pytest.mark.slow
def test_many_generated_presentations_match_reference() -> None:
    _presentations_property(THOROUGH["presentations"])()


DEFECTS = st.sampled_from(
    [
        ("credentialSubject", {"undefinedTerm": "x"}),
        ("credentialSubject", {"id": "relative/path"}),
        ("credentialSubject", {"id": 42}),
        ("issuer", "not an absolute iri"),
        ("type", ["VerifiableCredential", "UndefinedType"]),
        ("@context", [VC2, "https://unknown.example/context.jsonld"]),
        ("@context", [VC2, {"@vocab": None}]),
        ("@context", [VC2, {"name": "https://redefine.example/name"}]),
        ("validFrom", {"@value": "2020", "@language": "en", "@type": XSD + "dateTime"}),
        ("credentialSubject", {"@reverse": {"x": "y"}}),
        ("credentialSubject", {"_:bnodeProperty": "x"}),
    ]
)


def _defects_property(examples: int) -> Any:
    @settings(SETTINGS, max_examples=examples)
    @given(st.one_of(OB3_CREDENTIAL, EXAMPLE_CREDENTIAL), DEFECTS)
    def check(doc: dict[str, Any], defect: tuple[str, Any]) -> None:
        key, value = defect
        doc = {**doc, key: value}
        expected = _outcome(canonize_reference, doc)
        assert _outcome(canonize, doc) == expected
        try:
            fast = canonize_fast(doc, default_loader())
        except Unsupported:
            return
        assert expected == ("ok", fast)

    return check


def test_defective_documents_give_the_reference_outcome() -> None:
    _defects_property(SMOKE["defects"])()


@pytest.mark.slow
def test_many_defective_documents_give_the_reference_outcome() -> None:
    _defects_property(THOROUGH["defects"])()
