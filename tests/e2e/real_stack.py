"""The four services as separate processes on the real PostgreSQL and Kafka, for end-to-end tests.

``start_real_stack(workdir)`` is an async context manager. Each run gets fresh databases with
unique names (one per service), unique topics and consumer groups, ephemeral ports, a loopback
TLS certificate for issuance's status lists, and all the wiring a deployment has (intake's service
identity at verification, operator credentials). It waits until every service reports SERVING
on the gRPC health service, yields a ``RunningStack`` (a ``RealStack`` for the journey plus each
process's pid, gRPC/HTTP/metrics ports and log path), then stops them: SIGTERM, SIGKILL after
a bound, databases dropped, and the run's Kafka topics deleted (within a bound: topics left
behind by thousands of runs make the shared broker slow for everyone).

The servers come from ``LER_TEST_PG_DSN`` / ``LER_TEST_KAFKA`` or ``var/infra.env``; when they
are absent this raises (real-server tests fail, never skip).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ler_cli.journey import RealStack
from ler_platform.local_infra import LocalInfraMissing, find_local_infra
from ler_platform.local_tls import write_loopback_certificate
from ler_platform.topics import delete_topics_matching
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("verification", "issuance", "wallet", "intake")
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0
TOPIC_CLEANUP_SECONDS = 20.0


class RealStackError(RuntimeError):
    """The stack could not be started (servers missing, a service exited or never SERVING)."""


@dataclass
class ServiceProcess:
    """One running service."""

    name: str
    process: subprocess.Popen[bytes]
    grpc_port: int
    http_port: int
    metrics_port: int | None
    log_path: Path
    log_file: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        """The service's process id (leader of its own process group)."""
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the service's log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class RunningStack:
    """What ``start_real_stack`` yields."""

    stack: RealStack
    services: dict[str, ServiceProcess]
    run_id: str
    topics: dict[str, str]
    databases: dict[str, str]


def infra() -> tuple[str, str]:
    """(PostgreSQL DSN without a database, Kafka bootstrap); raises when they are not known."""
    try:
        found = find_local_infra(REPO_ROOT / "var" / "infra.env")
    except LocalInfraMissing as err:
        raise RealStackError(f"the real stack: {err}") from err
    return found.pg_dsn, found.kafka


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _new_kek() -> str:
    # LER_KEK as a deployment provides it: base64url of 32 random bytes
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


async def _admin(dsn: str, statements: list[str]) -> None:
    engine = create_async_engine(f"{dsn}/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def delete_run_topics(kafka: str, marker: str) -> list[str]:
    """Delete every topic whose name contains ``marker`` (this run's suffix, so also any
    dead-letter topic the services made); returns their names. Bounded by
    ``TOPIC_CLEANUP_SECONDS``; a broker that does not answer in time leaves them (never a
    hang: see ``delete_topics_matching``)."""
    return sorted(
        await delete_topics_matching(kafka, lambda t: marker in t, within=TOPIC_CLEANUP_SECONDS)
    )


async def _health(port: int) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            response = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.aio.AioRpcError:
            return -1  # not listening (or not ready) yet
        return int(response.status)


async def _wait_serving(services: dict[str, ServiceProcess]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    waiting = dict(services)
    while waiting:
        for name, svc in list(waiting.items()):
            if svc.process.poll() is not None:
                raise RealStackError(
                    f"ler_{name} exited with {svc.process.returncode} before SERVING:\n"
                    f"{svc.log_tail()}"
                )
            if await _health(svc.grpc_port) == health_pb2.HealthCheckResponse.SERVING:
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            tails = "\n".join(f"--- {n}\n{s.log_tail(1500)}" for n, s in waiting.items())
            raise RealStackError(
                f"not SERVING within {START_TIMEOUT_SECONDS:.0f} s: {', '.join(waiting)}\n{tails}"
            )
        await asyncio.sleep(0.2)


async def _add_service_tenant(env: dict[str, str], tenant_id: str, log_path: Path) -> str:
    """``ler-verification add-tenant <id> Intake --service`` (migrates, prints the key once)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ler_verification",
        "add-tenant",
        tenant_id,
        "Intake",
        "--service",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise RealStackError("ler-verification add-tenant did not finish in 60 s") from exc
    await asyncio.to_thread(log_path.write_bytes, err)  # never the key (stdout)
    if proc.returncode != 0:
        raise RealStackError(f"ler-verification add-tenant failed: {err.decode()[-2000:]}")
    return out.decode().strip().splitlines()[-1]


def _stop(services: dict[str, ServiceProcess]) -> None:
    """SIGTERM every process group, then SIGKILL what is still running after the bound."""
    for svc in services.values():
        if svc.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(svc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for svc in services.values():
        try:
            svc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(svc.pid, signal.SIGKILL)
            svc.process.wait(timeout=10)
        svc.log_file.close()


@dataclass
class _Plan:
    """Everything decided before anything starts: names, ports, credentials, environments."""

    dsn: str
    kafka: str
    run: str
    workdir: Path
    databases: dict[str, str]
    topics: dict[str, str]
    ports: dict[str, tuple[int, int, int]]
    env: dict[str, dict[str, str]]
    operator_token: str = field(repr=False)
    intake_operator: str = field(repr=False)
    intake_client: str = field(repr=False)


def _plan(
    workdir: Path,
    extra_env: dict[str, str] | None,
    env_per_service: dict[str, dict[str, str]] | None,
) -> _Plan:
    dsn, kafka = infra()
    run = uuid.uuid4().hex[:10]
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = write_loopback_certificate(workdir / "tls", days=1)
    databases = {name: f"ler_e2e_{run}_{name}" for name in SERVICES}
    topics = {
        "requests": f"ler.issuance.requests.v1.e2e-{run}",
        "results": f"ler.issuance.results.v1.e2e-{run}",
        "issued": f"ler.credentials.issued.v1.e2e-{run}",
        "status": f"ler.credentials.status.v1.e2e-{run}",
        "wallet_events": f"ler.wallet.events.v1.e2e-{run}",
        "applications": f"ler.applications.v1.e2e-{run}",
    }
    plan = _Plan(
        dsn=dsn,
        kafka=kafka,
        run=run,
        workdir=workdir,
        databases=databases,
        topics=topics,
        ports={name: (_free_port(), _free_port(), _free_port()) for name in SERVICES},
        env={},
        operator_token=uuid.uuid4().hex,
        intake_operator=uuid.uuid4().hex,
        intake_client=uuid.uuid4().hex,
    )
    # stray LER_* settings of the caller's shell must not leak into the services
    base = {k: v for k, v in os.environ.items() if not k.startswith("LER_")}
    env = plan.env
    for name in SERVICES:
        grpc_port, http_port, metrics_port = plan.ports[name]
        env[name] = {
            **base,
            "LER_DATABASE_URL": f"{dsn}/{databases[name]}",
            "LER_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "LER_GRPC_HOST": "127.0.0.1",
            "LER_GRPC_PORT": str(grpc_port),
            "LER_HTTP_HOST": "127.0.0.1",
            "LER_HTTP_PORT": str(http_port),
            # Prometheus /metrics of each service (its own port; a caller may override it)
            "LER_METRICS_PORT": str(metrics_port),
            "LER_HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
            "LER_GRPC_GRACE_SECONDS": "2",
            "LER_OUTBOX_POLL_INTERVAL_SECONDS": "0.1",
            "LER_LOG_LEVEL": "INFO",
            # key-encryption key (signing keys, holder keys, webhook secrets at rest)
            "LER_KEK": _new_kek(),
        }
    env["issuance"].update(
        {
            "LER_OPERATOR_TOKEN": plan.operator_token,
            "LER_HTTP_TLS_CERT": str(cert),
            "LER_HTTP_TLS_KEY": str(key),
            "LER_REQUESTS_TOPIC": topics["requests"],
            "LER_RESULTS_TOPIC": topics["results"],
            "LER_ISSUED_TOPIC": topics["issued"],
            "LER_STATUS_TOPIC": topics["status"],
            "LER_CONSUMER_GROUP": f"ler.issuance.e2e-{run}",
            "LER_STATUS_LIST_MAX_AGE_SECONDS": "0",
        }
    )
    env["wallet"].update(
        {
            "LER_ISSUED_TOPIC": topics["issued"],
            "LER_STATUS_TOPIC": topics["status"],
            "LER_EVENTS_TOPIC": topics["wallet_events"],
            "LER_CONSUMER_GROUP": f"ler.wallet.e2e-{run}",
        }
    )
    env["verification"].update(
        {
            # issuance's status lists are on loopback, under this run's certificate
            "LER_FETCH_ALLOW_PRIVATE": "true",
            "LER_FETCH_CA_FILE": str(cert),
            # this run's status topic: revocations drop verification's cached lists (and
            # intake's re-verification asks for lists fresher than the change anyway)
            "LER_STATUS_TOPIC": topics["status"],
            "LER_INSTANCE_ID": f"e2e-{run}",
        }
    )
    env["intake"].update(
        {
            "LER_VERIFICATION_GRPC_TARGET": f"127.0.0.1:{plan.ports['verification'][0]}",
            "LER_OPERATOR_API_KEY": plan.intake_operator,
            "LER_CLIENT_API_KEY": plan.intake_client,
            "LER_STATUS_TOPIC": topics["status"],
            "LER_EVENTS_TOPIC": topics["applications"],
            "LER_CONSUMER_GROUP": f"ler.intake.e2e-{run}",
            "LER_WEBHOOK_POLL_SECONDS": "0.2",
        }
    )
    for name in SERVICES:
        env[name].update(extra_env or {})
        env[name].update((env_per_service or {}).get(name, {}))
    return plan


def _launch(plan: _Plan, services: dict[str, ServiceProcess], names: tuple[str, ...]) -> None:
    """Start these services' processes (added to ``services`` as they start, for cleanup)."""
    for name in names:
        log_path = plan.workdir / f"{name}.log"
        log_file = open(log_path, "ab")  # the child writes it; closed in _stop
        process = subprocess.Popen(
            [sys.executable, "-m", f"ler_{name}"],
            cwd=plan.workdir,
            env=plan.env[name],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, signalled as a whole
        )
        grpc_port, http_port, _ = plan.ports[name]
        metrics = plan.env[name].get("LER_METRICS_PORT")
        services[name] = ServiceProcess(
            name,
            process,
            grpc_port,
            http_port,
            int(metrics) if metrics else None,
            log_path,
            log_file,
        )


def _real_stack(plan: _Plan) -> RealStack:
    return RealStack(
        **{name: f"127.0.0.1:{plan.ports[name][0]}" for name in SERVICES},
        issuance_operator_token=plan.operator_token,
        intake_operator_key=plan.intake_operator,
        intake_client_key=plan.intake_client,
        kafka_bootstrap=plan.kafka,
        requests_topic=plan.topics["requests"],
    )


@contextlib.asynccontextmanager
async def start_real_stack(
    workdir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    env_per_service: dict[str, dict[str, str]] | None = None,
) -> AsyncIterator[RunningStack]:
    """Start issuance, wallet, verification and intake as processes; see the module docstring.

    ``extra_env`` is given to every service (e.g. ``OTEL_*``, ``LER_METRICS_PORT``), and
    ``env_per_service[name]`` to one; both override the defaults set here.
    """
    plan = await asyncio.to_thread(_plan, workdir, extra_env, env_per_service)
    services: dict[str, ServiceProcess] = {}
    try:
        # dropped in `finally` even if a later CREATE fails (IF EXISTS)
        await _admin(plan.dsn, [f'CREATE DATABASE "{db}"' for db in plan.databases.values()])
        # issuance and wallet need nothing from the others to start: they start meanwhile
        await asyncio.to_thread(_launch, plan, services, ("issuance", "wallet"))
        # intake's service identity at verification, as a deployment's set-up job makes it
        # (it migrates verification's database, so verification starts after it)
        plan.env["intake"]["LER_VERIFICATION_API_KEY"] = await _add_service_tenant(
            plan.env["verification"], f"intake-{plan.run}", workdir / "add-tenant.log"
        )
        await asyncio.to_thread(_launch, plan, services, ("verification", "intake"))
        await _wait_serving(services)
        yield RunningStack(
            stack=_real_stack(plan),
            services=services,
            run_id=plan.run,
            topics=plan.topics,
            databases=plan.databases,
        )
    finally:
        await asyncio.to_thread(_stop, services)
        try:
            await _admin(
                plan.dsn,
                [f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in plan.databases.values()],
            )
        finally:
            # all topics of this run carry its suffix (see _plan); consumer groups expire
            await delete_run_topics(plan.kafka, f"e2e-{plan.run}")
