"""Benchmark: outbox → Kafka → idempotent consumer, next to raw aiokafka produce + consume.

Run against the real PostgreSQL and Kafka (``make infra``)::

    uv run python bench/events.py [--events 20000] [--rounds 3] [--json PATH]

Both runs move the same messages (same key spread, payload and CloudEvents headers) in the
same process. The guaranteed run includes everything a service pays for its guarantees:
events written to the outbox in the business transaction, relayed with broker acks and
deleted, consumed with inbox deduplication and the effect committed in one transaction
per batch, offsets committed after the database commit. The ratio guaranteed/raw is the
figure to watch (target ≥ 0.3, and ≥ 3,000 events/s). ``--json PATH`` writes one entry per
figure: ``{"name", "value", "unit", "baseline_name", "baseline_value", "ratio"}``.

Each run also reports this process's CPU time per event (``resource.getrusage``): on a shared
machine it is steadier than the rates, so compare it when judging a change. The broker's and
PostgreSQL's CPU are not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from google.protobuf import wrappers_pb2
from ler_platform.db import create_engine, make_metadata, session_factory
from ler_platform.events import Event, EventTypeRegistry, RunnerOptions
from ler_platform.events.kafka import KafkaBus
from ler_platform.inbox import IdempotentConsumer
from ler_platform.local_infra import LocalInfraMissing, find_local_infra
from ler_platform.outbox import OutboxRelay, OutboxWriter
from ler_platform.tables import inbox_table, outbox_table
from ler_platform.topics import delete_topics_named
from sqlalchemy import Column, String, Table, Text, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYS = 200
PAYLOAD = "x" * 200
WRITE_TXN = 250  # events per business transaction in the guaranteed run
WRITERS = 4  # concurrent business transactions (requests), each on its own keys
PARTITIONS = 6


def _infra() -> tuple[str, str]:
    try:
        found = find_local_infra(REPO_ROOT / "var" / "infra.env")
    except LocalInfraMissing as err:
        sys.exit(f"bench: {err}")
    return found.pg_url("ler_test"), found.kafka


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far (steadier than rates under load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _events(n: int) -> list[Event[wrappers_pb2.StringValue]]:
    return [
        Event(
            key=f"agg-{i % KEYS}",
            message=wrappers_pb2.StringValue(value=f"{i}:{PAYLOAD}"),
            source="urn:bench",
        )
        for i in range(n)
    ]


async def raw_kafka(kafka: str, n: int) -> dict[str, float]:
    """Baseline: the same records produced with plain aiokafka, then consumed by a new group."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    bus = KafkaBus(kafka, topic_partitions=PARTITIONS)
    await bus.start()
    await bus.ensure_topics([topic])
    await bus.stop()
    records = [e.to_record(topic) for e in _events(n)]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, linger_ms=5, max_batch_size=512 * 1024, acks="all"
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1000,
    )
    await producer.start()
    await consumer.start()
    try:
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        futures = [
            await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
            for r in records
        ]
        await asyncio.gather(*futures)
        produced = time.perf_counter()
        seen = 0
        while seen < n:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            seen += sum(len(b) for b in batches.values())
            if batches:
                await consumer.commit()
        done, cpu_done = time.perf_counter(), _cpu_seconds()
    finally:
        await consumer.stop()
        await producer.stop()
        await delete_topics_named(kafka, [topic])  # runs' topics would pile up on the broker
    return {
        "seconds": done - started,
        "produce_seconds": produced - started,
        "events_per_s": n / (done - started),
        "cpu_us_per_event": 1e6 * (cpu_done - cpu_started) / n,
    }


async def guaranteed(pg_url: str, kafka: str, n: int) -> dict[str, float]:
    """Outbox (transactional write) → relay → Kafka → idempotent consumer with a DB effect."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    topic = f"bench-outbox-{uuid.uuid4().hex[:8]}"
    metadata = make_metadata(schema)
    outbox, inbox = outbox_table(metadata), inbox_table(metadata)
    effects = Table(
        "effects",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("key", Text, nullable=False),
    )
    engine = create_engine(pg_url, pool_size=WRITERS + 4)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    bus = KafkaBus(kafka, client_id="bench", topic_partitions=PARTITIONS)
    await bus.start()
    await bus.ensure_topics([topic, f"{topic}.dlq"])
    sessions = session_factory(engine)
    writer = OutboxWriter(outbox, source="urn:bench")
    relay = OutboxRelay(engine, outbox, bus, batch_size=1000, poll_interval=0.02)

    async def apply(session: AsyncSession, events: Sequence[Event]) -> None:  # type: ignore[type-arg]
        # one bulk statement for the whole batch's effects
        await session.execute(
            pg_insert(effects), [{"event_id": e.id, "key": e.key} for e in events]
        )

    consumer = IdempotentConsumer(
        bus=bus,
        sessions=sessions,
        inbox=inbox,
        topics=[topic],
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        registry=EventTypeRegistry([wrappers_pb2.StringValue]),
        batch_handler=apply,
        options=RunnerOptions(batch_size=1000),
    )
    await consumer.start()
    items = [(e.key, e.message, None) for e in _events(n)]
    try:
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        await relay.start()

        async def write(share: list[tuple[str, wrappers_pb2.StringValue, None]]) -> None:
            for i in range(0, len(share), WRITE_TXN):
                async with sessions() as session, session.begin():
                    await writer.add_many(session, topic, share[i : i + WRITE_TXN])

        # writer w owns the keys agg-j with j % WRITERS == w, as requests on different
        # aggregates would
        await asyncio.gather(*(write(items[w::WRITERS]) for w in range(WRITERS)))
        written = time.perf_counter()
        while consumer.applied < n:  # noqa: ASYNC110 - polling a counter is the measurement
            await asyncio.sleep(0.01)
        done, cpu_done = time.perf_counter(), _cpu_seconds()
        async with engine.connect() as conn:
            applied = (await conn.execute(select(func.count()).select_from(effects))).scalar_one()
            pending = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
        if applied != n or pending != 0:
            raise RuntimeError(
                f"guarantee broken: {applied} effects for {n} events, {pending} unsent"
            )
    finally:
        await relay.stop()
        await consumer.stop()
        await bus.stop()
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
        await delete_topics_named(kafka, [topic])  # and its .dlq
    return {
        "seconds": done - started,
        "write_seconds": written - started,
        "events_per_s": n / (done - started),
        "cpu_us_per_event": 1e6 * (cpu_done - cpu_started) / n,
    }


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    ordered = sorted(runs, key=lambda r: r["events_per_s"])
    return ordered[len(ordered) // 2]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; medians are reported"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args()
    pg_url, kafka = _infra()
    raw_runs: list[dict[str, float]] = []
    safe_runs: list[dict[str, float]] = []
    # alternate the two so a burst of load on the (shared) machine hits both alike
    for _ in range(args.rounds):
        raw_runs.append(await raw_kafka(kafka, args.events))
        safe_runs.append(await guaranteed(pg_url, kafka, args.events))
    raw, safe = _median(raw_runs), _median(safe_runs)
    result = {
        "events": args.events,
        "rounds": args.rounds,
        "raw_kafka": raw,
        "outbox_kafka_idempotent": safe,
        "ratio": safe["events_per_s"] / raw["events_per_s"],
        "all_rounds_events_per_s": {
            "raw_kafka": [round(r["events_per_s"]) for r in raw_runs],
            "outbox_kafka_idempotent": [round(r["events_per_s"]) for r in safe_runs],
        },
        "all_rounds_cpu_us_per_event": {
            "raw_kafka": [round(r["cpu_us_per_event"], 1) for r in raw_runs],
            "outbox_kafka_idempotent": [round(r["cpu_us_per_event"], 1) for r in safe_runs],
        },
        "targets": {"events_per_s": 3000, "ratio": 0.3},
    }
    if args.json:
        figures = [
            {
                "name": "outbox -> Kafka -> idempotent consumer",
                "value": round(safe["events_per_s"], 1),
                "unit": "events/s",
                "baseline_name": "raw aiokafka produce+consume (same messages, same run)",
                "baseline_value": round(raw["events_per_s"], 1),
                "ratio": round(result["ratio"], 3),
            }
        ]
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    spread = result["all_rounds_events_per_s"]
    print(f"events: {args.events} per run, median of {args.rounds} alternating rounds")
    for label, run, key in (
        ("raw aiokafka produce+consume", raw, "raw_kafka"),
        ("outbox→Kafka→idempotent", safe, "outbox_kafka_idempotent"),
    ):
        print(
            f"{label:<29}: {run['events_per_s']:10.0f} events/s ({run['seconds']:.2f} s)"
            f"   rounds: {', '.join(str(v) for v in spread[key])}"
        )
    ratios = [
        s_["events_per_s"] / r_["events_per_s"] for r_, s_ in zip(raw_runs, safe_runs, strict=True)
    ]
    print(
        f"ratio guaranteed/raw         : {result['ratio']:10.2f}  (target ≥ 0.3; ≥ 3000 events/s)"
        f"   per round: {', '.join(f'{x:.2f}' for x in ratios)}"
    )
    # CPU time of this process per event: steadier than rates on a shared machine (the
    # broker's and PostgreSQL's CPU is not in it)
    cpu = result["all_rounds_cpu_us_per_event"]
    for label, key in (("raw", "raw_kafka"), ("guaranteed", "outbox_kafka_idempotent")):
        values = cpu[key]
        print(
            f"bench CPU µs/event ({label:<10}): {sorted(values)[len(values) // 2]:10.1f}"
            f"   rounds: {', '.join(str(v) for v in values)}"
        )


if __name__ == "__main__":
    asyncio.run(main())
