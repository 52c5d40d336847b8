"""The issuance service's database schema: one ``MetaData`` for all its tables.

The platform's outbox and inbox live here next to the service's own tables, so the service's
Alembic migrations own all of them. Private keys are stored only as envelope-encrypted blobs;
API keys, pre-authorized codes and tokens only as hashes.
"""

from __future__ import annotations

from typing import Any

from ler_platform.db import make_metadata
from ler_platform.tables import inbox_table, outbox_table
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = make_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def issuer_columns() -> list[Any]:
    return [
        Column("issuer_id", String(64), primary_key=True),
        Column("did", String(512), nullable=False, unique=True),
        Column("did_method", String(8), nullable=False),
        Column("name", Text, nullable=False),
        Column("url", Text, nullable=False),
        Column("email", Text, nullable=False),
        Column("description", Text, nullable=False),
        Column("image_url", Text, nullable=False),
        Column("default_format", String(16), nullable=False),
        Column("default_cryptosuite", String(32), nullable=False),
        Column("suspension_enabled", Boolean, nullable=False),
        Column("api_key_salt", LargeBinary, nullable=False),
        Column("api_key_hash", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    ]


def signing_key_columns() -> list[Any]:
    return [
        Column("issuer_id", String(64), primary_key=True),
        Column("number", Integer, primary_key=True),
        Column("verification_method", String(600), nullable=False),
        Column("public_key_multibase", String(128), nullable=False),
        Column("encrypted_private_key", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("retired_at", DateTime(timezone=True), nullable=True),
    ]


def template_columns() -> list[Any]:
    return [
        Column("template_id", String(64), primary_key=True),
        Column("issuer_id", String(64), nullable=False),
        Column("achievement_id", String(512), nullable=False),
        Column("achievement", Text, nullable=False),  # JSON of the domain Achievement
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("issuer_id", "achievement_id", name="uq_templates_issuer_achievement"),
    ]


def credential_columns() -> list[Any]:
    return [
        Column("credential_id", String(255), primary_key=True),
        Column("issuer_id", String(64), nullable=False),
        Column("record_id", String(200), nullable=False),
        Column("issuer_did", String(512), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("subject_did", String(512), nullable=False),
        Column("subject_email", String(320), nullable=False),
        Column("subject_name", Text, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("format", String(16), nullable=False),
        Column("cryptosuite", String(32), nullable=True),
        Column("template_id", String(64), nullable=False),
        Column("achievement_name", Text, nullable=False),
        Column("achievement_type", String(64), nullable=False),
        Column("skills", Text, nullable=False),  # JSON
        Column("status", String(16), nullable=False),
        Column("status_reason", Text, nullable=False),
        Column("status_entries", Text, nullable=False),  # JSON
        Column("issued_at", DateTime(timezone=True), nullable=False),
        Column("valid_from", DateTime(timezone=True), nullable=False),
        Column("valid_until", DateTime(timezone=True), nullable=True),
        Column("signed_credential", LargeBinary, nullable=False),
        Column("media_type", String(64), nullable=False),
        Column("embedded_ids", Text, nullable=False),  # JSON
        # the idempotency guarantee: one credential per (issuer, record id), whatever the race
        UniqueConstraint("issuer_id", "record_id", name="uq_credentials_issuer_record"),
    ]


def status_list_columns() -> list[Any]:
    return [
        Column("issuer_id", String(64), primary_key=True),
        Column("list_id", String(64), primary_key=True),
        Column("purpose", String(16), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("url", Text, nullable=False),
        Column("bits", LargeBinary, nullable=False),
        Column("allocated", LargeBinary, nullable=False),
        Column("allocated_count", Integer, nullable=False),
        Column("version", Integer, nullable=False),
        Column("signed_credential", LargeBinary, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=True),
    ]


def offer_columns() -> list[Any]:
    return [
        Column("offer_id", String(64), primary_key=True),
        Column("issuer_id", String(64), nullable=False),
        Column("credential_id", String(255), nullable=False),
        Column("code_hash", String(64), nullable=False, unique=True),
        Column("tx_code_hash", String(64), nullable=True),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("configuration_id", String(128), nullable=False),
        Column("token_hash", String(64), nullable=True, unique=True),
        Column("token_expires_at", DateTime(timezone=True), nullable=True),
        Column("c_nonce", String(64), nullable=True),
        Column("redeemed_at", DateTime(timezone=True), nullable=True),
    ]


def rejection_columns() -> list[Any]:
    return [
        Column("event_id", String(64), primary_key=True),
        Column("reason", Text, nullable=False),
        Column("error_type", String(64), nullable=False),
    ]


def add_issuance_tables(md: MetaData) -> dict[str, Table]:
    """The service's own tables in ``md``."""
    tables = {
        "issuers": Table("issuers", md, *issuer_columns()),
        "signing_keys": Table("signing_keys", md, *signing_key_columns()),
        "achievement_templates": Table("achievement_templates", md, *template_columns()),
        "credentials": Table("credentials", md, *credential_columns()),
        "status_lists": Table("status_lists", md, *status_list_columns()),
        "credential_offers": Table("credential_offers", md, *offer_columns()),
        "request_rejections": Table("request_rejections", md, *rejection_columns()),
    }
    Index(
        "ix_credentials_issuer_issued",
        tables["credentials"].c.issuer_id,
        tables["credentials"].c.issued_at,
        tables["credentials"].c.credential_id,
    )
    Index(
        "ix_templates_issuer_created",
        tables["achievement_templates"].c.issuer_id,
        tables["achievement_templates"].c.created_at,
    )
    return tables


_tables = add_issuance_tables(metadata)
issuers = _tables["issuers"]
signing_keys = _tables["signing_keys"]
achievement_templates = _tables["achievement_templates"]
credentials = _tables["credentials"]
status_lists = _tables["status_lists"]
credential_offers = _tables["credential_offers"]
request_rejections = _tables["request_rejections"]
