"""Fixtures for ler_platform tests: buses (in-process and real Kafka), databases."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from ler_platform.db import create_engine
from ler_platform.events.bus import EventBus
from ler_platform.events.inprocess import InProcessBus
from ler_platform.events.kafka import KafkaBus
from ler_platform.tracing import install_in_memory_exporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text

# pytest runs with --import-mode=importlib: make the helpers module importable by tests
sys.path.insert(0, str(Path(__file__).resolve().parent))

from platform_helpers import (
    REAL_SERVERS_USED,
    UNIQUE_NAMES,
    Database,
    delete_topics,
    infra,
    new_database,
    unique,
)


@pytest.fixture(scope="session", autouse=True)
def _delete_this_sessions_topics() -> Iterator[None]:
    """After the session, delete the topics this session made on the real broker (their
    names all come from ``unique``), within a bound; a failure is reported, never raised."""
    yield
    if not REAL_SERVERS_USED or not UNIQUE_NAMES:
        return
    try:
        deleted = asyncio.run(delete_topics(REAL_SERVERS_USED[0].kafka, list(UNIQUE_NAMES)))
    except Exception as err:  # teardown must not turn a green run red; say what is left
        print(f"\ncould not delete this session's test topics: {err!r}", file=sys.stderr)
    else:
        print(f"\ndeleted {len(deleted)} test topic(s)", file=sys.stderr)


@pytest.fixture(
    params=[
        pytest.param("inprocess", id="inprocess"),
        pytest.param("kafka", id="kafka", marks=pytest.mark.real),
    ]
)
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    """Each implementation of the event bus, started; the Kafka one on the real broker."""
    instance: EventBus
    if request.param == "kafka":
        instance = KafkaBus(
            infra().kafka, client_id="ler-test", topic_partitions=3, max_message_bytes=4096
        )
    else:
        instance = InProcessBus(partitions=3, max_records_per_partition=10_000)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()


_EXPORTER: list[InMemorySpanExporter] = []


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """An in-memory span exporter on the (process-global) SDK tracer provider, emptied per test."""
    if not _EXPORTER:
        _EXPORTER.append(install_in_memory_exporter())
    _EXPORTER[0].clear()
    return _EXPORTER[0]


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.real),
    ]
)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite in a temp dir, and the real PostgreSQL with a schema unique to the test."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        db = new_database(engine, None)
        await db.create_all()
        try:
            yield db
        finally:
            await engine.dispose()
        return
    engine = create_engine(infra().pg_url(), pool_size=5)
    schema = unique("t")
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
