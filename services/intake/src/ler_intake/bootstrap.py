"""Composition root of the intake service: builds its runtime from settings.

Everything with a lifecycle or a connection is created here, from ``main()`` (or a test),
never at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from ler_platform.errors import ConfigurationError
from ler_platform.events.bus import EventBus
from ler_platform.grpc_server import client_interceptors
from ler_platform.http_server import HttpServer
from ler_platform.inbox import IdempotentConsumer
from ler_platform.kek import kek_value, parse_kek
from ler_platform.runtime import ServiceRuntime, build_runtime
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ler_intake.adapters.auth import IntakeAuthenticator
from ler_intake.adapters.notify import ChangeBroadcaster
from ler_intake.adapters.secrets import SecretBox
from ler_intake.adapters.share_links import HttpShareLinkResolver
from ler_intake.adapters.sql import SqlUnitOfWork, seal_plaintext_secrets
from ler_intake.adapters.verification import GrpcVerificationClient
from ler_intake.adapters.webhooks import WebhookSender
from ler_intake.entrypoints import grpc_api
from ler_intake.entrypoints.consumers import STATUS_REGISTRY, StatusConsumer
from ler_intake.entrypoints.http_api import MAX_BODY_BYTES, IntakeHttpApi
from ler_intake.entrypoints.reverifier import Reverifier
from ler_intake.service_layer.context import Context, VerificationRetry
from ler_intake.settings import IntakeSettings
from ler_intake.tables import metadata

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "alembic"


@dataclass(frozen=True)
class IntakeApp:
    """The runtime plus the parts tests and operators reach for."""

    runtime: ServiceRuntime
    ctx: Context
    status: StatusConsumer
    status_updates: IdempotentConsumer
    webhooks: WebhookSender
    reverifier: Reverifier

    async def serve_until(self, stop: Any) -> None:
        """See ``ServiceRuntime.serve_until``."""
        await self.runtime.serve_until(stop)


class OutputTopics:
    """Start-up step: create the topic this service publishes to."""

    def __init__(self, bus: EventBus, topic: str) -> None:
        self._bus = bus
        self._topic = topic

    async def start(self) -> None:
        """Create the topic if missing."""
        await self._bus.ensure_topics([self._topic])

    async def stop(self) -> None:
        """Nothing to release."""


class SealPlaintextSecrets:
    """Start-up step (after migrations): seal webhook secrets stored before migration 0003."""

    def __init__(self, runtime: ServiceRuntime, box: SecretBox) -> None:
        self._runtime = runtime
        self._box = box

    async def start(self) -> None:
        """Seal what is still plain text (usually nothing).

        A replica started with ``LER_RUN_MIGRATIONS=false`` may come up before the migration
        Job created the schema: it must still start (readiness reports the database), so a
        failure here is logged and the step is retried at the next start.
        """
        try:
            sealed = await seal_plaintext_secrets(self._runtime.sessions, self._box)
        except SQLAlchemyError as err:
            log.warning(
                "webhook secrets not checked for sealing (schema not migrated yet?): %s",
                type(err).__name__,
            )
            return
        if sealed:
            log.info("sealed %d plain-text webhook secret(s) under the KEK", sealed)

    async def stop(self) -> None:
        """Nothing to release."""


class VerificationChannel:
    """The gRPC channel to the verification service, closed at shutdown."""

    def __init__(self, target: str) -> None:
        self.channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_send_message_length", 5 * 1024 * 1024),
                # reconnect soon after the verification service comes back (gRPC's default
                # backoff grows to 2 minutes), so that retried applications do not wait long
                ("grpc.initial_reconnect_backoff_ms", 500),
                ("grpc.max_reconnect_backoff_ms", 5000),
            ],
            interceptors=client_interceptors(),  # CLIENT spans carrying traceparent
        )

    async def start(self) -> None:
        """Channels connect lazily."""

    async def stop(self) -> None:
        """Close the channel."""
        await self.channel.close()


def bootstrap(settings: IntakeSettings, *, bus: EventBus | None = None) -> IntakeApp:
    """Assemble the service: database, bus, gRPC IntakeService, the status consumer, the
    webhook sender and the outbox relay. ``bus`` lets an embedded host share one in-process
    bus; by default the service makes its own (Kafka when configured)."""
    if not settings.verification_grpc_target or settings.verification_api_key is None:
        raise ConfigurationError(
            "LER_VERIFICATION_GRPC_TARGET and LER_VERIFICATION_API_KEY are required:"
            " intake verifies every application through the verification service"
        )
    authenticator = IntakeAuthenticator(
        operator_key=settings.operator_api_key.get_secret_value()
        if settings.operator_api_key
        else None,
        client_key=settings.client_api_key.get_secret_value() if settings.client_api_key else None,
    )
    runtime = build_runtime(
        settings, metadata=metadata, migrations=MIGRATIONS, bus=bus, authenticator=authenticator
    )

    # webhook secrets are sealed at rest under the KEK (a development KEK file in SQLite mode)
    box = SecretBox.of(parse_kek(kek_value(settings, settings.dev_kek_file)))

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(
            runtime.outbox, settings.events_topic, box=box, sessions=runtime.sessions
        )

    def joined(session: AsyncSession) -> SqlUnitOfWork:
        return SqlUnitOfWork(runtime.outbox, settings.events_topic, box=box, session=session)

    channel = VerificationChannel(settings.verification_grpc_target)
    changes = ChangeBroadcaster()
    ctx = Context(
        uow=uow,
        verification=GrpcVerificationClient(
            channel.channel,
            settings.verification_api_key.get_secret_value(),
            timeout=settings.verification_timeout_seconds,
            challenge_ttl_seconds=settings.challenge_ttl_seconds,
        ),
        share_links=HttpShareLinkResolver(
            timeout=settings.share_link_timeout_seconds,
            max_bytes=settings.share_link_max_bytes,
            allow_private=settings.share_links_allow_private,
        ),
        notifier=changes,
        allow_http_share_links=settings.share_links_allow_private,
        retry=VerificationRetry(
            max_attempts=settings.reverify_max_attempts,
            backoff_base=settings.reverify_backoff_seconds,
            backoff_max=settings.reverify_backoff_max_seconds,
            # longer than a submission's own verification call can take
            grace=2 * settings.verification_timeout_seconds + 1,
        ),
    )
    authenticator.bind(ctx)
    runtime.add_component(SealPlaintextSecrets(runtime, box))  # first: migrations ran before
    runtime.add_component(channel)
    servicer = grpc_api.IntakeServicer(ctx, changes)
    runtime.grpc.add_service(grpc_api.SERVICE_NAME, grpc_api.register(servicer))
    # the HTTP API for ATSs takes presentations up to 4 MiB: a listener with a larger body
    # limit than the platform's default replaces it (same probes, same metrics)
    runtime.http = HttpServer(
        lambda: runtime.ready, max_body_bytes=MAX_BODY_BYTES, metrics=runtime.metrics
    )
    IntakeHttpApi(servicer, authenticator).install(runtime.http.app)
    runtime.add_component(OutputTopics(runtime.bus, settings.events_topic))
    status = StatusConsumer(ctx, joined, changes)
    status_updates = runtime.add_consumer(
        [settings.status_topic],
        f"{settings.consumer_group}.status",
        STATUS_REGISTRY,
        handler=status.on_status,
    )
    webhooks = WebhookSender(
        ctx,
        uow,
        timeout=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        backoff_base=settings.webhook_backoff_seconds,
        backoff_max=settings.webhook_backoff_max_seconds,
        poll=settings.webhook_poll_seconds,
        ca_file=settings.webhook_ca_file,
    )
    runtime.add_component(webhooks)
    reverifier = Reverifier(ctx, poll=settings.reverify_poll_seconds)
    runtime.add_component(reverifier)
    return IntakeApp(runtime, ctx, status, status_updates, webhooks, reverifier)
