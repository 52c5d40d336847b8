"""`ler-<service> migrate` (the chart's pre-install/pre-upgrade Job): upgrade to head, exit 0;
exit 1 with one clear line when it cannot; replicas then start with LER_RUN_MIGRATIONS=false."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from test_processes import SERVICES, _infra_env, _run_until_serving_then_sigterm

pytestmark = pytest.mark.timeout(180)


def _plain(dsn: str) -> str:
    return dsn.rstrip("/").replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); yields its postgresql:// URL."""
    dsn = _plain(_infra_env()["LER_TEST_PG_DSN"])
    name = f"ler_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{dsn}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{dsn}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _migrate(service: str, database_url: str, cwd: Path) -> tuple[int, str, str]:
    """Run `python -m ler_<service> migrate` with only what the chart's Job gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LER_")}
    env["LER_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"ler_{service}",
        "migrate",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while line := await process.stdout.readline():
                lines.append(line)
                if f'"msg": "{service} started"'.encode() in line:
                    break  # it ignored `migrate` and serves: fail now, don't wait
            err = await process.stderr.read()
    except TimeoutError:
        err = b""
    if process.returncode is None:
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()
            pytest.fail(f"ler_{service} migrate did not exit (it serves instead?)")
    out = b"".join(lines)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _tables(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        return {r["table_name"] for r in rows}
    finally:
        await conn.close()


#: large values each service stores compressed with LZ4 (its migration "lz4_large_values")
LZ4_COLUMNS = {
    "issuance": {("credentials", "signed_credential"), ("status_lists", "bits")},
    "wallet": {("wallet_credentials", "signed")},
    "verification": set(),
    "intake": {("webhook_deliveries", "body")},
}


async def _lz4_columns(database_url: str) -> set[tuple[str, str]]:
    """(table, column) pairs set to LZ4 compression (pg_attribute.attcompression 'l')."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE a.attcompression = 'l' AND n.nspname = 'public'"
        )
        return {(r["relname"], r["attname"]) for r in rows}
    finally:
        await conn.close()


@pytest.mark.real
@pytest.mark.parametrize("service", SERVICES)
async def test_migrate_upgrades_a_fresh_database_and_is_idempotent(
    service: str, fresh_database: str, tmp_path: Path
) -> None:
    code, out, err = await _migrate(service, fresh_database, tmp_path)
    assert code == 0, out + err
    assert f"ler-{service} migrate: database is at the latest revision" in err
    assert f"{service} started" not in out  # it migrated, it did not serve
    assert {"alembic_version", "ler_outbox", "ler_inbox"} <= await _tables(fresh_database)
    # the deploy scripts' PostgreSQL is built with LZ4: large values use it, not pglz
    lz4 = await _lz4_columns(fresh_database)
    assert {("ler_outbox", "payload"), *LZ4_COLUMNS[service]} <= lz4, lz4
    code, out, err = await _migrate(service, fresh_database, tmp_path)
    assert code == 0, out + err
    # replicas started by the chart skip migrations: the Job has done them
    await _run_until_serving_then_sigterm(
        service,
        {
            "LER_DATABASE_URL": fresh_database,
            "LER_KAFKA_BOOTSTRAP_SERVERS": _infra_env()["LER_TEST_KAFKA"],
            "LER_RUN_MIGRATIONS": "false",
        },
        tmp_path,
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_migrate_failure_exits_1_with_one_line(service: str, tmp_path: Path) -> None:
    # nothing listens on port 1
    code, _out, err = await _migrate(service, "postgresql://ler:hunter2@127.0.0.1:1/x", tmp_path)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ler-{service} migrate failed: "), err
    assert "hunter2" not in err


async def test_without_migrations_a_replica_does_not_create_tables(tmp_path: Path) -> None:
    # LER_RUN_MIGRATIONS=false: the service starts on an empty database without migrating
    db = tmp_path / "svc.db"
    await _run_until_serving_then_sigterm(
        "intake",
        {"LER_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "LER_RUN_MIGRATIONS": "false"},
        tmp_path,
    )
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "alembic_version" not in tables
