"""Composition root of the wallet service: builds its runtime from settings.

Everything with a lifecycle or a connection is created here, from ``main()`` (or a test),
never at import time.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ler_crypto.did import DidResolver, HttpsWebFetcher
from ler_platform.events.bus import EventBus
from ler_platform.inbox import IdempotentConsumer
from ler_platform.kek import kek_value as load_kek_value
from ler_platform.kek import parse_kek
from ler_platform.runtime import ServiceRuntime, build_runtime
from sqlalchemy.ext.asyncio import AsyncSession

from ler_wallet.adapters.auth import WalletAuthenticator
from ler_wallet.adapters.careers import IntakePostings, IssuanceCatalog
from ler_wallet.adapters.keystore import EnvelopeHolderKeys
from ler_wallet.adapters.oid4vci import Oid4vciClient
from ler_wallet.adapters.oid4vp import Oid4vpClient
from ler_wallet.adapters.sql import SqlUnitOfWork
from ler_wallet.adapters.verifier import CryptoReceiptVerifier
from ler_wallet.entrypoints import grpc_api
from ler_wallet.entrypoints.consumers import ISSUED_REGISTRY, STATUS_REGISTRY, WalletConsumers
from ler_wallet.entrypoints.http_api import ShareLinkRoutes
from ler_wallet.service_layer.context import Context, Pseudonymizer
from ler_wallet.settings import WalletSettings
from ler_wallet.tables import metadata

MIGRATIONS = Path(__file__).resolve().parent / "alembic"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WalletApp:
    """The runtime plus the parts tests and operators reach for."""

    runtime: ServiceRuntime
    ctx: Context
    consumers: WalletConsumers
    deliveries: IdempotentConsumer
    status_updates: IdempotentConsumer

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


class Closing:
    """Component that closes a client's gRPC channel when the service stops."""

    def __init__(self, client: IntakePostings | IssuanceCatalog) -> None:
        self._client = client

    async def start(self) -> None:
        """Channels connect lazily: nothing to do."""

    async def stop(self) -> None:
        """Close the channel."""
        await self._client.close()


def bootstrap(settings: WalletSettings, *, bus: EventBus | None = None) -> WalletApp:
    """Assemble the service: database, bus, gRPC WalletService, HTTP share links, the delivery
    and status consumers, and the outbox relay. ``bus`` lets an embedded host share one
    in-process bus; by default the service makes its own (Kafka when configured)."""
    kek_value = load_kek_value(settings, settings.dev_kek_file)
    kek = parse_kek(kek_value)
    pseudonym_key = (
        settings.pseudonym_secret.get_secret_value().encode()
        if settings.pseudonym_secret is not None
        else hashlib.sha256(b"ler-wallet study pseudonyms\x00" + kek_value.encode()).digest()
    )
    authenticator = WalletAuthenticator()
    runtime = build_runtime(
        settings, metadata=metadata, migrations=MIGRATIONS, bus=bus, authenticator=authenticator
    )

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(runtime.outbox, settings.events_topic, sessions=runtime.sessions)

    def joined(session: AsyncSession) -> SqlUnitOfWork:
        return SqlUnitOfWork(runtime.outbox, settings.events_topic, session=session)

    ctx = Context(
        uow=uow,
        keys=EnvelopeHolderKeys.from_kek(kek, did_method=settings.holder_did_method),
        verifier=CryptoReceiptVerifier(
            offline=settings.verify_offline, allow_private=settings.verify_allow_private
        ),
        pseudonyms=Pseudonymizer(pseudonym_key),
        share_base_url=settings.base_url,
        offers=Oid4vciClient(allow_private=settings.offers_allow_private),
        presentation_requests=Oid4vpClient(
            allow_private=settings.presentations_allow_private,
            resolver=DidResolver(
                None
                if settings.verify_offline
                else HttpsWebFetcher(allow_private=settings.presentations_allow_private),
                offline=settings.verify_offline,
            ),
        ),
    )
    if settings.intake_grpc_target:
        postings = IntakePostings(settings.intake_grpc_target)
        ctx.opportunities = postings
        runtime.add_component(Closing(postings))
    if settings.issuance_grpc_target:
        catalog = IssuanceCatalog(settings.issuance_grpc_target)
        ctx.catalog = catalog
        runtime.add_component(Closing(catalog))
    authenticator.bind(ctx)
    runtime.grpc.add_service(grpc_api.SERVICE_NAME, grpc_api.register(grpc_api.WalletServicer(ctx)))
    runtime.add_component(OutputTopics(runtime.bus, settings.events_topic))
    consumers = WalletConsumers(ctx, joined)
    deliveries = runtime.add_consumer(
        [settings.issued_topic],
        f"{settings.consumer_group}.deliveries",
        ISSUED_REGISTRY,
        handler=consumers.on_issued,
    )
    status_updates = runtime.add_consumer(
        [settings.status_topic],
        f"{settings.consumer_group}.status",
        STATUS_REGISTRY,
        handler=consumers.on_status,
    )
    if runtime.http is not None:
        ShareLinkRoutes(ctx).install(runtime.http.app)
    return WalletApp(runtime, ctx, consumers, deliveries, status_updates)
