"""Issuance tables: issuers, signing keys, templates, credentials, status lists, offers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op
from ler_issuance.tables import (
    credential_columns,
    issuer_columns,
    offer_columns,
    rejection_columns,
    signing_key_columns,
    status_list_columns,
    template_columns,
)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table("issuers", *issuer_columns())
    op.create_table("signing_keys", *signing_key_columns())
    op.create_table("achievement_templates", *template_columns())
    op.create_table("credentials", *credential_columns())
    op.create_table("status_lists", *status_list_columns())
    op.create_table("credential_offers", *offer_columns())
    op.create_table("request_rejections", *rejection_columns())
    op.create_index(
        "ix_credentials_issuer_issued", "credentials", ["issuer_id", "issued_at", "credential_id"]
    )
    op.create_index(
        "ix_templates_issuer_created", "achievement_templates", ["issuer_id", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "request_rejections",
        "credential_offers",
        "status_lists",
        "credentials",
        "achievement_templates",
        "signing_keys",
        "issuers",
    ):
        op.drop_table(table)
