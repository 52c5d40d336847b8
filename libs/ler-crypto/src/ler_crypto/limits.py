"""Bounds on untrusted JSON input, and a bounded JSON parser.

JSON-LD processing recurses per nesting level and its cost grows with the
number of nodes, so every document is checked against these limits before any
canonicalization: a hostile document fails fast with MalformedInputError instead
of exhausting the stack or the CPU.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ler_crypto.errors import MalformedInputError

#: Deepest nesting of objects/arrays accepted (a CLR with embedded OB credentials is < 20).
MAX_DEPTH = 64
#: Largest document accepted, in (approximate) serialized bytes.
MAX_DOCUMENT_BYTES = 2_000_000
#: Most JSON values (objects, arrays, scalars) in one document.
MAX_NODES = 50_000

_SCALARS = (str, int, float, bool, type(None))


def check_document(
    obj: Any,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_nodes: int = MAX_NODES,
) -> None:
    """Raise MalformedInputError unless ``obj`` is plain JSON within the limits.

    Plain JSON means dict (str keys), list/tuple, str, int, float, bool, None.
    The walk is iterative, so hostile depth cannot overflow the Python stack.
    """
    stack: list[tuple[Any, int]] = [(obj, 1)]
    size = 0
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise MalformedInputError(f"document has more than {max_nodes} JSON values")
        if isinstance(value, dict):
            if depth > max_depth:
                raise MalformedInputError(f"document nesting exceeds {max_depth} levels")
            for key, item in value.items():
                if not isinstance(key, str):
                    raise MalformedInputError(
                        f"object keys must be strings, got {type(key).__name__}"
                    )
                size += len(key) + 4
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            if depth > max_depth:
                raise MalformedInputError(f"document nesting exceeds {max_depth} levels")
            size += 2
            stack.extend((item, depth + 1) for item in value)
        else:
            size += _scalar_size(value)
        if size > max_bytes:
            raise MalformedInputError(f"document is larger than {max_bytes} bytes")


def _scalar_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, float) and not math.isfinite(value):
        raise MalformedInputError("NaN and Infinity are not valid JSON numbers")
    if isinstance(value, _SCALARS):
        return 8
    raise MalformedInputError(f"value of type {type(value).__name__} is not JSON")


def _reject_constant(name: str) -> Any:
    raise MalformedInputError(f"JSON constant {name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedInputError(f"duplicate object member {key!r}")
            seen.add(key)
    return result


def parse_json(data: str | bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Parse untrusted JSON text with size, depth, duplicate-key and NaN checks."""
    if not isinstance(data, str | bytes | bytearray):
        raise MalformedInputError(f"expected JSON text, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise MalformedInputError(f"JSON text is larger than {max_bytes} bytes")
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except RecursionError as err:
        raise MalformedInputError("JSON nesting is too deep") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedInputError(f"invalid JSON: {err}") from err
    check_document(value, max_bytes=max_bytes)
    return value


__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "MAX_NODES", "check_document", "parse_json"]
