"""Verifier tenants, challenges and trust lists.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "verifier_tenants",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("api_key_hash", name="uq_verifier_tenants_api_key_hash"),
    )
    op.create_table(
        "challenges",
        sa.Column("challenge", sa.String(64), primary_key=True),
        sa.Column("verifier_id", sa.String(64), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_challenges_expires_at", "challenges", ["expires_at"])
    op.create_table(
        "trusted_issuers",
        sa.Column("verifier_id", sa.String(64), nullable=False),
        sa.Column("issuer_id", sa.String(1024), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("verifier_id", "issuer_id", name="pk_trusted_issuers"),
    )
    op.create_table(
        "trusted_issuer_accreditations",
        sa.Column("verifier_id", sa.String(64), nullable=False),
        sa.Column("issuer_id", sa.String(1024), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint(
            "verifier_id", "issuer_id", "label", name="pk_trusted_issuer_accreditations"
        ),
        sa.ForeignKeyConstraint(
            ["verifier_id", "issuer_id"],
            ["trusted_issuers.verifier_id", "trusted_issuers.issuer_id"],
            ondelete="CASCADE",
            name="fk_trusted_issuer_accreditations_issuer",
        ),
    )


def downgrade() -> None:
    op.drop_table("trusted_issuer_accreditations")
    op.drop_table("trusted_issuers")
    op.drop_index("ix_challenges_expires_at", table_name="challenges")
    op.drop_table("challenges")
    op.drop_table("verifier_tenants")
