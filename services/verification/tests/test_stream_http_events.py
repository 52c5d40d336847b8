"""VerifyStream, the VC-API over HTTP(S), the VerificationCompleted event, and revocation
reflected within one second of a status event (in-process bus)."""

from __future__ import annotations

import asyncio
import io
import json
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2
from ler.common.v1 import verification_report_pb2 as rpb
from ler.issuance.v1.events_pb2 import CredentialStatusChanged
from ler.verification.v1 import events_pb2
from ler.verification.v1 import verification_service_pb2 as pb
from ler_crypto.keys import KeyPair
from ler_platform.auth import Tenant, current_tenant
from ler_platform.events.envelope import Event
from ler_proto.events.issuance import CREDENTIALS_STATUS
from ler_proto.events.verification import VERIFICATIONS_TOPIC
from ler_verification.entrypoints.grpc_api import VerificationServicer
from vhelpers import (
    DocumentServer,
    Issuer,
    Party,
    Running,
    did_web_issuer,
    poll_until,
    presentation,
    publish_did_document,
    settings_for,
    start_service,
    stop_service,
    to_bytes,
)

DOMAIN = "jobs.acme.example"


async def test_stream_answers_every_item_and_survives_bad_ones(
    service: Running, issuer: Issuer
) -> None:
    holder = Party.new()
    good = to_bytes(issuer.badge(holder.did, index=40))
    nonce = (
        await service.stub.CreateChallenge(
            pb.CreateChallengeRequest(domain=DOMAIN), metadata=service.metadata
        )
    ).challenge
    vp = to_bytes(
        presentation(holder, [issuer.badge(holder.did, index=41)], challenge=nonce, domain=DOMAIN)
    )

    items: list[pb.VerifyStreamRequest] = []
    for i in range(30):
        items.append(
            pb.VerifyStreamRequest(
                correlation_id=f"c{i}", credential=pb.VerifyCredentialRequest(credential=good)
            )
        )
    items.append(
        pb.VerifyStreamRequest(
            correlation_id="garbage", credential=pb.VerifyCredentialRequest(credential=b"\x00nope")
        )
    )
    items.append(
        pb.VerifyStreamRequest(correlation_id="empty", credential=pb.VerifyCredentialRequest())
    )
    items.append(pb.VerifyStreamRequest(correlation_id="no-item"))
    items.append(
        pb.VerifyStreamRequest(
            correlation_id="c0", credential=pb.VerifyCredentialRequest(credential=good)
        )
    )
    items.append(
        pb.VerifyStreamRequest(
            correlation_id="vp",
            presentation=pb.VerifyPresentationRequest(
                presentation=vp, expected_challenge=nonce, expected_domain=DOMAIN
            ),
        )
    )
    items.append(
        pb.VerifyStreamRequest(
            correlation_id="", credential=pb.VerifyCredentialRequest(credential=good)
        )
    )

    async def requests():  # type: ignore[no-untyped-def]
        for item in items:
            yield item

    responses = [r async for r in service.stub.VerifyStream(requests(), metadata=service.metadata)]
    assert len(responses) == len(items)
    by_id: dict[str, list[pb.VerifyStreamResponse]] = {}
    for r in responses:
        by_id.setdefault(r.correlation_id, []).append(r)
    for i in range(1, 30):
        (r,) = by_id[f"c{i}"]
        assert (
            r.credential.report.verdict == rpb.VERDICT_VERIFIED_WITH_WARNINGS
        )  # no trust list: a warning
    assert by_id["garbage"][0].credential.report.verdict == rpb.VERDICT_FAILED
    assert (
        by_id["empty"][0].error.reason == "INVALID_ARGUMENT"
        and by_id["empty"][0].error.field == "credential"
    )
    assert by_id["no-item"][0].error.field == "item"
    reasons = sorted(r.WhichOneof("result") for r in by_id["c0"])
    assert reasons == ["credential", "error"]  # the duplicate is refused, the original answered
    assert by_id["vp"][0].presentation.report.verdict == rpb.VERDICT_VERIFIED_WITH_WARNINGS
    assert by_id[""][0].error.field == "correlation_id"


async def test_stream_reads_no_further_ahead_than_its_pending_limit(service: Running) -> None:
    # The transport buffers small messages, so this drives the servicer directly: a consumer
    # that takes one response and then stalls must leave the request stream unread.
    app = service.app
    servicer = VerificationServicer(
        app.service, app.uow_factory, app.trust, stream_concurrency=2, stream_max_pending=8
    )
    read = 0

    async def requests():  # type: ignore[no-untyped-def]
        nonlocal read
        for i in range(100):
            read += 1
            yield pb.VerifyStreamRequest(
                correlation_id=str(i), credential=pb.VerifyCredentialRequest(credential=b"{}")
            )

    token = current_tenant.set(Tenant(service.verifier_id, "verifier"))
    try:
        responses = servicer.VerifyStream(requests(), None)  # type: ignore[arg-type]
        first = await anext(responses)
        await asyncio.sleep(0.5)
        assert read <= 8 + 1, read  # the limit, plus the one released by the response taken
        rest = [r async for r in responses]
    finally:
        current_tenant.reset(token)
    assert len(rest) + 1 == 100 and first.credential.report.verdict == rpb.VERDICT_FAILED


async def test_stream_read_ahead_is_bounded_in_bytes_too(service: Running) -> None:
    # many small items may be in flight, but not many large ones: the byte budget stops the
    # reading first (and one item larger than the whole budget still goes through alone)
    app = service.app
    servicer = VerificationServicer(
        app.service,
        app.uow_factory,
        app.trust,
        stream_concurrency=2,
        stream_max_pending=1000,
        stream_max_pending_bytes=5_000,
    )
    read = 0

    async def requests():  # type: ignore[no-untyped-def]
        nonlocal read
        for i in range(60):
            read += 1
            body = b"{" + b" " * (20_000 if i == 59 else 990) + b"}"
            yield pb.VerifyStreamRequest(
                correlation_id=str(i), credential=pb.VerifyCredentialRequest(credential=body)
            )

    token = current_tenant.set(Tenant(service.verifier_id, "verifier"))
    try:
        responses = servicer.VerifyStream(requests(), None)  # type: ignore[arg-type]
        first = await anext(responses)
        await asyncio.sleep(0.5)
        # ~1 KB items against a 5 KB budget: 5 in flight, plus the one released by the answer
        assert read <= 5 + 1 + 1, read
        rest = [r async for r in responses]
    finally:
        current_tenant.reset(token)
    assert len(rest) + 1 == 60 and first.WhichOneof("result") == "credential"
    assert all(r.WhichOneof("result") == "credential" for r in rest)  # the 20 KB one too


async def _events(service: Running, count: int) -> list[events_pb2.VerificationCompleted]:
    consumer = service.app.runtime.bus.consumer(
        [VERIFICATIONS_TOPIC], f"t-{uuid.uuid4().hex}", max_records=100
    )
    await consumer.start()
    found: list[events_pb2.VerificationCompleted] = []
    deadline = time.monotonic() + 10
    try:
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=100)
            for records in batch.values():
                for record in records:
                    event = events_pb2.VerificationCompleted()
                    event.ParseFromString(record.value)
                    found.append(event)
                    assert b"Data Literacy" not in record.value
                    assert record.key == service.verifier_id.encode()
    finally:
        await consumer.stop()
    return found


async def test_verification_completed_event_is_a_summary(service: Running, issuer: Issuer) -> None:
    holder = Party.new()
    doc = issuer.badge(holder.did, index=43)
    doc["credentialSubject"]["achievement"]["name"] = "Tampered"
    response = await service.stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=to_bytes(doc)), metadata=service.metadata
    )
    (event,) = await _events(service, 1)
    assert event.verification_id == response.report.verification_id
    assert event.verifier_id == service.verifier_id
    assert event.kind == events_pb2.VERIFIED_KIND_CREDENTIAL
    assert event.format == credential_pb2.CREDENTIAL_FORMAT_LDP_VC
    assert event.verdict == rpb.VERDICT_FAILED
    assert {"proof": "PROOF_VERIFICATION_ERROR"}.items() <= {
        c.id: c.error_code for c in event.checks if c.outcome == rpb.CHECK_OUTCOME_FAIL
    }.items()
    assert list(event.issuer_ids) == [issuer.party.did]
    assert event.credential_count == 1
    payload = event.SerializeToString()
    assert holder.did.encode() not in payload  # never the subject


async def _status_event(service: Running, issuer: Issuer, index: int) -> None:
    changed_at = Timestamp()
    changed_at.GetCurrentTime()
    message = CredentialStatusChanged(
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        issuer_id="iss_1",
        issuer_did=issuer.party.did,
        status_list_url=issuer.list_url("revocation"),
        status_list_index=index,
        status_purpose=credential_pb2.STATUS_PURPOSE_REVOCATION,
        new_state=credential_pb2.CREDENTIAL_STATUS_STATE_REVOKED,
        changed_at=changed_at,
    )
    event = Event(
        key=CREDENTIALS_STATUS.key_for(message), message=message, source="urn:ler:issuance"
    )
    await service.app.runtime.bus.publish_batch([event.to_record(CREDENTIALS_STATUS.name)])


async def test_revocation_is_seen_within_one_second_of_the_status_event(
    service: Running, issuer: Issuer
) -> None:
    doc = to_bytes(issuer.badge(Party.new().did, index=44))

    async def verdict() -> int:
        response = await service.stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential=doc), metadata=service.metadata
        )
        return response.report.verdict

    assert await verdict() == rpb.VERDICT_VERIFIED_WITH_WARNINGS  # the list is now cached
    issuer.revoked.add(44)
    issuer.publish_lists()
    # without the event the cached list (TTL 5 min) still says "not revoked"
    assert await verdict() == rpb.VERDICT_VERIFIED_WITH_WARNINGS
    await _status_event(service, issuer, 44)
    started = time.monotonic()
    await poll_until(verdict, lambda v: v == rpb.VERDICT_FAILED, within=1.0, what="revocation")
    assert time.monotonic() - started < 1.0
    # replaying the same event changes nothing (and does not fail the consumer)
    await _status_event(service, issuer, 44)


async def test_status_fresh_after_sees_a_revocation_before_the_status_event_arrives(
    service: Running, issuer: Issuer
) -> None:
    """The race intake hits: it re-verifies on a status event this service has not consumed
    yet. Stating the event's time refetches the cached list, without switching caches off."""
    doc = to_bytes(issuer.badge(Party.new().did, index=45))

    async def verdict(fresh_after: Timestamp | None = None) -> int:
        request = pb.VerifyCredentialRequest(credential=doc)
        if fresh_after is not None:
            request.status_fresh_after.CopyFrom(fresh_after)
        response = await service.stub.VerifyCredential(request, metadata=service.metadata)
        return response.report.verdict

    assert await verdict() == rpb.VERDICT_VERIFIED_WITH_WARNINGS  # the list is now cached
    fetches = service.app.status_lists.cache.fetches
    # a change announced long ago (before our copy was fetched): the cached list is used
    before = Timestamp()
    before.FromSeconds(int(time.time()) - 3600)
    assert await verdict(before) == rpb.VERDICT_VERIFIED_WITH_WARNINGS
    assert service.app.status_lists.cache.fetches == fetches
    issuer.revoked.add(45)
    issuer.publish_lists()
    changed_at = Timestamp()
    changed_at.GetCurrentTime()
    assert await verdict() == rpb.VERDICT_VERIFIED_WITH_WARNINGS  # no event, no freshness: cached
    assert await verdict(changed_at) == rpb.VERDICT_FAILED  # refetched at once
    # the refetched list is now the cached one for every caller
    assert await verdict() == rpb.VERDICT_FAILED
    # an instant in the future counts as now: it cannot switch the cache off for later calls
    for far in (int(time.time()) + 86_400, 253_402_300_799):  # tomorrow; 9999-12-31T23:59:59Z
        future = Timestamp()
        future.FromSeconds(far)
        assert await verdict(future) == rpb.VERDICT_FAILED
    fetches = service.app.status_lists.cache.fetches
    assert await verdict() == rpb.VERDICT_FAILED
    assert service.app.status_lists.cache.fetches == fetches


# --- VC-API over HTTP(S) ------------------------------------------------------------------------


async def _post(
    session: aiohttp.ClientSession, url: str, body: Any, key: str | None, **kw: Any
) -> tuple[int, str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data: Any = body if isinstance(body, bytes) else json.dumps(body).encode()
    if len(data) > 1024 * 1024:
        data = io.BytesIO(data)  # aiohttp warns about large raw byte bodies
    async with session.post(
        url, data=data, headers={"Content-Type": "application/json", **headers}, **kw
    ) as r:
        text = await r.text()
        return r.status, r.content_type, json.loads(text) if text else None


async def test_vc_api_over_http(service: Running, issuer: Issuer) -> None:
    base, key = service.http_base, service.api_key
    holder = Party.new()
    async with aiohttp.ClientSession() as s:
        status, _, body = await _post(s, f"{base}/challenges", {"domain": DOMAIN}, key)
        assert status == 200 and body["domain"] == DOMAIN
        nonce = body["challenge"]
        vp = presentation(
            holder, [issuer.badge(holder.did, index=50)], challenge=nonce, domain=DOMAIN
        )
        request = {"verifiablePresentation": vp, "options": {"challenge": nonce, "domain": DOMAIN}}
        status, _, body = await _post(s, f"{base}/presentations/verify", request, key)
        assert status == 200 and body["verified"] is True, body
        assert "proof" in body["checks"] and body["holder"] == holder.did

        status, ctype, body = await _post(s, f"{base}/presentations/verify", request, key)
        assert status == 422 and ctype == "application/problem+json" and body["verified"] is False
        assert [d["code"] for d in body["problemDetails"]] == ["CHALLENGE_REPLAYED"]

        tampered = issuer.badge(holder.did, index=51)
        tampered["credentialSubject"]["id"] = "did:example:someone-else"
        status, _, body = await _post(
            s, f"{base}/credentials/verify", {"verifiableCredential": tampered}, key
        )
        assert status == 422 and body["verified"] is False
        assert body["problemDetails"][0]["type"].endswith("#PROOF_VERIFICATION_ERROR")

        good = {
            "verifiableCredential": issuer.badge(holder.did, index=52),
            "options": {"policy": {"allowUntrustedIssuers": True}},
        }
        status, _, body = await _post(s, f"{base}/credentials/verify", good, key)
        assert status == 200 and body["verified"] is True

        for bad in (
            b"{not json",
            b'{"verifiableCredential": {}, "verifiableCredential": {}}',
            b"[]",
            b'{"verifiableCredential": 1}',
            b'{"verifiableCredential": {}, "extra": 1}',
        ):
            status, ctype, body = await _post(s, f"{base}/credentials/verify", bad, key)
            assert status == 400 and ctype == "application/problem+json", (bad, body)
        status, _, body = await _post(
            s, f"{base}/credentials/verify", {"verifiableCredential": {"a": 1}}, key
        )
        assert status == 400 and body["verified"] is False  # parsed, but not a credential
        status, _, _ = await _post(
            s, f"{base}/credentials/verify", {"verifiableCredential": tampered}, None
        )
        assert status == 401
        status, _, _ = await _post(
            s, f"{base}/presentations/verify", {"verifiablePresentation": vp, "options": {}}, key
        )
        assert status == 400
        huge = b'{"verifiableCredential": "' + b"a" * (6 * 1024 * 1024) + b'"}'
        status, _, _ = await _post(s, f"{base}/credentials/verify", huge, key)
        assert status == 413


async def test_vc_api_over_https(
    tmp_path: Path, tls_files: tuple[Path, Path], issuer: Issuer
) -> None:
    cert, key_file = tls_files
    running = await start_service(
        settings_for(
            f"sqlite+aiosqlite:///{tmp_path / 'tls.db'}",
            cert,
            http_tls_cert=str(cert),
            http_tls_key=str(key_file),
        )
    )
    try:
        assert running.http_base.startswith("https://")
        client = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as s:
            body = {"verifiableCredential": issuer.badge(Party.new().did, index=53)}
            status, _, result = await _post(
                s, f"{running.http_base}/credentials/verify", body, running.api_key, ssl=client
            )
            assert status == 200 and result["verified"] is True
    finally:
        await stop_service(running)


async def test_did_web_issuer_and_its_cached_document_dropped_on_a_status_event(
    service: Running, docs: DocumentServer
) -> None:
    issuer = did_web_issuer(docs, "college")
    doc = to_bytes(issuer.badge(Party.new().did, index=45))

    async def report() -> rpb.VerificationReport:
        response = await service.stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential=doc), metadata=service.metadata
        )
        return response.report

    first = await report()
    assert first.verdict == rpb.VERDICT_VERIFIED_WITH_WARNINGS
    assert (
        next(c for c in first.checks if c.id == "issuer.resolution").outcome
        == rpb.CHECK_OUTCOME_PASS
    )
    fetched = len(docs.requests)
    # the issuer rotates its key (old credentials no longer verify) and its lists
    issuer.party = Party(KeyPair.generate("Ed25519"), issuer.party.did, issuer.party.vm)
    publish_did_document(issuer)
    issuer.publish_lists()
    assert (await report()).verdict == rpb.VERDICT_VERIFIED_WITH_WARNINGS  # served from cache
    assert len(docs.requests) == fetched
    await _status_event(service, issuer, 45)
    after = await poll_until(
        report, lambda r: r.verdict == rpb.VERDICT_FAILED, within=1.0, what="refetch"
    )
    assert "proof" in {c.id for c in after.checks if c.outcome == rpb.CHECK_OUTCOME_FAIL}
