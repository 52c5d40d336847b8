"""The wallet service's database schema: one ``MetaData`` for all its tables.

The platform's outbox and inbox live here next to the wallet's own tables, so the service's
Alembic migrations own all of them. Each wallet table's columns are defined once, in
``WALLET_TABLES``, and used both here and by migration 0002, so the two cannot drift apart.
Every wallet table has an ``account_id`` column: deleting an account deletes by it everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ler_platform.db import make_metadata
from ler_platform.tables import inbox_table, outbox_table
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = make_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def _accounts() -> list[Any]:
    return [
        Column("account_id", String(64), primary_key=True),
        Column("display_name", String(200), nullable=False),
        Column("email", String(320), nullable=False, unique=True),
        Column("holder_did", Text, nullable=False, unique=True),
        Column("holder_verification_method", Text, nullable=False),
        # AES-256-GCM envelope (ler_crypto.kms) under the KEK; never the key in clear
        Column("encrypted_holder_key", LargeBinary, nullable=False),
        Column("api_key_hash", String(64), nullable=False, unique=True),
        Column("idempotency_key", String(200), nullable=True, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ]


def _credentials() -> list[Any]:
    return [
        Column("account_id", String(64), nullable=False),
        Column("credential_id", Text, nullable=False, index=True),
        Column("format", String(16), nullable=False),
        Column("media_type", String(64), nullable=False),
        Column("signed", LargeBinary, nullable=False),  # exactly as received
        Column("bytes_hash", String(64), nullable=False),
        Column("summary", JSON, nullable=False),
        Column("receipt_report", JSON, nullable=False),
        Column("verified", Boolean, nullable=False),
        Column("source", String(16), nullable=False),
        Column("status", String(16), nullable=False),
        Column("stored_at", DateTime(timezone=True), nullable=False),
        Column("hidden", Boolean, nullable=False, default=False),
        Column("featured", Boolean, nullable=False, default=False),
        Column("tags", JSON, nullable=False),
        Column("sort_order", Integer, nullable=False, default=0),
        PrimaryKeyConstraint("account_id", "credential_id", name="pk_wallet_credentials"),
        UniqueConstraint("account_id", "bytes_hash", name="uq_wallet_credentials_bytes"),
    ]


def _skills() -> list[Any]:
    return [
        Column("account_id", String(64), nullable=False),
        Column("skill_key", Text, nullable=False),
        Column("skill", JSON, nullable=False),
        Column("narrative", Text, nullable=False),
        Column("asserted_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("account_id", "skill_key", name="pk_wallet_self_asserted_skills"),
    ]


def _share_links() -> list[Any]:
    return [
        Column("share_link_id", String(64), primary_key=True),
        Column("account_id", String(64), nullable=False, index=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("credential_ids", JSON, nullable=False),
        Column("label", String(200), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("max_accesses", Integer, nullable=False),
        Column("access_count", Integer, nullable=False),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
        Column("audience", Text, nullable=False),
    ]


def _access_log() -> list[Any]:
    return [
        Column("entry_id", String(64), primary_key=True),
        Column("account_id", String(64), nullable=False, index=True),
        Column("share_link_id", String(64), nullable=False),
        Column("accessed_at", DateTime(timezone=True), nullable=False),
        Column("outcome", String(32), nullable=False),
        Column("verifier_id", Text, nullable=False),
        Column("client_network", String(64), nullable=False),
        Column("user_agent", String(200), nullable=False),
        Column("seen_credential_ids", JSON, nullable=False),
        Column("channel", String(16), nullable=False),
    ]


def _consents() -> list[Any]:
    return [
        Column("account_id", String(64), nullable=False),
        Column("study_id", String(64), nullable=False),
        Column("opted_in", Boolean, nullable=False),
        Column("pseudonym", String(64), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("account_id", "study_id", name="pk_wallet_research_consents"),
    ]


def access_log_claims() -> list[Any]:
    """Added by migration 0003: the claims a selective disclosure showed, per credential
    (``{credential_id: [JSON pointer, ...]}``); credentials not named were shown whole."""
    return [Column("seen_claims", JSON, nullable=False, server_default=text("'{}'"))]


WALLET_TABLES: dict[str, Callable[[], list[Any]]] = {
    "wallet_accounts": _accounts,
    "wallet_credentials": _credentials,
    "wallet_self_asserted_skills": _skills,
    "wallet_share_links": _share_links,
    "wallet_access_log": _access_log,
    "wallet_research_consents": _consents,
}

accounts = Table("wallet_accounts", metadata, *_accounts())
credentials = Table("wallet_credentials", metadata, *_credentials())
self_asserted_skills = Table("wallet_self_asserted_skills", metadata, *_skills())
share_links = Table("wallet_share_links", metadata, *_share_links())
access_log = Table("wallet_access_log", metadata, *_access_log(), *access_log_claims())
research_consents = Table("wallet_research_consents", metadata, *_consents())
