"""What every use case is given: the unit-of-work factory, the outside services, a clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ler_intake.service_layer.ports import ChangeNotifier, ShareLinkResolver, VerificationClient
from ler_intake.service_layer.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    """The current instant in UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """An opaque, unique id with a readable prefix, e.g. ``app_6f1c...``."""
    return f"{prefix}_{uuid.uuid4().hex}"


class _NoNotifier:
    def notify(self) -> None:
        """Nothing listens."""


@dataclass(frozen=True, slots=True)
class VerificationRetry:
    """How SUBMITTED applications are re-verified when the verification service was
    unavailable: exponential backoff from ``backoff_base`` (capped at ``backoff_max``), at most
    ``max_attempts`` tries in all (the one at submission included), then flagged.
    ``grace`` keeps the re-verifier off an application whose submission is still verifying
    it (longer than the verification call's timeout)."""

    max_attempts: int = 6
    backoff_base: float = 5.0
    backoff_max: float = 300.0
    grace: float = 30.0

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed try."""
        return timedelta(
            seconds=min(self.backoff_base * 2 ** max(attempts - 1, 0), self.backoff_max)
        )


@dataclass
class Context:
    """Dependencies of the use cases (built by the composition root or a test)."""

    uow: Callable[[], UnitOfWork]
    verification: VerificationClient
    share_links: ShareLinkResolver
    clock: Callable[[], datetime] = utc_now
    notifier: ChangeNotifier = field(default_factory=_NoNotifier)
    # plain-http share links (local clusters and tests only)
    allow_http_share_links: bool = False
    retry: VerificationRetry = field(default_factory=VerificationRetry)
