"""JSON form of the domain's frozen dataclasses (stored as the aggregate's document column).

Generic over type hints: dataclasses, enums, datetimes, tuples, optionals and pairs. Storing
the aggregate as one document keeps the schema small; the columns the queries filter on
(state, score, keys, credential ids) are written beside it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def dump(value: Any) -> Any:
    """The JSON-compatible form of ``value``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [dump(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def load(tp: Any, data: Any) -> Any:
    """Rebuild a value of type ``tp`` from its ``dump`` form."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return load(inner[0], data)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(load(args[0], v) for v in data)
        return tuple(load(a, v) for a, v in zip(args, data, strict=True))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: load(hints[k], v) for k, v in data.items() if k in names})
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    if tp is datetime:
        return datetime.fromisoformat(data)
    if tp is float and isinstance(data, int):
        return float(data)
    return data


def load_as(cls: type[T], data: Any) -> T:
    """Typed ``load`` of a dataclass."""
    result: T = load(cls, data)
    return result
