"""JCS fast path for ordinary floats: orjson's output must equal RFC 8785 §3.2.2.3.

``canon.jcs`` lets finite non-integral floats with 1e-4 <= |f| < 1e16 through to
orjson. These tests check that claim against the ``rfc8785`` package (the
reference): on hypothesis-generated doubles of every magnitude, on random bit
patterns inside the fast range, on the boundaries of the range, and on whole
documents -- and that such floats really take the fast path.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ler_crypto.bench import realistic_ob3_credential
from ler_crypto.canon import jcs
from ler_crypto.canon.jcs import canonicalize

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _takes_fast_path(value: Any) -> bool:
    try:
        jcs._scan(value, 0)
    except jcs._SlowPath:
        return False
    return True


def _in_fast_range(f: float) -> bool:
    return math.isfinite(f) and not f.is_integer() and 1e-4 <= abs(f) < 1e16


def test_credential_with_a_float_takes_the_fast_path() -> None:
    credential = realistic_ob3_credential("did:example:issuer")
    credential["credentialSubject"]["result"] = [{"type": ["Result"], "value": 3.75}]
    assert _takes_fast_path(credential)
    assert canonicalize(credential) == rfc8785.dumps(credential)


@pytest.mark.parametrize("value", [12.5, -12.5, 0.1, 1e-4, -1e-4, 0.00011, 1 / 3, 2**51 + 0.5])
def test_ordinary_floats_take_the_fast_path(value: float) -> None:
    assert _takes_fast_path(value)
    assert _takes_fast_path({"creditsEarned": value, "list": [value, {"x": value}]})
    assert canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [12.0, -0.0, 0.0, 1e16, 2.0**53, 1e21, 9.99e-5, 1e-5, 1e-7, 5e-324, 1.7976931348623157e308],
)
def test_other_floats_take_the_slow_path(value: float) -> None:
    assert not _takes_fast_path(value)
    assert canonicalize(value) == rfc8785.dumps(value)


def _neighbours(f: float, n: int = 3) -> list[float]:
    out = [f]
    up = down = f
    for _ in range(n):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        out += [up, down]
    return out


BOUNDARIES = [
    b * s
    for base in (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.5, 1.0, 1e15, 2.0**52, 1e16, 2.0**53, 1e21)
    for b in _neighbours(base, 5)
    for s in (1.0, -1.0)
]


def test_boundaries_of_the_fast_range() -> None:
    for f in BOUNDARIES:
        assert _takes_fast_path(f) == _in_fast_range(f), f
        assert canonicalize(f) == rfc8785.dumps(f), f
        assert canonicalize([f]) == rfc8785.dumps([f]), f


def test_random_doubles_in_the_fast_range_match_rfc8785() -> None:
    """200,000 random bit patterns whose exponent lies in [1e-4, 2^53)."""
    rng = random.Random(20261128)
    lo = struct.unpack("<q", struct.pack("<d", 1e-4))[0]
    hi = struct.unpack("<q", struct.pack("<d", 2.0**53))[0]
    checked = 0
    for _ in range(200_000):
        f = struct.unpack("<d", struct.pack("<q", rng.randrange(lo, hi)))[0]
        if rng.random() < 0.5:
            f = -f
        if not _in_fast_range(f):
            continue
        assert _takes_fast_path(f)
        assert canonicalize(f) == rfc8785.dumps(f), f
        checked += 1
    assert checked > 190_000


def test_short_decimals_in_the_fast_range_match_rfc8785() -> None:
    """Values people write (few digits, every decimal exponent): the tie-breaking cases."""
    rng = random.Random(7)
    for exponent in range(-8, 17):
        for _ in range(2_000):
            f = float(f"{rng.randint(1, 10 ** rng.randint(1, 6))}e{exponent - 3}")
            if _in_fast_range(f):
                assert canonicalize(-f) == rfc8785.dumps(-f)
                assert canonicalize(f) == rfc8785.dumps(f), f


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_double_matches_rfc8785(f: float) -> None:
    assert canonicalize(f) == rfc8785.dumps(f)


@settings(SETTINGS, max_examples=8_000)
@given(st.floats(min_value=1e-4, max_value=2.0**53, exclude_min=False))
def test_many_doubles_in_the_fast_range_match_rfc8785(f: float) -> None:
    for value in (f, -f):
        assert _takes_fast_path(value) == _in_fast_range(value)
        assert canonicalize(value) == rfc8785.dumps(value)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=1e-4, max_value=1e6)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(SETTINGS, max_examples=3_000)
@given(JSON_VALUES)
def test_documents_with_floats_match_rfc8785(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)
