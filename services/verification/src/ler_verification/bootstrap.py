"""Composition root of the verification service: builds its runtime from settings.

Everything with a lifecycle or a connection (engine, bus, servers, caches) is created
here, called from ``main()`` (or a test), never at import time.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ler_crypto.did import DidResolver, HttpsWebFetcher
from ler_platform.events.bus import EventBus
from ler_platform.metrics import CREDENTIALS_VERIFIED
from ler_platform.runtime import ServiceRuntime, build_runtime
from ler_proto.events.verification import VERIFICATIONS_TOPIC

from ler_verification.adapters.auth import DbApiKeyAuthenticator
from ler_verification.adapters.fetching import (
    CachedDidWebFetcher,
    CachedStatusListFetcher,
    InvalidatingCache,
)
from ler_verification.adapters.maintenance import InboxPruner
from ler_verification.adapters.prepare_pool import PreparePool
from ler_verification.domain.events import VerificationCompleted
from ler_verification.entrypoints import grpc_api
from ler_verification.entrypoints.consumers import STATUS_REGISTRY, StatusChangeHandler
from ler_verification.entrypoints.http_api import VcApi
from ler_verification.entrypoints.http_server import TlsCapableHttpServer, server_ssl_context
from ler_verification.service_layer.trust import TrustListCache
from ler_verification.service_layer.unit_of_work import EventBatcher, SqlUnitOfWork, UnitOfWork
from ler_verification.service_layer.verify import VerificationService
from ler_verification.settings import VerificationSettings
from ler_verification.tables import metadata

MIGRATIONS = Path(__file__).resolve().parent / "alembic"


class _EnsureTopics:
    """Creates the topics this service publishes to at start-up (the outbox relay only
    publishes; consumers create their own topics)."""

    def __init__(self, bus: EventBus, topics: list[str]) -> None:
        self._bus = bus
        self._topics = topics

    async def start(self) -> None:
        await self._bus.ensure_topics(self._topics)

    async def stop(self) -> None:
        return None


@dataclass(frozen=True)
class VerificationApp:
    """The runtime plus the parts tests and operators reach for."""

    runtime: ServiceRuntime
    service: VerificationService
    uow_factory: Callable[[], UnitOfWork]
    status_lists: CachedStatusListFetcher
    did_documents: CachedDidWebFetcher
    trust: TrustListCache
    # worker processes for the offline phase of verification (None: in-process)
    prepare_pool: PreparePool | None = None

    async def serve_until(self, stop: asyncio.Event) -> None:
        """See ``ServiceRuntime.serve_until``."""
        await self.runtime.serve_until(stop)


def _client_ssl(settings: VerificationSettings) -> ssl.SSLContext | None:
    if not settings.fetch_ca_file:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=settings.fetch_ca_file)
    return context


def bootstrap(
    settings: VerificationSettings,
    *,
    bus: EventBus | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> VerificationApp:
    """Assemble the service: database, event bus, gRPC (health, reflection, VerificationService),
    HTTP (VC-API, HTTPS when configured), the status-event consumer, the outbox relay.

    ``bus`` lets an embedded host share one in-process bus between services; by default the
    service makes its own (Kafka when configured).
    """
    authenticator = DbApiKeyAuthenticator(ttl=settings.auth_cache_seconds)
    runtime = build_runtime(
        settings, metadata=metadata, migrations=MIGRATIONS, bus=bus, authenticator=authenticator
    )
    authenticator.bind(runtime.sessions)

    write_lock = asyncio.Lock() if runtime.engine.dialect.name == "sqlite" else None

    def uow_factory() -> UnitOfWork:
        return SqlUnitOfWork(runtime.sessions, runtime.outbox, write_lock=write_lock)

    # HttpsWebFetcher's own cache is switched off (ttl=0): ours is invalidatable by issuer
    web = HttpsWebFetcher(
        max_bytes=settings.fetch_max_bytes,
        timeout=settings.fetch_timeout_seconds,
        ttl=0,
        allow_private=settings.fetch_allow_private,
        ssl_context=_client_ssl(settings),
        max_cache_entries=1,
    )
    did_documents = CachedDidWebFetcher(
        web,
        InvalidatingCache(max_entries=settings.cache_max_entries),
        ttl=settings.did_cache_ttl_seconds,
    )
    status_lists = CachedStatusListFetcher(
        web,
        InvalidatingCache(max_entries=settings.cache_max_entries),
        default_ttl=settings.status_cache_default_ttl_seconds,
        max_ttl=settings.status_cache_max_ttl_seconds,
    )
    resolver = DidResolver(did_documents, timeout=settings.fetch_timeout_seconds)
    trust = TrustListCache(uow_factory, ttl=settings.trust_cache_seconds)
    batcher = EventBatcher(runtime.sessions, runtime.outbox, write_lock=write_lock)
    runtime.add_component(batcher)

    async def publish(event: VerificationCompleted) -> None:
        runtime.metrics.increment(CREDENTIALS_VERIFIED, verdict=event.verdict.value)
        await batcher.publish(event)

    # started before the gRPC server (components start first), so no request waits for it
    pool = PreparePool(settings.verify_workers) if settings.verify_workers else None
    if pool is not None:
        runtime.add_component(pool)

    service = VerificationService(
        uow_factory,
        resolver=resolver,
        status_fetcher=status_lists,
        trust=trust,
        publish=publish,
        clock_skew=timedelta(seconds=settings.clock_skew_seconds),
        now=now,
        preparer=pool,
    )
    servicer = grpc_api.VerificationServicer(
        service,
        uow_factory,
        trust,
        stream_concurrency=settings.stream_concurrency,
        stream_max_pending=settings.stream_max_pending,
        stream_max_pending_bytes=settings.stream_max_pending_bytes,
        now=now,
    )
    runtime.grpc.add_service(grpc_api.SERVICE_NAME, grpc_api.register(servicer))

    tls = (
        server_ssl_context(settings.http_tls_cert, settings.http_tls_key)
        if settings.http_tls_cert and settings.http_tls_key
        else None
    )
    http = TlsCapableHttpServer(
        lambda: runtime.ready, max_body_bytes=settings.http_max_body_bytes, ssl_context=tls
    )
    runtime.http = http  # replaces the platform's plain-HTTP listener (no TLS option there yet)
    VcApi(service, uow_factory, authenticator, now=now).install(http.app)

    runtime.add_component(_EnsureTopics(runtime.bus, [VERIFICATIONS_TOPIC]))
    runtime.add_component(InboxPruner(runtime.sessions, runtime.inbox_table))
    runtime.add_consumer(
        [settings.status_topic],
        f"verification.cache.{settings.instance_id}",
        STATUS_REGISTRY,
        handler=StatusChangeHandler(status_lists, did_documents),
    )
    return VerificationApp(runtime, service, uow_factory, status_lists, did_documents, trust, pool)
