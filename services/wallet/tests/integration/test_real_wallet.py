"""The wallet on real PostgreSQL and Kafka: deliveries exactly once, status, presentations
checked by the ``ler`` CLI, share links, permissions, account deletion."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as ipb
from ler.wallet.v1 import events_pb2 as wpb
from ler.wallet.v1 import resources_pb2 as rpb
from ler.wallet.v1 import wallet_service_pb2 as pb
from ler.wallet.v1 import wallet_service_pb2_grpc as pb_grpc
from ler_crypto.keys import PublicKey
from ler_crypto.sdjwt import parse_sd_jwt
from ler_platform.events.envelope import Event
from ler_platform.events.kafka import KafkaBus
from ler_wallet.bootstrap import WalletApp, bootstrap
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from wallet_helpers import (
    Issuer,
    bearer,
    delete_run_topics,
    drop_schema,
    poll_until,
    read_topic,
    real_infra,
    run_names,
    sd_jwt_plaintext,
    wallet_settings,
)

pytestmark = pytest.mark.real
LER_CLI = str(Path(sys.executable).parent / "ler")


@dataclass
class Real:
    app: WalletApp
    stub: pb_grpc.WalletServiceStub
    bus: KafkaBus
    names: dict[str, str]
    pg_url: str


@pytest.fixture
async def real() -> AsyncIterator[Real]:
    pg_url, kafka = real_infra()
    names = run_names()
    settings = wallet_settings(
        pg_url, kafka_bootstrap_servers=kafka, kafka_topic_partitions=2, **names
    )
    app = bootstrap(settings)
    bus = KafkaBus(kafka, client_id="wallet-test", topic_partitions=2)
    await bus.start()
    await bus.ensure_topics([names["issued_topic"], names["status_topic"]])
    await app.runtime.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
    try:
        yield Real(app, pb_grpc.WalletServiceStub(channel), bus, names, pg_url)
    finally:
        await channel.close()
        await app.runtime.stop()
        await bus.stop()
        await drop_schema(pg_url, names["db_schema"])
        await delete_run_topics(kafka, names)


async def _account(stub: pb_grpc.WalletServiceStub, email: str) -> pb.CreateAccountResponse:
    return await stub.CreateAccount(pb.CreateAccountRequest(display_name="Learner", email=email))


def _issued(credential: bytes, subject: str, issuer: Issuer) -> ipb.CredentialIssued:
    doc = json.loads(credential)
    return ipb.CredentialIssued(
        credential_id=doc["id"],
        issuer_id="iss_test",
        issuer_did=issuer.did,
        record_id="R1",
        subject_id=subject,
        kind=cpb.CREDENTIAL_KIND_ACHIEVEMENT,
        format=cpb.CREDENTIAL_FORMAT_LDP_VC,
        signed_credential=credential,
        media_type="application/vc+ld+json",
    )


async def _credentials(real: Real, account: pb.CreateAccountResponse) -> list[rpb.StoredCredential]:
    listed = await real.stub.ListCredentials(
        pb.ListCredentialsRequest(account_id=account.account.account_id, include_hidden=True),
        metadata=bearer(account.api_key),
    )
    return list(listed.credentials)


def _cli_verify(tmp: Path, content: bytes, challenge: str, domain: str) -> tuple[int, dict]:
    path = tmp / f"vp-{abs(hash((challenge, domain)))}.txt"
    path.write_bytes(content)
    args = [
        LER_CLI,
        "vc",
        "verify",
        str(path),
        "--offline",
        "--challenge",
        challenge,
        "--domain",
        domain,
    ]
    done = subprocess.run(args, capture_output=True, timeout=120, check=False)
    return done.returncode, json.loads(done.stdout or b"{}")


async def test_delivery_exactly_once_verified_then_revoked(real: Real, tmp_path: Path) -> None:
    ada = await _account(real.stub, "ada@example.org")
    bob = await _account(real.stub, "bob@example.org")
    issuer = Issuer()
    vc = issuer.badge(ada.account.holder_did)
    message = _issued(vc, ada.account.holder_did, issuer)
    topic = real.names["issued_topic"]
    first = Event(key=message.credential_id, message=message, source="urn:ler:issuance")
    again = Event(key=message.credential_id, message=message, source="urn:ler:issuance")
    # the same event twice (a redelivery) and a second event for the same credential
    await real.bus.publish_batch([first.to_record(topic), first.to_record(topic)])
    await real.bus.publish_batch([again.to_record(topic)])
    consumer = real.app.deliveries

    async def handled() -> bool:
        return consumer.applied + consumer.duplicates >= 3

    await poll_until(handled, within=60)
    assert (consumer.applied, consumer.duplicates) == (2, 1)  # inbox dedupes the redelivery
    held = await _credentials(real, ada)
    assert [c.credential_id for c in held] == [message.credential_id]  # wallet dedupes the id
    assert held[0].source == rpb.CREDENTIAL_SOURCE_DELIVERY
    assert held[0].receipt_report.verdict in (1, 2)
    assert await _credentials(real, bob) == []
    stored = [
        r
        for r in await read_topic(real.bus, real.names["events_topic"], 1)
        if r.header("ce_type") == b"ler.wallet.v1.CredentialStored"
    ]
    assert len(stored) == 1
    event = wpb.CredentialStored.FromString(stored[0].value)
    assert event.account_id == ada.account.account_id
    assert b"Data Analysis" not in stored[0].value and b"proofValue" not in stored[0].value

    # the holder's presentation of it verifies with the CLI, and only for its challenge/domain
    vp = await real.stub.CreatePresentation(
        pb.CreatePresentationRequest(
            account_id=ada.account.account_id,
            credential_ids=[message.credential_id],
            challenge="c-123",
            domain="jobs.example.com",
        ),
        metadata=bearer(ada.api_key),
    )
    code, report = _cli_verify(tmp_path, vp.presentation, "c-123", "jobs.example.com")
    assert code == 0, report
    assert _cli_verify(tmp_path, vp.presentation, "c-999", "jobs.example.com")[0] == 1
    assert _cli_verify(tmp_path, vp.presentation, "c-123", "evil.example.com")[0] == 1
    jcs = await real.stub.CreatePresentation(
        pb.CreatePresentationRequest(
            account_id=ada.account.account_id,
            credential_ids=[message.credential_id],
            challenge="c-456",
            domain="jobs.example.com",
            cryptosuite=cpb.CRYPTOSUITE_EDDSA_JCS_2022,
        ),
        metadata=bearer(ada.api_key),
    )
    assert json.loads(jcs.presentation)["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    code, report = _cli_verify(tmp_path, jcs.presentation, "c-456", "jobs.example.com")
    assert code == 0, report

    status = ipb.CredentialStatusChanged(
        credential_id=message.credential_id,
        issuer_id="iss_test",
        issuer_did=issuer.did,
        status_purpose=cpb.STATUS_PURPOSE_REVOCATION,
        previous_state=cpb.CREDENTIAL_STATUS_STATE_ACTIVE,
        new_state=cpb.CREDENTIAL_STATUS_STATE_REVOKED,
    )
    await real.bus.publish_batch(
        [
            Event(key=message.credential_id, message=status, source="urn:ler:issuance").to_record(
                real.names["status_topic"]
            )
        ]
    )

    async def revoked() -> bool:
        return (await _credentials(real, ada))[0].status == cpb.CREDENTIAL_STATUS_STATE_REVOKED

    await poll_until(revoked, within=60)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await real.stub.CreatePresentation(
            pb.CreatePresentationRequest(
                account_id=ada.account.account_id,
                credential_ids=[message.credential_id],
                challenge="c",
                domain="d",
            ),
            metadata=bearer(ada.api_key),
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_sd_jwt_presentation_reveals_only_chosen_claims(real: Real, tmp_path: Path) -> None:
    ada = await _account(real.stub, "ada@example.org")
    md = bearer(ada.api_key)
    holder = PublicKey.from_multikey(ada.account.holder_did.removeprefix("did:key:"))
    sd = Issuer().sd_jwt(holder)
    stored = (
        await real.stub.ImportCredential(
            pb.ImportCredentialRequest(account_id=ada.account.account_id, credential=sd),
            metadata=md,
        )
    ).credential
    assert stored.summary.format == cpb.CREDENTIAL_FORMAT_SD_JWT_VC
    vp = await real.stub.CreatePresentation(
        pb.CreatePresentationRequest(
            account_id=ada.account.account_id,
            credential_ids=[stored.credential_id],
            challenge="n-1",
            domain="jobs.example.com",
            disclosures=[
                pb.DisclosureSelection(
                    credential_id=stored.credential_id, claim_paths=["/family_name"]
                )
            ],
        ),
        metadata=md,
    )
    assert vp.format == cpb.CREDENTIAL_FORMAT_SD_JWT_VC
    text_vp = vp.presentation.decode()
    assert {d.name for d in parse_sd_jwt(text_vp).disclosures} == {"family_name"}
    revealed = sd_jwt_plaintext(vp.presentation)
    assert "Lovelace" in revealed
    for hidden in ("Ada", "1815-12-10", "Analytical Engines", "given_name", "birthdate"):
        assert hidden not in revealed, hidden
    # nor are the undisclosed claims' disclosures themselves in the bytes
    for disclosure in parse_sd_jwt(sd.decode()).disclosures:
        if disclosure.name != "family_name":
            assert disclosure.encoded.encode() not in vp.presentation
    assert _cli_verify(tmp_path, vp.presentation, "n-1", "jobs.example.com")[0] == 0
    assert _cli_verify(tmp_path, vp.presentation, "n-2", "jobs.example.com")[0] == 1
    # the access log (on PostgreSQL) says exactly which claims the verifier saw
    log = await real.stub.ListAccessLog(
        pb.ListAccessLogRequest(account_id=ada.account.account_id), metadata=md
    )
    assert [(e.channel, e.verifier_id) for e in log.entries] == [
        (rpb.ACCESS_CHANNEL_PRESENTATION, "jobs.example.com")
    ]
    assert [(s.credential_id, list(s.disclosed_claims)) for s in log.entries[0].seen] == [
        (stored.credential_id, ["/family_name"])
    ]


async def _get(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json(content_type=None)


async def test_share_links_stop_and_every_access_is_logged(real: Real) -> None:
    ada = await _account(real.stub, "ada@example.org")
    acc, md = ada.account.account_id, bearer(ada.api_key)
    vc = Issuer().badge(ada.account.holder_did)
    cid = (
        await real.stub.ImportCredential(
            pb.ImportCredentialRequest(account_id=acc, credential=vc), metadata=md
        )
    ).credential.credential_id

    async def link(**kw: object) -> rpb.ShareLink:
        return (
            await real.stub.CreateShareLink(
                pb.CreateShareLinkRequest(account_id=acc, credential_ids=[cid], **kw), metadata=md
            )
        ).share_link

    limited = await link(max_accesses=1)
    soon = Timestamp()
    soon.FromDatetime(datetime.now(UTC) + timedelta(seconds=2))
    expiring = await link(expires_at=soon)
    revocable = await link()
    assert (await _get(limited.url))[0] == 200
    status, body = await _get(limited.url)
    assert status == 410 and "view limit" in body["detail"]
    assert (await _get(revocable.url))[0] == 200
    await real.stub.RevokeShareLink(
        pb.RevokeShareLinkRequest(account_id=acc, share_link_id=revocable.share_link_id),
        metadata=md,
    )
    status, body = await _get(revocable.url)
    assert status == 410 and "revoked" in body["detail"]
    status, body = await _get(expiring.url)
    assert status == 200 and body["credentials"][0]["credential"].encode() == vc

    async def expired() -> bool:
        return (await _get(expiring.url))[0] == 410

    await poll_until(expired, within=10, every=0.5)
    log = (
        await real.stub.ListAccessLog(pb.ListAccessLogRequest(account_id=acc), metadata=md)
    ).entries
    by_link: dict[str, list[int]] = {}
    for entry in reversed(log):  # oldest first
        by_link.setdefault(entry.share_link_id, []).append(entry.outcome)
    granted = rpb.ACCESS_OUTCOME_GRANTED
    assert by_link[limited.share_link_id] == [granted, rpb.ACCESS_OUTCOME_DENIED_EXHAUSTED]
    assert by_link[revocable.share_link_id] == [granted, rpb.ACCESS_OUTCOME_DENIED_REVOKED]
    assert by_link[expiring.share_link_id][0] == granted
    assert by_link[expiring.share_link_id][-1] == rpb.ACCESS_OUTCOME_DENIED_EXPIRED
    assert all(e.client_network == "127.0.0.0/24" for e in log if e.share_link_id)


async def test_other_learner_or_no_key_is_refused_everywhere(real: Real) -> None:
    ada = await _account(real.stub, "ada@example.org")
    bob = await _account(real.stub, "bob@example.org")
    service = pb.DESCRIPTOR.services_by_name["WalletService"]
    acc = ada.account.account_id
    checked = 0
    for method in service.methods:
        if method.name == "CreateAccount":
            continue
        request = method.input_type._concrete_class(account_id=acc)
        for metadata, code in (
            ((), grpc.StatusCode.UNAUTHENTICATED),
            (bearer("lwk_forged"), grpc.StatusCode.UNAUTHENTICATED),
            (bearer(bob.api_key), grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await getattr(real.stub, method.name)(request, metadata=metadata)
            assert err.value.code() == code, (method.name, code)
            checked += 1
    assert checked == 3 * (len(service.methods) - 1)


async def test_account_deletion_leaves_no_row(real: Real) -> None:
    ada = await _account(real.stub, "ada@example.org")
    bob = await _account(real.stub, "bob@example.org")
    acc, md = ada.account.account_id, bearer(ada.api_key)
    issuer = Issuer()
    for who in (ada, bob):
        await real.stub.ImportCredential(
            pb.ImportCredentialRequest(
                account_id=who.account.account_id, credential=issuer.badge(who.account.holder_did)
            ),
            metadata=bearer(who.api_key),
        )
    cid = (await _credentials(real, ada))[0].credential_id
    shl = (
        await real.stub.CreateShareLink(
            pb.CreateShareLinkRequest(account_id=acc, credential_ids=[cid]), metadata=md
        )
    ).share_link
    assert (await _get(shl.url))[0] == 200
    await real.stub.SetResearchConsent(
        pb.SetResearchConsentRequest(account_id=acc, study_id="ler-outcomes-2027", opted_in=True),
        metadata=md,
    )
    await real.stub.AddSelfAssertedSkill(
        pb.AddSelfAssertedSkillRequest(
            account_id=acc,
            skill={"label": "Teamwork", "url": "https://example.org/skills/teamwork"},
            narrative="I led a team",
        ),
        metadata=md,
    )
    await real.stub.CreatePresentation(
        pb.CreatePresentationRequest(
            account_id=acc, credential_ids=[cid], challenge="c", domain="d.example"
        ),
        metadata=md,
    )
    done = await real.stub.DeleteAccount(
        pb.DeleteAccountRequest(account_id=acc, confirm=acc), metadata=md
    )
    assert done.deleted_credentials == 1
    engine = create_async_engine(real.pg_url)
    schema = real.names["db_schema"]
    try:

        async def outbox_empty() -> bool:
            async with engine.connect() as conn:
                n = await conn.scalar(text(f'SELECT count(*) FROM "{schema}".ler_outbox'))
            return n == 0

        await poll_until(outbox_empty, within=30)
        async with engine.connect() as conn:
            tables = (
                (
                    await conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = :s"
                        ),
                        {"s": schema},
                    )
                )
                .scalars()
                .all()
            )
            assert {
                "wallet_accounts",
                "wallet_credentials",
                "wallet_share_links",
                "wallet_access_log",
                "wallet_research_consents",
                "wallet_self_asserted_skills",
            } <= set(tables)
            for table in tables:
                # the whole row as text: no column anywhere mentions the learner
                hits = await conn.scalar(
                    text(
                        f'SELECT count(*) FROM "{schema}"."{table}" AS t'
                        " WHERE t::text LIKE :a OR t::text LIKE :d OR t::text ILIKE :e"
                    ),
                    {"a": f"%{acc}%", "d": f"%{ada.account.holder_did}%", "e": "%ada@example.org%"},
                )
                assert hits == 0, table
            bobs = await conn.scalar(
                text(f'SELECT count(*) FROM "{schema}".wallet_credentials WHERE account_id = :b'),
                {"b": bob.account.account_id},
            )
            assert bobs == 1
    finally:
        await engine.dispose()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await real.stub.GetAccount(pb.GetAccountRequest(account_id=acc), metadata=md)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await _get(shl.url))[0] == 404


async def test_concurrent_accounts_for_one_email(real: Real) -> None:
    request = pb.CreateAccountRequest(display_name="Cy", email="cy@example.org")
    results = await asyncio.gather(
        *(real.stub.CreateAccount(request) for _ in range(4)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, pb.CreateAccountResponse)]
    refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(created) == 1
    assert [e.code() for e in refused] == [grpc.StatusCode.ALREADY_EXISTS] * 3


async def test_undeliverable_bytes_go_to_the_dead_letter_topic(real: Real) -> None:
    ada = await _account(real.stub, "ada@example.org")
    bad = ipb.CredentialIssued(
        credential_id="urn:uuid:bad",
        issuer_id="iss_test",
        subject_id=ada.account.holder_did,
        signed_credential=b"this is not a credential",
    )
    topic = real.names["issued_topic"]
    await real.bus.publish_batch(
        [Event(key=bad.credential_id, message=bad, source="urn:ler:issuance").to_record(topic)]
    )
    dead = await read_topic(real.bus, topic + ".dlq", 1)
    assert len(dead) == 1
    assert b"neither a JSON object" in (dead[0].header("ler_error") or b"")
    assert await _credentials(real, ada) == []
