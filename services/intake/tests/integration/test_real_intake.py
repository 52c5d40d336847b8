"""The scenarios on the real PostgreSQL and Kafka, with the verification service running as
its own process (``python -m ler_verification``) and intake in-process.

Marked ``real``: these FAIL (never skip) when the servers are absent. Each run uses its own
PostgreSQL schema for intake, its own applications topic and consumer groups.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import grpc
import pytest
import scenarios
from intake_helpers import (
    Caller,
    HttpsServer,
    Issuer,
    Party,
    infra,
    intake_stub,
)
from ler.common.v1 import tenant_pb2 as tpb
from ler.verification.v1 import verification_service_pb2 as vpb
from ler.verification.v1 import verification_service_pb2_grpc as vpb_grpc
from ler_intake.bootstrap import bootstrap
from ler_platform.events.kafka import KafkaBus
from ler_platform.grpc_server import bearer_metadata
from ler_platform.local_tls import write_loopback_certificate
from ler_platform.topics import delete_topics_named
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stack import CLIENT_KEY, OPERATOR_KEY, Stack, intake_settings

pytestmark = [pytest.mark.real, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _verification_env(cert: Path, port: int) -> dict[str, str]:
    servers = infra()
    return {
        **os.environ,
        "LER_DATABASE_URL": servers["LER_TEST_PG_DSN"].rstrip("/") + "/ler_verification",
        "LER_KAFKA_BOOTSTRAP_SERVERS": servers["LER_TEST_KAFKA"],
        "LER_GRPC_PORT": str(port),
        "LER_HTTP_PORT": "0",
        "LER_FETCH_ALLOW_PRIVATE": "true",  # tests only: the status lists are on loopback
        "LER_FETCH_CA_FILE": str(cert),
        "LER_STATUS_CACHE_DEFAULT_TTL_SECONDS": "0",
        "LER_STATUS_CACHE_MAX_TTL_SECONDS": "0",
        "LER_INSTANCE_ID": uuid.uuid4().hex[:8],
        "LER_HEALTH_CHECK_INTERVAL_SECONDS": "0.5",
        "LER_LOG_LEVEL": "WARNING",
    }


async def _add_service_tenant(env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ler_verification",
        "add-tenant",
        f"intake-{uuid.uuid4().hex[:8]}",
        "Intake",
        "--service",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode != 0:
        raise AssertionError(f"add-tenant failed: {err.decode()[-2000:]}")
    return out.decode().strip().splitlines()[-1]


async def _wait_ready(port: int, key: str) -> None:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = vpb_grpc.VerificationServiceStub(channel)
    try:
        for _ in range(600):
            try:
                await stub.CreateChallenge(
                    vpb.CreateChallengeRequest(
                        verifier=tpb.TenantRef(tenant_id="ready-probe"), domain="probe.example"
                    ),
                    metadata=tuple(bearer_metadata(key)),
                    timeout=1,
                )
                return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.1)
        raise AssertionError("the verification process did not become ready in 60 s")
    finally:
        await channel.close()


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    servers = infra()
    cert, key = write_loopback_certificate(tmp_path)
    docs = HttpsServer(cert, key)
    await docs.start()
    issuer = Issuer(Party.new(), docs)
    issuer.publish_lists()
    port = _free_port()
    env = _verification_env(cert, port)
    service_key = await _add_service_tenant(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ler_verification",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    run = uuid.uuid4().hex[:10]
    schema = f"t_{run}"
    pg = servers["LER_TEST_PG_DSN"].rstrip("/") + "/ler_intake"
    events_topic = f"ler.applications.v1.test-{run}"
    bus = KafkaBus(servers["LER_TEST_KAFKA"], client_id=f"ler-intake-test-{run}")
    iapp = None
    channel = None
    try:
        await _wait_ready(port, service_key)
        await bus.start()
        iapp = bootstrap(
            intake_settings(
                pg,
                f"127.0.0.1:{port}",
                service_key,
                cert,
                kafka_bootstrap_servers=servers["LER_TEST_KAFKA"],
                db_schema=schema,
                events_topic=events_topic,
                consumer_group=f"ler.intake.test-{run}",
            )
        )
        await iapp.runtime.start()
        channel, stub = intake_stub(iapp.runtime.grpc.port or 0)
        yield Stack(
            bus=bus,
            docs=docs,
            issuer=issuer,
            verification_port=port,
            intake=iapp,
            channel=channel,
            operator=Caller(stub, OPERATOR_KEY),
            client=Caller(stub, CLIENT_KEY),
            service_key=service_key,
            events_topic=events_topic,
        )
    finally:
        # every step is bounded and every step runs: a step that hangs is named in the failure
        # instead of the whole teardown hanging (and the process and schema are still removed)
        hung: list[str] = []

        async def bounded(name: str, step: Awaitable[object], seconds: float = 60) -> None:
            try:
                await asyncio.wait_for(step, seconds)
            except TimeoutError:
                hung.append(name)

        if channel is not None:
            await bounded("intake channel close", channel.close())
        if iapp is not None:
            await bounded("intake runtime stop", iapp.runtime.stop())
        await bounded("test Kafka bus stop", bus.stop())
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await bounded("status list server stop", docs.stop())
        engine = create_async_engine(pg)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("SET LOCAL lock_timeout = '30s'"))
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            await engine.dispose()
        # last: the run's own topic (and its .dlq), once nothing uses it any more
        await bounded(
            "topic cleanup", delete_topics_named(servers["LER_TEST_KAFKA"], [events_topic]), 30
        )
        assert not hung, f"teardown steps did not finish in time: {hung}"


async def test_valid_presentation_is_verified_scored_and_explained(stack: Stack) -> None:
    await scenarios.scenario_valid_presentation_is_verified_scored_and_explained(stack)


async def test_tampered_revoked_and_replayed_presentations_are_flagged(stack: Stack) -> None:
    await scenarios.scenario_tampered_revoked_and_replayed_presentations_are_flagged(stack)


async def test_same_idempotency_key_gives_one_application(stack: Stack) -> None:
    await scenarios.scenario_same_idempotency_key_gives_one_application(stack)


async def test_redacted_view_hides_fields_on_the_wire_and_keeps_the_score(stack: Stack) -> None:
    await scenarios.scenario_redacted_view_hides_fields_on_the_wire_and_keeps_the_score(stack)


async def test_another_provider_sees_nothing(stack: Stack) -> None:
    await scenarios.scenario_another_provider_sees_nothing(stack)


async def test_later_revocation_on_kafka_flags_emits_and_notifies(stack: Stack) -> None:
    await scenarios.scenario_watch_list_outcome_and_later_revocation(stack)
