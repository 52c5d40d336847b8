"""SQLAlchemy repositories and the unit of work (outbox written in the same commit)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ler_platform.outbox import OutboxWriter
from ler_platform.unit_of_work import OutboxItem
from ler_platform.unit_of_work import SqlUnitOfWork as PlatformUnitOfWork
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ler_intake import tables as t
from ler_intake.adapters.codec import dump, load_as
from ler_intake.adapters.proto import event_message
from ler_intake.adapters.secrets import SecretBox
from ler_intake.domain.application import Application, ApplicationState
from ler_intake.domain.errors import DomainTaken
from ler_intake.domain.events import DomainEvent
from ler_intake.domain.model import Opportunity, Provider
from ler_intake.service_layer.unit_of_work import (
    ApplicationRepository,
    ChallengeLedger,
    Change,
    ChangeFeed,
    Delivery,
    OpportunityRepository,
    ProviderRepository,
    WebhookQueue,
)


def _utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes: they were written in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class SqlProviders:
    """``ProviderRepository`` on SQLAlchemy. The webhook secret is stored sealed under the KEK
    (``webhook_secret_sealed``); a row from before migration 0003 keeps it in the plain
    column until ``seal_plaintext_secrets`` runs at start-up."""

    def __init__(self, session: AsyncSession, box: SecretBox) -> None:
        self._s = session
        self._box = box

    async def add(self, p: Provider) -> None:
        if (
            await self._s.execute(
                select(t.providers.c.provider_id).where(t.providers.c.domain == p.domain)
            )
        ).first():
            raise DomainTaken(p.domain)
        doc = dump(p)
        doc.pop("api_key_hash")
        doc.pop("webhook_secret")
        try:
            async with self._s.begin_nested():
                await self._s.execute(
                    insert(t.providers).values(
                        provider_id=p.provider_id,
                        domain=p.domain,
                        api_key_hash=p.api_key_hash,
                        webhook_secret="",
                        webhook_secret_sealed=self._box.seal(p.webhook_secret)
                        if p.webhook_secret
                        else None,
                        created_at=p.created_at,
                        doc=doc,
                    )
                )
        except IntegrityError as err:  # a concurrent registration of the same domain
            raise DomainTaken(p.domain) from err

    def _provider(self, row: Any) -> Provider:
        sealed = row.webhook_secret_sealed
        secret = self._box.open(sealed) if sealed is not None else row.webhook_secret
        doc = dict(row.doc, api_key_hash=row.api_key_hash, webhook_secret=secret)
        return load_as(Provider, doc)

    async def get(self, provider_id: str) -> Provider | None:
        row = (
            await self._s.execute(
                select(t.providers).where(t.providers.c.provider_id == provider_id)
            )
        ).first()
        return self._provider(row) if row else None

    async def by_api_key_hash(self, key_hash: str) -> Provider | None:
        row = (
            await self._s.execute(select(t.providers).where(t.providers.c.api_key_hash == key_hash))
        ).first()
        return self._provider(row) if row else None


class SqlOpportunities:
    """``OpportunityRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def _by_key(self, provider_id: str, key: str) -> Opportunity | None:
        row = (
            await self._s.execute(
                select(t.opportunities.c.doc).where(
                    t.opportunities.c.provider_id == provider_id,
                    t.opportunities.c.idempotency_key == key,
                )
            )
        ).first()
        return load_as(Opportunity, row.doc) if row else None

    async def add(self, o: Opportunity, idempotency_key: str) -> Opportunity:
        earlier = await self._by_key(o.provider_id, idempotency_key)
        if earlier is not None:
            return earlier
        try:
            async with self._s.begin_nested():
                await self._s.execute(
                    insert(t.opportunities).values(
                        opportunity_id=o.opportunity_id,
                        provider_id=o.provider_id,
                        idempotency_key=idempotency_key,
                        created_at=o.created_at,
                        doc=dump(o),
                    )
                )
        except IntegrityError:  # a concurrent retry with the same key won
            twin = await self._by_key(o.provider_id, idempotency_key)
            if twin is None:
                raise
            return twin
        return o

    async def get(self, opportunity_id: str) -> Opportunity | None:
        row = (
            await self._s.execute(
                select(t.opportunities.c.doc).where(
                    t.opportunities.c.opportunity_id == opportunity_id
                )
            )
        ).first()
        return load_as(Opportunity, row.doc) if row else None

    async def list(self, provider_id: str | None) -> list[Opportunity]:
        query = select(t.opportunities.c.doc).order_by(
            t.opportunities.c.created_at.desc(), t.opportunities.c.opportunity_id
        )
        if provider_id is not None:
            query = query.where(t.opportunities.c.provider_id == provider_id)
        return [load_as(Opportunity, r.doc) for r in await self._s.execute(query)]


def _next_verify_at(a: Application) -> datetime | None:
    """The schedule column: only SUBMITTED applications wait for the re-verifier."""
    return a.next_verify_at if a.state is ApplicationState.SUBMITTED else None


class SqlApplications:
    """``ApplicationRepository`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, a: Application) -> Application:
        try:
            async with self._s.begin_nested():
                await self._s.execute(
                    insert(t.applications).values(
                        application_id=a.application_id,
                        opportunity_id=a.opportunity_id,
                        provider_id=a.provider_id,
                        idempotency_key=a.idempotency_key,
                        state=a.state.value,
                        score=a.match.score if a.match else None,
                        submitted_at=a.submitted_at,
                        next_verify_at=_next_verify_at(a),
                        doc=dump(a),
                    )
                )
                await self._index_credentials(a)
        except IntegrityError:  # the same (opportunity, key) was inserted concurrently
            twin = await self.by_key(a.opportunity_id, a.idempotency_key)
            if twin is None:
                raise
            return twin
        return a

    async def _index_credentials(self, a: Application) -> None:
        await self._s.execute(
            delete(t.application_credentials).where(
                t.application_credentials.c.application_id == a.application_id
            )
        )
        ids = sorted({e.credential_id for e in a.evidence if e.credential_id})
        if ids:
            await self._s.execute(
                insert(t.application_credentials),
                [{"application_id": a.application_id, "credential_id": c} for c in ids],
            )

    async def get(self, application_id: str) -> Application | None:
        row = (
            await self._s.execute(
                select(t.applications.c.doc).where(
                    t.applications.c.application_id == application_id
                )
            )
        ).first()
        return load_as(Application, row.doc) if row else None

    async def by_key(self, opportunity_id: str, idempotency_key: str) -> Application | None:
        row = (
            await self._s.execute(
                select(t.applications.c.doc).where(
                    t.applications.c.opportunity_id == opportunity_id,
                    t.applications.c.idempotency_key == idempotency_key,
                )
            )
        ).first()
        return load_as(Application, row.doc) if row else None

    async def save(self, a: Application) -> None:
        await self._s.execute(
            update(t.applications)
            .where(t.applications.c.application_id == a.application_id)
            .values(
                state=a.state.value,
                score=a.match.score if a.match else None,
                next_verify_at=_next_verify_at(a),
                doc=dump(a),
            )
        )
        await self._index_credentials(a)

    async def for_opportunity(
        self, opportunity_id: str, state: ApplicationState | None
    ) -> list[Application]:
        query = select(t.applications.c.doc).where(
            t.applications.c.opportunity_id == opportunity_id
        )
        if state is not None:
            query = query.where(t.applications.c.state == state.value)
        return [load_as(Application, r.doc) for r in await self._s.execute(query)]

    async def due_for_verification(self, now: datetime, limit: int) -> list[Application]:
        a = t.applications.c
        query = (
            select(a.doc)
            .where(
                a.state == ApplicationState.SUBMITTED.value,
                or_(a.next_verify_at.is_(None), a.next_verify_at <= now),
            )
            .order_by(a.submitted_at)
            .limit(limit)
        )
        if self._s.bind.dialect.name == "postgresql":
            # several replicas may run the re-verifier: each claims different rows
            query = query.with_for_update(skip_locked=True)
        return [load_as(Application, r.doc) for r in await self._s.execute(query)]

    async def with_credential(self, credential_id: str) -> list[Application]:
        ac = t.application_credentials
        rows = await self._s.execute(
            select(t.applications.c.doc)
            .join(ac, ac.c.application_id == t.applications.c.application_id)
            .where(ac.c.credential_id == credential_id)
        )
        return [load_as(Application, r.doc) for r in rows]


class SqlChanges:
    """``ChangeFeed`` on SQLAlchemy (``seq`` is the resume point)."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(
        self, provider_id: str, opportunity_id: str, application_id: str, change: str, at: datetime
    ) -> None:
        await self._s.execute(
            insert(t.application_changes).values(
                provider_id=provider_id,
                opportunity_id=opportunity_id,
                application_id=application_id,
                change=change,
                changed_at=at,
            )
        )

    async def after(self, provider_id: str, seq: int, limit: int) -> list[Change]:
        c = t.application_changes.c
        rows = await self._s.execute(
            select(t.application_changes)
            .where(c.provider_id == provider_id, c.seq > seq)
            .order_by(c.seq)
            .limit(limit)
        )
        return [
            Change(
                r.seq,
                r.provider_id,
                r.opportunity_id,
                r.application_id,
                r.change,
                _utc(r.changed_at),
            )
            for r in rows
        ]

    async def last_seq(self) -> int:
        row = (
            await self._s.execute(
                select(t.application_changes.c.seq)
                .order_by(t.application_changes.c.seq.desc())
                .limit(1)
            )
        ).first()
        return int(row.seq) if row else 0


class SqlWebhooks:
    """``WebhookQueue`` on SQLAlchemy."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def enqueue(self, provider_id: str, event_type: str, body: bytes, at: datetime) -> None:
        await self._s.execute(
            insert(t.webhook_deliveries).values(
                delivery_id=f"whd_{uuid.uuid4().hex}",
                provider_id=provider_id,
                event_type=event_type,
                body=body,
                attempts=0,
                next_attempt_at=at,
                outcome="pending",
                last_error="",
            )
        )

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        c = t.webhook_deliveries.c
        query = (
            select(t.webhook_deliveries)
            .where(c.done_at.is_(None), c.next_attempt_at <= now)
            .order_by(c.next_attempt_at)
            .limit(limit)
        )
        if self._s.bind.dialect.name == "postgresql":
            # several replicas may run the sender: each takes different rows
            query = query.with_for_update(skip_locked=True)
        return [
            Delivery(
                r.delivery_id,
                r.provider_id,
                r.event_type,
                bytes(r.body),
                r.attempts,
                _utc(r.next_attempt_at),
            )
            for r in await self._s.execute(query)
        ]

    async def lease(self, delivery_id: str, until: datetime) -> None:
        c = t.webhook_deliveries.c
        await self._s.execute(
            update(t.webhook_deliveries)
            .where(c.delivery_id == delivery_id)
            .values(next_attempt_at=until)
        )

    async def delivered(self, delivery_id: str, at: datetime) -> None:
        await self._s.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.delivery_id == delivery_id)
            .values(done_at=at, outcome="delivered", attempts=t.webhook_deliveries.c.attempts + 1)
        )

    async def retry_later(self, delivery_id: str, attempts: int, at: datetime, error: str) -> None:
        await self._s.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.delivery_id == delivery_id)
            .values(attempts=attempts, next_attempt_at=at, last_error=error[:500])
        )

    async def give_up(self, delivery_id: str, attempts: int, error: str) -> None:
        await self._s.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.delivery_id == delivery_id)
            .values(
                attempts=attempts,
                done_at=datetime.now(UTC),
                outcome="failed",
                last_error=error[:500],
            )
        )


class SqlChallenges:
    """``ChallengeLedger`` on SQLAlchemy."""

    # expired challenges are kept a while (a late submission still gets the precise check)
    KEEP = timedelta(days=1)

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def record(self, challenge: str, opportunity_id: str, expires_at: datetime) -> None:
        c = t.application_challenges.c
        await self._s.execute(
            delete(t.application_challenges).where(c.expires_at < expires_at - self.KEEP)
        )
        await self._s.execute(
            insert(t.application_challenges).values(
                challenge=challenge, opportunity_id=opportunity_id, expires_at=expires_at
            )
        )

    async def opportunity_of(self, challenge: str) -> str | None:
        c = t.application_challenges.c
        found = (
            await self._s.execute(select(c.opportunity_id).where(c.challenge == challenge))
        ).scalar_one_or_none()
        return str(found) if found is not None else None


class SqlUnitOfWork(PlatformUnitOfWork[DomainEvent]):
    """One transaction of intake's repositories (see ``ler_platform.unit_of_work``)."""

    providers: ProviderRepository
    opportunities: OpportunityRepository
    applications: ApplicationRepository
    changes: ChangeFeed
    webhooks: WebhookQueue
    challenges: ChallengeLedger

    def __init__(
        self,
        outbox: OutboxWriter,
        topic: str,
        *,
        box: SecretBox,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        super().__init__(outbox, topic, sessions=sessions, session=session)
        self._box = box

    def _bind(self, session: AsyncSession) -> None:
        self._session = session
        self.providers = SqlProviders(session, self._box)
        self.opportunities = SqlOpportunities(session)
        self.applications = SqlApplications(session)
        self.changes = SqlChanges(session)
        self.webhooks = SqlWebhooks(session)
        self.challenges = SqlChallenges(session)

    def _outbox_items(self, events: Sequence[DomainEvent]) -> list[OutboxItem]:
        # keyed by application id: one application's events stay in order (DESIGN.md)
        return [(e.application_id, event_message(e), e.application_id) for e in events]


async def seal_plaintext_secrets(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> int:
    """Seal the webhook secrets still stored in plain text (rows from before migration 0003)
    and empty their plain column, in one transaction; returns how many. Idempotent."""
    p = t.providers.c
    async with sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(p.provider_id, p.webhook_secret).where(
                    p.webhook_secret_sealed.is_(None), p.webhook_secret != ""
                )
            )
        ).all()
        for row in rows:
            await session.execute(
                update(t.providers)
                .where(p.provider_id == row.provider_id)
                .values(webhook_secret="", webhook_secret_sealed=box.seal(row.webhook_secret))
            )
    return len(rows)
