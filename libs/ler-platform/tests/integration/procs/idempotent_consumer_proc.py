"""Subprocess for the crash test: an idempotent consumer applying effects in PostgreSQL.

Usage: idempotent_consumer_proc.py <pg-url> <schema> <kafka> <topic> <group>
Each event inserts one ``effects`` row and increments its key's counter, in the same
transaction as its inbox row.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crash_tables import crash_metadata
from google.protobuf import wrappers_pb2
from ler_platform.db import create_engine, session_factory
from ler_platform.events import Event, EventTypeRegistry, RunnerOptions
from ler_platform.events.kafka import KafkaBus
from ler_platform.inbox import IdempotentConsumer
from ler_platform.lifecycle import run_service
from ler_platform.logging import configure_logging
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def main(stop: asyncio.Event) -> None:
    url, schema, kafka, topic, group = sys.argv[1:6]
    _, _, inbox, effects, counters = crash_metadata(schema)
    engine = create_engine(url, pool_size=2)
    bus = KafkaBus(kafka, client_id="crash-consumer")
    await bus.start()

    async def apply(session: AsyncSession, event: Event) -> None:  # type: ignore[type-arg]
        seq = int(event.message.value)
        await session.execute(insert(effects).values(event_id=event.id, key=event.key, seq=seq))
        await session.execute(
            pg_insert(counters)
            .values(key=event.key, n=1)
            .on_conflict_do_update(index_elements=["key"], set_={"n": counters.c.n + 1})
        )

    consumer = IdempotentConsumer(
        bus=bus,
        sessions=session_factory(engine),
        inbox=inbox,
        topics=[topic],
        group_id=group,
        registry=EventTypeRegistry([wrappers_pb2.StringValue]),
        handler=apply,
        options=RunnerOptions(batch_size=250, max_retries=3, backoff_seconds=0.1),
    )
    await consumer.start()
    try:
        await stop.wait()
    finally:
        await consumer.stop()
        await bus.stop()
        await engine.dispose()


if __name__ == "__main__":
    configure_logging("WARNING", service_name="crash-consumer")
    raise SystemExit(run_service(main))
