"""Signed credentials, status lists and event payloads compressed with LZ4 on PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op
from ler_platform.tables import PLATFORM_LARGE_COLUMNS, compress_with_lz4

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

LARGE_COLUMNS = (
    *PLATFORM_LARGE_COLUMNS,
    ("credentials", "signed_credential"),
    ("status_lists", "bits"),
    ("status_lists", "allocated"),
    ("status_lists", "signed_credential"),
)


def upgrade() -> None:
    compress_with_lz4(op, LARGE_COLUMNS)


def downgrade() -> None:
    compress_with_lz4(op, LARGE_COLUMNS, undo=True)
