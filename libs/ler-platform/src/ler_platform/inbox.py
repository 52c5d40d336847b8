"""Idempotent consumers: each event's effect is applied once (DESIGN.md "Reliability patterns").

For a batch of records, ``IdempotentConsumer`` opens ONE database transaction, inserts an
inbox row ``(consumer_group, event_id)`` per event with ``ON CONFLICT DO NOTHING`` — the
bulk form of "a unique violation means already applied" — and runs the domain handler
only for the events whose row was new, in partition order, in the same transaction. The
runner commits the Kafka offsets only after that transaction committed, so:

* crash before the DB commit: nothing applied, offsets not committed → re-delivered;
* crash after the DB commit, before the offset commit: re-delivered, inbox rows exist →
  skipped. Replays change nothing.

Two members racing on the same event (during a rebalance) serialise on the inbox
primary key; the loser's insert returns no row and it skips the event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from google.protobuf.message import Message
from opentelemetry.trace import Span, SpanKind
from sqlalchemy import String, Table, bindparam, delete, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from ler_platform.events.bus import EventBus
from ler_platform.events.envelope import Event, EventTypeRegistry
from ler_platform.events.records import ConsumedRecord
from ler_platform.events.runner import ConsumerRunner, PoisonMessage, Rejection, RunnerOptions
from ler_platform.tracing import consumer_span, extract_trace_context, sdk_installed, tracer

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, Event[Message]], Awaitable[None]]
"""Applies one event's effect using ``session`` (do not commit: the consumer does)."""

BatchEventHandler = Callable[[AsyncSession, Sequence[Event[Message]]], Awaitable[None]]
"""Applies several new events' effects at once, in order (for bulk statements)."""

_CLAIM_CHUNK = 1000  # rows per INSERT: 2 bind parameters each, far below driver limits


class IdempotentConsumer:
    """Runs a domain handler on a consumer group with inbox deduplication.

    Give either ``handler`` (called per event, inside that event's ``"{topic} process"``
    span) or ``batch_handler`` (called once per batch with the new events).
    """

    def __init__(
        self,
        *,
        bus: EventBus,
        sessions: async_sessionmaker[AsyncSession],
        inbox: Table,
        topics: Sequence[str],
        group_id: str,
        registry: EventTypeRegistry,
        handler: EventHandler | None = None,
        batch_handler: BatchEventHandler | None = None,
        options: RunnerOptions | None = None,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("give exactly one of handler or batch_handler")
        self._sessions = sessions
        self._inbox = inbox
        self._group_id = group_id
        self._registry = registry
        self._handler = handler
        self._batch_handler = batch_handler
        self._runner: ConsumerRunner = bus.subscribe(topics, group_id, self, options)
        self.applied = 0
        self.duplicates = 0

    async def start(self) -> None:
        """Join the group and start consuming."""
        await self._runner.start()

    async def stop(self) -> None:
        """Finish and commit the batch in hand, then leave the group."""
        await self._runner.stop()

    @property
    def runner(self) -> ConsumerRunner:
        """The underlying consumer runner (for its counters)."""
        return self._runner

    async def __call__(self, records: Sequence[ConsumedRecord]) -> Sequence[Rejection]:
        """Apply a batch (the runner's ``BatchHandler`` contract)."""
        rejections: list[Rejection] = []
        decoded: list[tuple[ConsumedRecord, Event[Message]]] = []
        for record in records:
            try:
                decoded.append((record, self._registry.decode(record)))
            except PoisonMessage as err:
                rejections.append(Rejection(record, err))
        if not decoded:
            return rejections
        async with self._sessions() as session, session.begin():
            fresh = await claim_events(
                await session.connection(), self._inbox, self._group_id, [e.id for _, e in decoded]
            )
            todo = []
            for record, ev in decoded:
                if ev.id in fresh:
                    fresh.discard(ev.id)  # the same event twice in one batch: apply once
                    todo.append((record, ev))
            await self._apply(session, todo)
        self.applied += len(todo)
        self.duplicates += len(decoded) - len(todo)
        return rejections

    async def _apply(
        self, session: AsyncSession, todo: list[tuple[ConsumedRecord, Event[Message]]]
    ) -> None:
        if self._handler is not None:
            for record, ev in todo:
                with self._span(record, ev):
                    await self._handler(session, ev)
            return
        if self._batch_handler is not None and todo:
            # one CONSUMER span per event keeps each event's trace; the batch runs after them
            spans = [self._start_span(record, ev) for record, ev in todo] if sdk_installed() else []
            try:
                await self._batch_handler(session, [ev for _, ev in todo])
            finally:
                for span in spans:
                    span.end()

    def _span(self, record: ConsumedRecord, ev: Event[Message]) -> AbstractContextManager[Span]:
        return consumer_span(
            record.topic,
            record.headers,
            partition=record.partition,
            offset=record.offset,
            group_id=self._group_id,
            message_id=ev.id,
        )

    def _start_span(self, record: ConsumedRecord, ev: Event[Message]) -> Span:
        return tracer().start_span(
            f"{record.topic} process",
            context=extract_trace_context(record.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.operation.type": "process",
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.consumer.group.name": self._group_id,
                "messaging.message.id": ev.id,
            },
        )


async def claim_events(
    conn: AsyncConnection, inbox: Table, consumer_group: str, event_ids: Sequence[str]
) -> set[str]:
    """Insert inbox rows for ``event_ids``; return the ids that were not there yet."""
    unique_ids = list(dict.fromkeys(event_ids))
    if not unique_ids:
        return set()
    if conn.dialect.name == "postgresql":
        # one statement, one array parameter, compiled once: INSERT ... SELECT unnest(:ids)
        ids = bindparam("ids", type_=ARRAY(String))
        stmt = (
            pg_insert(inbox)
            .from_select(
                ["consumer_group", "event_id"],
                select(literal(consumer_group, String).label("g"), func.unnest(ids).label("e")),
            )
            .on_conflict_do_nothing(index_elements=["consumer_group", "event_id"])
            .returning(inbox.c.event_id)
        )
        return set((await conn.execute(stmt, {"ids": unique_ids})).scalars())
    fresh: set[str] = set()
    for start in range(0, len(unique_ids), _CLAIM_CHUNK):
        chunk = unique_ids[start : start + _CLAIM_CHUNK]
        stmt = (
            sqlite_insert(inbox)
            .values([{"consumer_group": consumer_group, "event_id": eid} for eid in chunk])
            .on_conflict_do_nothing(index_elements=["consumer_group", "event_id"])
            .returning(inbox.c.event_id)
        )
        fresh.update((await conn.execute(stmt)).scalars())
    return fresh


async def prune_inbox(session: AsyncSession, inbox: Table, older_than: timedelta) -> int:
    """Delete inbox rows older than ``older_than`` (keep it longer than any possible replay)."""
    cutoff = datetime.now().astimezone() - older_than
    result = await session.execute(delete(inbox).where(inbox.c.processed_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
