"""WalletService over gRPC in-process, on SQLite and the in-process bus."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as ipb
from ler.wallet.v1 import resources_pb2 as rpb
from ler.wallet.v1 import wallet_service_pb2 as pb
from ler.wallet.v1 import wallet_service_pb2_grpc as pb_grpc
from ler_platform.events.envelope import Event
from ler_wallet.bootstrap import WalletApp, bootstrap
from wallet_helpers import Issuer, bearer, free_port, poll_until, wallet_settings


@pytest.fixture
async def wallet(tmp_path: Path) -> AsyncIterator[tuple[WalletApp, pb_grpc.WalletServiceStub]]:
    app = bootstrap(wallet_settings(f"sqlite+aiosqlite:///{tmp_path / 'wallet.db'}"))
    await app.runtime.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
    try:
        yield app, pb_grpc.WalletServiceStub(channel)
    finally:
        await channel.close()
        await app.runtime.stop()


async def _account(stub: pb_grpc.WalletServiceStub, email: str) -> pb.CreateAccountResponse:
    return await stub.CreateAccount(pb.CreateAccountRequest(display_name="Ada", email=email))


def _requests(account_id: str) -> list[tuple[str, object]]:
    """One request per RPC that acts on an account."""
    return [
        ("GetAccount", pb.GetAccountRequest(account_id=account_id)),
        ("DeleteAccount", pb.DeleteAccountRequest(account_id=account_id, confirm=account_id)),
        ("AcceptCredentialOffer", pb.AcceptCredentialOfferRequest(account_id=account_id)),
        ("ImportCredential", pb.ImportCredentialRequest(account_id=account_id, credential=b"{}")),
        ("ListCredentials", pb.ListCredentialsRequest(account_id=account_id)),
        ("GetCredential", pb.GetCredentialRequest(account_id=account_id, credential_id="x")),
        ("CurateCredential", pb.CurateCredentialRequest(account_id=account_id, credential_id="x")),
        ("GetSkillsProfile", pb.GetSkillsProfileRequest(account_id=account_id)),
        ("AddSelfAssertedSkill", pb.AddSelfAssertedSkillRequest(account_id=account_id)),
        ("PlanCareer", pb.PlanCareerRequest(account_id=account_id)),
        ("CreatePresentation", pb.CreatePresentationRequest(account_id=account_id)),
        (
            "ResolvePresentationRequest",
            pb.ResolvePresentationRequestRequest(account_id=account_id),
        ),
        (
            "RespondToPresentationRequest",
            pb.RespondToPresentationRequestRequest(account_id=account_id),
        ),
        ("CreateShareLink", pb.CreateShareLinkRequest(account_id=account_id)),
        ("RevokeShareLink", pb.RevokeShareLinkRequest(account_id=account_id, share_link_id="s")),
        ("ListShareLinks", pb.ListShareLinksRequest(account_id=account_id)),
        ("ListAccessLog", pb.ListAccessLogRequest(account_id=account_id)),
        ("SetResearchConsent", pb.SetResearchConsentRequest(account_id=account_id, study_id="s")),
        ("ExportRecords", pb.ExportRecordsRequest(account_id=account_id, format=1)),
    ]


async def test_every_rpc_needs_the_learners_own_key(
    wallet: tuple[WalletApp, pb_grpc.WalletServiceStub],
) -> None:
    _, stub = wallet
    ada = await _account(stub, "ada@example.org")
    bob = await _account(stub, "bob@example.org")
    rpcs = _requests(ada.account.account_id)
    assert len(rpcs) == len(pb.DESCRIPTOR.services_by_name["WalletService"].methods) - 1
    for name, request in rpcs:
        for metadata, code in (
            ((), grpc.StatusCode.UNAUTHENTICATED),
            (bearer("lwk_not-a-key"), grpc.StatusCode.UNAUTHENTICATED),
            (bearer(bob.api_key), grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await getattr(stub, name)(request, metadata=metadata)
            assert err.value.code() == code, (name, metadata)
    # the learner's own key reaches the use cases (Ada still exists)
    got = await stub.GetAccount(
        pb.GetAccountRequest(account_id=ada.account.account_id), metadata=bearer(ada.api_key)
    )
    assert got.account.holder_did == ada.account.holder_did


async def test_import_curate_profile_share_export(
    wallet: tuple[WalletApp, pb_grpc.WalletServiceStub],
) -> None:
    app, stub = wallet
    ada = await _account(stub, "ada@example.org")
    acc, md = ada.account.account_id, bearer(ada.api_key)
    issuer = Issuer()
    vc = issuer.badge(ada.account.holder_did)
    imported = await stub.ImportCredential(
        pb.ImportCredentialRequest(account_id=acc, credential=vc), metadata=md
    )
    stored = imported.credential
    assert not imported.already_present and stored.signed_credential == vc
    assert stored.summary.achievement_type == cpb.ACHIEVEMENT_TYPE_COURSE
    assert stored.receipt_report.verdict in (1, 2)  # verified (with warnings: no trust list)
    again = await stub.ImportCredential(
        pb.ImportCredentialRequest(account_id=acc, credential=vc), metadata=md
    )
    assert again.already_present
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ImportCredential(
            pb.ImportCredentialRequest(account_id=acc, credential=b"not a credential"), metadata=md
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    curated = await stub.CurateCredential(
        pb.CurateCredentialRequest(
            account_id=acc,
            credential_id=stored.credential_id,
            curation=rpb.Curation(featured=True, tags=["data"]),
            update_mask=FieldMask(paths=["featured", "tags"]),
        ),
        metadata=md,
    )
    assert curated.credential.curation.featured and list(curated.credential.curation.tags) == [
        "data"
    ]
    profile = await stub.GetSkillsProfile(pb.GetSkillsProfileRequest(account_id=acc), metadata=md)
    assert [s.skill.label for s in profile.profile.skills] == ["Python"]
    assert profile.profile.skills[0].source == rpb.SKILL_SOURCE_CREDENTIAL
    link = (
        await stub.CreateShareLink(
            pb.CreateShareLinkRequest(
                account_id=acc, credential_ids=[stored.credential_id], max_accesses=1
            ),
            metadata=md,
        )
    ).share_link
    assert link.url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as http:
        async with http.get(link.url) as response:
            assert response.status == 200
            body = await response.json()
        assert body["credentials"][0]["credential"].encode() == vc
        async with http.get(link.url) as response:
            assert response.status == 410
            assert response.content_type == "application/problem+json"
            assert "view limit" in (await response.json())["detail"]
    log = await stub.ListAccessLog(pb.ListAccessLogRequest(account_id=acc), metadata=md)
    assert [e.outcome for e in log.entries] == [
        rpb.ACCESS_OUTCOME_DENIED_EXHAUSTED,
        rpb.ACCESS_OUTCOME_GRANTED,
    ]
    assert [list(e.seen) for e in log.entries] == [
        [],
        [rpb.SeenCredential(credential_id=stored.credential_id)],
    ]
    assert {e.channel for e in log.entries} == {rpb.ACCESS_CHANNEL_SHARE_LINK}

    # a link with an audience opens only for it (by DID header or by Origin); refusals logged
    for audience, wrong, right in (
        (
            "did:web:jobs.example.com",
            {"X-Ler-Verifier": "did:web:evil.example"},
            {"X-Ler-Verifier": "did:web:jobs.example.com"},
        ),
        (
            "HTTPS://Jobs.Example.com:443/",
            {"Origin": "https://evil.example"},
            {"Origin": "https://jobs.example.com"},
        ),
    ):
        aud = (
            await stub.CreateShareLink(
                pb.CreateShareLinkRequest(
                    account_id=acc, credential_ids=[stored.credential_id], audience=audience
                ),
                metadata=md,
            )
        ).share_link
        assert aud.audience in ("did:web:jobs.example.com", "https://jobs.example.com")
        async with aiohttp.ClientSession() as http:
            for headers in ({}, wrong):
                async with http.get(aud.url, headers=headers) as response:
                    assert response.status == 403
                    assert "another verifier" in (await response.json())["detail"]
            async with http.get(aud.url, headers=right) as response:
                assert response.status == 200
        entries = (
            await stub.ListAccessLog(
                pb.ListAccessLogRequest(account_id=acc, share_link_id=aud.share_link_id),
                metadata=md,
            )
        ).entries
        assert [(e.outcome, len(e.seen)) for e in entries] == [
            (rpb.ACCESS_OUTCOME_GRANTED, 1),
            (rpb.ACCESS_OUTCOME_DENIED_AUDIENCE, 0),
            (rpb.ACCESS_OUTCOME_DENIED_AUDIENCE, 0),
        ]
        assert entries[0].verifier_id == aud.audience
    for bad in ("https://jobs.example.com/path", "ftp://x.example", "not an audience"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateShareLink(
                pb.CreateShareLinkRequest(
                    account_id=acc, credential_ids=[stored.credential_id], audience=bad
                ),
                metadata=md,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "audience" in (err.value.details() or "")
    exported = await stub.ExportRecords(
        pb.ExportRecordsRequest(account_id=acc, format=pb.EXPORT_FORMAT_LER_RS_JSON), metadata=md
    )
    assert json.loads(exported.content)["credentials"][0]["signedCredential"].encode() == vc
    python = stored.summary.skills[0]
    sql = {"framework": "ESCO", "code": "SQL1", "url": "https://e.org/sql", "label": "SQL"}
    planned = await stub.PlanCareer(
        pb.PlanCareerRequest(
            account_id=acc,
            target_skills=pb.TargetSkills(
                required_skills=[{"skill": python, "weight": 3.0}, {"skill": sql}],
            ),
        ),
        metadata=md,
    )
    assert [e.requirement.skill.label for e in planned.evidenced] == ["Python"]
    assert list(planned.evidenced[0].credential_ids) == [stored.credential_id]
    assert [m.requirement.skill.label for m in planned.missing] == ["SQL"]
    assert planned.required_coverage == pytest.approx(0.75)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PlanCareer(pb.PlanCareerRequest(account_id=acc), metadata=md)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PlanCareer(
            pb.PlanCareerRequest(account_id=acc, opportunity_id="opp_1"), metadata=md
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "intake" in (err.value.details() or "")
    assert not planned.suggestions  # no issuance catalog configured: planning still works
    assert app.consumers.delivered == 0


async def test_paging_and_embedded_delivery(
    wallet: tuple[WalletApp, pb_grpc.WalletServiceStub],
) -> None:
    app, stub = wallet
    ada = await _account(stub, "ada@example.org")
    acc, md = ada.account.account_id, bearer(ada.api_key)
    issuer = Issuer()
    ids = []
    for n in range(3):
        vc = issuer.badge(ada.account.holder_did, name=f"Course {n}")
        message = ipb.CredentialIssued(
            credential_id=json.loads(vc)["id"],
            subject_id=ada.account.holder_did,
            format=cpb.CREDENTIAL_FORMAT_LDP_VC,
            signed_credential=vc,
        )
        ids.append(message.credential_id)
        event = Event(key=message.credential_id, message=message, source="urn:ler:issuance")
        await app.runtime.bus.publish_batch([event.to_record(app.runtime.settings.issued_topic)])

    async def delivered() -> bool:
        return app.consumers.delivered == 3

    await poll_until(delivered, within=30)
    first = await stub.ListCredentials(
        pb.ListCredentialsRequest(account_id=acc, page={"page_size": 2}), metadata=md
    )
    assert len(first.credentials) == 2 and first.page.next_page_token
    rest = await stub.ListCredentials(
        pb.ListCredentialsRequest(
            account_id=acc, page={"page_size": 2, "page_token": first.page.next_page_token}
        ),
        metadata=md,
    )
    assert not rest.page.next_page_token
    seen = [c.credential_id for c in [*first.credentials, *rest.credentials]]
    assert sorted(seen) == sorted(ids)
    for page, wrong_filter in (
        ({"page_size": -1}, False),
        ({"page_token": "garbage"}, False),
        ({"page_token": first.page.next_page_token}, True),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListCredentials(
                pb.ListCredentialsRequest(account_id=acc, page=page, include_hidden=wrong_filter),
                metadata=md,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = ipb.CredentialStatusChanged(
        credential_id=ids[0], new_state=cpb.CREDENTIAL_STATUS_STATE_SUSPENDED
    )
    await app.runtime.bus.publish_batch(
        [
            Event(key=ids[0], message=status, source="urn:ler:issuance").to_record(
                app.runtime.settings.status_topic
            )
        ]
    )

    async def suspended() -> bool:
        got = await stub.GetCredential(
            pb.GetCredentialRequest(account_id=acc, credential_id=ids[0]), metadata=md
        )
        return got.credential.status == cpb.CREDENTIAL_STATUS_STATE_SUSPENDED

    await poll_until(suspended, within=30)
    listed = await stub.ListCredentials(
        pb.ListCredentialsRequest(account_id=acc, status=cpb.CREDENTIAL_STATUS_STATE_SUSPENDED),
        metadata=md,
    )
    assert [c.credential_id for c in listed.credentials] == [ids[0]]


async def test_plan_career_when_intake_and_issuance_are_down(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    app = bootstrap(
        wallet_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
            intake_grpc_target=dead,
            issuance_grpc_target=dead,
        )
    )
    await app.runtime.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
    try:
        stub = pb_grpc.WalletServiceStub(channel)
        ada = await _account(stub, "ada@example.org")
        acc, md = ada.account.account_id, bearer(ada.api_key)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.PlanCareer(
                pb.PlanCareerRequest(account_id=acc, opportunity_id="o"), metadata=md
            )
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "intake" in (err.value.details() or "")
        sql = {"framework": "ESCO", "code": "SQL1", "url": "https://e.org/sql", "label": "SQL"}
        planned = await stub.PlanCareer(
            pb.PlanCareerRequest(
                account_id=acc, target_skills=pb.TargetSkills(required_skills=[{"skill": sql}])
            ),
            metadata=md,
        )
        assert [m.requirement.skill.code for m in planned.missing] == ["SQL1"]
        assert not planned.suggestions  # the catalog is down: the plan stands without them
    finally:
        await channel.close()
        await app.runtime.stop()
