"""The command line every service shares: ``ler-<name> [serve | migrate | <command> ...]``.

A service's ``__main__.py`` hands its pieces to ``service_main`` and exits with its code::

    def run() -> None:
        raise SystemExit(
            service_main("wallet", main, settings=WalletSettings, migrations=MIGRATIONS)
        )

* no argument, or ``serve`` — run ``main(stop)`` until SIGTERM/SIGINT (``run_service``);
* ``migrate`` — upgrade the service's database to head and exit: 0 on success, 1 with
  one clear line on stderr on failure. The Helm chart runs it in a pre-install/pre-upgrade
  Job and sets ``LER_RUN_MIGRATIONS=false`` on the Deployments, so that replicas do not
  migrate at start-up. It needs only ``LER_DATABASE_URL`` (no Kafka, no KEK);
* any name in ``commands`` — the service's own admin commands, given the remaining argv;
* ``--help`` — usage.

``migrations`` is either the service's ``alembic/`` directory (migrated on a fresh engine
from ``settings()``), or an async callable doing the migration itself, for a service that
installs connection hooks on its engine, e.g.
``migrations=lambda: bootstrap(IssuanceSettings()).migrate_and_close()``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from ler_platform.db import create_engine
from ler_platform.lifecycle import run_service
from ler_platform.logging import configure_logging, redact
from ler_platform.migrations import run_migrations
from ler_platform.settings import ServiceSettings

Main = Callable[[asyncio.Event], Awaitable[None]]
Command = Callable[[Sequence[str]], int]


def service_main(
    name: str,
    main: Main,
    *,
    migrations: Path | Callable[[], Awaitable[None]] | None,
    settings: Callable[[], ServiceSettings] = ServiceSettings,
    commands: Mapping[str, Command] | None = None,
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the chosen command; returns the
    process exit code (see the module docstring)."""
    extra = dict(commands or {})
    reserved = {"serve", "migrate"} & extra.keys()
    if reserved:
        raise ValueError(f"commands may not redefine {sorted(reserved)}")
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(name, extra)
    if args and args[0] in extra:  # the service parses its own command's arguments
        return extra[args[0]](args[1:])
    parsed = parser.parse_args(args)
    if parsed.command == "migrate":
        return migrate_main(name, migrations, settings)
    return run_service(main)


def _parser(name: str, commands: Mapping[str, Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"ler-{name}",
        description=f"The LER {name} service. Settings come from LER_* environment variables.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", help="run the service until SIGTERM/SIGINT (the default)")
    sub.add_parser("migrate", help="upgrade the service's database to the latest schema and exit")
    for command in commands:
        sub.add_parser(command, help=f"service command (see `ler-{name} {command} --help`)")
    return parser


def migrate_main(
    name: str,
    migrations: Path | Callable[[], Awaitable[None]] | None,
    settings: Callable[[], ServiceSettings] = ServiceSettings,
) -> int:
    """Run the ``migrate`` command: 0 once the database is at head, else 1 and one line."""
    try:
        config = settings()
        configure_logging(config.log_level, service_name=config.service_name)
        if migrations is None:
            print(f"ler-{name} migrate: the service has no database migrations", file=sys.stderr)
            return 0
        if isinstance(migrations, Path):
            asyncio.run(_migrate(config.database_url, config.db_schema, migrations))
        else:
            asyncio.run(_call(migrations))
    except Exception as err:  # one readable line for the Job's log, never a traceback
        print(f"ler-{name} migrate failed: {_one_line(err)}", file=sys.stderr)
        return 1
    print(f"ler-{name} migrate: database is at the latest revision", file=sys.stderr)
    return 0


async def _migrate(database_url: str, schema: str, migrations: Path) -> None:
    engine = create_engine(database_url, pool_size=1, schema=schema)
    try:
        await run_migrations(engine, migrations)
    finally:
        await engine.dispose()


async def _call(migrate: Callable[[], Awaitable[None]]) -> None:
    await migrate()


def _one_line(err: BaseException) -> str:
    # the innermost cause names the real problem (e.g. "connection refused"), not the wrapper
    root: BaseException = err
    while root.__cause__ is not None:
        root = root.__cause__
    text = " ".join(str(root).split()) or type(root).__name__
    if root is not err:
        text = f"{' '.join(str(err).split())}: {text}"
    # URLs with passwords can appear in driver errors; logs never carry secrets
    return redact(f"{type(root).__name__}: {text}")[:500]
