"""The PostgreSQL pool pings a connection only after it sat idle (``ler_platform.db``)."""

from __future__ import annotations

from typing import Any

import pytest
from ler_platform import db
from ler_platform.db import create_engine
from platform_helpers import infra
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pid: int) -> None:
    killer = create_engine(infra().pg_url(), pool_size=1)
    try:
        async with killer.connect() as conn:
            killed = await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert killed.scalar_one() is True
    finally:
        await killer.dispose()


@pytest.mark.real
async def test_idle_connections_are_pinged_and_replaced_busy_ones_are_not_pinged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = create_engine(infra().pg_url(), pool_size=1)
    pings: list[Any] = []
    dialect = engine.sync_engine.dialect
    real_ping = dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    try:
        # handed straight back out: no ping round trip (what pool_pre_ping would cost)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
        first = await _backend_pid(engine)
        assert await _backend_pid(engine) == first
        assert pings == []

        # killed while idle in the pool: the ping on checkout notices, the pool replaces it
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        await _terminate(first)
        second = await _backend_pid(engine)
        assert second != first
        assert len(pings) >= 1

        # killed and reused before the idle threshold: that one statement fails as a
        # disconnect, the connection is invalidated, and the next checkout gets a new one
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
        await _terminate(second)
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert await _backend_pid(engine) not in (first, second)
    finally:
        await engine.dispose()
