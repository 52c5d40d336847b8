"""The intake service's database schema: one ``MetaData`` for all its tables.

The platform's outbox and inbox live here next to the service's own tables, so the service's
Alembic migrations own all of them. Each intake table's columns are defined once, in
``INTAKE_TABLES``, and used both here and by migration 0002, so the two cannot drift apart.
Aggregates are stored as a JSON document plus the columns queries filter on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ler_platform.db import make_metadata
from ler_platform.tables import inbox_table, outbox_table
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = make_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def _providers() -> list[Any]:
    return [
        Column("provider_id", String(64), primary_key=True),
        Column("domain", String(253), nullable=False, unique=True),
        Column("api_key_hash", String(128), nullable=False, unique=True),
        # the HMAC key webhooks are signed with (it must be usable, so it cannot be hashed)
        Column("webhook_secret", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("doc", JSON, nullable=False),
    ]


def _opportunities() -> list[Any]:
    return [
        Column("opportunity_id", String(64), primary_key=True),
        Column("provider_id", String(64), nullable=False),
        Column("idempotency_key", String(200), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("doc", JSON, nullable=False),
        UniqueConstraint("provider_id", "idempotency_key", name="uq_opportunity_key"),
    ]


def _applications() -> list[Any]:
    return [
        Column("application_id", String(64), primary_key=True),
        Column("opportunity_id", String(64), nullable=False, index=True),
        Column("provider_id", String(64), nullable=False),
        Column("idempotency_key", String(200), nullable=False),
        Column("state", String(32), nullable=False),
        Column("score", Float, nullable=True),
        Column("submitted_at", DateTime(timezone=True), nullable=False),
        Column("doc", JSON, nullable=False),
        UniqueConstraint("opportunity_id", "idempotency_key", name="uq_application_key"),
    ]


def _application_credentials() -> list[Any]:
    return [
        Column("application_id", String(64), nullable=False),
        Column("credential_id", Text, nullable=False),
        PrimaryKeyConstraint("application_id", "credential_id"),
        Index("ix_application_credentials_credential", "credential_id"),
    ]


def _application_changes() -> list[Any]:
    return [
        Column(
            "seq",
            BigInteger().with_variant(Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("provider_id", String(64), nullable=False),
        Column("opportunity_id", String(64), nullable=False),
        Column("application_id", String(64), nullable=False),
        Column("change", String(32), nullable=False),
        Column("changed_at", DateTime(timezone=True), nullable=False),
        Index("ix_application_changes_provider_seq", "provider_id", "seq"),
    ]


def _webhook_deliveries() -> list[Any]:
    return [
        Column("delivery_id", String(64), primary_key=True),
        Column("provider_id", String(64), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
        # NULL while pending; set when delivered or given up (kept for the audit trail)
        Column("done_at", DateTime(timezone=True), nullable=True),
        Column("outcome", String(16), nullable=False, default="pending"),
        Column("last_error", Text, nullable=False, default=""),
    ]


def application_retry_columns() -> list[Any]:
    """Added by migration 0003: when the re-verifier may next try a SUBMITTED application
    (NULL once it left SUBMITTED)."""
    return [Column("next_verify_at", DateTime(timezone=True), nullable=True)]


def provider_sealed_secret_columns() -> list[Any]:
    """Added by migration 0003: the webhook secret encrypted under the KEK
    (``adapters.secrets``); the plain ``webhook_secret`` column is emptied once sealed."""
    return [Column("webhook_secret_sealed", LargeBinary, nullable=True)]


def _application_challenges() -> list[Any]:
    """Added by migration 0003: which opportunity each issued challenge is for."""
    return [
        Column("challenge", String(512), primary_key=True),
        Column("opportunity_id", String(64), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    ]


# tables migration 0003 creates
TABLES_0003: dict[str, Callable[[], list[Any]]] = {
    "application_challenges": _application_challenges,
}

# the tables as migration 0002 created them; later migrations add the columns above
INTAKE_TABLES: dict[str, Callable[[], list[Any]]] = {
    "providers": _providers,
    "opportunities": _opportunities,
    "applications": _applications,
    "application_credentials": _application_credentials,
    "application_changes": _application_changes,
    "webhook_deliveries": _webhook_deliveries,
}

providers = Table("providers", metadata, *_providers(), *provider_sealed_secret_columns())
opportunities = Table("opportunities", metadata, *_opportunities())
applications = Table(
    "applications",
    metadata,
    *_applications(),
    *application_retry_columns(),
    Index("ix_applications_state_next_verify", "state", "next_verify_at"),
)
application_credentials = Table("application_credentials", metadata, *_application_credentials())
application_changes = Table("application_changes", metadata, *_application_changes())
webhook_deliveries = Table("webhook_deliveries", metadata, *_webhook_deliveries())
application_challenges = Table("application_challenges", metadata, *_application_challenges())
