"""``service_main``: serve / migrate / service commands; ``run_service``'s shutdown backstop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from ler_platform.cli import service_main
from ler_platform.db import create_engine
from ler_platform.lifecycle import run_service
from ler_platform.migrations import run_migrations
from ler_platform.settings import ServiceSettings
from platform_helpers import alembic_dir as _alembic_dir
from platform_helpers import infra, unique
from sqlalchemy import inspect, text

pytestmark = pytest.mark.timeout(60)


def _never_serve(stop: asyncio.Event) -> asyncio.Future[None]:
    raise AssertionError("serve must not run for this command")


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_migrate_upgrades_to_head_and_exits_0_idempotently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "svc.db"
    location = _alembic_dir(tmp_path, None)

    def settings() -> ServiceSettings:
        return ServiceSettings(service_name="demo", database_url=f"sqlite+aiosqlite:///{db}")

    for _ in range(2):
        code = service_main(
            "demo", _never_serve, migrations=location, settings=settings, argv=["migrate"]
        )
        assert code == 0
        assert {"ler_outbox", "ler_inbox", "alembic_version"} <= _tables(db)
    assert "ler-demo migrate: database is at the latest revision" in capsys.readouterr().err


def test_migrate_failure_is_exit_1_with_one_line_and_no_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    location = _alembic_dir(tmp_path, None)
    code = service_main(
        "demo",
        _never_serve,
        migrations=location,
        # nothing listens on port 1; the plain postgresql:// form is accepted
        settings=lambda: ServiceSettings(database_url="postgresql://ler:hunter2@127.0.0.1:1/x"),
        argv=["migrate"],
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("ler-demo migrate failed: ")
    assert "Connect call failed" in err[0] or "refused" in err[0].lower()
    assert "hunter2" not in err[0]


def test_migrate_reports_invalid_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LER_GRPC_PORT", "not-a-port")
    code = service_main(
        "demo", _never_serve, migrations=_alembic_dir(tmp_path, None), argv=["migrate"]
    )
    assert code == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("ler-demo migrate failed: ValidationError") and "grpc_port" in line


def test_migrate_can_be_the_services_own_coroutine(tmp_path: Path) -> None:
    calls: list[str] = []

    async def migrate() -> None:
        calls.append("migrated")

    assert service_main("demo", _never_serve, migrations=migrate, argv=["migrate"]) == 0
    assert calls == ["migrated"]


@pytest.mark.real
def test_migrate_on_postgresql_through_a_callable_with_a_schema(tmp_path: Path) -> None:
    schema = unique("cli")
    url = infra().pg_url().replace("postgresql+asyncpg://", "postgresql://")  # CNPG's form

    async def create_schema() -> None:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        finally:
            await engine.dispose()

    async def migrate() -> None:
        await run_migrations(url, _alembic_dir(tmp_path, schema), version_table_schema=schema)

    async def tables_then_drop() -> set[str]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as conn:
                names = await conn.run_sync(lambda c: set(inspect(c).get_table_names(schema)))
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            return names
        finally:
            await engine.dispose()

    asyncio.run(create_schema())
    assert service_main("demo", _never_serve, migrations=migrate, argv=["migrate"]) == 0
    assert {"ler_outbox", "ler_inbox", "alembic_version"} <= asyncio.run(tables_then_drop())


@pytest.mark.parametrize("argv", [[], ["serve"]])
def test_no_argument_or_serve_runs_the_service(argv: list[str]) -> None:
    served: list[bool] = []

    async def main(stop: asyncio.Event) -> None:
        served.append(stop.is_set())

    assert service_main("demo", main, migrations=None, argv=argv) == 0
    assert served == [False]


def test_a_service_command_gets_the_rest_of_argv() -> None:
    seen: list[Sequence[str]] = []

    def add_tenant(args: Sequence[str]) -> int:
        seen.append(args)
        return 3

    code = service_main(
        "demo",
        _never_serve,
        migrations=None,
        commands={"add-tenant": add_tenant},
        argv=["add-tenant", "t-1", "Acme", "--service"],
    )
    assert code == 3 and seen == [["t-1", "Acme", "--service"]]
    with pytest.raises(ValueError, match="may not redefine"):
        service_main("demo", _never_serve, migrations=None, commands={"migrate": add_tenant})


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        service_main("demo", _never_serve, migrations=None, argv=["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "ler-demo" in out and "migrate" in out and "serve" in out


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        service_main("demo", _never_serve, migrations=None, argv=["migrat"])
    assert exited.value.code == 2
    assert "invalid choice: 'migrat'" in capsys.readouterr().err


def test_a_shutdown_that_hangs_is_cancelled_after_the_deadline() -> None:
    async def main(stop: asyncio.Event) -> None:
        stop.set()  # as SIGTERM would
        await asyncio.Event().wait()  # a shutdown that never finishes

    started = time.monotonic()
    assert run_service(main, shutdown_deadline=0.5) == 1
    assert time.monotonic() - started < 5
