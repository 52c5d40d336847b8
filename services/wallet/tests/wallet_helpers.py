"""Credentials for tests, signed by ler_crypto with a did:key issuer."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from ler_crypto import dataintegrity, obv3
from ler_crypto.did import did_key_from_public_key
from ler_crypto.keys import KeyPair, PublicKey
from ler_crypto.sdjwt import Sd, issue_sd_jwt_vc

PYTHON = {
    "target_name": "Python",
    "target_url": "https://example.org/skills/python",
    "target_code": "PY1",
    "target_framework": "ESCO",
}
SQL = {
    "target_name": "SQL",
    "target_url": "https://example.org/skills/sql",
    "target_code": "SQL1",
    "target_framework": "ESCO",
}


class Issuer:
    """A did:key issuer that signs OB 3.0 credentials and SD-JWT VCs."""

    def __init__(self) -> None:
        self.pair = KeyPair.generate("Ed25519")
        self.did, self.vm = did_key_from_public_key(self.pair.public_key)

    def badge(
        self,
        subject: str,
        *,
        name: str = "Data Analysis",
        skills: tuple[dict[str, str], ...] = (PYTHON,),
        achievement_type: str = "Course",
        credential_id: str | None = None,
    ) -> bytes:
        """A signed OB 3.0 credential (eddsa-rdfc-2022) as JSON bytes."""
        achievement = obv3.build_achievement(
            achievement_id=f"https://example.org/achievements/{uuid.uuid4()}",
            name=name,
            description="A course.",
            criteria_narrative="Pass the exam.",
            achievement_type=achievement_type,
            alignments=[obv3.build_alignment(**s) for s in skills],
        )
        doc = obv3.build_achievement_credential(
            issuer=obv3.build_profile(self.did, "Test University"),
            subject_id=subject,
            achievement=achievement,
            credential_id=credential_id,
        )
        signed = dataintegrity.sign(
            doc, self.pair, cryptosuite="eddsa-rdfc-2022", verification_method=self.vm
        )
        return json.dumps(signed).encode()

    def sd_jwt(self, holder: PublicKey, claims: dict[str, Any] | None = None) -> bytes:
        """An SD-JWT VC bound to ``holder`` with selectively disclosable claims."""
        body = claims or {
            "jti": f"urn:uuid:{uuid.uuid4()}",
            "given_name": Sd("Ada"),
            "family_name": Sd("Lovelace"),
            "birthdate": Sd("1815-12-10"),
            "achievement": Sd({"name": "Analytical Engines", "achievementType": "Course"}),
        }
        text = issue_sd_jwt_vc(
            issuer=self.did,
            vct="https://example.org/vct/achievement",
            claims=body,
            signer=self.pair,
            holder_key=holder,
            kid=self.vm,
        )
        return text.encode()


def free_port() -> int:
    """A free loopback TCP port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wallet_settings(database_url: str, **extra: object):  # type: ignore[no-untyped-def]
    """Settings of a test instance: own ports, fresh KEK, did:key issuers verified offline."""
    from ler_platform.kek import new_kek_value
    from ler_wallet.settings import WalletSettings

    values: dict[str, object] = {
        "database_url": database_url,
        "grpc_port": 0,
        "http_port": free_port(),
        "kek": new_kek_value(),
        "verify_offline": True,
        "health_check_interval_seconds": 0.2,
        "outbox_poll_interval_seconds": 0.05,
    }
    values.update(extra)
    return WalletSettings(**values)  # type: ignore[arg-type]


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """gRPC call metadata with a bearer token."""
    return (("authorization", f"Bearer {token}"),)


async def poll_until(check, *, within: float = 30.0, every: float = 0.1):  # type: ignore[no-untyped-def]
    """Await ``check()`` until it returns a truthy value; fail after ``within`` seconds."""
    import asyncio
    import time

    import pytest

    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within}s")
        await asyncio.sleep(every)


INFRA_ENV = Path(__file__).resolve().parents[3] / "var" / "infra.env"


def real_infra() -> tuple[str, str]:
    """(PostgreSQL URL of ler_test, Kafka bootstrap) — FAILS, never skips, when absent."""
    import pytest
    from ler_platform.local_infra import LocalInfraMissing, find_local_infra

    try:
        found = find_local_infra(INFRA_ENV)
    except LocalInfraMissing as err:
        pytest.fail(f"real-server test: {err}")
    return found.pg_url("ler_test"), found.kafka


def run_names() -> dict[str, str]:
    """Schema, topics and consumer group unique to one test run."""
    run = uuid.uuid4().hex[:10]
    return {
        "db_schema": f"wal_{run}",
        "issued_topic": f"ler.credentials.issued.v1.w{run}",
        "status_topic": f"ler.credentials.status.v1.w{run}",
        "events_topic": f"ler.wallet.events.v1.w{run}",
        "consumer_group": f"ler.wallet.w{run}",
    }


RUN_TOPICS = ("issued_topic", "status_topic", "events_topic")


async def delete_run_topics(kafka: str, names: dict[str, str], *, within: float = 20.0) -> None:
    """Delete a test run's own topics (``run_names``) and those derived from them
    (``<topic>.dlq``), bounded in time: per-run topics left behind pile up as partitions on
    the shared broker and slow every later run."""
    from ler_platform.topics import delete_topics_named

    await delete_topics_named(kafka, [names[k] for k in RUN_TOPICS], within=within)


async def drop_schema(pg_url: str, schema: str) -> None:
    """Remove a test run's schema."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


async def read_topic(bus, topic: str, count: int, *, within: float = 60.0):  # type: ignore[no-untyped-def]
    """Read at least ``count`` records of ``topic`` with a fresh consumer group, then whatever
    else is already there (so duplicates would show)."""
    import time

    import pytest

    consumer = bus.consumer([topic], f"test-{uuid.uuid4().hex[:8]}", max_records=1000)
    await consumer.start()
    got = []
    deadline = time.monotonic() + within
    try:
        while len(got) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"read {len(got)} of {count} records of {topic} within {within}s")
            for batch in (await consumer.getmany(timeout_ms=200, max_records=1000)).values():
                got.extend(batch)
        for batch in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).values():
            got.extend(batch)
    finally:
        await consumer.stop()
    return got


def sd_jwt_plaintext(compact: bytes) -> str:
    """Every part of a compact SD-JWT (JWT segments and disclosures) base64url-decoded, so a
    test can assert that a claim value is not revealed in any encoding."""
    import base64

    parts: list[str] = []
    for piece in compact.decode().split("~"):
        for segment in piece.split("."):
            if segment:
                raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
                parts.append(raw.decode("utf-8", errors="replace"))
    return "\n".join(parts)
