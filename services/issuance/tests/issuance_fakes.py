"""In-memory fakes of the issuance unit of work (unit tests assert on outcomes, not calls)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from ler_issuance.domain.events import DomainEvent
from ler_issuance.domain.model import (
    AchievementTemplate,
    CredentialRecord,
    Issuer,
    SigningKey,
    StatusPurpose,
)
from ler_issuance.domain.offers import CredentialOffer
from ler_issuance.domain.status_lists import StatusListState
from ler_issuance.service_layer.unit_of_work import CredentialFilter


class FakeStore:
    """What a committed database would hold."""

    def __init__(self) -> None:
        self.issuers: dict[str, Issuer] = {}
        self.templates: dict[str, AchievementTemplate] = {}
        self.credentials: dict[str, CredentialRecord] = {}
        self.status_lists: dict[tuple[str, str], StatusListState] = {}
        self.offers: dict[str, CredentialOffer] = {}
        self.events: list[DomainEvent] = []
        self.commits = 0


class _Issuers:
    def __init__(self, data: FakeStore) -> None:
        self.d = data

    async def add(self, issuer: Issuer) -> None:
        self.d.issuers[issuer.issuer_id] = issuer

    async def get(self, issuer_id: str) -> Issuer | None:
        return self.d.issuers.get(issuer_id)

    async def get_by_did(self, did: str) -> Issuer | None:
        return next((i for i in self.d.issuers.values() if i.did == did), None)

    async def add_key(self, issuer_id: str, key: SigningKey) -> None:
        keys = self.d.issuers[issuer_id].keys
        if all(k.number != key.number for k in keys):  # the use case may append it itself
            keys.append(key)

    async def retire_key(self, issuer_id: str, number: int, at: datetime) -> None:
        for key in self.d.issuers[issuer_id].keys:
            if key.number == number:
                key.retired_at = at


class _Templates:
    def __init__(self, data: FakeStore) -> None:
        self.d = data

    async def add(self, template: AchievementTemplate) -> None:
        self.d.templates[template.template_id] = template

    async def get(self, issuer_id: str, template_id: str) -> AchievementTemplate | None:
        t = self.d.templates.get(template_id)
        return t if t is not None and t.issuer_id == issuer_id else None

    async def exists_for_achievement(self, issuer_id: str, achievement_id: str) -> bool:
        return any(
            t.issuer_id == issuer_id and t.achievement.id == achievement_id
            for t in self.d.templates.values()
        )

    async def page(
        self, issuer_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[AchievementTemplate]:
        rows = sorted(
            (t for t in self.d.templates.values() if t.issuer_id == issuer_id),
            key=lambda t: (t.created_at, t.template_id),
            reverse=True,
        )
        if after is not None:
            rows = [t for t in rows if (t.created_at, t.template_id) < after]
        return rows[:limit]


class _Credentials:
    def __init__(self, data: FakeStore) -> None:
        self.d = data

    async def add_many(self, records: Sequence[CredentialRecord]) -> None:
        for r in records:
            self.d.credentials[r.credential_id] = r

    async def get(self, issuer_id: str, credential_id: str) -> CredentialRecord | None:
        r = self.d.credentials.get(credential_id)
        return r if r is not None and r.issuer_id == issuer_id else None

    async def by_record_ids(
        self, issuer_id: str, record_ids: Sequence[str]
    ) -> dict[str, CredentialRecord]:
        wanted = set(record_ids)
        return {
            r.record_id: r
            for r in self.d.credentials.values()
            if r.issuer_id == issuer_id and r.record_id in wanted
        }

    async def page(
        self,
        issuer_id: str,
        flt: CredentialFilter,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        include_signed: bool,
    ) -> list[CredentialRecord]:
        rows = [
            r
            for r in self.d.credentials.values()
            if r.issuer_id == issuer_id
            and (not flt.record_id or r.record_id == flt.record_id)
            and (flt.status is None or r.status is flt.status)
            and (not flt.subject_did or r.subject.did == flt.subject_did)
            and (not flt.template_id or r.template_id == flt.template_id)
        ]
        rows.sort(key=lambda r: (r.issued_at, r.credential_id), reverse=True)
        if after is not None:
            rows = [r for r in rows if (r.issued_at, r.credential_id) < after]
        return rows[:limit]

    async def save_status(self, record: CredentialRecord) -> None:
        self.d.credentials[record.credential_id] = record

    async def bind_subject(self, record: CredentialRecord) -> None:
        self.d.credentials[record.credential_id] = record


class _StatusLists:
    def __init__(self, data: FakeStore) -> None:
        self.d = data

    async def add(self, state: StatusListState) -> None:
        self.d.status_lists[(state.issuer_id, state.list_id)] = state

    async def current(self, issuer_id: str, purpose: StatusPurpose) -> StatusListState | None:
        lists = [
            s
            for (iid, _), s in self.d.status_lists.items()
            if iid == issuer_id and s.purpose is purpose
        ]
        return max(lists, key=lambda s: s.seq) if lists else None

    async def get(
        self, issuer_id: str, list_id: str, *, for_update: bool = False
    ) -> StatusListState | None:
        return self.d.status_lists.get((issuer_id, list_id))

    async def save(self, state: StatusListState) -> None:
        self.d.status_lists[(state.issuer_id, state.list_id)] = state


class _Offers:
    def __init__(self, data: FakeStore) -> None:
        self.d = data

    async def add(self, offer: CredentialOffer) -> None:
        self.d.offers[offer.offer_id] = offer

    async def by_code_hash(self, code_hash: str) -> CredentialOffer | None:
        return next((o for o in self.d.offers.values() if o.code_hash == code_hash), None)

    async def by_token_hash(self, token_hash: str) -> CredentialOffer | None:
        return next((o for o in self.d.offers.values() if o.token_hash == token_hash), None)

    async def save(self, offer: CredentialOffer) -> None:
        self.d.offers[offer.offer_id] = offer


class FakeUnitOfWork:
    """Works on a deep copy of the store; a clean exit commits it back with the events."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._events: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        self._events.append(event)

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._store)
        self.issuers = _Issuers(self._work)
        self.templates = _Templates(self._work)
        self.credentials = _Credentials(self._work)
        self.status_lists = _StatusLists(self._work)
        self.offers = _Offers(self._work)
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            s = self._store
            s.issuers = self._work.issuers
            s.templates = self._work.templates
            s.credentials = self._work.credentials
            s.status_lists = self._work.status_lists
            s.offers = self._work.offers
            s.events.extend(self._events)
            s.commits += 1
