"""SQLAlchemy repositories and the unit of work (PostgreSQL in real mode, SQLite embedded).

``SqlUnitOfWork`` opens a transaction (or joins the consumer's), gives the use cases their
repositories, and on a clean exit writes the staged domain events into the transactional
outbox before committing — the state change and its announcement commit together.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from ler_platform.metrics import CREDENTIALS_ISSUED, CREDENTIALS_REVOKED, Metrics
from ler_platform.outbox import OutboxWriter
from sqlalchemy import and_, bindparam, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import Executable

from ler_issuance import tables as t
from ler_issuance.adapters.proto import EventTopics, event_records
from ler_issuance.adapters.serialization import (
    achievement_from_json,
    achievement_to_json,
    dumps,
    entries_from_json,
    entries_to_json,
    skills_from_json,
    skills_to_json,
)
from ler_issuance.domain.events import CredentialIssued, CredentialStatusChanged, DomainEvent
from ler_issuance.domain.model import (
    AchievementTemplate,
    CredentialFormat,
    CredentialKind,
    CredentialRecord,
    CredentialState,
    Cryptosuite,
    DidMethod,
    Issuer,
    SigningKey,
    StatusPurpose,
    Subject,
)
from ler_issuance.domain.offers import CredentialOffer
from ler_issuance.domain.status_lists import StatusListState
from ler_issuance.service_layer.unit_of_work import CredentialFilter, DuplicateRecord


def _utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything in the domain is UTC-aware."""
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    result = _utc(value)
    if result is None:  # pragma: no cover - columns are NOT NULL
        raise ValueError("missing timestamp")
    return result


class SqlIssuers:
    """``IssuerRepository`` on the issuers and signing_keys tables."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, issuer: Issuer) -> None:
        await self._s.execute(
            insert(t.issuers).values(
                issuer_id=issuer.issuer_id,
                did=issuer.did,
                did_method=issuer.did_method.value,
                name=issuer.name,
                url=issuer.url,
                email=issuer.email,
                description=issuer.description,
                image_url=issuer.image_url,
                default_format=issuer.default_format.value,
                default_cryptosuite=issuer.default_cryptosuite.value,
                suspension_enabled=issuer.suspension_enabled,
                api_key_salt=issuer.api_key_salt,
                api_key_hash=issuer.api_key_hash,
                created_at=issuer.created_at,
            )
        )
        for key in issuer.keys:
            await self.add_key(issuer.issuer_id, key)

    async def _load(self, row: Row[Any] | None) -> Issuer | None:
        if row is None:
            return None
        keys = (
            await self._s.execute(
                select(t.signing_keys).where(t.signing_keys.c.issuer_id == row.issuer_id)
            )
        ).all()
        return Issuer(
            issuer_id=row.issuer_id,
            did=row.did,
            did_method=DidMethod(row.did_method),
            name=row.name,
            url=row.url,
            email=row.email,
            description=row.description,
            image_url=row.image_url,
            default_format=CredentialFormat(row.default_format),
            default_cryptosuite=Cryptosuite(row.default_cryptosuite),
            suspension_enabled=row.suspension_enabled,
            created_at=_aware(row.created_at),
            api_key_salt=row.api_key_salt,
            api_key_hash=row.api_key_hash,
            keys=[
                SigningKey(
                    number=k.number,
                    verification_method=k.verification_method,
                    public_key_multibase=k.public_key_multibase,
                    encrypted_private_key=k.encrypted_private_key,
                    created_at=_aware(k.created_at),
                    retired_at=_utc(k.retired_at),
                )
                for k in sorted(keys, key=lambda k: k.number)
            ],
        )

    async def get(self, issuer_id: str) -> Issuer | None:
        row = (
            await self._s.execute(select(t.issuers).where(t.issuers.c.issuer_id == issuer_id))
        ).first()
        return await self._load(row)

    async def get_by_did(self, did: str) -> Issuer | None:
        row = (await self._s.execute(select(t.issuers).where(t.issuers.c.did == did))).first()
        return await self._load(row)

    async def add_key(self, issuer_id: str, key: SigningKey) -> None:
        await self._s.execute(
            insert(t.signing_keys).values(
                issuer_id=issuer_id,
                number=key.number,
                verification_method=key.verification_method,
                public_key_multibase=key.public_key_multibase,
                encrypted_private_key=key.encrypted_private_key,
                created_at=key.created_at,
                retired_at=key.retired_at,
            )
        )

    async def retire_key(self, issuer_id: str, number: int, at: datetime) -> None:
        await self._s.execute(
            update(t.signing_keys)
            .where(t.signing_keys.c.issuer_id == issuer_id, t.signing_keys.c.number == number)
            .values(retired_at=at)
        )


class SqlTemplates:
    """``TemplateRepository`` on achievement_templates."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, template: AchievementTemplate) -> None:
        await self._s.execute(
            insert(t.achievement_templates).values(
                template_id=template.template_id,
                issuer_id=template.issuer_id,
                achievement_id=template.achievement.id,
                achievement=achievement_to_json(template.achievement),
                created_at=template.created_at,
            )
        )

    @staticmethod
    def _from(row: Row[Any]) -> AchievementTemplate:
        return AchievementTemplate(
            template_id=row.template_id,
            issuer_id=row.issuer_id,
            achievement=achievement_from_json(row.achievement),
            created_at=_aware(row.created_at),
        )

    async def get(self, issuer_id: str, template_id: str) -> AchievementTemplate | None:
        c = t.achievement_templates.c
        row = (
            await self._s.execute(
                select(t.achievement_templates).where(
                    c.issuer_id == issuer_id, c.template_id == template_id
                )
            )
        ).first()
        return None if row is None else self._from(row)

    async def exists_for_achievement(self, issuer_id: str, achievement_id: str) -> bool:
        c = t.achievement_templates.c
        row = (
            await self._s.execute(
                select(c.template_id).where(
                    c.issuer_id == issuer_id, c.achievement_id == achievement_id
                )
            )
        ).first()
        return row is not None

    async def page(
        self, issuer_id: str, *, after: tuple[datetime, str] | None, limit: int
    ) -> list[AchievementTemplate]:
        c = t.achievement_templates.c
        query = select(t.achievement_templates).where(c.issuer_id == issuer_id)
        if after is not None:
            query = query.where(tuple_(c.created_at, c.template_id) < tuple_(*after))
        query = query.order_by(c.created_at.desc(), c.template_id.desc()).limit(limit)
        return [self._from(r) for r in (await self._s.execute(query)).all()]


def _credential_row(r: CredentialRecord) -> dict[str, Any]:
    return {
        "credential_id": r.credential_id,
        "issuer_id": r.issuer_id,
        "record_id": r.record_id,
        "issuer_did": r.issuer_did,
        "fingerprint": r.fingerprint,
        "subject_did": r.subject.did,
        "subject_email": r.subject.email,
        "subject_name": r.subject.name,
        "kind": r.kind.value,
        "format": r.format.value,
        "cryptosuite": r.cryptosuite.value if r.cryptosuite else None,
        "template_id": r.template_id,
        "achievement_name": r.achievement_name,
        "achievement_type": r.achievement_type,
        "skills": skills_to_json(r.skills),
        "status": r.status.value,
        "status_reason": r.status_reason,
        "status_entries": entries_to_json(r.status_entries),
        "issued_at": r.issued_at,
        "valid_from": r.valid_from,
        "valid_until": r.valid_until,
        "signed_credential": r.signed_credential,
        "media_type": r.media_type,
        "embedded_ids": dumps(list(r.embedded_credential_ids)),
    }


def _credential_from(row: Row[Any], signed: bool = True) -> CredentialRecord:
    m = row._mapping
    return CredentialRecord(
        credential_id=m["credential_id"],
        issuer_id=m["issuer_id"],
        issuer_did=m["issuer_did"],
        record_id=m["record_id"],
        fingerprint=m["fingerprint"],
        subject=Subject(did=m["subject_did"], email=m["subject_email"], name=m["subject_name"]),
        kind=CredentialKind(m["kind"]),
        format=CredentialFormat(m["format"]),
        cryptosuite=Cryptosuite(m["cryptosuite"]) if m["cryptosuite"] else None,
        template_id=m["template_id"],
        achievement_name=m["achievement_name"],
        achievement_type=m["achievement_type"],
        skills=skills_from_json(m["skills"]),
        status=CredentialState(m["status"]),
        status_reason=m["status_reason"],
        status_entries=entries_from_json(m["status_entries"]),
        issued_at=_aware(m["issued_at"]),
        valid_from=_aware(m["valid_from"]),
        valid_until=_utc(m["valid_until"]),
        signed_credential=m["signed_credential"] if signed else b"",
        media_type=m["media_type"],
        embedded_credential_ids=tuple(json.loads(m["embedded_ids"])),
    )


@functools.cache
def _pg_bulk_insert() -> Executable:
    """``INSERT INTO credentials (...) SELECT * FROM unnest(:col1, :col2, ...)``."""
    names = [c.name for c in t.credentials.c]
    arrays = [bindparam(c.name, type_=ARRAY(c.type)) for c in t.credentials.c]
    rows = func.unnest(*arrays).table_valued(*names).render_derived()
    return insert(t.credentials).from_select(names, select(*(rows.c[n] for n in names)))


class SqlCredentials:
    """``CredentialRepository`` on credentials."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add_many(self, records: Sequence[CredentialRecord]) -> None:
        if not records:
            return
        rows = [_credential_row(r) for r in records]
        bind = self._s.bind
        if len(rows) > 1 and bind is not None and bind.dialect.name == "postgresql":
            # one statement with one array parameter per column (INSERT ... SELECT unnest):
            # executemany of a batch costs a dozen bound parameters per row
            columns = {c.name: [row[c.name] for row in rows] for c in t.credentials.c}
            await self._s.execute(_pg_bulk_insert(), columns)
        else:
            await self._s.execute(insert(t.credentials), rows)

    async def get(self, issuer_id: str, credential_id: str) -> CredentialRecord | None:
        c = t.credentials.c
        row = (
            await self._s.execute(
                select(t.credentials).where(
                    c.issuer_id == issuer_id, c.credential_id == credential_id
                )
            )
        ).first()
        return None if row is None else _credential_from(row)

    async def by_record_ids(
        self, issuer_id: str, record_ids: Sequence[str]
    ) -> dict[str, CredentialRecord]:
        c = t.credentials.c
        found: dict[str, CredentialRecord] = {}
        for start in range(0, len(record_ids), 500):
            chunk = list(record_ids[start : start + 500])
            rows = (
                await self._s.execute(
                    select(t.credentials).where(c.issuer_id == issuer_id, c.record_id.in_(chunk))
                )
            ).all()
            for row in rows:
                found[row.record_id] = _credential_from(row)
        return found

    async def page(
        self,
        issuer_id: str,
        flt: CredentialFilter,
        *,
        after: tuple[datetime, str] | None,
        limit: int,
        include_signed: bool,
    ) -> list[CredentialRecord]:
        c = t.credentials.c
        conditions = [c.issuer_id == issuer_id]
        for column, value in (
            (c.subject_did, flt.subject_did),
            (c.subject_email, flt.subject_email),
            (c.template_id, flt.template_id),
            (c.record_id, flt.record_id),
        ):
            if value:
                conditions.append(column == value)
        if flt.status is not None:
            conditions.append(c.status == flt.status.value)
        if flt.issued_after is not None:
            conditions.append(c.issued_at >= flt.issued_after)
        if flt.issued_before is not None:
            conditions.append(c.issued_at < flt.issued_before)
        if after is not None:
            conditions.append(tuple_(c.issued_at, c.credential_id) < tuple_(*after))
        columns = [
            col for col in t.credentials.c if include_signed or col.name != "signed_credential"
        ]
        query = (
            select(*columns)
            .where(and_(*conditions))
            .order_by(c.issued_at.desc(), c.credential_id.desc())
            .limit(limit)
        )
        rows = (await self._s.execute(query)).all()
        return [_credential_from(r, signed=include_signed) for r in rows]

    async def save_status(self, record: CredentialRecord) -> None:
        c = t.credentials.c
        await self._s.execute(
            update(t.credentials)
            .where(c.credential_id == record.credential_id)
            .values(status=record.status.value, status_reason=record.status_reason)
        )

    async def bind_subject(self, record: CredentialRecord) -> None:
        c = t.credentials.c
        await self._s.execute(
            update(t.credentials)
            .where(c.credential_id == record.credential_id)
            .values(subject_did=record.subject.did, signed_credential=record.signed_credential)
        )


class SqlStatusLists:
    """``StatusListRepository`` on status_lists; ``current`` and ``for_update`` lock the row."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    @staticmethod
    def _from(row: Row[Any]) -> StatusListState:
        return StatusListState(
            list_id=row.list_id,
            issuer_id=row.issuer_id,
            purpose=StatusPurpose(row.purpose),
            seq=row.seq,
            url=row.url,
            bits=bytearray(row.bits),
            allocated=bytearray(row.allocated),
            allocated_count=row.allocated_count,
            version=row.version,
            signed_credential=row.signed_credential,
            updated_at=_utc(row.updated_at),
        )

    @staticmethod
    def _values(state: StatusListState) -> dict[str, Any]:
        return {
            "purpose": state.purpose.value,
            "seq": state.seq,
            "url": state.url,
            "bits": bytes(state.bits),
            "allocated": bytes(state.allocated),
            "allocated_count": state.allocated_count,
            "version": state.version,
            "signed_credential": state.signed_credential,
            "updated_at": state.updated_at,
        }

    async def add(self, state: StatusListState) -> None:
        await self._s.execute(
            insert(t.status_lists).values(
                issuer_id=state.issuer_id, list_id=state.list_id, **self._values(state)
            )
        )

    async def current(self, issuer_id: str, purpose: StatusPurpose) -> StatusListState | None:
        c = t.status_lists.c
        # FOR UPDATE serialises allocations of one issuer's list across processes (a no-op on
        # SQLite, whose BEGIN IMMEDIATE already serialises writers)
        row = (
            await self._s.execute(
                select(t.status_lists)
                .where(c.issuer_id == issuer_id, c.purpose == purpose.value)
                .order_by(c.seq.desc())
                .limit(1)
                .with_for_update()
            )
        ).first()
        return None if row is None else self._from(row)

    async def get(
        self, issuer_id: str, list_id: str, *, for_update: bool = False
    ) -> StatusListState | None:
        c = t.status_lists.c
        query = select(t.status_lists).where(c.issuer_id == issuer_id, c.list_id == list_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._s.execute(query)).first()
        return None if row is None else self._from(row)

    async def save(self, state: StatusListState) -> None:
        c = t.status_lists.c
        await self._s.execute(
            update(t.status_lists)
            .where(c.issuer_id == state.issuer_id, c.list_id == state.list_id)
            .values(**self._values(state))
        )


class SqlOffers:
    """``OfferRepository`` on credential_offers."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    @staticmethod
    def _from(row: Row[Any]) -> CredentialOffer:
        return CredentialOffer(
            offer_id=row.offer_id,
            issuer_id=row.issuer_id,
            credential_id=row.credential_id,
            code_hash=row.code_hash,
            tx_code_hash=row.tx_code_hash,
            expires_at=_aware(row.expires_at),
            configuration_id=row.configuration_id,
            token_hash=row.token_hash,
            token_expires_at=_utc(row.token_expires_at),
            c_nonce=row.c_nonce,
            redeemed_at=_utc(row.redeemed_at),
        )

    @staticmethod
    def _values(o: CredentialOffer) -> dict[str, Any]:
        return {
            "issuer_id": o.issuer_id,
            "credential_id": o.credential_id,
            "code_hash": o.code_hash,
            "tx_code_hash": o.tx_code_hash,
            "expires_at": o.expires_at,
            "configuration_id": o.configuration_id,
            "token_hash": o.token_hash,
            "token_expires_at": o.token_expires_at,
            "c_nonce": o.c_nonce,
            "redeemed_at": o.redeemed_at,
        }

    async def add(self, offer: CredentialOffer) -> None:
        await self._s.execute(
            insert(t.credential_offers).values(offer_id=offer.offer_id, **self._values(offer))
        )

    async def _one(self, column: Any, value: str) -> CredentialOffer | None:
        row = (await self._s.execute(select(t.credential_offers).where(column == value))).first()
        return None if row is None else self._from(row)

    async def by_code_hash(self, code_hash: str) -> CredentialOffer | None:
        return await self._one(t.credential_offers.c.code_hash, code_hash)

    async def by_token_hash(self, token_hash: str) -> CredentialOffer | None:
        return await self._one(t.credential_offers.c.token_hash, token_hash)

    async def save(self, offer: CredentialOffer) -> None:
        await self._s.execute(
            update(t.credential_offers)
            .where(t.credential_offers.c.offer_id == offer.offer_id)
            .values(**self._values(offer))
        )


class SqlUnitOfWork:
    """A transaction with the repositories; commits (with outbox rows) on a clean exit.

    With ``session`` given (the Kafka consumer's), it joins that transaction: events go into
    its outbox, and committing is left to the session's owner.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None,
        outbox: OutboxWriter,
        topics: EventTopics,
        *,
        session: AsyncSession | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._topics = topics
        self._joined = session
        self._metrics = metrics
        self._session: AsyncSession | None = None
        self._events: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        """Stage an event for this transaction's outbox."""
        self._events.append(event)

    def _bind(self, session: AsyncSession) -> None:
        self._session = session
        self.issuers = SqlIssuers(session)
        self.templates = SqlTemplates(session)
        self.credentials = SqlCredentials(session)
        self.status_lists = SqlStatusLists(session)
        self.offers = SqlOffers(session)
        self._events = []

    async def __aenter__(self) -> Self:
        if self._joined is not None:
            self._bind(self._joined)
            return self
        if self._sessions is None:  # pragma: no cover - constructor misuse
            raise ValueError("SqlUnitOfWork needs sessions or a session")
        session = self._sessions()
        await session.begin()
        self._bind(session)
        return self

    def take_events(self) -> list[DomainEvent]:
        """Remove and return the staged events (to write them with ``write_events``)."""
        events, self._events = self._events, []
        return events

    async def write_events(self, events: Sequence[DomainEvent]) -> None:
        """Write ``events`` into the outbox now, in this transaction and the current trace
        context (each event's publish span is a child of the current span)."""
        session = self._session
        if session is None or not events:
            return
        by_topic: dict[str, list[tuple[str, Any, str | None]]] = {}
        for topic, key, message in event_records(events, self._topics):
            by_topic.setdefault(topic, []).append((key, message, None))
        for topic, items in by_topic.items():
            await self._outbox.add_many(session, topic, items)
        if self._metrics is not None:  # ler.credentials.issued / .revoked
            self._metrics.increment(
                CREDENTIALS_ISSUED, sum(isinstance(e, CredentialIssued) for e in events)
            )
            self._metrics.increment(
                CREDENTIALS_REVOKED,
                sum(
                    isinstance(e, CredentialStatusChanged) and e.new_state == "revoked"
                    for e in events
                ),
            )

    async def flush_events(self) -> None:
        """Write the staged events into the outbox now (still in the transaction)."""
        await self.write_events(self.take_events())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        if session is None:
            return
        if self._joined is not None:
            if exc_type is None:
                await self.flush_events()
            return
        try:
            if exc_type is None:
                await self.flush_events()
                await session.commit()
            else:
                await session.rollback()
                if isinstance(exc, IntegrityError):
                    # a unique key (issuer, record id) or DID won by a concurrent transaction
                    raise DuplicateRecord("a concurrent transaction stored it first") from exc
        except IntegrityError as err:
            await session.rollback()
            raise DuplicateRecord("a concurrent transaction stored it first") from err
        finally:
            await session.close()
            self._session = None
