"""Outbox → Kafka → idempotent consumer survives SIGKILL of the relay and of the consumer.

10,000 events are written to the outbox while a relay subprocess publishes them and a
consumer subprocess applies them. Each process is killed with SIGKILL mid-stream, twice,
and restarted. Afterwards PostgreSQL must show every event applied exactly once — 0 lost,
0 duplicated — and each key's events applied in the order they were written.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from google.protobuf import wrappers_pb2
from ler_platform.db import create_engine, session_factory
from ler_platform.events.kafka import KafkaBus
from ler_platform.outbox import OutboxWriter
from platform_helpers import infra, unique
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent / "procs"))
from crash_tables import crash_metadata

PROCS = Path(__file__).resolve().parent / "procs"
EVENTS = 10_000
KEYS = 50
PER_TXN = 50

pytestmark = [pytest.mark.real, pytest.mark.slow, pytest.mark.timeout(600)]


class Proc:
    """A helper subprocess we can SIGKILL and restart."""

    def __init__(self, script: str, *args: str) -> None:
        self.argv = [sys.executable, str(PROCS / script), *args]
        self.popen: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.popen = subprocess.Popen(self.argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self.kills += 1

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def terminate(self) -> int:
        """SIGTERM and wait: a graceful stop must exit 0."""
        if self.popen is None:
            return 0
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            return -9


async def test_exactly_once_through_sigkills_of_relay_and_consumer() -> None:
    coords = infra()
    schema = unique("crash")
    engine = create_engine(coords.pg_url(), pool_size=4)
    try:
        await _run_crash_scenario(coords.pg_url(), coords.kafka, schema, engine)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def _run_crash_scenario(url: str, kafka: str, schema: str, engine: AsyncEngine) -> None:
    topic, group = unique("crash_topic"), unique("crash_group")
    metadata, outbox, _inbox, effects, counters = crash_metadata(schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    bus = KafkaBus(kafka, topic_partitions=6)
    await bus.start()
    await bus.ensure_topics([topic, f"{topic}.dlq"])
    await bus.stop()

    relay = Proc("outbox_relay_proc.py", url, schema, kafka)
    consumer = Proc("idempotent_consumer_proc.py", url, schema, kafka, topic, group)
    sessions = session_factory(engine)
    writer = OutboxWriter(outbox, source="urn:crash-test")

    async def count(table_query) -> int:  # type: ignore[no-untyped-def]
        async with engine.connect() as conn:
            return int((await conn.execute(table_query)).scalar_one())

    applied_q = select(func.count()).select_from(effects)
    pending_q = select(func.count()).select_from(outbox)
    relay.start()
    consumer.start()
    try:
        written = 0
        relay_kill_at = [2_500, 6_000]  # published-so-far thresholds
        consumer_kill_at = [2_000, 5_500]  # applied-so-far thresholds
        deadline = time.monotonic() + 420
        while True:
            if written < EVENTS:
                async with sessions() as session, session.begin():
                    await writer.add_many(
                        session,
                        topic,
                        [
                            (
                                f"agg-{(written + i) % KEYS}",
                                wrappers_pb2.StringValue(value=str(written + i)),
                                None,
                            )
                            for i in range(PER_TXN)
                        ],
                    )
                written += PER_TXN
                await asyncio.sleep(0.01)  # spread the writes so the kills land mid-stream
            else:
                await asyncio.sleep(0.2)
            published = written - await count(pending_q)
            applied = await count(applied_q)
            if relay_kill_at and published >= relay_kill_at[0]:
                relay_kill_at.pop(0)
                relay.kill()
                await asyncio.sleep(0.5)
                relay.start()
            if consumer_kill_at and applied >= consumer_kill_at[0]:
                consumer_kill_at.pop(0)
                consumer.kill()
                await asyncio.sleep(0.5)
                consumer.start()
            assert relay.alive() and consumer.alive(), "a helper process died on its own"
            if (
                written >= EVENTS
                and applied >= EVENTS
                and not relay_kill_at
                and not consumer_kill_at
            ):
                break
            if time.monotonic() > deadline:
                pytest.fail(f"stalled: written={written} published={published} applied={applied}")
        await asyncio.sleep(2)  # let any re-delivered duplicates arrive (they must be skipped)
    finally:
        relay_rc, consumer_rc = relay.terminate(), consumer.terminate()

    assert (relay.kills, consumer.kills) == (2, 2)
    assert (relay_rc, consumer_rc) == (0, 0), "graceful SIGTERM must exit 0"
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(effects))).scalar_one()
        distinct = (
            await conn.execute(select(func.count(func.distinct(effects.c.event_id))))
        ).scalar_one()
        counted = (await conn.execute(select(func.sum(counters.c.n)))).scalar_one()
        pending = (await conn.execute(pending_q)).scalar_one()
        rows = (
            await conn.execute(select(effects.c.key, effects.c.seq).order_by(effects.c.id))
        ).all()
    per_key: dict[str, list[int]] = {}
    for key, seq in rows:
        per_key.setdefault(key, []).append(seq)
    assert pending == 0
    assert distinct == EVENTS, "events lost"
    assert total == EVENTS, "events applied twice"
    assert counted == EVENTS
    assert sorted(s for seqs in per_key.values() for s in seqs) == list(range(EVENTS))
    assert all(seqs == sorted(seqs) for seqs in per_key.values()), "a key's events were reordered"
