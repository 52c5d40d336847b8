"""Entry point: ``python -m ler_verification`` (serve) or the ``ler-verification`` console script.

``ler-verification add-tenant <tenant_id> <name> [--service] [--rotate-key]`` registers a
verifier tenant (or a service identity such as intake) and prints its API key once; with
``--rotate-key`` an existing tenant gets a new key instead (the old one stops working).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from ler_platform.cli import service_main
from ler_platform.logging import configure_logging
from ler_platform.migrations import run_migrations

from ler_verification.bootstrap import MIGRATIONS, bootstrap
from ler_verification.domain.model import TenantKind
from ler_verification.service_layer.tenants import register_or_rotate, register_tenant
from ler_verification.settings import VerificationSettings


async def main(stop: asyncio.Event) -> None:
    """Build the service from the environment and serve until ``stop`` is set."""
    settings = VerificationSettings()
    configure_logging(settings.log_level, service_name=settings.service_name)
    app = bootstrap(settings)
    await app.serve_until(stop)


async def _add_tenant(tenant_id: str, name: str, kind: TenantKind, *, rotate: bool) -> str:
    settings = VerificationSettings()
    app = bootstrap(settings)
    try:
        await run_migrations(app.runtime.engine, MIGRATIONS)
        if rotate:
            return await register_or_rotate(app.uow_factory, tenant_id, name, kind)
        return await register_tenant(app.uow_factory, tenant_id, name, kind)
    finally:
        await app.runtime.engine.dispose()


def _add_tenant_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="ler-verification add-tenant")
    parser.add_argument("tenant_id")
    parser.add_argument("name")
    parser.add_argument(
        "--service", action="store_true", help="a service identity (may act for verifiers)"
    )
    parser.add_argument(
        "--rotate-key",
        action="store_true",
        help="if the tenant exists, give it a new key (the old one stops working)",
    )
    args = parser.parse_args(argv)
    kind = TenantKind.SERVICE if args.service else TenantKind.VERIFIER
    key = asyncio.run(_add_tenant(args.tenant_id, args.name, kind, rotate=args.rotate_key))
    print(key)  # the key, shown once
    return 0


def run() -> None:
    """Console-script entry: serve until SIGTERM/SIGINT, ``migrate``, or ``add-tenant``."""
    raise SystemExit(
        service_main(
            "verification",
            main,
            settings=VerificationSettings,
            migrations=MIGRATIONS,
            commands={"add-tenant": _add_tenant_command},
        )
    )


if __name__ == "__main__":
    run()
