"""The verification service's database schema: one ``MetaData`` for all its tables.

The platform's outbox and inbox live here next to the service's own tables, so the
service's Alembic migrations own all of them. The service keeps no business data: only
verifier tenants (API keys hashed), their trust lists, and the challenges it issued.
"""

from __future__ import annotations

from ler_platform.db import make_metadata
from ler_platform.tables import inbox_table, outbox_table
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = make_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

tenants = Table(
    "verifier_tenants",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    # SHA-256 hex of the API key; the key itself is shown once and never stored
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

challenges = Table(
    "challenges",
    metadata,
    Column("challenge", String(64), primary_key=True),
    Column("verifier_id", String(64), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)
Index("ix_challenges_expires_at", challenges.c.expires_at)

trusted_issuers = Table(
    "trusted_issuers",
    metadata,
    Column("verifier_id", String(64), nullable=False),
    Column("issuer_id", String(1024), nullable=False),
    Column("name", String(200), nullable=False),
    Column("note", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("verifier_id", "issuer_id", name="pk_trusted_issuers"),
)

trusted_issuer_accreditations = Table(
    "trusted_issuer_accreditations",
    metadata,
    Column("verifier_id", String(64), nullable=False),
    Column("issuer_id", String(1024), nullable=False),
    Column("label", String(100), nullable=False),
    PrimaryKeyConstraint(
        "verifier_id", "issuer_id", "label", name="pk_trusted_issuer_accreditations"
    ),
    ForeignKeyConstraint(
        ["verifier_id", "issuer_id"],
        ["trusted_issuers.verifier_id", "trusted_issuers.issuer_id"],
        ondelete="CASCADE",
        name="fk_trusted_issuer_accreditations_issuer",
    ),
)
