"""Run a service's Alembic migrations programmatically, from async code or the CLI.

Each service keeps an ``alembic/`` directory in its package whose ``env.py`` is just::

    from ler_platform.migrations import run_env
    from ler_<service>.adapters.tables import metadata   # or None
    run_env(metadata)

``run_migrations(url, script_location)`` upgrades to ``head`` on a connection it opens
itself and hands to ``env.py`` (Alembic cookbook "Programmatic API use (connection
sharing) with asyncio"), so it can be awaited inside a running event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ler_platform.db import create_engine
from ler_platform.errors import ConfigurationError

# Serialises concurrent replicas migrating the same PostgreSQL database at start-up.
_MIGRATION_LOCK_ID = 0x4C45_5200  # "LER\0"


def _config(script_location: str | Path, url: str | None) -> Config:
    location = Path(script_location)
    if not (location / "env.py").is_file():
        raise ConfigurationError(f"no Alembic env.py in {location}")
    config = Config()
    config.set_main_option("script_location", str(location))
    if url:
        # '%' must be escaped for ConfigParser interpolation
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def run_migrations(
    engine_or_url: AsyncEngine | str,
    script_location: str | Path,
    revision: str = "head",
    *,
    version_table_schema: str | None = None,
) -> None:
    """Upgrade the database to ``revision`` (default ``head``).

    ``version_table_schema`` puts Alembic's version table in that PostgreSQL schema (for a
    service whose tables live in their own schema of a shared database).
    """
    own_engine = isinstance(engine_or_url, str)
    engine = (
        create_engine(engine_or_url, pool_size=1)
        if isinstance(engine_or_url, str)
        else engine_or_url
    )
    config = _config(script_location, None)
    config.attributes["version_table_schema"] = version_table_schema
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await conn.run_sync(_upgrade, config, revision)
    finally:
        if own_engine:
            await engine.dispose()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def run_env(target_metadata: MetaData | None = None) -> None:
    """Body of a service's ``alembic/env.py`` (online mode; offline SQL is not supported)."""
    config = context.config
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection, target_metadata)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise ConfigurationError(
            "set sqlalchemy.url (or use ler_platform.migrations.run_migrations)"
        )
    asyncio.run(_run_with_new_engine(url, target_metadata))


async def _run_with_new_engine(url: str, target_metadata: MetaData | None) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_on, target_metadata)
    finally:
        await engine.dispose()


def _run_on(connection: Connection, target_metadata: MetaData | None) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=context.config.attributes.get("version_table_schema"),
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
