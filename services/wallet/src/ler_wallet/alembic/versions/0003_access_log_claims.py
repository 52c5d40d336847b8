"""Access log: which claims a selective disclosure showed (``seen_claims``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op
from ler_wallet.tables import access_log_claims

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for column in access_log_claims():
        op.add_column("wallet_access_log", column)


def downgrade() -> None:
    # batch mode: SQLite (embedded mode) cannot drop a column in place
    with op.batch_alter_table("wallet_access_log") as batch:
        for column in access_log_claims():
            batch.drop_column(column.name)
