"""A service's Prometheus metrics: every instrument is created here, in one place.

Instruments are named in our ``ler.`` vocabulary (STYLE.md "Telemetry") and exported under
Prometheus-safe names (``ler.grpc.server.requests`` → ``ler_grpc_server_requests_total``,
see ``prometheus_name``). Each ``ServiceRuntime`` has its own ``Metrics`` with its own
registry, so that services embedded in one process never mix their numbers.

What is measured, and by whom:

* gRPC — requests, errors and duration by method and status code (``MetricsInterceptor``,
  the outermost server interceptor);
* HTTP — requests and duration by route and status (``http_middleware``);
* Kafka consumers — lag per topic and partition, records processed, records dead-lettered
  (``ler_platform.events.runner``);
* outbox — rows waiting (sampled by the runtime's health monitor) and rows published
  (``ler_platform.outbox.OutboxRelay``);
* domain counters of the services, e.g. credentials issued, verified, revoked
  (``Metrics.counter``).

``MetricsServer`` serves ``GET /metrics`` in the Prometheus text format on its own port
(``LER_METRICS_HOST``/``LER_METRICS_PORT``; the Helm chart uses 9464).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import grpc
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from ler_platform.errors import ConfigurationError

# Domain counters the services share (names in the ``ler.`` vocabulary).
CREDENTIALS_ISSUED = "ler.credentials.issued"
CREDENTIALS_VERIFIED = "ler.credentials.verified"
CREDENTIALS_REVOKED = "ler.credentials.revoked"
_DOMAIN_HELP = {
    CREDENTIALS_ISSUED: "Credentials issued (written with their event in one transaction).",
    CREDENTIALS_VERIFIED: "Credentials and presentations verified, by verdict.",
    CREDENTIALS_REVOKED: "Credentials revoked.",
}

# gRPC codes that are the server's fault (OTel RPC conventions), counted as errors.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_UNSAFE = re.compile(r"[^a-zA-Z0-9_:]")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def prometheus_name(name: str) -> str:
    """``ler.grpc.server.requests`` → ``ler_grpc_server_requests`` (Prometheus data model:
    names match ``[a-zA-Z_:][a-zA-Z0-9_:]*``)."""
    safe = _UNSAFE.sub("_", name)
    if not safe or safe[0].isdigit():
        raise ConfigurationError(f"metric name {name!r} cannot be made Prometheus-safe")
    return safe


class Metrics:
    """The instruments of one service (see the module docstring)."""

    def __init__(self, service_name: str, registry: CollectorRegistry | None = None) -> None:
        self.service_name = service_name
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.grpc_requests = Counter(
            prometheus_name("ler.grpc.server.requests"),
            "gRPC calls handled, by method and status code.",
            ["method", "code"],
            registry=r,
        )
        self.grpc_errors = Counter(
            prometheus_name("ler.grpc.server.errors"),
            "gRPC calls that ended with a server-fault status code.",
            ["method", "code"],
            registry=r,
        )
        self.grpc_duration = Histogram(
            prometheus_name("ler.grpc.server.duration"),
            "Duration of gRPC calls.",
            ["method", "code"],
            unit="seconds",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            prometheus_name("ler.http.server.requests"),
            "HTTP requests handled, by method, route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            prometheus_name("ler.http.server.duration"),
            "Duration of HTTP requests.",
            ["method", "route"],
            unit="seconds",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            prometheus_name("ler.kafka.consumer.lag"),
            "Records not yet read by the consumer group, per topic and partition.",
            ["group", "topic", "partition"],
            registry=r,
        )
        self.consumer_processed = Counter(
            prometheus_name("ler.kafka.consumer.messages"),
            "Records handled by the consumer (applied or dead-lettered).",
            ["group", "topic"],
            registry=r,
        )
        self.dead_lettered = Counter(
            prometheus_name("ler.kafka.consumer.dead_lettered"),
            "Records sent to the topic's .dlq.",
            ["group", "topic"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            prometheus_name("ler.outbox.backlog"),
            "Outbox rows committed but not yet published.",
            registry=r,
        )
        self.outbox_published = Counter(
            prometheus_name("ler.outbox.published"),
            "Outbox rows published to the bus, by topic.",
            ["topic"],
            registry=r,
        )
        self._domain: dict[str, Counter] = {}

    def counter(self, name: str, description: str, labels: Sequence[str] = ()) -> Counter:
        """A domain counter of the service (``ler.credentials.issued`` ...), created once.

        Asking again for the same name returns the same counter; labels must match.
        Keep label values few (a status, a proof type), never ids.
        """
        existing = self._domain.get(name)
        if existing is not None:
            if tuple(existing._labelnames) != tuple(labels):
                raise ConfigurationError(
                    f"metric {name} already exists with labels {list(existing._labelnames)}"
                )
            return existing
        counter = Counter(prometheus_name(name), description, list(labels), registry=self.registry)
        self._domain[name] = counter
        return counter

    def increment(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to the domain counter ``name`` (one of the shared names above, or
        one created earlier with ``counter``); its label names are those given the first time.
        """
        if amount <= 0:
            return
        counter = self._domain.get(name)
        if counter is None:
            help_text = _DOMAIN_HELP.get(name)
            if help_text is None:
                raise ConfigurationError(f"metric {name} is not defined; create it with counter()")
            counter = self.counter(name, help_text, sorted(labels))
        (counter.labels(**labels) if labels else counter).inc(amount)

    def exposition(self) -> bytes:
        """The current values in the Prometheus text format."""
        return generate_latest(self.registry)


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every call; install it outermost so it sees the final status."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        # imported here: grpc_server imports this module for the interceptor
        from ler_platform.grpc_server import _rewrap

        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return _rewrap(handler, handler_call_details.method, self._scope)

    @asynccontextmanager
    async def _scope(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            yield
        except BaseException:
            raw = context.code() if hasattr(context, "code") else None
            code = raw if isinstance(raw, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
            raise
        finally:
            if code is grpc.StatusCode.OK:
                raw = context.code() if hasattr(context, "code") else None
                if isinstance(raw, grpc.StatusCode):  # set_code() without raising
                    code = raw
            self._record(method.lstrip("/"), code, time.perf_counter() - started)

    def _record(self, method: str, code: grpc.StatusCode, seconds: float) -> None:
        m = self._metrics
        m.grpc_requests.labels(method, code.name).inc()
        m.grpc_duration.labels(method, code.name).observe(seconds)
        if code in _SERVER_FAULTS:
            m.grpc_errors.labels(method, code.name).inc()


def http_middleware(metrics: Metrics) -> Any:
    """An aiohttp middleware counting and timing requests by route (never by raw path)."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as err:
            status = err.status
            raise
        finally:
            route = _route_of(request)
            metrics.http_requests.labels(request.method, route, str(status)).inc()
            metrics.http_duration.labels(request.method, route).observe(
                time.perf_counter() - started
            )

    middleware.ler_metrics = True  # type: ignore[attr-defined]  # marks it as installed
    return middleware


def _route_of(request: web.Request) -> str:
    # the route template ("/issuers/{id}/did.json"), so that ids don't explode cardinality
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


class MetricsServer:
    """``GET /metrics`` on its own listener, for Prometheus to scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.app = web.Application()
        self.app.router.add_get("/metrics", self._handle)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def _handle(self, _request: web.Request) -> web.Response:
        body = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self, host: str, port: int) -> int:
        """Start listening; returns the bound port (for port 0)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # aiohttp exposes the bound sockets only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
