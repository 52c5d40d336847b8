"""JCS (RFC 8785): official test data, ECMAScript numbers, differential test vs ``rfc8785``."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ler_crypto.canon.jcs import canonicalize, es_number
from ler_crypto.errors import MalformedInputError

SHARED = Path(__file__).resolve().parents[4] / "shared"
RFC8785 = SHARED / "vectors" / "rfc8785"
INPUTS = sorted((RFC8785 / "input").glob("*.json"))


def test_vector_folder_is_present() -> None:
    assert len(INPUTS) == 6


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_rfc8785_vectors_byte_for_byte(path: Path) -> None:
    produced = canonicalize(json.loads(path.read_text(encoding="utf-8")))
    expected = (RFC8785 / "output" / path.name).read_bytes()
    hex_text = (RFC8785 / "outhex" / f"{path.stem}.txt").read_text()
    assert produced == expected
    assert produced == bytes.fromhex("".join(hex_text.split()))


# ECMAScript Number.prototype.toString results (RFC 8785 Appendix B and ECMA-262 §6.1.6.1.20)
ES_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), ES_NUMBERS)
def test_ecmascript_number_serialization(bits: str, expected: str) -> None:
    value = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert es_number(value) == expected
    assert canonicalize(value) == expected.encode()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_rejected(value: float) -> None:
    with pytest.raises(MalformedInputError, match="NaN and Infinity"):
        canonicalize({"x": [value]})


def test_integers_follow_ieee_double_semantics() -> None:
    assert canonicalize(2**53) == b"9007199254740992"
    assert canonicalize(-(2**53)) == b"-9007199254740992"
    assert canonicalize(2**60) == b"1152921504606847000"  # exact double, ES formatting
    assert canonicalize(10**21) == b"1e+21"
    with pytest.raises(MalformedInputError, match="IEEE 754"):
        canonicalize(2**53 + 1)  # would collide with 2^53 after conversion
    with pytest.raises(MalformedInputError, match="IEEE 754"):
        canonicalize({"n": 10**400})


def test_keys_sorted_by_utf16_code_units() -> None:
    # U+1F600 (surrogates D83D DE00) sorts before U+FB33 in UTF-16, after it by code point
    value = {"\ufb33": 1, "\U0001f600": 2, "a": 3, "\u00e9": 4}
    assert canonicalize(value) == '{"a":3,"\u00e9":4,"\U0001f600":2,"\ufb33":1}'.encode()
    assert canonicalize(value) == rfc8785.dumps(value)


def test_string_escaping() -> None:
    value = '\u0000\u0008\u0009\u000a\u000c\u000d\u001f"\\/\u007f\u2028\u20ac\U0001f600'
    expected = '"\\u0000\\b\\t\\n\\f\\r\\u001f\\"\\\\/\u007f\u2028\u20ac\U0001f600"'
    assert canonicalize(value) == expected.encode()


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key"},
        {None: "null key"},
        {"x": {1, 2}},
        {"x": b"bytes"},
        {"x": object()},
        {"x": "lone \ud800 surrogate"},
        {"lone \udc00 key": 1},
    ],
)
def test_non_json_values_rejected(value: Any) -> None:
    with pytest.raises(MalformedInputError):
        canonicalize(value)


def test_deep_nesting_rejected_not_recursion_error() -> None:
    deep: Any = "leaf"
    for _ in range(10_000):
        deep = {"a": [deep]}
    with pytest.raises(MalformedInputError, match="nesting"):
        canonicalize(deep)


def test_tuples_and_subclasses_take_slow_path_identically() -> None:
    class Sub(dict):  # type: ignore[type-arg]
        pass

    value = Sub(b=(1, 2.5, True), a=[None, "x"])
    assert canonicalize(value) == rfc8785.dumps(value) == b'{"a":[null,"x"],"b":[1,2.5,true]}'


TRICKY_FLOATS = st.sampled_from(
    [
        5e-324,
        1e21,
        1e-7,
        1e-6,
        9.999999999999997e-7,
        1e20,
        123e18,
        0.1,
        1 / 3,
        -0.0,
        2.0**53,
        2.0**-1074,
        1.7976931348623157e308,
        4.35,
        0.000001234,
        1e16,
        1e15 + 0.3,
    ]
)
SAFE_INTS = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
SCALARS = (
    st.none()
    | st.booleans()
    | SAFE_INTS
    | st.floats(allow_nan=False, allow_infinity=False)
    | TRICKY_FLOATS
    | st.text()
    | st.text(alphabet=st.characters(min_codepoint=0xE000, max_codepoint=0x1F6FF))
)
KEYS = st.text(max_size=6) | st.text(
    alphabet=st.characters(
        min_codepoint=0xD7F0, max_codepoint=0x10FFFF, exclude_categories=("Cs",)
    ),
    max_size=3,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=20,
)


@pytest.mark.slow
@given(JSON_VALUES)
@settings(max_examples=2000, deadline=None)
@example({"\ufb33": 0, "\U0001f600": 1.5})
@example([1e21, 1e-7, 5e-324])
def test_differential_against_rfc8785(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


FAST_PATH_VALUES = st.recursive(
    st.none() | st.booleans() | SAFE_INTS | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=20,
)


@given(FAST_PATH_VALUES)
@settings(max_examples=1000, deadline=None)
def test_differential_fast_path_against_rfc8785(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@given(st.floats(allow_nan=False, allow_infinity=False))
@settings(max_examples=3000, deadline=None)
def test_number_output_round_trips_to_same_double(value: float) -> None:
    text = es_number(value)
    assert float(text) == value or (value == 0 and float(text) == 0)
    assert canonicalize(value) == rfc8785.dumps(value)
