"""Entry point: ``python -m ler_issuance`` or the ``ler-issuance`` console script.

``ler-issuance`` (or ``serve``) runs the service; ``ler-issuance migrate`` upgrades its database to
the latest schema and exits (see ``ler_platform.cli``).
"""

from __future__ import annotations

import asyncio

from ler_platform.cli import service_main
from ler_platform.logging import configure_logging

from ler_issuance.bootstrap import MIGRATIONS, bootstrap
from ler_issuance.settings import IssuanceSettings


async def main(stop: asyncio.Event) -> None:
    """Build the service from the environment and serve until ``stop`` is set."""
    settings = IssuanceSettings()
    configure_logging(settings.log_level, service_name=settings.service_name)
    app = bootstrap(settings)
    await app.serve_until(stop)


def run() -> None:
    """Console-script entry: serve until SIGTERM/SIGINT, or ``migrate``; exits with its code."""
    raise SystemExit(
        service_main("issuance", main, settings=IssuanceSettings, migrations=MIGRATIONS)
    )


if __name__ == "__main__":
    run()
