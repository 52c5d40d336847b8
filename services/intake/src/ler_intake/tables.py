"""The intake service's database schema: one ``MetaData`` for all its tables.

The platform's outbox and inbox live here next to the service's own tables (added by the
adapters), so the service's Alembic migrations own all of them.
"""

from __future__ import annotations

from ler_platform.db import make_metadata
from ler_platform.tables import inbox_table, outbox_table

metadata = make_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
