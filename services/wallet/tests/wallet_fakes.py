"""In-memory fakes of the wallet's unit of work (test doubles live here, never in src)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from ler_wallet.domain.events import DomainEvent
from ler_wallet.domain.model import (
    AccessLogEntry,
    Account,
    HeldCredential,
    ResearchConsent,
    SelfAssertedSkill,
    ShareLink,
)


@dataclass
class FakeStore:
    """Committed state: one dict per table, plus the committed events."""

    accounts: dict[str, Account] = field(default_factory=dict)
    credentials: dict[tuple[str, str], HeldCredential] = field(default_factory=dict)
    skills: dict[tuple[str, tuple[str, str]], SelfAssertedSkill] = field(default_factory=dict)
    links: dict[str, ShareLink] = field(default_factory=dict)
    log: dict[str, AccessLogEntry] = field(default_factory=dict)
    consents: dict[tuple[str, str], ResearchConsent] = field(default_factory=dict)
    events: list[DomainEvent] = field(default_factory=list)

    def tables(self) -> dict[str, dict[Any, Any]]:
        """Every table, for "nothing of this account is left" checks."""
        return {
            "accounts": self.accounts,
            "credentials": self.credentials,
            "skills": self.skills,
            "links": self.links,
            "log": self.log,
            "consents": self.consents,
        }


class _Accounts:
    def __init__(self, d: FakeStore) -> None:
        self.d = d

    def _find(self, pred: Any) -> Account | None:
        return next((a for a in self.d.accounts.values() if pred(a)), None)

    async def add(self, a: Account) -> None:
        self.d.accounts[a.account_id] = a

    async def get(self, account_id: str) -> Account | None:
        return self.d.accounts.get(account_id)

    async def by_email(self, email: str) -> Account | None:
        return self._find(lambda a: a.email == email)

    async def by_idempotency_key(self, key: str) -> Account | None:
        return self._find(lambda a: a.idempotency_key == key)

    async def by_holder_did(self, did: str) -> Account | None:
        return self._find(lambda a: a.holder_did == did)

    async def by_api_key_hash(self, h: str) -> Account | None:
        return self._find(lambda a: a.api_key_hash == h)

    async def save_api_key_hash(self, account_id: str, h: str) -> None:
        self.d.accounts[account_id].api_key_hash = h

    async def delete_everything(self, account_id: str) -> int:
        n = 0
        for table in self.d.tables().values():
            for key in [k for k, v in table.items() if v.account_id == account_id]:
                n += table is self.d.credentials
                del table[key]
        return n


class _Credentials:
    def __init__(self, d: FakeStore) -> None:
        self.d = d

    async def add(self, c: HeldCredential) -> None:
        self.d.credentials[(c.account_id, c.credential_id)] = c

    async def get(self, account_id: str, credential_id: str) -> HeldCredential | None:
        return self.d.credentials.get((account_id, credential_id))

    async def find_duplicate(self, account_id: str, cid: str, h: str) -> HeldCredential | None:
        return next(
            (
                c
                for c in self.d.credentials.values()
                if c.account_id == account_id and (c.credential_id == cid or c.bytes_hash == h)
            ),
            None,
        )

    async def for_account(self, account_id: str) -> list[HeldCredential]:
        return [c for c in self.d.credentials.values() if c.account_id == account_id]

    async def by_credential_id(self, cid: str) -> list[HeldCredential]:
        return [c for c in self.d.credentials.values() if c.credential_id == cid]

    async def save(self, c: HeldCredential) -> None:
        self.d.credentials[(c.account_id, c.credential_id)] = c


class _Skills:
    def __init__(self, d: FakeStore) -> None:
        self.d = d

    async def upsert(self, s: SelfAssertedSkill) -> None:
        self.d.skills[(s.account_id, s.skill.key)] = s

    async def for_account(self, account_id: str) -> list[SelfAssertedSkill]:
        return [s for s in self.d.skills.values() if s.account_id == account_id]


class _Links:
    def __init__(self, d: FakeStore) -> None:
        self.d = d

    async def add(self, link: ShareLink) -> None:
        self.d.links[link.share_link_id] = link

    async def get(self, account_id: str, link_id: str) -> ShareLink | None:
        link = self.d.links.get(link_id)
        return link if link and link.account_id == account_id else None

    async def by_token_hash(self, h: str) -> ShareLink | None:
        return next((x for x in self.d.links.values() if x.token_hash == h), None)

    async def save(self, link: ShareLink) -> None:
        self.d.links[link.share_link_id] = link

    async def for_account(self, account_id: str) -> list[ShareLink]:
        return [x for x in self.d.links.values() if x.account_id == account_id]


class _Log:
    def __init__(self, d: FakeStore) -> None:
        self.d = d

    async def add(self, e: AccessLogEntry) -> None:
        self.d.log[e.entry_id] = e

    async def for_account(self, account_id: str) -> list[AccessLogEntry]:
        return [e for e in self.d.log.values() if e.account_id == account_id]


class _Consents:
    def __init__(self, d: FakeStore) -> None:
        self.d = d

    async def get(self, account_id: str, study: str) -> ResearchConsent | None:
        return self.d.consents.get((account_id, study))

    async def save(self, c: ResearchConsent) -> None:
        self.d.consents[(c.account_id, c.study_id)] = c

    async def for_account(self, account_id: str) -> list[ResearchConsent]:
        return [c for c in self.d.consents.values() if c.account_id == account_id]


class FakeUnitOfWork:
    """Works on a deep copy of the store; commits it (and the events) only on a clean exit."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._events: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        self._events.append(event)

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._store)
        self.accounts = _Accounts(self._work)
        self.credentials = _Credentials(self._work)
        self.skills = _Skills(self._work)
        self.share_links = _Links(self._work)
        self.access_log = _Log(self._work)
        self.consents = _Consents(self._work)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            for name in ("accounts", "credentials", "skills", "links", "log", "consents"):
                setattr(self._store, name, getattr(self._work, name))
            self._store.events.extend(self._events)
