"""Webhook secrets sealed at rest under the KEK, and the start-up sealing of plain-text rows
left from before migration 0003 (on a real SQLite database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from ler_crypto.kms import KeyEncryptionKey
from ler_intake import tables as t
from ler_intake.adapters.secrets import SecretBox, SecretUnreadable
from ler_intake.adapters.sql import SqlProviders, seal_plaintext_secrets
from ler_intake.bootstrap import MIGRATIONS
from ler_platform.migrations import run_migrations
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

SECRET = "whsec-Zm9vYmFyYmF6cXV4"


def test_sealed_secret_opens_only_with_the_kek() -> None:
    box = SecretBox.of(KeyEncryptionKey.generate("kek-1"))
    blob = box.seal(SECRET)
    assert SECRET.encode() not in blob and box.seal(SECRET) != blob  # fresh key and nonce
    assert box.open(blob) == SECRET
    other = SecretBox.of(KeyEncryptionKey.generate("kek-1"))
    with pytest.raises(SecretUnreadable) as caught:
        other.open(blob)
    assert SECRET not in str(caught.value) and "key-encryption key" in str(caught.value)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(SecretUnreadable):
        box.open(tampered)
    with pytest.raises(SecretUnreadable, match="unknown format"):
        box.open(b"plain text")
    with pytest.raises(SecretUnreadable, match="truncated"):
        box.open(blob[:20])
    assert SECRET not in repr(box)
    # rotation: a box holding the old KEK as well opens old seals
    old = KeyEncryptionKey.generate("kek-old")
    sealed_old = SecretBox.of(old).seal(SECRET)
    new = KeyEncryptionKey.generate("kek-new")
    assert SecretBox([old, new], "kek-new").open(sealed_old) == SECRET


async def test_migration_0003_keeps_old_rows_which_are_then_sealed(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'i.db'}")
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    box = SecretBox.of(KeyEncryptionKey.generate("kek-1"))
    try:
        await run_migrations(engine, MIGRATIONS, "0002")  # a database from before 0003
        async with engine.begin() as conn:
            doc = {"provider_id": "prv_old", "name": "Old", "url": "", "domain": "old.example"}
            doc |= {"webhook_url": "https://ats.old.example/h", "created_at": "2026-01-01T00:00:00"}
            await conn.execute(
                text(
                    "INSERT INTO providers (provider_id, domain, api_key_hash, webhook_secret,"
                    " created_at, doc) VALUES ('prv_old', 'old.example', 'h', :s, :c, :d)"
                ),
                {"s": SECRET, "c": "2026-01-01 00:00:00.000000", "d": json.dumps(doc)},
            )
        await run_migrations(engine, MIGRATIONS)
        async with engine.connect() as conn:  # the migrations build exactly the tables' schema
            drift = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), t.metadata)
            )
        assert drift == []
        assert await seal_plaintext_secrets(sessions, box) == 1
        assert await seal_plaintext_secrets(sessions, box) == 0  # idempotent
        async with sessions() as session:
            row = (await session.execute(select(t.providers))).one()
            assert row.webhook_secret == "" and SECRET.encode() not in row.webhook_secret_sealed
            provider = await SqlProviders(session, box).get("prv_old")
        assert provider is not None and provider.webhook_secret == SECRET
        assert SECRET not in repr(provider)
    finally:
        await engine.dispose()
