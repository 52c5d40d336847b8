"""Health ``liveness`` vs readiness, and the Prometheus metrics a runtime serves at /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import grpc
import pytest
from google.protobuf import wrappers_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ler_platform.db import make_metadata
from ler_platform.errors import ConfigurationError, NotFound
from ler_platform.events import Event, EventTypeRegistry, PoisonMessage
from ler_platform.grpc_server import GrpcServer
from ler_platform.http_server import HttpServer
from ler_platform.metrics import CREDENTIALS_ISSUED, Metrics, prometheus_name
from ler_platform.runtime import ServiceRuntime, build_runtime
from ler_platform.settings import ServiceSettings
from platform_helpers import poll_until, unique
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.timeout(60)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SV = wrappers_pb2.StringValue
SERVICE = "test.v1.Echo"


async def _health(port: int, service: str) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
        return int(response.status)


def _settings(database_url: str, **overrides: object) -> ServiceSettings:
    values: dict[str, object] = {
        "service_name": "mt",
        "grpc_port": 0,
        "http_port": 0,
        "metrics_port": 0,
        "database_url": database_url,
        "run_migrations": False,
        "health_check_interval_seconds": 0.1,
        "grpc_grace_seconds": 1,
        "consumer_max_retries": 0,
    }
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]


class _ProbingHttp(HttpServer):
    """An HTTP server whose stop() (the first shutdown step) asks gRPC health over the wire."""

    def __init__(self, grpc_port: Callable[[], int | None]) -> None:
        super().__init__(lambda: False)
        self._grpc_port = grpc_port
        self.seen_at_shutdown: dict[str, int] = {}

    async def stop(self) -> None:
        port = self._grpc_port()
        assert port
        for service in ("liveness", ""):
            self.seen_at_shutdown[service] = await _health(port, service)
        await super().stop()


async def test_liveness_serves_while_the_database_is_down_and_stops_when_shutdown_begins() -> None:
    # nothing listens on port 1: readiness must stay NOT_SERVING, liveness SERVING
    runtime = build_runtime(
        _settings("postgresql://nobody:pw@127.0.0.1:1/none", metrics_port=None),
        metadata=make_metadata(),
        migrations=None,
    )
    probe = _ProbingHttp(lambda: runtime.grpc.port)
    runtime.http = probe
    await runtime.start()
    try:
        port = runtime.grpc.port
        assert port
        for _ in range(5):
            assert await _health(port, "liveness") == SERVING
            assert await _health(port, "") == NOT_SERVING
            await asyncio.sleep(0.1)
    finally:
        await runtime.stop()
    assert probe.seen_at_shutdown == {"liveness": NOT_SERVING, "": NOT_SERVING}


async def test_liveness_is_not_serving_before_start_and_serving_once_the_server_runs() -> None:
    server = GrpcServer(domain="t.ler")
    port = await server.start("127.0.0.1", 0)
    try:
        assert await _health(port, "liveness") == SERVING
        assert await _health(port, "") == NOT_SERVING  # readiness is never SERVING by default
        await server.set_serving(True)
        assert await _health(port, "") == SERVING
        await server.set_alive(False)
        assert await _health(port, "liveness") == NOT_SERVING
    finally:
        await server.stop(0)


def test_prometheus_names_are_safe() -> None:
    assert prometheus_name("ler.grpc.server.requests") == "ler_grpc_server_requests"
    assert prometheus_name("ler.credentials-issued/x") == "ler_credentials_issued_x"
    with pytest.raises(ConfigurationError, match="cannot be made Prometheus-safe"):
        prometheus_name("9lives")


def test_domain_counters_are_created_once_with_fixed_labels() -> None:
    metrics = Metrics("t")
    issued = metrics.counter(CREDENTIALS_ISSUED, "Credentials issued.", ["proof_type"])
    assert metrics.counter(CREDENTIALS_ISSUED, "Credentials issued.", ["proof_type"]) is issued
    issued.labels("eddsa-rdfc-2022").inc(3)
    assert 'ler_credentials_issued_total{proof_type="eddsa-rdfc-2022"} 3.0' in (
        metrics.exposition().decode()
    )
    with pytest.raises(ConfigurationError, match="already exists with labels"):
        metrics.counter(CREDENTIALS_ISSUED, "Credentials issued.", ["tenant"])


# --- a whole runtime, scraped over HTTP -------------------------------------------------


async def _echo(request: SV, context: grpc.aio.ServicerContext) -> SV:
    if request.value == "missing":
        raise NotFound("no such thing")
    if request.value == "crash":
        raise RuntimeError("boom")
    return request


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    instance = build_runtime(
        _settings(f"sqlite+aiosqlite:///{tmp_path / 'mt.db'}"),
        metadata=make_metadata(),
        migrations=None,
    )
    async with instance.engine.begin() as conn:
        await conn.run_sync(instance.metadata.create_all)
    handlers = grpc.method_handlers_generic_handler(
        SERVICE,
        {"Echo": grpc.unary_unary_rpc_method_handler(_echo, SV.FromString, SV.SerializeToString)},
    )
    instance.grpc.add_service(SERVICE, lambda s: s.add_generic_rpc_handlers((handlers,)))
    yield instance


async def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_after_grpc_calls_http_requests_and_consumed_events(
    runtime: ServiceRuntime,
) -> None:
    topic = unique("ler.metrics")
    group = unique("g")
    applied: list[str] = []

    async def handle(session: AsyncSession, event: Event[SV]) -> None:  # type: ignore[type-arg]
        if event.message.value == "poison":
            raise PoisonMessage("value 'poison' is refused", error_type="refused")
        applied.append(event.message.value)

    runtime.add_consumer([topic], group, EventTypeRegistry([SV]), handler=handle)  # type: ignore[arg-type]
    await runtime.start()
    try:
        assert runtime.metrics_server is not None and runtime.metrics_server.port
        mport = runtime.metrics_server.port
        before = await _scrape(mport)
        method = f"{SERVICE}/Echo"
        assert _value(before, "ler_grpc_server_requests_total", method=method, code="OK") == 0

        async with grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc.port}") as channel:
            echo = channel.unary_unary(
                f"/{method}",
                request_serializer=SV.SerializeToString,
                response_deserializer=SV.FromString,
            )
            assert (await echo(SV(value="hi"))).value == "hi"
            await echo(SV(value="hi"))
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await echo(SV(value="missing"))
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as crash:
                await echo(SV(value="crash"))
            assert crash.value.code() == grpc.StatusCode.INTERNAL

        assert runtime.http is not None and runtime.http.port
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{runtime.http.port}/healthz") as r:
                assert r.status == 200
            async with session.get(f"http://127.0.0.1:{runtime.http.port}/no/such/7") as r:
                assert r.status == 404

        async with runtime.sessions() as session, session.begin():
            for value in ("a", "b", "poison"):
                await runtime.outbox.add(session, topic, "k1", SV(value=value))
        await poll_until(
            lambda: asyncio.sleep(0, applied),
            # the batch with the poison record is rolled back and retried one by one
            lambda a: set(a) == {"a", "b"},
            within=10,
            what="events applied",
        )

        after = await poll_until(
            lambda: _scrape(mport),
            lambda s: (
                _value(s, "ler_kafka_consumer_messages_total", group=group, topic=topic) == 3
                and _value(s, "ler_kafka_consumer_dead_lettered_total", group=group, topic=topic)
                == 1
            ),
            within=10,
            what="consumer metrics",
        )
        assert _value(after, "ler_grpc_server_requests_total", method=method, code="OK") == 2
        assert _value(after, "ler_grpc_server_requests_total", method=method, code="NOT_FOUND") == 1
        assert _value(after, "ler_grpc_server_requests_total", method=method, code="INTERNAL") == 1
        # only server faults are errors: NOT_FOUND is the caller's problem
        assert _value(after, "ler_grpc_server_errors_total", method=method, code="INTERNAL") == 1
        assert _value(after, "ler_grpc_server_errors_total", method=method, code="NOT_FOUND") == 0
        assert (
            _value(after, "ler_grpc_server_duration_seconds_count", method=method, code="OK") == 2
        )
        assert (
            _value(
                after,
                "ler_http_server_requests_total",
                method="GET",
                route="/healthz",
                status="200",
            )
            == 1
        )
        assert (
            _value(
                after,
                "ler_http_server_requests_total",
                method="GET",
                route="unmatched",
                status="404",
            )
            == 1
        )
        assert _value(after, "ler_outbox_published_total", topic=topic) == 3
        # the in-process bus reports lag; everything was read
        lag = await poll_until(
            lambda: _scrape(mport),
            lambda s: any(
                name == "ler_kafka_consumer_lag" and dict(lbl).get("topic") == topic
                for name, lbl in s
            ),
            within=10,
            what="consumer lag sample",
        )
        assert all(
            v == 0
            for (name, lbl), v in lag.items()
            if name == "ler_kafka_consumer_lag" and dict(lbl).get("topic") == topic
        )
        assert ("ler_outbox_backlog", ()) in after
    finally:
        await runtime.stop()


async def test_outbox_backlog_gauge_counts_unpublished_rows(tmp_path: Path) -> None:
    runtime = build_runtime(
        # a relay that never wakes within the test: rows stay in the outbox
        _settings(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", outbox_poll_interval_seconds=3600),
        metadata=make_metadata(),
        migrations=None,
    )
    async with runtime.engine.begin() as conn:
        await conn.run_sync(runtime.metadata.create_all)
    async with runtime.sessions() as session, session.begin():
        await runtime.outbox.add_many(
            session, unique("ler.backlog"), [(f"k{i}", SV(value=str(i)), None) for i in range(4)]
        )
    await runtime.bus.start()
    try:
        # measured the same way the monitor does, before the relay runs
        assert await runtime.relay.backlog() == 4
    finally:
        await runtime.bus.stop()
        await runtime.engine.dispose()


@pytest.mark.real
async def test_consumer_lag_on_kafka_rises_while_behind_and_returns_to_zero(
    tmp_path: Path,
) -> None:
    from platform_helpers import infra

    runtime = build_runtime(
        _settings(
            f"sqlite+aiosqlite:///{tmp_path / 'lag.db'}",
            kafka_bootstrap_servers=infra().kafka,
            kafka_topic_partitions=1,
            consumer_batch_size=1,  # one record per poll: the position trails the end
        ),
        metadata=make_metadata(),
        migrations=None,
    )
    async with runtime.engine.begin() as conn:
        await conn.run_sync(runtime.metadata.create_all)
    topic, group = unique("ler.lag"), unique("g")
    release = asyncio.Event()
    seen: list[str] = []

    async def handle(session: AsyncSession, event: Event[SV]) -> None:  # type: ignore[type-arg]
        if event.message.value == "2":
            await release.wait()  # hold the consumer behind the end of the partition
        seen.append(event.message.value)

    runtime.add_consumer([topic], group, EventTypeRegistry([SV]), handler=handle)  # type: ignore[arg-type]
    await runtime.start()
    try:
        assert runtime.metrics_server is not None and runtime.metrics_server.port
        mport = runtime.metrics_server.port
        async with runtime.sessions() as session, session.begin():
            await runtime.outbox.add_many(
                session, topic, [("k", SV(value=str(i)), None) for i in range(6)]
            )

        def lag(s: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
            return _value(s, "ler_kafka_consumer_lag", group=group, topic=topic, partition="0")

        behind = await poll_until(
            lambda: _scrape(mport), lambda s: lag(s) > 0, within=30, what="lag > 0"
        )
        assert 1 <= lag(behind) <= 4
        release.set()
        done = await poll_until(
            lambda: _scrape(mport),
            lambda s: (
                lag(s) == 0
                and _value(s, "ler_kafka_consumer_messages_total", group=group, topic=topic) == 6
            ),
            within=30,
            what="lag back to 0 with 6 records processed",
        )
        assert _value(done, "ler_outbox_published_total", topic=topic) == 6
        assert seen == [str(i) for i in range(6)]
    finally:
        release.set()
        await runtime.stop()
