"""What every use case is given: the unit-of-work factory, the outside services, a clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
