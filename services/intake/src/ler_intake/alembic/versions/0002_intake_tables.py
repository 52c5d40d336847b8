"""Intake tables: providers, opportunities, applications, their credentials, the change feed
and the webhook delivery queue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op
from ler_intake.tables import INTAKE_TABLES

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for name, columns in INTAKE_TABLES.items():
        op.create_table(name, *columns())


def downgrade() -> None:
    for name in reversed(list(INTAKE_TABLES)):
        op.drop_table(name)
