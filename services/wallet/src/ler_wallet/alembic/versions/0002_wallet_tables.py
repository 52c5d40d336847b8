"""Wallet tables: accounts, credentials, self-asserted skills, share links, access log, consents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op
from ler_wallet.tables import WALLET_TABLES

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for name, columns in WALLET_TABLES.items():
        op.create_table(name, *columns())


def downgrade() -> None:
    for name in reversed(list(WALLET_TABLES)):
        op.drop_table(name)
