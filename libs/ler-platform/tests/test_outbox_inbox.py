"""Transactional outbox and idempotent consumer on SQLite and (marked real) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from google.protobuf import struct_pb2, wrappers_pb2
from ler_platform.db import session_factory
from ler_platform.events import Event, EventTypeRegistry, OutgoingRecord, RunnerOptions, dlq_topic
from ler_platform.events.inprocess import InProcessBus
from ler_platform.inbox import IdempotentConsumer
from ler_platform.outbox import OutboxNotifier, OutboxRelay, OutboxWriter
from ler_platform.tracing import tracer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from platform_helpers import Database, drain, poll_until, read_records, unique
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:  # type: ignore[override]
    instance = InProcessBus(partitions=3)
    await instance.start()
    yield instance
    await instance.stop()


async def _count(db: Database, table_name: str) -> int:
    table = db.metadata.tables[
        f"{db.metadata.schema}.{table_name}" if db.metadata.schema else table_name
    ]
    async with db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_outbox_publishes_only_committed_events_in_order_per_key(
    database: Database, bus: InProcessBus
) -> None:
    topic = unique("outbox")
    sessions = session_factory(database.engine)
    notifier = OutboxNotifier()
    writer = OutboxWriter(database.outbox, source="urn:test", notifier=notifier)
    async with sessions() as session, session.begin():
        await writer.add(session, topic, "rolled-back", wrappers_pb2.StringValue(value="never"))
        await session.rollback()
    for i in range(30):
        async with sessions() as session, session.begin():
            await writer.add(session, topic, f"agg-{i % 3}", wrappers_pb2.StringValue(value=str(i)))
    # a relay with a long poll interval: only the commit notification can wake it in time
    relay = OutboxRelay(
        database.engine, database.outbox, bus, batch_size=7, poll_interval=60, notifier=notifier
    )
    consumer = bus.consumer([topic], unique("g"), max_records=100)
    await consumer.start()
    await relay.start()
    try:
        got = await drain(consumer, 30, within=10)
        async with sessions() as session, session.begin():
            await writer.add(session, topic, "agg-0", wrappers_pb2.StringValue(value="30"))
        got += await drain(consumer, 1, within=10)
    finally:
        await relay.stop()
        await consumer.stop()
    registry = EventTypeRegistry([wrappers_pb2.StringValue])
    per_key: dict[str, list[int]] = defaultdict(list)
    for record in got:
        event = registry.decode(record)
        per_key[event.key].append(int(event.message.value))
    expected = {f"agg-{k}": list(range(k, 30, 3)) for k in range(3)}
    expected["agg-0"].append(30)
    assert per_key == expected
    assert relay.published == 31
    assert await _count(database, "ler_outbox") == 0


async def test_relay_wakes_on_commit_notification(database: Database, bus: InProcessBus) -> None:
    topic = unique("wake")
    notifier = OutboxNotifier()
    writer = OutboxWriter(database.outbox, source="urn:test", notifier=notifier)
    relay = OutboxRelay(database.engine, database.outbox, bus, poll_interval=60, notifier=notifier)
    consumer = bus.consumer([topic], unique("g"), max_records=10)
    await consumer.start()
    await relay.start()
    try:
        await asyncio.sleep(0.2)  # the relay is now idle, waiting up to 60 s
        async with session_factory(database.engine)() as session, session.begin():
            await writer.add(session, topic, "k", wrappers_pb2.StringValue(value="v"))
        loop = asyncio.get_running_loop()
        started = loop.time()
        batches = await poll_until(
            lambda: consumer.getmany(timeout_ms=100, max_records=10),
            bool,
            within=5,
            what="the event",
        )
        assert loop.time() - started < 5
        assert sum(len(b) for b in batches.values()) == 1
    finally:
        await relay.stop()
        await consumer.stop()


async def test_outbox_captures_the_request_trace(
    database: Database, bus: InProcessBus, spans: InMemorySpanExporter
) -> None:
    topic = unique("traced")
    writer = OutboxWriter(database.outbox, source="urn:test")
    with tracer().start_as_current_span("grpc request") as request:
        async with session_factory(database.engine)() as session, session.begin():
            await writer.add(session, topic, "k", wrappers_pb2.StringValue(value="v"))
    relay = OutboxRelay(database.engine, database.outbox, bus)
    assert await relay.relay_once() == 1
    [record] = await read_records(bus, [topic], unique("g"), 1)
    traceparent = (record.header("traceparent") or b"").decode()
    assert traceparent.split("-")[1] == format(request.get_span_context().trace_id, "032x")


def _consumer(
    db: Database,
    bus: InProcessBus,
    topic: str,
    group: str,
    applied: list[str],
    *,
    fail_on: str = "",
) -> IdempotentConsumer:
    async def handler(session: AsyncSession, event: Event) -> None:  # type: ignore[type-arg]
        value = event.message.value
        if value == fail_on:
            raise ValueError(f"cannot apply {value}")
        await session.execute(
            insert(db.effects).values(event_id=event.id, key=event.key, value=value)
        )
        applied.append(value)

    return IdempotentConsumer(
        bus=bus,
        sessions=session_factory(db.engine),
        inbox=db.inbox,
        topics=[topic],
        group_id=group,
        registry=EventTypeRegistry([wrappers_pb2.StringValue]),
        handler=handler,
        options=RunnerOptions(max_retries=1, backoff_seconds=0.01, max_message_bytes=2048),
    )


async def test_idempotent_consumer_applies_replayed_events_once(
    database: Database, bus: InProcessBus
) -> None:
    topic, group = unique("idem"), unique("g")
    events = [
        Event(key=f"k{i % 2}", message=wrappers_pb2.StringValue(value=f"v{i}"), source="urn:t")
        for i in range(10)
    ]
    records = [e.to_record(topic) for e in events]
    # every event published twice (a relay crashed after the ack, before deleting its rows)
    await bus.publish_batch(records + records[:5])
    applied: list[str] = []
    consumer = _consumer(database, bus, topic, group, applied)
    await consumer.start()
    try:
        await poll_until(
            lambda: _count(database, "test_effects"), lambda n: n >= 10, within=10, what="effects"
        )
        await poll_until(
            lambda: asyncio.sleep(0, consumer.applied + consumer.duplicates),
            lambda n: n >= 15,
            within=10,
            what="all records",
        )
    finally:
        await consumer.stop()
    # a new member of the group after its offsets were lost: every record is re-delivered
    await bus.publish_batch(records)
    consumer2 = _consumer(database, bus, topic, group, applied)
    await consumer2.start()
    try:
        await poll_until(
            lambda: asyncio.sleep(0, consumer2.duplicates),
            lambda n: n >= 10,
            within=10,
            what="replay",
        )
    finally:
        await consumer2.stop()
    assert sorted(applied) == sorted(f"v{i}" for i in range(10))
    assert await _count(database, "test_effects") == 10
    assert await _count(database, "ler_inbox") == 10


async def test_failed_handler_rolls_back_then_dead_letters_and_poison_skips_retries(
    database: Database, bus: InProcessBus
) -> None:
    topic, group = unique("poison"), unique("g")
    good = [
        Event(key="k", message=wrappers_pb2.StringValue(value=f"v{i}"), source="urn:t")
        for i in range(3)
    ]
    failing = Event(key="k", message=wrappers_pb2.StringValue(value="boom"), source="urn:t")
    unknown = Event(key="k", message=struct_pb2.Struct(), source="urn:t")
    garbage = good[0].to_record(topic)
    await bus.publish_batch(
        [
            good[0].to_record(topic),
            failing.to_record(topic),
            OutgoingRecord(topic, b"k", b"\xff\xff\xff\xff", tuple(garbage.headers)),
            unknown.to_record(topic),
            OutgoingRecord(
                topic,
                b"k",
                b"\x0a" + b"\x7f" + b"x" * 3000,
                tuple(good[1].to_record(topic).headers),
            ),
            good[1].to_record(topic),
            good[2].to_record(topic),
        ]
    )
    applied: list[str] = []
    consumer = _consumer(database, bus, topic, group, applied, fail_on="boom")
    await consumer.start()
    try:
        dead = await read_records(bus, [dlq_topic(topic)], unique("dlq"), 4, within=20)
        await poll_until(
            lambda: _count(database, "test_effects"), lambda n: n >= 3, within=10, what="effects"
        )
    finally:
        await consumer.stop()
    # v0 was applied in the batch that "boom" rolled back, then again alone: committed once
    async with database.engine.connect() as conn:
        effects = sorted((await conn.execute(select(database.effects.c.value))).scalars())
    assert effects == ["v0", "v1", "v2"]
    reasons = {r.header("ler_error_type"): (r.header("ler_error") or b"").decode() for r in dead}
    assert set(reasons) == {b"ValueError", b"undecodable", b"unknown_type", b"message_too_large"}
    assert "cannot apply boom" in reasons[b"ValueError"]
    assert "google.protobuf.Struct" in reasons[b"unknown_type"]
    assert "not a valid google.protobuf.StringValue" in reasons[b"undecodable"]
    # the failing event left no inbox row: its transaction rolled back
    async with database.engine.connect() as conn:
        ids = set((await conn.execute(select(database.inbox.c.event_id))).scalars())
    assert failing.id not in ids and {g.id for g in good} <= ids
