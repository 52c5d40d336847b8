"""Async SQLAlchemy engines and sessions for PostgreSQL (asyncpg) and SQLite (aiosqlite).

Services create one engine in their composition root (never at import time) and dispose
it at shutdown. SQLite is the embedded-mode store: it is put in WAL mode with a busy
timeout, and every transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on
the lock instead of failing with "database is locked" when a read upgrades to a write.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ler_platform.errors import ConfigurationError

# Deterministic constraint names, so Alembic autogenerate and downgrades can address them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 10_000
_SUPPORTED_DRIVERS = ("postgresql+asyncpg", "sqlite+aiosqlite")
#: What a service's own PostgreSQL schema may be called (``LER_DB_SCHEMA``).
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def normalize_database_url(url: str) -> str:
    """Read ``postgresql://`` and ``postgres://`` URLs as ``postgresql+asyncpg://``.

    CloudNativePG (and most PostgreSQL tooling) hands out libpq-style URIs; the services
    need the asyncpg driver. libpq's ``sslmode`` query parameter becomes asyncpg's ``ssl``
    (same values: disable, prefer, require, verify-ca, verify-full). Other URLs (SQLite,
    an explicit driver) are returned unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("postgresql", "postgres"):
        return url
    base, qsep, query = rest.partition("?")
    if qsep:
        params = [
            "ssl=" + p.partition("=")[2] if p.startswith("sslmode=") else p
            for p in query.split("&")
        ]
        base = f"{base}?{'&'.join(params)}"
    return f"postgresql+asyncpg://{base}"


def make_metadata(schema: str | None = None) -> MetaData:
    """A ``MetaData`` with the platform's naming convention (one per service)."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def create_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, schema: str = ""
) -> AsyncEngine:
    """Create an async engine for a ``postgresql+asyncpg`` or ``sqlite+aiosqlite`` URL
    (``postgresql://`` / ``postgres://`` are read as asyncpg, see ``normalize_database_url``).

    ``schema`` (PostgreSQL only; ignored for SQLite): every connection works in that schema,
    created if missing, so several services or instances can share one database.
    """
    url = normalize_database_url(url)
    try:
        parsed = make_url(url)
    except Exception as err:  # sqlalchemy raises ArgumentError; never echo the URL (password)
        raise ConfigurationError("database URL is not a valid SQLAlchemy URL") from err
    if parsed.drivername not in _SUPPORTED_DRIVERS:
        raise ConfigurationError(
            f"database driver {parsed.drivername!r} is not supported;"
            f" use one of {_SUPPORTED_DRIVERS}"
        )
    if parsed.drivername.startswith("sqlite"):
        return _create_sqlite_engine(url, parsed.database, echo=echo)
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # a connection killed by a PostgreSQL restart is detected before use, not mid-request
        pool_pre_ping=True,
        echo=echo,
    )
    if schema:
        _use_schema(engine, schema)
    return engine


def _use_schema(engine: AsyncEngine, schema: str) -> None:
    """Every new connection works in ``schema`` (SQLAlchemy's "set search_path" recipe)."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise ConfigurationError(f"database schema name {schema!r} is not a plain identifier")

    @event.listens_for(engine.sync_engine, "connect", insert=True)
    def _set_search_path(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        # safe to interpolate: SCHEMA_NAME admits only [a-z_][a-z0-9_]*
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cursor.execute(f'SET SESSION search_path TO "{schema}"')
        cursor.close()
        dbapi_connection.autocommit = autocommit


def _create_sqlite_engine(url: str, database: str | None, *, echo: bool) -> AsyncEngine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the driver, emit BEGIN (see the "begin" hook below)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode, fewer fsyncs
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front; a deferred read-then-write transaction
        # would fail with SQLITE_BUSY instead of waiting for busy_timeout
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (no implicit refresh I/O)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: AsyncEngine) -> bool:
    """True for PostgreSQL, False for SQLite."""
    return engine.dialect.name == "postgresql"


async def ping(engine: AsyncEngine) -> None:
    """Run ``SELECT 1``; raises if the database cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
