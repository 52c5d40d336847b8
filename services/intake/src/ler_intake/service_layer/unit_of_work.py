"""The unit of work and the repository interfaces the use cases are written against.

``SqlUnitOfWork`` (``ler_intake.adapters.sql``) implements them on SQLAlchemy and writes the
staged events into the transactional outbox in the same commit, together with the change
feed (WatchApplications) and the webhook queue rows; unit tests use in-memory fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from ler_intake.domain.application import Application, ApplicationState
from ler_intake.domain.events import DomainEvent
from ler_intake.domain.model import Opportunity, Provider


class ProviderRepository(Protocol):
    """Providers (API keys only hashed)."""

    async def add(self, provider: Provider) -> None:
        """Insert; raises ``DomainTaken`` when the domain is registered."""
        ...

    async def get(self, provider_id: str) -> Provider | None: ...
    async def by_api_key_hash(self, key_hash: str) -> Provider | None: ...


class OpportunityRepository(Protocol):
    """Opportunities."""

    async def add(self, opportunity: Opportunity, idempotency_key: str) -> Opportunity:
        """Insert, or return the one created earlier with the same provider and key."""
        ...

    async def get(self, opportunity_id: str) -> Opportunity | None: ...
    async def list(self, provider_id: str | None) -> list[Opportunity]:
        """Newest first; ``provider_id`` None means every provider's."""
        ...


class ApplicationRepository(Protocol):
    """Applications."""

    async def add(self, application: Application) -> Application:
        """Insert, or return the existing one with the same (opportunity, idempotency key)."""
        ...

    async def get(self, application_id: str) -> Application | None: ...
    async def by_key(self, opportunity_id: str, idempotency_key: str) -> Application | None: ...
    async def save(self, application: Application) -> None: ...
    async def for_opportunity(
        self, opportunity_id: str, state: ApplicationState | None
    ) -> list[Application]: ...
    async def due_for_verification(self, now: datetime, limit: int) -> list[Application]:
        """SUBMITTED applications whose next verification try is due (oldest first), locked
        for this unit of work where the database can (other replicas skip them)."""
        ...

    async def with_credential(self, credential_id: str) -> list[Application]:
        """Applications whose evidence includes this credential id."""
        ...


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed (WatchApplications)."""

    seq: int
    provider_id: str
    opportunity_id: str
    application_id: str
    change: str
    changed_at: datetime


class ChangeFeed(Protocol):
    """Changes to applications, in commit order."""

    async def add(
        self, provider_id: str, opportunity_id: str, application_id: str, change: str, at: datetime
    ) -> None: ...
    async def after(self, provider_id: str, seq: int, limit: int) -> list[Change]: ...
    async def last_seq(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queued webhook notification."""

    delivery_id: str
    provider_id: str
    event_type: str
    body: bytes
    attempts: int
    next_attempt_at: datetime


class WebhookQueue(Protocol):
    """Durable webhook deliveries (written in the same transaction as the change)."""

    async def enqueue(
        self, provider_id: str, event_type: str, body: bytes, at: datetime
    ) -> None: ...
    async def due(self, now: datetime, limit: int) -> list[Delivery]: ...
    async def lease(self, delivery_id: str, until: datetime) -> None:
        """Keep a claimed row from being due again before ``until`` (while it is sent)."""
        ...

    async def delivered(self, delivery_id: str, at: datetime) -> None: ...
    async def retry_later(
        self, delivery_id: str, attempts: int, at: datetime, error: str
    ) -> None: ...
    async def give_up(self, delivery_id: str, attempts: int, error: str) -> None: ...


class ChallengeLedger(Protocol):
    """Which opportunity each application challenge was issued for (CreateApplicationChallenge),
    so that a presentation made for one opportunity is not accepted for another."""

    async def record(self, challenge: str, opportunity_id: str, expires_at: datetime) -> None:
        """Remember the challenge (and forget long-expired ones)."""
        ...

    async def opportunity_of(self, challenge: str) -> str | None:
        """The opportunity the challenge was issued for; None when intake never issued it."""
        ...


class UnitOfWork(Protocol):
    """One transaction: repositories, events staged for the outbox, commit on a clean exit."""

    providers: ProviderRepository
    opportunities: OpportunityRepository
    applications: ApplicationRepository
    changes: ChangeFeed
    webhooks: WebhookQueue
    challenges: ChallengeLedger

    def publish(self, event: DomainEvent) -> None:
        """Stage an event; it is written to the outbox in this transaction's commit."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
