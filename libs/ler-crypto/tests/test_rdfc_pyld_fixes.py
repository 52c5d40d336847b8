"""Where RDFC-1.0 must differ from pyld 3.3, and the reference's other pyld corrections.

* canonical N-Quads escaping of literals (RDFC-1.0 §4.4.3 step 7 / §4.6.3 via the
  canonical form of RDF 1.2 N-Quads): ``\\b \\t \\n \\f \\r \\" \\\\`` as ECHAR, the other
  C0 controls and U+007F as ``\\uXXXX`` in uppercase hex, nothing else -- in the
  output *and* in what Hash First Degree Quads hashes;
* an RDF dataset is a set: duplicate quads collapse to one;
* ``{"@vocab": null}`` gives a data-loss error naming the term, not ``KeyError``;
* the input limits are walked once per canonicalization.

Both paths (the fast ``canonize_fast`` and the pyld-based ``canonize_reference``)
are checked against expected strings written out here, and against each other.
Inputs without such characters or duplicates still equal plain pyld byte for byte
(``test_rdfc.py``, ``test_rdfc_generated.py``).
"""

from __future__ import annotations

from hashlib import sha256
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ler_crypto.canon import rdfc, reference
from ler_crypto.canon.rdfc import Unsupported, canonize, canonize_fast, canonize_nquads
from ler_crypto.canon.reference import canonize_reference, escape_literal
from ler_crypto.contexts import default_loader
from ler_crypto.errors import DataLossError, MalformedInputError
from pyld import jsonld  # type: ignore[import-untyped, unused-ignore]

VOCAB = {"@vocab": "https://ex.example/v#"}
XSD = "http://www.w3.org/2001/XMLSchema#"
P = "<https://ex.example/v#p>"
S = "<https://ex.example/s>"

# The RDFC test suite style case: "\u0008\u0009\u000a\u000b\u000c\u000d\u0022\u005c\u007f".
ALL_SPECIAL = '\b\t\n\x0b\f\r"\\\x7f'
ALL_SPECIAL_CANONICAL = '"\\b\\t\\n\\u000B\\f\\r\\"\\\\\\u007F"'


def _both_paths(doc: dict[str, Any]) -> str:
    """The canonical form by every entry point; they must all agree."""
    loader = default_loader()
    fast = canonize_fast(doc, loader)
    ref = canonize_reference(doc, loader)
    assert fast == ref
    assert canonize(doc, loader) == fast
    return fast


def test_expected_string_is_the_rdfc_test_suite_form() -> None:
    # Guard the constant itself: written out character by character.
    assert ALL_SPECIAL_CANONICAL == (
        '"' + "\\b" + "\\t" + "\\n" + "\\u000B" + "\\f" + "\\r" + '\\"' + "\\\\" + "\\u007F" + '"'
    )


def test_control_characters_are_escaped_canonically() -> None:
    doc = {"@context": VOCAB, "@id": "https://ex.example/s", "p": ALL_SPECIAL}
    assert _both_paths(doc) == f"{S} {P} {ALL_SPECIAL_CANONICAL} .\n"


def test_nquads_input_with_escapes_canonicalizes_to_the_expected_form() -> None:
    nquads = (
        "<http://example.com/s> <http://example.com/p> "
        '"\\u0008\\u0009\\u000a\\u000b\\u000c\\u000d\\u0022\\u005c\\u007f" .\n'
    )
    expected = f"<http://example.com/s> <http://example.com/p> {ALL_SPECIAL_CANONICAL} .\n"
    assert canonize_nquads(nquads) == expected
    # The same dataset written with ECHARs (and a lowercase/astral UCHAR) is the same.
    echars = (
        '<http://example.com/s> <http://example.com/p> "\\b\\t\\n\\u000b\\f\\r\\"\\\\\\u007F" .\n'
    )
    assert canonize_nquads(echars) == expected
    assert canonize_nquads('<http://a.example/s> <http://a.example/p> "\\U0001F600\\\'" .\n') == (
        '<http://a.example/s> <http://a.example/p> "\U0001f600\'" .\n'
    )


def test_escaped_backslash_before_a_letter_is_not_a_control_character() -> None:
    # "\\n" in N-Quads is a backslash followed by "n" (pyld's unescape reads a newline).
    nquads = '<http://a.example/s> <http://a.example/p> "a\\\\nb\\\\u0041" .\n'
    assert canonize_nquads(nquads) == nquads


def test_invalid_escape_in_nquads_is_malformed() -> None:
    with pytest.raises(MalformedInputError, match="escape"):
        canonize_nquads('<http://a.example/s> <http://a.example/p> "bad \\q" .\n')


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("\x00", "\\u0000"),
        ("\x01", "\\u0001"),
        ("\x07", "\\u0007"),
        ("\b", "\\b"),
        ("\t", "\\t"),
        ("\n", "\\n"),
        ("\x0b", "\\u000B"),
        ("\f", "\\f"),
        ("\r", "\\r"),
        ("\x0e", "\\u000E"),
        ("\x1a", "\\u001A"),
        ("\x1f", "\\u001F"),
        ('"', '\\"'),
        ("\\", "\\\\"),
        ("\x7f", "\\u007F"),
        # nothing else is escaped
        (" ", " "),
        ("'", "'"),
        ("<", "<"),
        ("\x80", "\x80"),
        ("\u2028", "\u2028"),
        ("\ufeff", "\ufeff"),
        ("\U0001f600", "\U0001f600"),
    ],
)
def test_each_character(char: str, escaped: str) -> None:
    value = f"a{char}b"
    assert escape_literal(value) == f"a{escaped}b"
    for lang in (None, "en"):
        obj: Any = value if lang is None else {"@value": value, "@language": lang}
        doc = {"@context": VOCAB, "@id": "https://ex.example/s", "p": obj}
        suffix = "" if lang is None else "@en"
        assert _both_paths(doc) == f'{S} {P} "a{escaped}b"{suffix} .\n'
    typed = {
        "@context": VOCAB,
        "@id": "https://ex.example/s",
        "p": {"@value": value, "@type": XSD + "token"},
    }
    assert _both_paths(typed) == f'{S} {P} "a{escaped}b"^^<{XSD}token> .\n'


def test_first_degree_hashes_use_the_canonical_escaping() -> None:
    """RDFC-1.0 §4.6.3: the hashed serialization is the canonical one.

    Two blank nodes that differ only by a literal; each first-degree hash is unique,
    so canonical labels are issued in hash order (§4.4.3 step 4). With pyld's raw
    serialization of U+000B / U+000C the order would be the other way round.
    """

    def first_degree_hash(literal: str) -> str:
        return sha256(f"_:a {P} {literal} .\n".encode()).hexdigest()

    vt, ff = '"\\u000B"', '"\\f"'
    raw_vt, raw_ff = '"\x0b"', '"\x0c"'
    # The case discriminates: the two serializations order the nodes differently.
    assert (first_degree_hash(vt) < first_degree_hash(ff)) != (
        first_degree_hash(raw_vt) < first_degree_hash(raw_ff)
    )
    first, second = sorted([vt, ff], key=first_degree_hash)
    expected = f"_:c14n0 {P} {first} .\n_:c14n1 {P} {second} .\n"

    doc = {"@context": VOCAB, "@graph": [{"p": "\x0b"}, {"p": "\f"}]}
    assert _both_paths(doc) == expected
    doc_reversed = {"@context": VOCAB, "@graph": [{"p": "\f"}, {"p": "\x0b"}]}
    assert _both_paths(doc_reversed) == expected
    assert canonize_nquads(f'_:x {P} "\\u000b" .\n_:y {P} "\\f" .\n') == expected


def test_duplicate_quads_collapse_to_one() -> None:
    # 1 and "1"^^xsd:integer are different JSON-LD values but the same RDF literal;
    # pyld keeps both lines.
    doc = {
        "@context": VOCAB,
        "@id": "https://ex.example/s",
        "p": [
            1,
            {"@value": "1", "@type": XSD + "integer"},
            "x",
            {"@value": "x", "@type": XSD + "string"},
        ],
    }
    expected = f'{S} {P} "1"^^<{XSD}integer> .\n{S} {P} "x" .\n'
    assert _both_paths(doc) == expected
    loader = default_loader()
    pyld_out = jsonld.normalize(
        doc,
        {
            "algorithm": "URDNA2015",
            "format": "application/n-quads",
            "documentLoader": loader.pyld_loader,
        },
    )
    assert pyld_out.count("\n") == 4  # what is being corrected


def test_duplicates_around_blank_nodes_do_not_change_labels() -> None:
    # The duplicate must not be hashed twice: the dataset is the same as without it.
    with_dup = {
        "@context": VOCAB,
        "@graph": [
            {"p": [1, {"@value": "1", "@type": XSD + "integer"}], "q": {"p": 2}},
            {"p": 1, "q": {"p": [2, {"@value": "2", "@type": XSD + "integer"}]}},
        ],
    }
    without = {"@context": VOCAB, "@graph": [{"p": 1, "q": {"p": 2}}, {"p": 1, "q": {"p": 2}}]}
    assert _both_paths(with_dup) == _both_paths(without)
    assert len(_both_paths(with_dup).splitlines()) == 6


def test_duplicate_nquads_lines_collapse() -> None:
    assert canonize_nquads(f'{S} {P} "a" .\n{S} {P} "a" .\n') == f'{S} {P} "a" .\n'
    assert canonize_nquads(f'{S} {P} "a\\u0041" .\n{S} {P} "aA" .\n') == f'{S} {P} "aA" .\n'


_CONTROL_TEXT = st.lists(
    st.one_of(
        st.sampled_from([chr(c) for c in [*range(0x20), 0x7F, 0x22, 0x5C]]), st.text(max_size=3)
    ),
    max_size=6,
).map("".join)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(_CONTROL_TEXT, min_size=1, max_size=4), st.booleans())
def test_generated_control_strings_agree_and_round_trip(values: list[str], blank: bool) -> None:
    doc: dict[str, Any] = {"@context": VOCAB, "p": values}
    if not blank:
        doc["@id"] = "https://ex.example/s"
    out = _both_paths(doc)
    lines = out.split("\n")
    assert lines.pop() == ""
    assert len(lines) == len(set(values))  # one line per distinct string (a set)
    for line in lines:  # no raw control character survives (U+0085 etc. are not escaped)
        assert not any(ord(c) < 0x20 or c == "\x7f" for c in line)
    assert canonize_nquads(out) == out  # and the output parses back to the same dataset


def test_vocab_null_names_the_undefined_term() -> None:
    doc = {
        "@context": ["https://www.w3.org/ns/credentials/v2", {"@vocab": None}],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject", "favouriteColour": "green"},
    }
    for canonicalize in (canonize, canonize_reference):
        with pytest.raises(DataLossError, match="favouriteColour") as info:
            canonicalize(doc, default_loader())
        assert "KeyError" not in str(info.value)


def test_vocab_null_undefined_type_is_named() -> None:
    doc = {
        "@context": ["https://www.w3.org/ns/credentials/v2", {"@vocab": None}],
        "type": ["VerifiableCredential", "GoldStar"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject"},
    }
    with pytest.raises(DataLossError, match="GoldStar"):
        canonize(doc, default_loader())


def test_vocab_null_term_without_id_is_named() -> None:
    doc = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            {"@vocab": None, "rank": {"@type": "@id"}},
        ],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:subject", "rank": "https://ex.example/1"},
    }
    with pytest.raises(MalformedInputError, match="'rank'"):
        canonize(doc, default_loader())


def test_vocab_and_language_null_are_no_ops_when_unset() -> None:
    plain = {"@context": {"p": "https://ex.example/v#p"}, "@id": "https://ex.example/s", "p": "x"}
    nulled = {
        "@context": [{"@vocab": None, "@language": None}, {"p": "https://ex.example/v#p"}],
        "@id": "https://ex.example/s",
        "p": "x",
    }
    assert canonize_reference(nulled, default_loader()) == canonize_reference(
        plain, default_loader()
    )
    assert canonize(nulled, default_loader()) == f'{S} {P} "x" .\n'


def test_vocab_null_still_removes_an_active_vocab() -> None:
    doc = {"@context": [VOCAB, {"@vocab": None}], "@id": "https://ex.example/s", "p": "x"}
    with pytest.raises(DataLossError, match="'p'"):
        canonize(doc, default_loader())


def test_limits_are_walked_once_when_falling_back(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = rdfc.check_document

    def counting(obj: Any, **kwargs: Any) -> None:
        calls.append(1)
        original(obj, **kwargs)

    monkeypatch.setattr(rdfc, "check_document", counting)
    monkeypatch.setattr(reference, "check_document", counting)
    # @reverse is outside the fast path: canonize falls back to the reference.
    doc = {
        "@context": {**VOCAB, "parent": {"@reverse": "https://ex.example/v#child"}},
        "@id": "https://ex.example/s",
        "parent": {"@id": "https://ex.example/p"},
    }
    with pytest.raises(Unsupported):
        canonize_fast(doc, default_loader())
    canonize(doc, default_loader())
    assert len(calls) == 1
    calls.clear()
    canonize({"@context": VOCAB, "@id": "https://ex.example/s", "p": 1}, default_loader())
    assert len(calls) == 1
    calls.clear()
    canonize_reference(doc, default_loader())  # the public reference still checks
    assert len(calls) == 1


def test_direct_callers_keep_the_limits() -> None:
    deep: dict[str, Any] = {"p": "x"}
    for _ in range(200):
        deep = {"p": deep}
    doc = {"@context": VOCAB, **deep}
    with pytest.raises(MalformedInputError, match="nesting"):
        canonize(doc, default_loader())
    with pytest.raises(MalformedInputError, match="nesting"):
        canonize_reference(doc, default_loader())


def test_sign_and_verify_walk_each_document_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """eddsa-rdfc-2022: the limits walk runs once on the document and once on the config."""
    from ler_crypto.bench import realistic_ob3_credential
    from ler_crypto.dataintegrity import sign, verify_proof
    from ler_crypto.did import did_key_from_public_key
    from ler_crypto.keys import KeyPair

    key = KeyPair.generate("Ed25519")
    _did, vm_id = did_key_from_public_key(key.public_key)
    credential = realistic_ob3_credential("did:example:issuer")
    walked: list[Any] = []
    original = rdfc.check_document

    def counting(obj: Any, **kwargs: Any) -> None:
        walked.append(obj)
        original(obj, **kwargs)

    monkeypatch.setattr(rdfc, "check_document", counting)
    monkeypatch.setattr(reference, "check_document", counting)
    signed = sign(credential, key, cryptosuite="eddsa-rdfc-2022", verification_method=vm_id)
    assert [("proof" in obj, "credentialSubject" in obj) for obj in walked] == [
        (False, False),  # proof configuration
        (False, True),  # unsecured document
    ]
    walked.clear()
    verify_proof(signed, signed["proof"], key.public_key)
    assert len(walked) == 2
