"""Tables shared by the crash test and its relay/consumer subprocesses."""

from __future__ import annotations

from ler_platform.db import make_metadata
from ler_platform.tables import inbox_table, outbox_table
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text


def crash_metadata(schema: str) -> tuple[MetaData, Table, Table, Table, Table]:
    """metadata, outbox, inbox, effects (one row per application, duplicates visible), counters."""
    metadata = make_metadata(schema)
    effects = Table(
        "effects",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False),  # deliberately NOT unique
        Column("key", Text, nullable=False),
        Column("seq", Integer, nullable=False),
    )
    counters = Table(
        "counters",
        metadata,
        Column("key", Text, primary_key=True),
        Column("n", Integer, nullable=False),
    )
    return metadata, outbox_table(metadata), inbox_table(metadata), effects, counters
