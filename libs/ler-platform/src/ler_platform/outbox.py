"""Transactional outbox (DESIGN.md "Reliability patterns").

``OutboxWriter.add`` writes an event into the outbox table *in the caller's transaction*,
so the state change and the event announcing it commit or roll back together. It also
opens the ``"{topic} publish"`` span there and stores its ``traceparent``: that is what
the relay publishes, so the consumer joins the trace of the original request.

``OutboxRelay`` publishes committed rows in id order and deletes them in a transaction that
commits only once the broker has acknowledged them (on PostgreSQL the rows are claimed with
``DELETE ... RETURNING``, one round trip). A crash between the ack and the commit publishes
a row again, so delivery is at-least-once; consumers dedupe by event id
(``ler_platform.inbox``).

Several relays may run against one PostgreSQL database: each batch first takes
transaction-scoped advisory locks on the key shards it can get (``pg_try_advisory_xact_lock``),
then reads only those shards' rows ``FOR UPDATE SKIP LOCKED``. Row locks alone would let
two relays publish one key's events concurrently, out of order; shard locks give each key
exactly one publisher at a time. The locks are namespaced per outbox table, so relays of
other services or schemas in the same database never contend. With SQLite run a single
relay per database.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from sqlalchemy import (
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement, Executable, Select
from sqlalchemy.types import TypeEngine

from ler_platform.events.bus import EventBus
from ler_platform.events.envelope import Event, cloud_event_headers, rfc3339
from ler_platform.events.records import OutgoingRecord
from ler_platform.tables import OUTBOX_SHARDS, outbox_shard
from ler_platform.tracing import start_producer_span, tracing_active

if TYPE_CHECKING:
    from ler_platform.metrics import Metrics

log = logging.getLogger(__name__)


def _lock_class(table: Table) -> int:
    """The advisory-lock namespace of one outbox table (a signed 32-bit key).

    PostgreSQL advisory locks are per database, not per table: outboxes of services (or test
    schemas) sharing a database get their own namespace, so their relays never wait on
    each other's shard locks.
    """
    name = f"ler-outbox:{table.schema or ''}.{table.name}".encode()
    value = zlib.crc32(name)
    return value - (1 << 32) if value >= 1 << 31 else value


_NOTIFY_FLAG = "ler_outbox_notify_armed"


class OutboxNotifier:
    """Wakes the relay of this process when a transaction that wrote the outbox commits."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Something was committed to the outbox."""
        self._event.set()

    async def wait(self, at_most: float) -> bool:
        """Return on the next notification (True) or after ``at_most`` seconds (False)."""
        notified = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), at_most)
            notified = True
        self._event.clear()
        return notified


class OutboxWriter:
    """Adds events to the outbox inside the caller's unit of work."""

    def __init__(
        self, table: Table, *, source: str, notifier: OutboxNotifier | None = None
    ) -> None:
        self._table = table
        self._source = source
        self._notifier = notifier

    async def add(
        self,
        session: AsyncSession,
        topic: str,
        key: str,
        message: Message,
        *,
        subject: str | None = None,
    ) -> Event[Message]:
        """Stage one event; it is published only if ``session``'s transaction commits."""
        events = await self.add_many(session, topic, [(key, message, subject)])
        return events[0]

    async def add_many(
        self,
        session: AsyncSession,
        topic: str,
        items: Sequence[tuple[str, Message, str | None]],
    ) -> list[Event[Message]]:
        """Stage several ``(key, message, subject)`` events with one INSERT."""
        events: list[Event[Message]] = []
        rows: list[dict[str, Any]] = []
        # one check for the whole batch: all its events are staged in the same context
        traced = tracing_active()
        for key, message, subject in items:
            trace_headers: list[tuple[str, bytes]] = []
            if traced:
                # the publish span is opened here, in the request's context: the relay later
                # sends this traceparent, so the consumer continues the request's trace
                start_producer_span(topic, trace_headers, key=key).end()
            ev = Event(
                key=key,
                message=message,
                source=self._source,
                subject=subject,
                trace_headers=tuple(trace_headers),
            )
            events.append(ev)
            trace = dict(trace_headers)
            rows.append(
                {
                    "event_id": ev.id,
                    "topic": topic,
                    "key": key,
                    "shard": outbox_shard(key),
                    "payload": message.SerializeToString(),
                    "ce_type": ev.type,
                    "ce_source": ev.source,
                    "ce_subject": subject,
                    "ce_time": rfc3339(ev.time),
                    "traceparent": _text(trace.get("traceparent")),
                    "tracestate": _text(trace.get("tracestate")),
                }
            )
        if rows:
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                await session.execute(self._pg_insert, _columns(rows))
            else:
                await session.execute(insert(self._table), rows)
            self._arm_notification(session)
        return events

    @functools.cached_property
    def _pg_insert(self) -> Executable:
        # INSERT ... SELECT FROM unnest(<one array per column>): one statement with a fixed
        # set of parameters however many rows, instead of a dozen bound parameters per row
        arrays = [bindparam(name, type_=ARRAY(type_)) for name, type_ in _PG_ARRAY_TYPES]
        names = [name for name, _ in _PG_ARRAY_TYPES]
        rows = func.unnest(*arrays).table_valued(*names).render_derived()
        return insert(self._table).from_select(names, select(*(rows.c[name] for name in names)))

    def _arm_notification(self, session: AsyncSession) -> None:
        notifier = self._notifier
        if notifier is None or session.info.get(_NOTIFY_FLAG):
            return
        session.info[_NOTIFY_FLAG] = True

        def after_commit(sync_session: Session) -> None:
            sync_session.info.pop(_NOTIFY_FLAG, None)
            notifier.notify()

        event.listen(session.sync_session, "after_commit", after_commit, once=True)


_PG_ARRAY_TYPES: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("event_id", String()),
    ("topic", String()),
    ("key", Text()),
    ("shard", SmallInteger()),
    ("payload", LargeBinary()),
    ("ce_type", String()),
    ("ce_source", Text()),
    ("ce_subject", Text()),
    ("ce_time", String()),
    ("traceparent", String()),
    ("tracestate", Text()),
)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name, _ in _PG_ARRAY_TYPES}


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


class OutboxRelay:
    """Publishes committed outbox rows to the bus, in order per key, then deletes them."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        bus: EventBus,
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.5,
        notifier: OutboxNotifier | None = None,
        max_backoff: float = 10.0,
        workers: int = 2,
        metrics: Metrics | None = None,
        linger: float = 0.0,
    ) -> None:
        self._engine = engine
        self._linger = linger
        self._metrics = metrics
        self._table = table
        self._bus = bus
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._notifier = notifier or OutboxNotifier()
        self._max_backoff = max_backoff
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._postgres = engine.dialect.name == "postgresql"
        # Workers overlap one batch's broker round trip with another's database work; the
        # shard locks keep their keys apart. SQLite has no such locks: one worker only.
        self._workers = max(1, workers) if self._postgres else 1
        # Lock up to half of the shards that have pending rows, in random order, so that
        # concurrent relays share the work while each shard has one publisher at a time.
        # Only the oldest rows are looked at, which bounds the cost when a backlog builds up.
        self._shard_query = text(
            "SELECT s FROM (SELECT s FROM (SELECT DISTINCT shard AS s FROM"
            f" (SELECT shard FROM {engine.dialect.identifier_preparer.format_table(table)}"
            " ORDER BY id LIMIT :scan) AS oldest) AS pending ORDER BY random()) AS shuffled"
            " WHERE pg_try_advisory_xact_lock(:cls, s) LIMIT :take"
        )
        self._shard_params = {
            "scan": 4 * batch_size,
            "cls": _lock_class(table),
            "take": max(1, OUTBOX_SHARDS // 2),
        }
        self.published = 0

    async def start(self) -> None:
        """Start relaying in background tasks (``workers`` of them on PostgreSQL)."""
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"outbox-relay-{n}") for n in range(self._workers)
        ]

    async def stop(self) -> None:
        """Finish the batches in hand, then stop."""
        self._stopping.set()
        self._notifier.notify()
        tasks, self._tasks = self._tasks, []
        if tasks:
            await asyncio.gather(*tasks)

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                sent = await self.relay_once()
            except Exception:  # keep relaying through database and broker outages
                log.exception("outbox relay batch failed; retrying in %.1fs", backoff)
                await self._notifier.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.1
            # On PostgreSQL a short batch does not mean the outbox is empty (other shards,
            # other relays): only an empty one lets the relay idle. On SQLite this relay is
            # the only one and reads the whole table, so a short batch drained it; a commit
            # made meanwhile has set the notifier, and the wait returns at once.
            if sent == 0 or (not self._postgres and sent < self._batch_size):
                woken = await self._notifier.wait(self._poll_interval)
                if woken and self._linger and not self._stopping.is_set():
                    # Caught up, then woken by a commit: give the commits that follow within
                    # ``linger`` the same claim. Under a stream of small transactions (one
                    # event per request) this makes one claim transaction per burst instead
                    # of one per commit, which on SQLite costs as much CPU as the request.
                    await asyncio.sleep(self._linger)

    async def relay_once(self) -> int:
        """Publish and delete up to one batch; return how many rows were published."""
        table = self._table
        oldest = select(table.c.id).order_by(table.c.id).limit(self._batch_size)
        params: dict[str, Any] = {}
        async with self._engine.begin() as conn:
            if self._postgres:
                # shard locks first (see __init__), then only those shards' rows
                shards = (await conn.execute(self._shard_query, self._shard_params)).scalars().all()
                if not shards:
                    return 0
                oldest = oldest.where(
                    table.c.shard == any_(bindparam("shards", type_=ARRAY(SmallInteger)))
                ).with_for_update(skip_locked=True)
                params["shards"] = list(shards)
            # Claim and delete in one round trip: DELETE ... RETURNING the oldest rows (of our
            # shards). The deletion commits only after the broker acknowledged every row
            # (below); a failed publish or a crash rolls it back, so the rows stay. SQLite
            # has RETURNING since 3.35 and its BEGIN IMMEDIATE keeps other writers out.
            claim = delete(table).where(self._claimed(oldest)).returning(*self._columns)
            rows = (await conn.execute(claim, params)).all()
            if not rows:
                return 0
            # RETURNING order is unspecified: restore id order (per-key publish order)
            rows.sort(key=_row_id)
            await self._bus.publish_batch([_to_record(row) for row in rows])
        self.published += len(rows)
        if self._metrics is not None:
            for topic, count in collections.Counter(row[2] for row in rows).items():
                self._metrics.outbox_published.labels(topic).inc(count)
        return len(rows)

    def _claimed(self, oldest: Select[Any]) -> ColumnElement[bool]:
        """``id`` among the claimed rows. On PostgreSQL ``id = ANY(ARRAY(subquery))``: the
        rows are then found by primary key, whereas ``id IN (subquery)`` is planned as a hash
        semi-join over a sequential scan of the whole table, dead rows included, which makes
        every claim cost as much as the table is large (measured: 12 vs 6 ms for 1,000 of
        20,000 rows, growing with the backlog and the bloat of a busy outbox)."""
        if self._postgres:
            return self._table.c.id == any_(func.array(oldest.scalar_subquery()))
        return self._table.c.id.in_(oldest)

    @functools.cached_property
    def _columns(self) -> tuple[Any, ...]:
        # the order _to_record unpacks
        c = self._table.c
        return (
            c.id,
            c.event_id,
            c.topic,
            c.key,
            c.payload,
            c.ce_type,
            c.ce_source,
            c.ce_subject,
            c.ce_time,
            c.traceparent,
            c.tracestate,
        )

    async def backlog(self) -> int:
        """How many committed rows wait to be published (``SELECT count(*)``)."""
        async with self._engine.connect() as conn:
            count = await conn.execute(select(func.count()).select_from(self._table))
            return int(count.scalar_one())


def _row_id(row: Any) -> int:
    return int(row[0])


def _to_record(row: Any) -> OutgoingRecord:  # a Row of OutboxRelay._columns
    # positional unpacking: attribute access on a Row costs more than the rest of this
    _id, event_id, topic, key, payload, ce_type, source, subject, time, parent, state = row
    headers = cloud_event_headers(event_id, ce_type, source, time, subject, parent, state)
    return OutgoingRecord(topic, key.encode(), payload, tuple(headers))
