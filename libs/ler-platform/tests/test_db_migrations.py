"""Engines (SQLite pragmas, PostgreSQL) and programmatic Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from ler_platform.db import create_engine, ping
from ler_platform.errors import ConfigurationError
from ler_platform.migrations import run_migrations
from platform_helpers import alembic_dir as _alembic_dir
from platform_helpers import infra, unique
from sqlalchemy import inspect, text

pytestmark = pytest.mark.timeout(120)


async def test_sqlite_engine_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'x.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 10_000
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await engine.dispose()


def test_unsupported_or_malformed_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="not supported"):
        create_engine("mysql://u:secretpw@h/db")
    with pytest.raises(ConfigurationError, match="not a valid") as info:
        create_engine("::not a url secretpw")
    assert "secretpw" not in str(info.value)


async def test_migrations_create_the_platform_tables_on_sqlite_idempotently(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    location = _alembic_dir(tmp_path, None)
    await run_migrations(url, location)
    await run_migrations(url, location)  # already at head: a no-op
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            version = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert {"ler_outbox", "ler_inbox", "alembic_version"} <= names
    assert version == "0001"


async def test_missing_env_py_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no Alembic env\.py"):
        await run_migrations(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path)


@pytest.mark.real
async def test_migrations_run_on_postgresql_in_a_schema(tmp_path: Path) -> None:
    schema = unique("mig")
    engine = create_engine(infra().pg_url(), pool_size=2)
    try:
        await ping(engine)
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await run_migrations(engine, _alembic_dir(tmp_path, schema), version_table_schema=schema)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names(schema=schema)))
        assert {"ler_outbox", "ler_inbox", "alembic_version"} <= names
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
