"""The unit of work and the repository interfaces the use cases are written against.

``SqlUnitOfWork`` (in ``ler_issuance.adapters.sql``) implements them on SQLAlchemy and writes
published events into the transactional outbox in the same commit; the unit tests use
in-memory fakes of the same protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from ler_issuance.domain.events import DomainEvent
from ler_issuance.domain.model import (
    AchievementTemplate,
    CredentialRecord,
    CredentialState,
    Issuer,
    SigningKey,
    StatusPurpose,
)
from ler_issuance.domain.offers import CredentialOffer
from ler_issuance.domain.status_lists import StatusListState


class DuplicateRecord(Exception):
    """A concurrent transaction stored the same (issuer, record id) first; retry the use case."""


@dataclass(frozen=True)
class CredentialFilter:
    """Filters of ListCredentials (empty / None means "any")."""

    subject_did: str = ""
    subject_email: str = ""
    status: CredentialState | None = None
    template_id: str = ""
    record_id: str = ""
    issued_after: datetime | None = None
    issued_before: datetime | None = None


class IssuerRepository(Protocol):
    """Issuers and their signing keys."""

    async def add(self, issuer: Issuer) -> None: ...
    async def get(self, issuer_id: str) -> Issuer | None: ...
    async def get_by_did(self, did: str) -> Issuer | None: ...
    async def add_key(self, issuer_id: str, key: SigningKey) -> None: ...
    async def retire_key(self, issuer_id: str, number: int, at: datetime) -> None: ...


class TemplateRepository(Protocol):
    """Achievement templates of issuers."""

    async def add(self, template: AchievementTemplate) -> None: ...
    async def get(self, issuer_id: str, template_id: str) -> AchievementTemplate | None: ...
    async def exists_for_achievement(self, issuer_id: str, achievement_id: str) -> bool: ...
    async def page(
        self, issuer_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[AchievementTemplate]: ...


class CredentialRepository(Protocol):
    """Issued credentials."""

    async def add_many(self, records: Sequence[CredentialRecord]) -> None: ...
    async def get(self, issuer_id: str, credential_id: str) -> CredentialRecord | None: ...
    async def by_record_ids(
        self, issuer_id: str, record_ids: Sequence[str]
    ) -> dict[str, CredentialRecord]: ...
    async def page(
        self,
        issuer_id: str,
        flt: CredentialFilter,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        include_signed: bool,
    ) -> list[CredentialRecord]: ...
    async def save_status(self, record: CredentialRecord) -> None: ...
    async def bind_subject(self, record: CredentialRecord) -> None: ...


class StatusListRepository(Protocol):
    """Status lists; ``current`` locks the issuer's newest list of a purpose for update."""

    async def add(self, state: StatusListState) -> None: ...
    async def current(self, issuer_id: str, purpose: StatusPurpose) -> StatusListState | None: ...
    async def get(
        self, issuer_id: str, list_id: str, *, for_update: bool = False
    ) -> StatusListState | None: ...
    async def save(self, state: StatusListState) -> None: ...


class OfferRepository(Protocol):
    """OID4VCI credential offers (pre-authorized codes stored hashed)."""

    async def add(self, offer: CredentialOffer) -> None: ...
    async def by_code_hash(self, code_hash: str) -> CredentialOffer | None: ...
    async def by_token_hash(self, token_hash: str) -> CredentialOffer | None: ...
    async def save(self, offer: CredentialOffer) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: repositories, events staged for the outbox, commit on a clean exit."""

    # read-only members, so that implementations may hold their concrete repository types
    @property
    def issuers(self) -> IssuerRepository: ...
    @property
    def templates(self) -> TemplateRepository: ...
    @property
    def credentials(self) -> CredentialRepository: ...
    @property
    def status_lists(self) -> StatusListRepository: ...
    @property
    def offers(self) -> OfferRepository: ...

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
