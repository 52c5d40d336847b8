"""The service on the real PostgreSQL and Kafka (``make infra``): the verdict matrix's key rows,
challenge replay, and a revocation published on Kafka reflected within one second.

Marked ``real``: these FAIL (never skip) when the servers are absent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2
from ler.common.v1 import verification_report_pb2 as rpb
from ler.issuance.v1.events_pb2 import CredentialStatusChanged
from ler.verification.v1 import verification_service_pb2 as pb
from ler_platform.events.envelope import Event
from ler_platform.events.kafka import KafkaBus
from ler_platform.topics import delete_topics_named
from ler_proto.events.issuance import CREDENTIALS_STATUS
from ler_verification.tables import inbox
from sqlalchemy import select
from vhelpers import (
    Issuer,
    Party,
    Running,
    infra,
    poll_until,
    presentation,
    settings_for,
    start_service,
    stop_service,
    to_bytes,
)

pytestmark = [pytest.mark.real, pytest.mark.timeout(120)]
DOMAIN = "jobs.acme.example"


def _pg_url() -> str:
    # the service's own database; test tenants and challenges are unique per run
    return infra()["LER_TEST_PG_DSN"].rstrip("/") + "/ler_verification"


@pytest.fixture
async def status_topic() -> AsyncIterator[str]:
    """This test's own status topic (so no other run's events reach it), deleted afterwards."""
    name = f"{CREDENTIALS_STATUS.name}.vt-{uuid.uuid4().hex[:10]}"
    bus = KafkaBus(infra()["LER_TEST_KAFKA"], client_id="ler-test-topics")
    await bus.ensure_topics([name])
    try:
        yield name
    finally:
        await delete_topics_named(infra()["LER_TEST_KAFKA"], [name])


@pytest.fixture
async def real_service(tls_files: tuple[Path, Path], status_topic: str) -> AsyncIterator[Running]:
    settings = settings_for(
        _pg_url(),
        tls_files[0],
        kafka_bootstrap_servers=infra()["LER_TEST_KAFKA"],
        status_topic=status_topic,
    )
    running = await start_service(settings)
    try:
        yield running
    finally:
        await stop_service(running)


@pytest.fixture
async def kafka() -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(infra()["LER_TEST_KAFKA"], client_id="ler-test-issuance")
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()


def _status_event(issuer_did: str, list_url: str, index: int) -> Event[CredentialStatusChanged]:
    changed_at = Timestamp()
    changed_at.GetCurrentTime()
    message = CredentialStatusChanged(
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        issuer_id="iss_test",
        issuer_did=issuer_did,
        status_list_url=list_url,
        status_list_index=index,
        status_purpose=credential_pb2.STATUS_PURPOSE_REVOCATION,
        new_state=credential_pb2.CREDENTIAL_STATUS_STATE_REVOKED,
        changed_at=changed_at,
    )
    return Event(
        key=CREDENTIALS_STATUS.key_for(message), message=message, source="urn:ler:issuance"
    )


async def test_matrix_rows_and_replay_on_postgres(real_service: Running, issuer: Issuer) -> None:
    service = real_service
    md = service.metadata
    await service.stub.PutTrustedIssuer(
        pb.PutTrustedIssuerRequest(issuer=pb.TrustedIssuer(issuer_id=issuer.party.did)), metadata=md
    )
    holder = Party.new()
    issuer.revoked.add(2)
    issuer.publish_lists()
    good = await service.stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=to_bytes(issuer.badge(holder.did, index=1))),
        metadata=md,
    )
    assert good.report.verdict == rpb.VERDICT_VERIFIED
    revoked = await service.stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=to_bytes(issuer.badge(holder.did, index=2))),
        metadata=md,
    )
    assert {
        c.id: c.error_code for c in revoked.report.checks if c.outcome == rpb.CHECK_OUTCOME_FAIL
    } == {"status.revocation": "CREDENTIAL_REVOKED"}
    nonce = (
        await service.stub.CreateChallenge(pb.CreateChallengeRequest(domain=DOMAIN), metadata=md)
    ).challenge
    vp = presentation(holder, [issuer.badge(holder.did, index=3)], challenge=nonce, domain=DOMAIN)
    request = pb.VerifyPresentationRequest(
        presentation=to_bytes(vp), expected_challenge=nonce, expected_domain=DOMAIN
    )
    first = await service.stub.VerifyPresentation(request, metadata=md)
    assert first.report.verdict == rpb.VERDICT_VERIFIED
    replay = await service.stub.VerifyPresentation(request, metadata=md)
    assert [c.error_code for c in replay.report.checks if c.outcome == rpb.CHECK_OUTCOME_FAIL] == [
        "CHALLENGE_REPLAYED"
    ]


async def test_revocation_on_kafka_is_seen_within_one_second(
    real_service: Running, issuer: Issuer, kafka: KafkaBus, status_topic: str
) -> None:
    service = real_service
    doc = to_bytes(issuer.badge(Party.new().did, index=7))

    async def verdict() -> int:
        response = await service.stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential=doc), metadata=service.metadata
        )
        return response.report.verdict

    # wait until the service's consumer is assigned and caught up: a warm-up event is applied
    warmup = _status_event(f"did:key:warmup-{uuid.uuid4().hex}", "https://unused.example/1", 0)
    await kafka.publish_batch([warmup.to_record(status_topic)])

    async def applied() -> bool:
        async with service.app.runtime.sessions() as session:
            row = await session.execute(
                select(inbox.c.event_id).where(inbox.c.event_id == warmup.id)
            )
            return row.first() is not None

    await poll_until(applied, bool, within=60, what="the consumer to apply the warm-up event")
    assert await verdict() == rpb.VERDICT_VERIFIED_WITH_WARNINGS  # the list is cached now

    issuer.revoked.add(7)
    issuer.publish_lists()
    assert await verdict() == rpb.VERDICT_VERIFIED_WITH_WARNINGS  # still cached: no event yet
    event = _status_event(issuer.party.did, issuer.list_url("revocation"), 7)
    started = time.monotonic()
    await kafka.publish_batch([event.to_record(status_topic)])
    await poll_until(verdict, lambda v: v == rpb.VERDICT_FAILED, within=1.0, what="revocation")
    assert time.monotonic() - started < 1.0


async def test_concurrent_uses_of_one_challenge_on_postgres(
    real_service: Running, issuer: Issuer
) -> None:
    service = real_service
    holder = Party.new()
    nonce = (
        await service.stub.CreateChallenge(
            pb.CreateChallengeRequest(domain=DOMAIN), metadata=service.metadata
        )
    ).challenge
    vp = presentation(holder, [issuer.badge(holder.did, index=9)], challenge=nonce, domain=DOMAIN)
    request = pb.VerifyPresentationRequest(
        presentation=to_bytes(vp), expected_challenge=nonce, expected_domain=DOMAIN
    )
    results = await asyncio.gather(
        *(service.stub.VerifyPresentation(request, metadata=service.metadata) for _ in range(8))
    )
    replay = [
        next(c.outcome for c in r.report.checks if c.id == "presentation.replay") for r in results
    ]
    assert replay.count(rpb.CHECK_OUTCOME_PASS) == 1
    assert replay.count(rpb.CHECK_OUTCOME_FAIL) == 7
