"""Subprocess for the crash test: an outbox relay publishing to real Kafka until SIGTERM.

Usage: outbox_relay_proc.py <pg-url> <schema> <kafka>
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crash_tables import crash_metadata
from ler_platform.db import create_engine
from ler_platform.events.kafka import KafkaBus
from ler_platform.lifecycle import run_service
from ler_platform.logging import configure_logging
from ler_platform.outbox import OutboxRelay


async def main(stop: asyncio.Event) -> None:
    url, schema, kafka = sys.argv[1:4]
    _, outbox, _, _, _ = crash_metadata(schema)
    engine = create_engine(url, pool_size=2)
    bus = KafkaBus(kafka, client_id="crash-relay")
    await bus.start()
    relay = OutboxRelay(engine, outbox, bus, batch_size=200, poll_interval=0.05)
    await relay.start()
    try:
        await stop.wait()
    finally:
        await relay.stop()
        await bus.stop()
        await engine.dispose()


if __name__ == "__main__":
    configure_logging("WARNING", service_name="crash-relay")
    raise SystemExit(run_service(main))
