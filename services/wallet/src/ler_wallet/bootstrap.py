"""Composition root of the wallet service: builds its runtime from settings."""

from __future__ import annotations

from pathlib import Path

from ler_platform.events.bus import EventBus
from ler_platform.runtime import ServiceRuntime, build_runtime

from ler_wallet.settings import WalletSettings
from ler_wallet.tables import metadata

MIGRATIONS = Path(__file__).resolve().parent / "alembic"


def bootstrap(settings: WalletSettings, *, bus: EventBus | None = None) -> ServiceRuntime:
    """Assemble the service: database, event bus, gRPC (health, reflection), HTTP, outbox relay.

    ``bus`` lets an embedded host share one in-process bus between services; by default the
    service makes its own (Kafka when configured). Call from ``main()``, never at import.
    """
    runtime = build_runtime(settings, metadata=metadata, migrations=MIGRATIONS, bus=bus)
    return runtime
