"""Outbox, Kafka and idempotent consumers together on the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import struct_pb2, wrappers_pb2
from ler_platform.db import create_engine, session_factory
from ler_platform.events import (
    Event,
    EventBus,
    EventTypeRegistry,
    OutgoingRecord,
    RunnerOptions,
    dlq_topic,
)
from ler_platform.events.kafka import KafkaBus
from ler_platform.events.records import BusError
from ler_platform.inbox import IdempotentConsumer
from ler_platform.outbox import OutboxRelay, OutboxWriter
from ler_platform.tracing import tracer
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from platform_helpers import Database, infra, new_database, poll_until, read_records, unique
from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = [pytest.mark.real, pytest.mark.timeout(180)]


@pytest.fixture
async def pg() -> AsyncIterator[Database]:
    engine = create_engine(infra().pg_url(), pool_size=6)
    schema = unique("it")
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = new_database(engine, schema)
    await db.create_all()
    try:
        yield db
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()


@pytest.fixture
async def kafka() -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(infra().kafka, client_id="ler-it", topic_partitions=3, max_message_bytes=2048)
    await bus.start()
    yield bus
    await bus.stop()


def _consumer(db: Database, bus: EventBus, topic: str, group: str) -> IdempotentConsumer:
    async def apply(session: AsyncSession, event: Event) -> None:  # type: ignore[type-arg]
        await session.execute(
            insert(db.effects).values(event_id=event.id, key=event.key, value=event.message.value)
        )

    return IdempotentConsumer(
        bus=bus,
        sessions=session_factory(db.engine),
        inbox=db.inbox,
        topics=[topic],
        group_id=group,
        registry=EventTypeRegistry([wrappers_pb2.StringValue]),
        handler=apply,
        options=RunnerOptions(max_retries=1, backoff_seconds=0.01, max_message_bytes=2048),
    )


async def _effects(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return list(
            (await conn.execute(select(db.effects.c.value).order_by(db.effects.c.value))).scalars()
        )


async def test_poison_messages_go_to_the_dlq_while_the_partition_flows(
    pg: Database, kafka: KafkaBus
) -> None:
    topic, group = unique("poison"), unique("g")
    await kafka.ensure_topics([topic, dlq_topic(topic)])
    headers_of = lambda e: tuple(e.to_record(topic).headers)  # noqa: E731
    before = Event(key="same", message=wrappers_pb2.StringValue(value="before"), source="urn:t")
    after = [
        Event(key="same", message=wrappers_pb2.StringValue(value=f"after-{i}"), source="urn:t")
        for i in range(3)
    ]
    unknown = Event(key="same", message=struct_pb2.Struct(), source="urn:t")
    await kafka.publish_batch(
        [
            before.to_record(topic),
            OutgoingRecord(topic, b"same", b"\xff\xfe garbage \x00\x01", headers_of(after[0])),
            unknown.to_record(topic),
            OutgoingRecord(topic, b"same", b"\x0a\x90\x17" + b"y" * 3000, headers_of(after[1])),
            *(e.to_record(topic) for e in after),
        ]
    )
    consumer = _consumer(pg, kafka, topic, group)
    await consumer.start()
    try:
        dead = await read_records(kafka, [dlq_topic(topic)], unique("dlq"), 3, within=60)
        await poll_until(lambda: _effects(pg), lambda v: len(v) >= 4, within=60, what="effects")
    finally:
        await consumer.stop()

    assert await _effects(pg) == ["after-0", "after-1", "after-2", "before"]
    by_type = {r.header("ler_error_type"): r for r in dead}
    assert set(by_type) == {b"undecodable", b"unknown_type", b"message_too_large"}
    for record in dead:
        reason = (record.header("ler_error") or b"").decode()
        assert len(reason) > 20 and record.header("ler_original_topic") == topic.encode()
        assert record.key == b"same"
    assert (
        "3003 bytes, over the 2048-byte limit"
        in (by_type[b"message_too_large"].header("ler_error") or b"").decode()
    )
    assert (
        "unknown ce_type 'google.protobuf.Struct'"
        in (by_type[b"unknown_type"].header("ler_error") or b"").decode()
    )


@pytest.fixture(params=["inprocess", "kafka"])
async def any_bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    from ler_platform.events.inprocess import InProcessBus

    bus: EventBus = (
        KafkaBus(infra().kafka, client_id="ler-it") if request.param == "kafka" else InProcessBus()
    )
    await bus.start()
    yield bus
    await bus.stop()


async def test_request_trace_continues_through_outbox_bus_and_consumer(
    pg: Database, any_bus: EventBus, spans: InMemorySpanExporter
) -> None:
    topic, group = unique("trace"), unique("g")
    writer = OutboxWriter(pg.outbox, source="urn:t")
    with tracer().start_as_current_span("IssueCredential") as request:
        async with session_factory(pg.engine)() as session, session.begin():
            await writer.add(session, topic, "agg", wrappers_pb2.StringValue(value="v"))
    seen: list[int] = []

    async def apply(session: AsyncSession, event: Event) -> None:  # type: ignore[type-arg]
        seen.append(trace.get_current_span().get_span_context().trace_id)

    consumer = IdempotentConsumer(
        bus=any_bus,
        sessions=session_factory(pg.engine),
        inbox=pg.inbox,
        topics=[topic],
        group_id=group,
        registry=EventTypeRegistry([wrappers_pb2.StringValue]),
        handler=apply,
    )
    relay = OutboxRelay(pg.engine, pg.outbox, any_bus, poll_interval=0.05)
    await consumer.start()
    await relay.start()
    try:
        await poll_until(lambda: asyncio.sleep(0, len(seen)), bool, within=60, what="the event")
    finally:
        await relay.stop()
        await consumer.stop()
    trace_id = request.get_span_context().trace_id
    assert seen == [trace_id]
    process = next(s for s in spans.get_finished_spans() if s.name == f"{topic} process")
    publish = next(s for s in spans.get_finished_spans() if s.name == f"{topic} publish")
    assert process.kind == SpanKind.CONSUMER and process.context.trace_id == trace_id
    assert process.parent is not None and process.parent.span_id == publish.context.span_id


async def test_two_relays_keep_per_key_order_and_publish_each_row_once(
    pg: Database, kafka: KafkaBus
) -> None:
    topic = unique("relays")
    await kafka.ensure_topics([topic])
    writer = OutboxWriter(pg.outbox, source="urn:t")
    total, keys = 3000, 40
    relays = [
        OutboxRelay(pg.engine, pg.outbox, kafka, batch_size=50, poll_interval=0.05)
        for _ in range(2)
    ]
    # Both relays poll before any row exists, and rows arrive in many commits while they run,
    # so both take part (a relay started after the rows were written could find none left).
    await asyncio.gather(*(relay.start() for relay in relays))
    try:
        sessions = session_factory(pg.engine)
        for start in range(0, total, 100):
            async with sessions() as session, session.begin():
                await writer.add_many(
                    session,
                    topic,
                    [
                        (f"k{i % keys}", wrappers_pb2.StringValue(value=str(i)), None)
                        for i in range(start, start + 100)
                    ],
                )
        got = await read_records(kafka, [topic], unique("g"), total, within=120)
    finally:
        for relay in relays:
            await relay.stop()
    assert all(r.published > 0 for r in relays), "both relays should have taken part"
    assert sum(r.published for r in relays) == total
    per_key: dict[bytes | None, list[int]] = defaultdict(list)
    registry = EventTypeRegistry([wrappers_pb2.StringValue])
    for record in got:
        per_key[record.key].append(int(registry.decode(record).message.value))
    assert all(seq == sorted(seq) for seq in per_key.values())
    assert sorted(v for seq in per_key.values() for v in seq) == list(range(total))
    async with pg.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(pg.outbox))).scalar_one() == 0


async def test_kafka_ping_answers_without_reading_the_cluster_metadata(kafka: KafkaBus) -> None:
    # readiness probes ping every few seconds: an ApiVersions round trip, never a Metadata
    # request for every topic of the cluster (decoded in Python, costly on a busy broker)
    sent: list[str] = []
    client = kafka._require_producer().client
    real_send = client.send

    async def spying_send(node_id: object, request: object, **kw: object) -> object:
        sent.append(type(request).__name__)
        return await real_send(node_id, request, **kw)

    client.send = spying_send
    try:
        await kafka.ping()
    finally:
        client.send = real_send
    assert sent == ["ApiVersionRequest"]
    stopped = KafkaBus(infra().kafka, client_id="ler-it-stopped")
    with pytest.raises(BusError, match="not started"):
        await stopped.ping()


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _plan_nodes(child))]


async def test_a_claim_finds_its_rows_by_primary_key_not_by_scanning_the_outbox(
    pg: Database, kafka: KafkaBus
) -> None:
    # 20,000 pending rows: a claim of 1,000 must not read them all (a sequential scan makes
    # every claim as costly as the outbox, dead rows included, is large)
    topic = unique("claim")
    await kafka.ensure_topics([topic])
    async with pg.engine.begin() as conn:
        await conn.execute(
            insert(pg.outbox),
            [
                {
                    "event_id": f"e{i}",
                    "topic": topic,
                    "key": f"k{i}",
                    "shard": i % 32,
                    "payload": b"x" * 300,
                    "ce_type": "t",
                    "ce_source": "urn:t",
                    "ce_time": "2026-01-01T00:00:00Z",
                }
                for i in range(20_000)
            ],
        )
        await conn.execute(text(f"ANALYZE {pg.outbox.fullname}"))
    claims: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            claims.append((statement, parameters))

    sa_event.listen(pg.engine.sync_engine, "before_cursor_execute", capture)
    try:
        relay = OutboxRelay(pg.engine, pg.outbox, kafka, batch_size=1000)
        assert await relay.relay_once() == 1000
    finally:
        sa_event.remove(pg.engine.sync_engine, "before_cursor_execute", capture)
    statement, parameters = claims[0]
    async with pg.engine.connect() as conn:
        explained = await conn.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) " + statement, tuple(parameters)
        )
        plan = explained.scalar_one()[0]["Plan"]
        primary_key = (
            await conn.execute(
                text(
                    "SELECT conname FROM pg_constraint"
                    " WHERE conrelid = CAST(:t AS regclass) AND contype = 'p'"
                ),
                {"t": pg.outbox.fullname},
            )
        ).scalar_one()
    scans = {(n["Node Type"], n.get("Index Name")) for n in _plan_nodes(plan)}
    assert not any(node == "Seq Scan" for node, _ in scans), scans
    assert ("Index Scan", primary_key) in scans, scans
