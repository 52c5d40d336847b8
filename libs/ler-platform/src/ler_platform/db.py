"""Async SQLAlchemy engines and sessions for PostgreSQL (asyncpg) and SQLite (aiosqlite).

Services create one engine in their composition root (never at import time) and dispose
it at shutdown. SQLite is the embedded-mode store: it is put in WAL mode with a busy
timeout, and every transaction starts with ``BEGIN IMMEDIATE`` so two writers queue on
the lock instead of failing with "database is locked" when a read upgrades to a write.

Every engine made here emits a CLIENT span per statement (``trace_statements``, DESIGN.md
"Observability": SQL spans) carrying the operation and the database system — never the
statement's parameters, which may hold personal data.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ler_platform.errors import ConfigurationError
from ler_platform.tracing import tracer

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
        engine = _create_sqlite_engine(url, parsed.database, echo=echo)
        trace_statements(engine)
        return engine
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # not pool_pre_ping: that is a round trip on every checkout, i.e. one more per
        # transaction; _ping_idle_connections pings only connections that sat idle
        echo=echo,
    )
    _ping_idle_connections(engine)
    if schema:
        _use_schema(engine, schema)
    trace_statements(engine)
    return engine


#: A pooled connection idle for this long is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "ler_idle_since"


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Check a pooled connection with a ping on checkout, but only after it sat idle.

    A connection killed while idle in the pool (PostgreSQL restarted, idle timeout, a
    proxy dropping it) is detected before use, not mid-request, as with ``pool_pre_ping``;
    a connection handed straight back out skips the round trip (the relay and consumers
    check one out per batch). One broken while busy fails that statement, is invalidated
    by SQLAlchemy, and the caller's retry gets a fresh one.
    """
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as err:
            if not dialect.is_disconnect(err, dbapi_connection, None):
                raise
            # the documented "pessimistic" protocol: the pool discards this connection
            # and retries the checkout with a new one
            raise DisconnectionError("pooled connection was closed while idle") from err


_SPAN_KEY = "ler_sql_span"  # where the statement's span waits in the execution context


def _operation(statement: str) -> str:
    # the statement's first keyword (SELECT, INSERT, ...): OTel DB conventions'
    # db.operation.name, low-cardinality and free of values
    word = statement.lstrip(" \t\n(").split(None, 1)[:1]
    return word[0].upper() if word else "SQL"


def trace_statements(engine: AsyncEngine) -> None:
    """A CLIENT span per statement executed on ``engine`` (OTel database conventions:
    span name = ``db.operation.name``; ``db.system.name``, ``db.namespace``), child of the
    current span. Parameters and statement text are left out: they may hold personal data.
    Statements run outside any span (background polling) are not traced."""
    sync_engine = engine.sync_engine
    system = "postgresql" if sync_engine.dialect.name == "postgresql" else sync_engine.dialect.name
    namespace = sync_engine.url.database or ""

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _before(
        _conn: Connection, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        # only inside a traced operation: background polls (outbox relay, readiness) would
        # otherwise each start a one-span trace of their own, several per second
        if context is None or not trace.get_current_span().get_span_context().is_valid:
            return
        operation = _operation(statement)
        span = tracer().start_span(
            operation,
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": system,
                "db.namespace": namespace,
                "db.operation.name": operation,
            },
        )
        context.__dict__[_SPAN_KEY] = span

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(
        _conn: Connection, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span: Span | None = context.__dict__.pop(_SPAN_KEY, None) if context is not None else None
        if span is not None:
            span.end()

    @event.listens_for(sync_engine, "handle_error")
    def _error(exception_context: ExceptionContext) -> None:
        context = exception_context.execution_context
        span: Span | None = context.__dict__.pop(_SPAN_KEY, None) if context is not None else None
        if span is not None:
            # the exception's type only: its message can quote parameters
            error = type(exception_context.original_exception).__name__
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, error))
            span.end()


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
