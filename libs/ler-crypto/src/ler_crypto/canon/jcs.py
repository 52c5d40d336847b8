"""JSON Canonicalization Scheme, RFC 8785 — fast and byte-identical to ``rfc8785``.

Fast path: one Python pass checks that the value is plain JSON whose canonical
form orjson (``OPT_SORT_KEYS``) produces exactly — no integers outside ±2^53, no
floats outside the range below, no subclasses, and no object key outside the BMP
(orjson sorts by code point, RFC 8785 §3.2.3 by UTF-16 code unit; the two orders
agree for BMP-only keys). For such values orjson emits exactly the §3.2.2.2
bytes: UTF-8, short escapes for \\b \\t \\n \\f \\r \\" \\\\, lowercase ``\\u00xx``
for other controls, everything else literal — about ten times faster than the
stdlib encoder.

Floats (RFC 8785 §3.2.2.3: ECMAScript Number::toString) take the fast path when
finite, non-integral and 1e-4 <= |f| < 1e16. There both orjson and ECMAScript
write the shortest round-tripping digits in plain decimal notation
(``12.5``, ``-0.0001``, ``1000000000000000.5``): ECMAScript uses exponents only
below 1e-6 or from 1e21, orjson only below 1e-5 or from 1e16, and a non-integral
double is always below 2^53 < 1e16. Integral floats (``12.0`` → ``12``), tiny
and huge ones take the slow path. ``tests/test_jcs_floats.py`` checks this
against ``rfc8785`` on hundreds of thousands of doubles, including the bounds.

Anything else takes a small pure-Python serializer implementing the same rules
plus the ECMAScript number formatting. Differential tests against ``rfc8785``
check both paths.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from ler_crypto.errors import MalformedInputError
from ler_crypto.limits import MAX_DEPTH

_SAFE_INT = 2**53  # integers in [-2^53, 2^53] are exact IEEE doubles
# Floats orjson writes exactly as ECMAScript does (module docstring): non-integral, and
_FAST_FLOAT_MIN = 1e-4  # <= |f|
_FAST_FLOAT_MAX = 1e16  # > |f|
_encode_str = json.encoder.encode_basestring
_SORT_KEYS = orjson.OPT_SORT_KEYS
_LONE_SURROGATE = "string contains a lone surrogate (not valid Unicode)"


class _SlowPath(Exception):
    """Internal signal: the value needs the pure-Python serializer."""


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``obj``.

    Accepts dict (str keys), list/tuple, str, int, float, bool and None.
    Raises MalformedInputError for NaN/Infinity, non-string keys, other types,
    lone surrogates, integers that are not exactly representable as IEEE
    doubles, and nesting deeper than ``limits.MAX_DEPTH``.
    """
    try:
        _scan(obj, 0)
    except _SlowPath:
        text = _serialize(obj, 0)
    else:
        try:
            return orjson.dumps(obj, option=_SORT_KEYS)
        except orjson.JSONEncodeError as err:  # lone surrogates: not valid Unicode
            raise MalformedInputError(_LONE_SURROGATE) from err
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise MalformedInputError(_LONE_SURROGATE) from err


def _scan(value: Any, depth: int) -> None:  # noqa: C901 - hot path kept flat for speed
    """Validate types/depth; raise _SlowPath if the C encoder's output would differ."""
    t = type(value)
    if t is dict:
        if depth >= MAX_DEPTH:
            raise MalformedInputError(f"JSON nesting exceeds {MAX_DEPTH} levels")
        for key, item in value.items():
            if type(key) is not str:
                raise MalformedInputError(f"object keys must be strings, got {type(key).__name__}")
            if not key.isascii() and max(key) > "\uffff":
                raise _SlowPath  # needs UTF-16 code-unit ordering
            ti = type(item)
            if ti is not str and ti is not bool and item is not None:
                _scan(item, depth + 1)
    elif t is list:
        if depth >= MAX_DEPTH:
            raise MalformedInputError(f"JSON nesting exceeds {MAX_DEPTH} levels")
        for item in value:
            ti = type(item)
            if ti is not str and ti is not bool and item is not None:
                _scan(item, depth + 1)
    elif t is int:
        if not -_SAFE_INT <= value <= _SAFE_INT:
            raise _SlowPath
    elif t is float:
        # NaN/inf fail the range test and get their error from the slow path.
        if not _FAST_FLOAT_MIN <= abs(value) < _FAST_FLOAT_MAX or value.is_integer():
            raise _SlowPath
    elif t is str or t is bool or value is None:
        return
    elif isinstance(value, float | tuple | list | dict | int | str):
        raise _SlowPath  # subclasses and tuples are rare
    else:
        raise MalformedInputError(f"value of type {type(value).__name__} is not JSON")


def _serialize(obj: Any, depth: int) -> str:
    if depth >= MAX_DEPTH and isinstance(obj, list | tuple | dict):
        raise MalformedInputError(f"JSON nesting exceeds {MAX_DEPTH} levels")
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _encode_str(str(obj))
    if isinstance(obj, int):
        return _serialize_int(int(obj))
    if isinstance(obj, float):
        return es_number(float(obj))
    if isinstance(obj, list | tuple):
        return "[" + ",".join(_serialize(item, depth + 1) for item in obj) + "]"
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, str):
                raise MalformedInputError(f"object keys must be strings, got {type(key).__name__}")
        # RFC 8785 §3.2.3: sort by UTF-16 code units
        items = sorted(obj.items(), key=lambda kv: kv[0].encode("utf-16-be", "surrogatepass"))
        return (
            "{"
            + ",".join(_encode_str(str(k)) + ":" + _serialize(v, depth + 1) for k, v in items)
            + "}"
        )
    raise MalformedInputError(f"value of type {type(obj).__name__} is not JSON")


def _serialize_int(value: int) -> str:
    if -_SAFE_INT <= value <= _SAFE_INT:
        return str(value)
    # JSON numbers are IEEE doubles (RFC 8785 §3.2.2.3): a larger integer is only
    # acceptable if it is exactly a double; otherwise two different documents
    # would canonicalize identically.
    as_float = float(value) if abs(value) < 2**1024 else math.inf
    if math.isinf(as_float) or int(as_float) != value:
        raise MalformedInputError(
            "integer is not exactly representable as an IEEE 754 double (RFC 8785 §3.2.2.3)"
        )
    return es_number(as_float)


def es_number(value: float) -> str:
    """ECMAScript Number::toString for a finite double (ECMA-262 §6.1.6.1.20).

    ``repr`` gives the shortest round-tripping digits (the same digit choice as
    ECMAScript); only the layout differs, which this re-does.
    """
    if value != value or value in (math.inf, -math.inf):
        raise MalformedInputError("NaN and Infinity are not allowed in JSON (RFC 8785 §3.2.2.3)")
    if value == 0:
        return "0"  # also -0
    if value < 0:
        return "-" + es_number(-value)
    text = repr(value)
    mantissa, _, exp_text = text.partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    point = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point  # value = 0.digits * 10^n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(exponent)}"


__all__ = ["canonicalize", "es_number"]
