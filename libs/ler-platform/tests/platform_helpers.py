"""Test helpers for ler_platform: real-server settings, polling, test messages."""

from __future__ import annotations

import asyncio
import textwrap
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from ler_platform.db import make_metadata
from ler_platform.events.bus import BusConsumer, EventBus
from ler_platform.events.records import ConsumedRecord
from ler_platform.local_infra import LocalInfraMissing, find_local_infra
from ler_platform.tables import inbox_table, outbox_table
from ler_platform.topics import delete_topics_matching
from sqlalchemy import Column, MetaData, String, Table, Text
from sqlalchemy.ext.asyncio import AsyncEngine

REPO_ROOT = Path(__file__).resolve().parents[3]
INFRA_ENV = REPO_ROOT / "var" / "infra.env"
T = TypeVar("T")


@dataclass(frozen=True)
class Infra:
    """Where the real PostgreSQL and Kafka are (``deploy/local/infra.sh up``)."""

    pg_dsn: str  # without database name
    kafka: str

    def pg_url(self, database: str = "ler_test") -> str:
        return f"{self.pg_dsn.rstrip('/')}/{database}"


def infra() -> Infra:
    """Real-server coordinates from the environment or var/infra.env.

    FAILS (never skips) when they are absent.
    """
    try:
        found = find_local_infra(INFRA_ENV)
    except LocalInfraMissing as err:
        pytest.fail(f"real-server test: {err}")
    coords = Infra(found.pg_dsn, found.kafka)
    REAL_SERVERS_USED[:] = [coords]
    return coords


#: every name ``unique`` gave out in this process (topics among them: deleted at session end)
UNIQUE_NAMES: list[str] = []
#: set once a test asked for the real servers
REAL_SERVERS_USED: list[Infra] = []


def unique(prefix: str) -> str:
    """A name no earlier test run used (topics, groups, schemas)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    UNIQUE_NAMES.append(name)
    return name


async def delete_topics(kafka: str, names: list[str], *, within: float = 30.0) -> list[str]:
    """Delete the topics among ``names`` and those derived from them (``<name>.dlq``) on the
    broker, bounded in time; returns what was deleted. Per-run topics left behind pile up as
    partitions on the shared broker and slow every later run."""
    wanted = set(names)
    return await delete_topics_matching(
        kafka,
        lambda t: t in wanted or (t.endswith(".dlq") and t.removesuffix(".dlq") in wanted),
        within=within,
    )


async def poll_until(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within: float, what: str
) -> T:
    """Call ``probe`` until ``done(result)`` or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}; last: {result!r}"[:2000])
        await asyncio.sleep(0.05)


async def read_records(
    bus: EventBus,
    topics: list[str],
    group_id: str,
    count: int,
    *,
    within: float = 30.0,
    commit: bool = True,
) -> list[ConsumedRecord]:
    """Join ``group_id``, read exactly ``count`` records (failing after ``within`` s), leave."""
    consumer = bus.consumer(topics, group_id, max_records=500)
    await consumer.start()
    try:
        return await drain(consumer, count, within=within, commit=commit)
    finally:
        await consumer.stop()


async def drain(
    consumer: BusConsumer, count: int, *, within: float, commit: bool = True
) -> list[ConsumedRecord]:
    """Read ``count`` records from a started consumer, committing each batch if ``commit``."""
    got: list[ConsumedRecord] = []
    deadline = time.monotonic() + within
    while len(got) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"read {len(got)} of {count} records within {within}s")
        batches = await consumer.getmany(timeout_ms=200, max_records=count - len(got))
        for tp, batch in batches.items():
            got.extend(batch)
            if commit and batch:
                await consumer.commit({tp: batch[-1].offset + 1})
    return got


@dataclass
class Database:
    """An engine and a fresh ``MetaData`` (own schema on PostgreSQL) with the platform tables."""

    engine: AsyncEngine
    metadata: MetaData
    outbox: Table
    inbox: Table
    effects: Table

    async def create_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.create_all)


def new_database(engine: AsyncEngine, schema: str | None) -> Database:
    metadata = make_metadata(schema)
    effects = Table(
        "test_effects",
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("key", Text, nullable=False),
        Column("value", Text, nullable=False),
    )
    return Database(engine, metadata, outbox_table(metadata), inbox_table(metadata), effects)


def alembic_dir(root: Path, schema: str | None) -> Path:
    """An Alembic directory under ``root`` whose one revision creates the platform tables."""
    location = root / "alembic"
    (location / "versions").mkdir(parents=True)
    (location / "env.py").write_text("from ler_platform.migrations import run_env\nrun_env(None)\n")
    (location / "versions" / "0001_platform.py").write_text(
        textwrap.dedent(
            f"""
            from alembic import op
            from ler_platform.tables import create_platform_tables, drop_platform_tables
            revision = "0001"
            down_revision = None
            branch_labels = None
            depends_on = None
            def upgrade():
                create_platform_tables(op, schema={schema!r})
            def downgrade():
                drop_platform_tables(op, schema={schema!r})
            """
        )
    )
    return location
