"""The verification report: every check a verifier ran, with an outcome and a readable reason."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.StrEnum):
    """Result of one check. Only FAIL makes a report unverified; WARNING is advisory."""

    PASS = "pass"
    FAIL = "fail"
    WARNING = "warning"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One verification step: a stable ``id``, a title, the outcome, and why."""

    id: str
    title: str
    outcome: Outcome
    reason: str
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        result: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "outcome": self.outcome.value,
            "reason": self.reason,
        }
        if self.details:
            result["details"] = self.details
        return result


@dataclass
class VerificationReport:
    """All checks run on one credential or presentation (with nested credential reports).

    ``verified`` is True only when no check failed, the input was usable, and every nested
    credential report is verified too. ``malformed`` marks input that could not be parsed or
    used at all (the CLI exits 2 for it).
    """

    kind: str
    checks: list[Check] = field(default_factory=list)
    malformed: bool = False
    subject: str | None = None
    issuer: str | None = None
    credentials: list[VerificationReport] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """True when nothing failed, here or in any nested credential report."""
        return (
            not self.malformed
            and bool(self.checks)
            and all(c.outcome is not Outcome.FAIL for c in self.checks)
            and all(r.verified for r in self.credentials)
        )

    def add(
        self,
        check_id: str,
        title: str,
        outcome: Outcome,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> Check:
        """Append a check and return it."""
        check = Check(check_id, title, outcome, reason, details)
        self.checks.append(check)
        return check

    def check(self, check_id: str) -> Check | None:
        """The first check with ``check_id``, or None."""
        return next((c for c in self.checks if c.id == check_id), None)

    def failures(self) -> list[Check]:
        """Failed checks, in order."""
        return [c for c in self.checks if c.outcome is Outcome.FAIL]

    def warnings(self) -> list[Check]:
        """Warnings, in order."""
        return [c for c in self.checks if c.outcome is Outcome.WARNING]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (VC-API style ``verified`` plus the checks and any nested reports)."""
        result: dict[str, Any] = {
            "verified": self.verified,
            "kind": self.kind,
        }
        if self.malformed:
            result["malformed"] = True
        if self.subject is not None:
            result["id"] = self.subject
        if self.issuer is not None:
            result["issuer"] = self.issuer
        result["checks"] = [c.to_dict() for c in self.checks]
        if self.credentials:
            result["credentials"] = [r.to_dict() for r in self.credentials]
        return result
