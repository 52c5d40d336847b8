"""What a journey run returns: its steps and a JSON-serialisable summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One checked outcome of the story."""

    name: str
    outcome: str
    expected: str

    @property
    def ok(self) -> bool:
        """Whether the outcome is the one the story expects."""
        return self.outcome == self.expected

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "step": self.name,
            "outcome": self.outcome,
            "expected": self.expected,
            "ok": self.ok,
        }


@dataclass
class JourneyResult:
    """What the journey did: its trace id, a JSON-serialisable summary, and its steps."""

    trace_id: str
    summary: dict[str, Any]
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every step had its expected outcome."""
        return all(s.ok for s in self.steps)
