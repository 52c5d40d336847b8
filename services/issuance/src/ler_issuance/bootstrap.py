"""Composition root of the issuance service: builds its runtime from settings.

Everything with a lifecycle or a connection is created here, from ``main()`` (or a test),
never at import time.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from ler_crypto.kms import KeyEncryptionKey
from ler_platform.events.bus import EventBus
from ler_platform.kek import kek_value as load_kek_value
from ler_platform.kek import parse_kek
from ler_platform.runtime import ServiceRuntime, build_runtime, runner_options

from ler_issuance.adapters.auth import IssuanceAuthenticator
from ler_issuance.adapters.catalog import SqlTemplateCatalog
from ler_issuance.adapters.keystore import EnvelopeKeyStore
from ler_issuance.adapters.proto import EventTopics
from ler_issuance.adapters.signing_pool import SigningPool
from ler_issuance.adapters.sql import SqlUnitOfWork
from ler_issuance.entrypoints import grpc_api
from ler_issuance.entrypoints.consumers import IssuanceRequestConsumer
from ler_issuance.entrypoints.http_api import IssuanceHttpApi
from ler_issuance.entrypoints.http_server import TlsCapableHttpServer, server_ssl_context
from ler_issuance.service_layer.context import Context, PublicUrls
from ler_issuance.service_layer.tokens import AccessTokens
from ler_issuance.settings import IssuanceSettings
from ler_issuance.tables import metadata

MIGRATIONS = Path(__file__).resolve().parent / "alembic"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuanceApp:
    """The runtime plus the parts tests and operators reach for."""

    runtime: ServiceRuntime
    ctx: Context
    tokens: AccessTokens
    consumer: IssuanceRequestConsumer

    async def serve_until(self, stop: object) -> None:
        """See ``ServiceRuntime.serve_until``."""
        await self.runtime.serve_until(stop)  # type: ignore[arg-type]


class OutputTopics:
    """A start-up step: create the topics this service publishes to (with the configured
    partition count) instead of leaving them to broker auto-creation."""

    def __init__(self, bus: EventBus, topics: EventTopics) -> None:
        self._bus = bus
        self._topics = [topics.issued, topics.status, topics.results]

    async def start(self) -> None:
        """Create the topics that are missing."""
        await self._bus.ensure_topics(self._topics)

    async def stop(self) -> None:
        """Nothing to release."""


def bootstrap(settings: IssuanceSettings, *, bus: EventBus | None = None) -> IssuanceApp:
    """Assemble the service: database, bus, gRPC IssuanceService, HTTP (DID documents, status
    lists, VC-API, OAuth, OID4VCI), the issuance-request consumer and the outbox relay.

    ``bus`` lets an embedded host share one in-process bus between services; by default the
    service makes its own (Kafka when configured).
    """
    kek_value = load_kek_value(settings, settings.dev_kek_file)
    kek: KeyEncryptionKey = parse_kek(kek_value)
    token_key = (
        settings.token_secret.get_secret_value().encode()
        if settings.token_secret is not None
        else hashlib.sha256(b"ler-issuance access tokens\x00" + kek_value.encode()).digest()
    )
    tokens = AccessTokens(
        hashlib.sha256(token_key).digest(), ttl_seconds=settings.token_ttl_seconds
    )
    operator = settings.operator_token.get_secret_value() if settings.operator_token else None
    authenticator = IssuanceAuthenticator(
        tokens, operator_token=operator, api_key_cache_seconds=settings.api_key_cache_seconds
    )
    runtime = build_runtime(
        settings, metadata=metadata, migrations=MIGRATIONS, bus=bus, authenticator=authenticator
    )
    topics = EventTopics(
        issued=settings.issued_topic, status=settings.status_topic, results=settings.results_topic
    )

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(runtime.sessions, runtime.outbox, topics, metrics=runtime.metrics)

    # started before the consumer (components start in order, stop in reverse)
    signing_pool = (
        SigningPool(kek_value, settings.signing_workers) if settings.signing_workers else None
    )
    if signing_pool is not None:
        runtime.add_component(signing_pool)
    # PostgreSQL takes concurrent writers: status entries get their own short transaction and
    # the request topic several members. SQLite has one writer at a time: a second
    # transaction would wait for the first (which waits for it), and a second member too.
    concurrent_writers = runtime.engine.dialect.name != "sqlite"
    ctx = Context(
        uow=uow,
        keys=EnvelopeKeyStore.from_kek(kek),
        urls=PublicUrls(settings.base_url),
        suspension_enabled=settings.suspension_enabled,
        batch_max_items=settings.batch_max_items,
        batch_signer=signing_pool,
        catalog=SqlTemplateCatalog(runtime.sessions),
        status_uow=uow if concurrent_writers else None,
    )
    authenticator.bind(ctx)
    servicer = grpc_api.IssuanceServicer(ctx)
    runtime.grpc.add_service(grpc_api.SERVICE_NAME, grpc_api.register(servicer))

    runtime.add_component(OutputTopics(runtime.bus, topics))
    consumer = IssuanceRequestConsumer(
        ctx,
        bus=runtime.bus,
        sessions=runtime.sessions,
        inbox=runtime.inbox_table,
        outbox=runtime.outbox,
        topics=topics,
        requests_topic=settings.requests_topic,
        group_id=settings.consumer_group,
        options=runner_options(settings, runtime.metrics),
        members=settings.request_consumers if concurrent_writers else 1,
    )
    runtime.add_component(consumer)

    # the platform's listener has neither a body-limit setting nor TLS: replace it by ours
    tls = (
        server_ssl_context(settings.http_tls_cert, settings.http_tls_key)
        if settings.http_tls_cert and settings.http_tls_key
        else None
    )
    metrics = getattr(runtime, "metrics", None)
    runtime.http = TlsCapableHttpServer(
        lambda: runtime.ready,
        max_body_bytes=settings.http_max_body_bytes,
        ssl_context=tls,
        **({"metrics": metrics} if metrics is not None else {}),
    )
    if runtime.http is not None:
        IssuanceHttpApi(
            ctx,
            tokens,
            authenticator,
            default_issuer_id=settings.default_issuer_id,
            status_max_age=settings.status_list_max_age_seconds,
        ).install(runtime.http.app)
    return IssuanceApp(runtime, ctx, tokens, consumer)
