"""Re-verification schedule of SUBMITTED applications (``applications.next_verify_at``),
KEK-sealed webhook secrets (``providers.webhook_secret_sealed``) and the opportunity each
application challenge was issued for (``application_challenges``).

Existing plain-text webhook secrets are sealed by the service at start-up (it holds the KEK;
migrations do not), see ``service_layer.providers.seal_plaintext_secrets``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op
from ler_intake.tables import (
    TABLES_0003,
    application_retry_columns,
    provider_sealed_secret_columns,
)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    for column in application_retry_columns():
        op.add_column("applications", column)
    op.create_index(
        "ix_applications_state_next_verify", "applications", ["state", "next_verify_at"]
    )
    for column in provider_sealed_secret_columns():
        op.add_column("providers", column)
    for name, columns in TABLES_0003.items():
        op.create_table(name, *columns())


def downgrade() -> None:
    for name in reversed(list(TABLES_0003)):
        op.drop_table(name)
    op.drop_index("ix_applications_state_next_verify", table_name="applications")
    # batch mode: SQLite (embedded mode) cannot drop a column in place
    with op.batch_alter_table("applications") as batch:
        for column in application_retry_columns():
            batch.drop_column(column.name)
    with op.batch_alter_table("providers") as batch:
        for column in provider_sealed_secret_columns():
            batch.drop_column(column.name)
