"""Entry point: ``python -m ler_issuance`` or the ``ler-issuance`` console script."""

from __future__ import annotations

import asyncio

from ler_platform.lifecycle import run_service
from ler_platform.logging import configure_logging

from ler_issuance.bootstrap import bootstrap
from ler_issuance.settings import IssuanceSettings


async def main(stop: asyncio.Event) -> None:
    """Build the service from the environment and serve until ``stop`` is set."""
    settings = IssuanceSettings()
    configure_logging(settings.log_level, service_name=settings.service_name)
    runtime = bootstrap(settings)
    await runtime.serve_until(stop)


def run() -> None:
    """Console-script entry: serve until SIGTERM/SIGINT, exit 0 after a clean shutdown."""
    raise SystemExit(run_service(main))


if __name__ == "__main__":
    run()
