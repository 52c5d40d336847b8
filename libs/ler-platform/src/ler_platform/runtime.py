"""A service's running infrastructure, assembled by its composition root (``bootstrap``).

``build_runtime(settings, metadata=..., migrations=...)`` creates — in ``main()``, never at
import — the database engine, the event bus (Kafka when ``LER_KAFKA_BOOTSTRAP_SERVERS`` is
set, else in-process), the gRPC server with health and reflection, the HTTP listener, the
outbox writer and relay. Services register their servicers, routes and consumers on it,
then ``serve_until(stop)``.

Start-up order: migrations (unless ``LER_RUN_MIGRATIONS=false``) → bus → consumers and
relay → gRPC listener (health ``liveness`` SERVING from here) → HTTP and metrics listeners →
readiness monitor (``""`` SERVING once the database and the bus answer). Shutdown, in
``finally``: liveness and readiness NOT_SERVING → HTTP stop → gRPC stop with grace
(in-flight calls finish and commit) → consumers and relay finish their batch → bus flush →
engine dispose → metrics listener stop → telemetry flush. The whole shutdown is bounded by
``LER_SHUTDOWN_TIMEOUT_SECONDS`` (default 25 s): a step still running when the budget is
spent is cancelled and logged, and the next steps still run.

``runtime.metrics`` holds the service's Prometheus instruments (``ler_platform.metrics``);
they are served at ``/metrics`` on ``LER_METRICS_PORT`` when it is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ler_platform.auth import Authenticator
from ler_platform.db import create_engine, ping, session_factory
from ler_platform.events.bus import EventBus
from ler_platform.events.envelope import EventTypeRegistry
from ler_platform.events.inprocess import InProcessBus
from ler_platform.events.kafka import KafkaBus
from ler_platform.events.runner import RunnerOptions
from ler_platform.grpc_server import GrpcServer
from ler_platform.http_server import HttpServer
from ler_platform.inbox import BatchEventHandler, EventHandler, IdempotentConsumer
from ler_platform.metrics import Metrics, MetricsServer, http_middleware
from ler_platform.migrations import run_migrations
from ler_platform.outbox import OutboxNotifier, OutboxRelay, OutboxWriter
from ler_platform.settings import ServiceSettings
from ler_platform.tables import inbox_table, outbox_table
from ler_platform.tasks import run_bounded, stop_task
from ler_platform.tracing import setup_tracing

log = logging.getLogger(__name__)

_PROBE_TIMEOUT_SECONDS = 5.0


class Component(Protocol):
    """Something with a background lifecycle (consumers, relays, schedulers)."""

    async def start(self) -> None:
        """Begin work."""
        ...

    async def stop(self) -> None:
        """Finish work in hand and stop."""
        ...


def make_bus(settings: ServiceSettings) -> EventBus:
    """Kafka when configured, otherwise an in-process bus."""
    if settings.kafka_bootstrap_servers:
        return KafkaBus(
            settings.kafka_bootstrap_servers,
            client_id=f"ler-{settings.service_name}",
            topic_partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
            max_message_bytes=settings.max_message_bytes,
            security=settings.kafka_security,
        )
    return InProcessBus(
        partitions=settings.bus_partitions,
        max_records_per_partition=settings.bus_max_records_per_partition,
    )


def runner_options(settings: ServiceSettings, metrics: Metrics | None = None) -> RunnerOptions:
    """Consumer runner tuning from settings (and where to count what it does)."""
    return RunnerOptions(
        metrics=metrics,
        batch_size=settings.consumer_batch_size,
        max_retries=settings.consumer_max_retries,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
        backoff_max_seconds=settings.consumer_retry_backoff_max_seconds,
        max_message_bytes=settings.max_message_bytes,
    )


class ServiceRuntime:
    """See the module docstring."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        engine: AsyncEngine,
        bus: EventBus,
        grpc: GrpcServer,
        http: HttpServer | None,
        metadata: MetaData,
        migrations: Path | None,
        owns_bus: bool = True,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics(settings.service_name)
        self.metrics_server: MetricsServer | None = (
            MetricsServer(self.metrics) if settings.metrics_port is not None else None
        )
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.bus = bus
        self.grpc = grpc
        self.http = http
        self.metadata = metadata
        self.outbox_table: Table = outbox_table(metadata)
        self.inbox_table: Table = inbox_table(metadata)
        self._notifier = OutboxNotifier()
        self.outbox = OutboxWriter(
            self.outbox_table, source=f"urn:ler:{settings.service_name}", notifier=self._notifier
        )
        self.relay = OutboxRelay(
            engine,
            self.outbox_table,
            bus,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval_seconds,
            linger=settings.outbox_linger_seconds,
            notifier=self._notifier,
            metrics=self.metrics,
        )
        self._migrations = migrations
        self._owns_bus = owns_bus
        self._components: list[Component] = []
        self._tracer_provider = setup_tracing(f"ler-{settings.service_name}")
        self._readiness: asyncio.Task[None] | None = None
        self.ready = False

    def add_component(self, component: Component) -> None:
        """Start ``component`` with the service and stop it (in reverse order) at shutdown."""
        self._components.append(component)

    def add_consumer(
        self,
        topics: Sequence[str],
        group_id: str,
        registry: EventTypeRegistry,
        *,
        handler: EventHandler | None = None,
        batch_handler: BatchEventHandler | None = None,
    ) -> IdempotentConsumer:
        """An idempotent consumer of ``topics`` for group ``group_id``, started with the service."""
        consumer = IdempotentConsumer(
            bus=self.bus,
            sessions=self.sessions,
            inbox=self.inbox_table,
            topics=topics,
            group_id=group_id,
            registry=registry,
            handler=handler,
            batch_handler=batch_handler,
            options=runner_options(self.settings, self.metrics),
        )
        self.add_component(consumer)
        return consumer

    async def migrate(self) -> None:
        """Upgrade the service's database to head (on this runtime's engine, so that
        connection hooks a service installed on it, e.g. a ``search_path``, apply)."""
        if self._migrations is not None:
            await run_migrations(self.engine, self._migrations)

    async def migrate_and_close(self) -> None:
        """``migrate()``, then dispose the engine: for a ``migrate`` command that built the
        runtime only to migrate (see ``ler_platform.cli``)."""
        try:
            await self.migrate()
        finally:
            await self.engine.dispose()

    async def start(self) -> None:
        """Bring everything up (see the module docstring for the order)."""
        s = self.settings
        if s.run_migrations:
            await self.migrate()
        if self._owns_bus:
            await self.bus.start()
        await self.relay.start()
        for component in self._components:
            await component.start()
        port = await self.grpc.start(s.grpc_host, s.grpc_port)
        http_port = None
        if self.http is not None:
            _instrument_http(self.http, self.metrics)
            http_port = await self.http.start(s.http_host, s.http_port)
        metrics_port = None
        if self.metrics_server is not None and s.metrics_port is not None:
            metrics_port = await self.metrics_server.start(s.metrics_host, s.metrics_port)
        self._readiness = asyncio.create_task(self._monitor_readiness(), name="readiness")
        log.info(
            "%s started",
            s.service_name,
            extra={"grpc_port": port, "http_port": http_port, "metrics_port": metrics_port},
        )

    async def _monitor_readiness(self) -> None:
        while True:
            try:
                # bounded: an unreachable host must turn NOT_SERVING, not hang the probe
                await asyncio.wait_for(ping(self.engine), _PROBE_TIMEOUT_SECONDS)
                await asyncio.wait_for(self.bus.ping(), _PROBE_TIMEOUT_SECONDS)
            except Exception as err:
                if self.ready:
                    log.warning("dependency unreachable, reporting NOT_SERVING: %s", err)
                self.ready = False
            else:
                self.ready = True
            await self.grpc.set_serving(self.ready)
            if self.ready:
                await self._sample_outbox_backlog()
            await asyncio.sleep(self.settings.health_check_interval_seconds)

    async def _sample_outbox_backlog(self) -> None:
        try:
            backlog = await asyncio.wait_for(self.relay.backlog(), _PROBE_TIMEOUT_SECONDS)
        except Exception:  # a metric must never disturb the health monitor
            log.debug("could not count the outbox backlog", exc_info=True)
            return
        self.metrics.outbox_backlog.set(backlog)

    async def stop(self) -> None:
        """Shut down gracefully within ``shutdown_timeout_seconds``; every step runs even if
        an earlier one failed or overran (see the module docstring)."""
        s = self.settings
        deadline = time.monotonic() + s.shutdown_timeout_seconds
        self.ready = False
        with contextlib.suppress(Exception):  # shutdown must go on whatever health does
            await self.grpc.set_alive(False)
        await stop_task(self._readiness, name="readiness monitor")
        self._readiness = None
        steps: list[tuple[str, Awaitable[object]]] = []
        if self.http is not None:
            steps.append(("http", self.http.stop()))
        # leave part of the budget to the steps after gRPC: they drain and flush
        grace = max(0.0, min(s.grpc_grace_seconds, s.shutdown_timeout_seconds * 0.6))
        steps.append(("grpc", self.grpc.stop(grace)))
        for component in reversed(self._components):
            steps.append((type(component).__name__, component.stop()))
        steps.append(("outbox relay", self.relay.stop()))
        if self._owns_bus:
            steps.append(("bus", self.bus.stop()))
        steps.append(("database", self.engine.dispose()))
        if self.metrics_server is not None:
            steps.append(("metrics", self.metrics_server.stop()))
        for name, step in steps:
            remaining = deadline - time.monotonic()
            try:
                # a step that would overrun the budget is cancelled: the pod must exit
                # before Kubernetes' SIGKILL, and what was acknowledged is already durable
                await run_bounded(step, name=f"stopping {name}", within=max(remaining, 0.01))
            except TimeoutError:
                log.error(
                    "stopping %s did not finish within the %.0f s shutdown budget; abandoned",
                    name,
                    s.shutdown_timeout_seconds,
                )
            except Exception:
                log.exception("stopping %s failed", name)
        if self._tracer_provider is not None:
            self._tracer_provider.shutdown()  # flushes pending spans
        log.info("%s stopped", s.service_name)

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Start, run until ``stop`` is set, then shut down (also when start-up failed)."""
        try:
            await self.start()
            await stop.wait()
        finally:
            await self.stop()


def build_runtime(
    settings: ServiceSettings,
    *,
    metadata: MetaData,
    migrations: Path | None,
    authenticator: Authenticator | None = None,
    bus: EventBus | None = None,
) -> ServiceRuntime:
    """Create the runtime's parts from settings. Pass ``bus`` to share one (embedded mode);
    a bus passed in is started and stopped by its owner, not by this runtime."""
    engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, schema=settings.db_schema
    )
    metrics = Metrics(settings.service_name)
    grpc_server = GrpcServer(
        domain=f"{settings.service_name}.ler",
        authenticator=authenticator,
        max_message_bytes=settings.grpc_max_message_bytes,
        metrics=metrics,
    )
    runtime_ref: list[ServiceRuntime] = []
    http = HttpServer(lambda: bool(runtime_ref and runtime_ref[0].ready), metrics=metrics)
    runtime = ServiceRuntime(
        settings,
        engine=engine,
        bus=bus or make_bus(settings),
        grpc=grpc_server,
        http=http,
        metadata=metadata,
        migrations=migrations,
        owns_bus=bus is None,
        metrics=metrics,
    )
    runtime_ref.append(runtime)
    return runtime


def _instrument_http(http: HttpServer, metrics: Metrics) -> None:
    """Add the metrics middleware to an HTTP server a service built itself (once)."""
    app = http.app
    if app.frozen or any(getattr(m, "ler_metrics", False) for m in app.middlewares):
        return
    app.middlewares.append(http_middleware(metrics))
