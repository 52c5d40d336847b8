"""The platform's own tables — transactional outbox and consumer inbox — for any service.

Each service owns its schema, so the tables are created in the service's own
``MetaData`` (``outbox_table(metadata)``, ``inbox_table(metadata)``) and by the service's
own Alembic migration (``create_platform_tables(op)``). Both use the same column
definitions below, so the ORM view and the migrated DDL cannot drift apart.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)

OUTBOX_TABLE = "ler_outbox"
INBOX_TABLE = "ler_inbox"
# Keys are spread over this many shards; one relay at a time owns a shard, which is what
# keeps one key's events in order when several relays run (see ler_platform.outbox).
# Changing it re-shards pending rows: only do so with the outbox drained.
OUTBOX_SHARDS = 32


def outbox_shard(key: str) -> int:
    """The shard of an aggregate key (stable across processes and versions)."""
    return zlib.crc32(key.encode()) % OUTBOX_SHARDS


def _outbox_columns() -> list[Column[Any]]:
    return [
        # SQLite only auto-increments an INTEGER PRIMARY KEY, hence the variant
        Column(
            "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        Column("event_id", String(64), nullable=False),
        Column("topic", String(249), nullable=False),  # 249 = Kafka's topic name limit
        Column("key", Text, nullable=False),
        Column("shard", SmallInteger, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        # CloudEvents attributes and trace context, sent as Kafka headers by the relay
        Column("ce_type", String(255), nullable=False),
        Column("ce_source", Text, nullable=False),
        Column("ce_subject", Text, nullable=True),
        Column("ce_time", String(40), nullable=False),  # RFC 3339, as sent
        Column("traceparent", String(64), nullable=True),
        Column("tracestate", Text, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


def _inbox_columns() -> list[Column[Any]]:
    return [
        Column("consumer_group", String(255), nullable=False),
        Column("event_id", String(64), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table in ``metadata`` (rows are deleted once the broker has acked them)."""
    if (existing := metadata.tables.get(_qualified(metadata, OUTBOX_TABLE))) is not None:
        return existing
    table = Table(OUTBOX_TABLE, metadata, *_outbox_columns())
    Index("ix_ler_outbox_shard_id", table.c.shard, table.c.id)
    return table


def inbox_table(metadata: MetaData) -> Table:
    """The inbox table: one row per (consumer group, event id) applied."""
    if (existing := metadata.tables.get(_qualified(metadata, INBOX_TABLE))) is not None:
        return existing
    table = Table(
        INBOX_TABLE,
        metadata,
        *_inbox_columns(),
        PrimaryKeyConstraint("consumer_group", "event_id", name="pk_ler_inbox"),
    )
    Index("ix_ler_inbox_processed_at", table.c.processed_at)
    return table


def _qualified(metadata: MetaData, name: str) -> str:
    return f"{metadata.schema}.{name}" if metadata.schema else name


def create_platform_tables(op: Any, *, schema: str | None = None) -> None:
    """Create the outbox and inbox tables from an Alembic migration's ``upgrade()``.

    ``op`` is ``alembic.op``; passed in so this module does not import Alembic's proxy.
    """
    op.create_table(OUTBOX_TABLE, *_outbox_columns(), schema=schema)
    op.create_index("ix_ler_outbox_shard_id", OUTBOX_TABLE, ["shard", "id"], schema=schema)
    op.create_table(
        INBOX_TABLE,
        *_inbox_columns(),
        PrimaryKeyConstraint("consumer_group", "event_id", name="pk_ler_inbox"),
        schema=schema,
    )
    op.create_index("ix_ler_inbox_processed_at", INBOX_TABLE, ["processed_at"], schema=schema)


def drop_platform_tables(op: Any, *, schema: str | None = None) -> None:
    """Drop what ``create_platform_tables`` created (an Alembic ``downgrade()``)."""
    op.drop_table(INBOX_TABLE, schema=schema)
    op.drop_table(OUTBOX_TABLE, schema=schema)


#: The platform's own large values (event payloads), for ``compress_with_lz4``.
PLATFORM_LARGE_COLUMNS: tuple[tuple[str, str], ...] = ((OUTBOX_TABLE, "payload"),)


def compress_with_lz4(op: Any, columns: Sequence[tuple[str, str]], *, undo: bool = False) -> None:
    """Store the values of these ``(table, column)`` pairs compressed with LZ4 rather than
    PostgreSQL's default pglz (``ALTER TABLE ... SET COMPRESSION``, PostgreSQL 14+).

    A value over ~2 KB (a signed credential, an event carrying one) is compressed on every
    write; LZ4 does it in about half the server CPU of pglz, at a similar size. Only values
    written afterwards change; old ones stay readable. On SQLite, or on a server built without
    LZ4, nothing changes. ``undo``: back to the server's default (an Alembic ``downgrade()``).
    """
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    lz4_built_in = bind.execute(
        text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
    ).scalar()
    if not lz4_built_in:
        return
    quote = bind.dialect.identifier_preparer.quote
    method = "default" if undo else "lz4"
    for table, column in columns:
        op.execute(
            f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} SET COMPRESSION {method}"
        )
