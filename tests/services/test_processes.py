"""End-to-end: each service runs as a process, reports SERVING, stops cleanly on SIGTERM.

Also what the Helm chart relies on: the ``liveness`` health service, Prometheus metrics at
``/metrics`` on ``LER_METRICS_PORT``, and CloudNativePG's ``postgresql://`` database URLs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ler_platform.local_infra import KAFKA_KEY, PG_KEY, LocalInfraMissing, find_local_infra

SERVICES = ["issuance", "wallet", "verification", "intake"]
REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)
# Settings a service refuses to start without (the chart sets them from networkPolicy calls).
SERVICE_ENV: dict[str, dict[str, str]] = {
    # intake verifies applications through verification; nothing needs to listen there to start
    "intake": {
        "LER_VERIFICATION_GRPC_TARGET": "127.0.0.1:1",
        "LER_VERIFICATION_API_KEY": "test-intake-service-key",
    },
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _infra_env() -> dict[str, str]:
    try:
        found = find_local_infra(REPO_ROOT / "var" / "infra.env")
    except LocalInfraMissing as err:
        pytest.fail(f"real-server test: {err}")
    return {PG_KEY: found.pg_dsn, KAFKA_KEY: found.kafka}


async def _health(port: int, service: str = "") -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=1
            )
        except grpc.aio.AioRpcError:
            return -1  # not listening yet
        return int(response.status)


async def _run_until_serving_then_sigterm(
    service: str, env: dict[str, str], cwd: Path
) -> list[dict[str, object]]:
    grpc_port = _free_port()
    metrics_port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"ler_{service}",
        cwd=cwd,
        env={
            **os.environ,
            **SERVICE_ENV.get(service, {}),
            **env,
            "LER_GRPC_PORT": str(grpc_port),
            "LER_HTTP_PORT": str(_free_port()),
            "LER_METRICS_PORT": str(metrics_port),
            "LER_HEALTH_CHECK_INTERVAL_SECONDS": "0.2",
            "LER_GRPC_GRACE_SECONDS": "2",
            # key-encryption key as a deployment provides it (base64url of 32 random bytes)
            "LER_KEK": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = asyncio.create_task(process.stdout.read())
    try:
        deadline = time.monotonic() + 60
        while await _health(grpc_port) != health_pb2.HealthCheckResponse.SERVING:
            if process.returncode is not None or output.done():
                await process.wait()
                text = (await output).decode()
                pytest.fail(
                    f"ler_{service} exited with {process.returncode} before SERVING:\n{text}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"ler_{service} did not report SERVING within 60 s")
            await asyncio.sleep(0.1)
        # startup and liveness probes ask for `liveness`
        assert await _health(grpc_port, "liveness") == health_pb2.HealthCheckResponse.SERVING
        metrics = await _scrape(metrics_port)
        # the health checks above went through the metrics interceptor
        assert (
            'ler_grpc_server_requests_total{code="OK",method="grpc.health.v1.Health/Check"}'
            in metrics
        ), metrics[:2000]
        assert "ler_outbox_backlog" in metrics
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 20)
        assert returncode == 0, f"ler_{service} exited with {returncode} after SIGTERM"
        assert time.monotonic() - stopped_at < 10, "shutdown was not prompt"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = (await output).decode()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is JSON
    messages = [line["msg"] for line in lines]
    assert f"{service} started" in messages and f"{service} stopped" in messages
    return lines


async def _scrape(port: int) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        return await response.text()


@pytest.mark.parametrize("service", SERVICES)
async def test_service_process_serves_health_and_stops_on_sigterm(
    service: str, tmp_path: Path
) -> None:
    await _run_until_serving_then_sigterm(
        service, {"LER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}"}, tmp_path
    )
    assert (tmp_path / "svc.db").is_file()


@pytest.mark.real
@pytest.mark.parametrize("service", SERVICES)
async def test_service_process_on_postgresql_and_kafka(service: str, tmp_path: Path) -> None:
    infra = _infra_env()
    # the form CloudNativePG generates (postgresql://), read as postgresql+asyncpg://
    dsn = infra["LER_TEST_PG_DSN"].rstrip("/").replace("postgresql+asyncpg://", "postgresql://")
    env = {
        "LER_DATABASE_URL": f"{dsn}/ler_{service}",
        "LER_KAFKA_BOOTSTRAP_SERVERS": infra["LER_TEST_KAFKA"],
    }
    lines = await _run_until_serving_then_sigterm(service, env, tmp_path)
    assert not any("ler:ler@" in json.dumps(line) for line in lines), (
        "the database password was logged"
    )


async def test_unreachable_kafka_at_start_exits_1_with_a_readable_error(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ler_issuance",
        cwd=tmp_path,
        env={
            **os.environ,
            "LER_GRPC_PORT": str(_free_port()),
            "LER_HTTP_PORT": str(_free_port()),
            "LER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'svc.db'}",
            "LER_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # nothing listens there
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    failure = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()][-1]
    assert failure["msg"] == "service failed" and failure["level"] == "ERROR"
    assert "cannot connect to Kafka at 127.0.0.1:1" in str(failure["exc"])
