"""Domain value objects to and from the JSON stored in text columns."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import orjson

from ler_issuance.domain.model import (
    Achievement,
    Alignment,
    ResultDescription,
    StatusEntryRef,
    StatusPurpose,
)


def dumps(value: Any) -> str:
    """Compact JSON."""
    return orjson.dumps(value).decode()


def alignment_from(d: dict[str, Any]) -> Alignment:
    """An ``Alignment`` from its ``asdict`` form."""
    return Alignment(**d)


def achievement_to_json(a: Achievement) -> str:
    """Stored form of an achievement."""
    return dumps(asdict(a))


def achievement_from_json(text: str) -> Achievement:
    """Inverse of ``achievement_to_json``."""
    d = json.loads(text)
    d["alignments"] = tuple(alignment_from(x) for x in d["alignments"])
    d["tags"] = tuple(d["tags"])
    d["result_descriptions"] = tuple(
        ResultDescription(
            **{
                **rd,
                "allowed_values": tuple(rd["allowed_values"]),
                "alignments": tuple(alignment_from(x) for x in rd["alignments"]),
            }
        )
        for rd in d["result_descriptions"]
    )
    return Achievement(**d)


def skills_to_json(skills: tuple[Alignment, ...]) -> str:
    """Stored form of a credential's skills."""
    return dumps(
        [
            {
                "url": s.url,
                "label": s.label,
                "framework": s.framework,
                "code": s.code,
                "description": s.description,
                "target_type": s.target_type,
            }
            for s in skills
        ]
    )


def skills_from_json(text: str) -> tuple[Alignment, ...]:
    """Inverse of ``skills_to_json``."""
    return tuple(alignment_from(x) for x in json.loads(text))


def entries_to_json(entries: tuple[StatusEntryRef, ...]) -> str:
    """Stored form of a credential's status entries."""
    return dumps([[e.purpose.value, e.list_id, e.list_url, e.index] for e in entries])


def entries_from_json(text: str) -> tuple[StatusEntryRef, ...]:
    """Inverse of ``entries_to_json``."""
    return tuple(
        StatusEntryRef(StatusPurpose(p), lid, url, int(i)) for p, lid, url, i in json.loads(text)
    )
