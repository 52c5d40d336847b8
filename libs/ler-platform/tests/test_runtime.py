"""ServiceRuntime: readiness follows the database and the bus; shutdown reports NOT_SERVING."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ler_platform.db import make_metadata
from ler_platform.runtime import build_runtime
from ler_platform.settings import ServiceSettings
from platform_helpers import poll_until

pytestmark = pytest.mark.timeout(60)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _settings(database_url: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="rt",
        grpc_port=0,
        http_port=0,
        database_url=database_url,
        run_migrations=False,
        health_check_interval_seconds=0.1,
        grpc_grace_seconds=1,
    )


async def _status(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="")
        )
        return int(response.status)


async def _ready(port: int) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/readyz") as response,
    ):
        return response.status


async def test_serving_once_dependencies_answer_and_not_serving_when_the_bus_goes(
    tmp_path: Path,
) -> None:
    runtime = build_runtime(
        _settings(f"sqlite+aiosqlite:///{tmp_path / 'rt.db'}"),
        metadata=make_metadata(),
        migrations=None,
    )
    await runtime.start()
    try:
        port = runtime.grpc.port
        assert port and runtime.http and runtime.http.port
        await poll_until(lambda: _status(port), lambda s: s == SERVING, within=10, what="SERVING")
        assert await _ready(runtime.http.port) == 200
        await runtime.bus.stop()  # the bus becomes unreachable
        await poll_until(
            lambda: _status(port), lambda s: s == NOT_SERVING, within=10, what="NOT_SERVING"
        )
        assert await _ready(runtime.http.port) == 503
    finally:
        await runtime.stop()


async def test_never_serving_while_the_database_is_unreachable() -> None:
    # nothing listens on port 1: the readiness probe must fail, not report SERVING
    runtime = build_runtime(
        _settings("postgresql+asyncpg://nobody:pw@127.0.0.1:1/none"),
        metadata=make_metadata(),
        migrations=None,
    )
    await runtime.start()
    try:
        port = runtime.grpc.port
        assert port
        for _ in range(5):
            assert await _status(port) == NOT_SERVING
            await asyncio.sleep(0.1)
    finally:
        await runtime.stop()
