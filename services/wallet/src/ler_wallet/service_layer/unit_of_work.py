"""The unit of work and the repository interfaces the use cases are written against.

``SqlUnitOfWork`` (``ler_wallet.adapters.sql``) implements them on SQLAlchemy and writes the
staged events into the transactional outbox in the same commit; unit tests use in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from ler_wallet.domain.events import DomainEvent
from ler_wallet.domain.model import (
    AccessLogEntry,
    Account,
    HeldCredential,
    ResearchConsent,
    SelfAssertedSkill,
    ShareLink,
)


class AccountRepository(Protocol):
    """Learner accounts."""

    async def add(self, account: Account) -> None: ...
    async def get(self, account_id: str) -> Account | None: ...
    async def by_email(self, email: str) -> Account | None: ...
    async def by_idempotency_key(self, key: str) -> Account | None: ...
    async def by_holder_did(self, did: str) -> Account | None: ...
    async def by_api_key_hash(self, key_hash: str) -> Account | None: ...
    async def save_api_key_hash(self, account_id: str, key_hash: str) -> None: ...
    async def delete_everything(self, account_id: str) -> int:
        """Delete every row of the account in every wallet table; returns credentials deleted."""
        ...


class CredentialRepository(Protocol):
    """Held credentials."""

    async def add(self, credential: HeldCredential) -> None: ...
    async def get(self, account_id: str, credential_id: str) -> HeldCredential | None: ...
    async def find_duplicate(
        self, account_id: str, credential_id: str, bytes_hash: str
    ) -> HeldCredential | None: ...
    async def for_account(self, account_id: str) -> list[HeldCredential]: ...
    async def by_credential_id(self, credential_id: str) -> list[HeldCredential]: ...
    async def save(self, credential: HeldCredential) -> None:
        """Persist status and curation changes."""
        ...


class SkillRepository(Protocol):
    """Self-asserted skills (one per account and skill identity)."""

    async def upsert(self, skill: SelfAssertedSkill) -> None: ...
    async def for_account(self, account_id: str) -> list[SelfAssertedSkill]: ...


class ShareLinkRepository(Protocol):
    """Share links (tokens only hashed)."""

    async def add(self, link: ShareLink) -> None: ...
    async def get(self, account_id: str, share_link_id: str) -> ShareLink | None: ...
    async def by_token_hash(self, token_hash: str) -> ShareLink | None:
        """The link, locked for update (access counting must not race)."""
        ...

    async def save(self, link: ShareLink) -> None: ...
    async def for_account(self, account_id: str) -> list[ShareLink]: ...


class AccessLogRepository(Protocol):
    """The learner-visible access log."""

    async def add(self, entry: AccessLogEntry) -> None: ...
    async def for_account(self, account_id: str) -> list[AccessLogEntry]: ...


class ConsentRepository(Protocol):
    """Research consents."""

    async def get(self, account_id: str, study_id: str) -> ResearchConsent | None: ...
    async def save(self, consent: ResearchConsent) -> None: ...
    async def for_account(self, account_id: str) -> list[ResearchConsent]: ...


class UnitOfWork(Protocol):
    """One transaction: repositories, events staged for the outbox, commit on a clean exit."""

    accounts: AccountRepository
    credentials: CredentialRepository
    skills: SkillRepository
    share_links: ShareLinkRepository
    access_log: AccessLogRepository
    consents: ConsentRepository

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


def ids_of(items: Sequence[HeldCredential]) -> tuple[str, ...]:
    """Credential ids, in order."""
    return tuple(c.credential_id for c in items)
