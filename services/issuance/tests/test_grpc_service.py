"""IssuanceService over gRPC, in process, on SQLite: every RPC and tenant isolation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2
from issuance_helpers import OPERATOR_TOKEN, metadata_for, service_settings, verify_over_http
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2
from ler.issuance.v1 import issuance_service_pb2 as pb
from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc
from ler.issuance.v1 import resources_pb2 as rpb
from ler_issuance.bootstrap import IssuanceApp, bootstrap

LEARNER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def achievement(name: str = "Bachelor of Science in Computer Science") -> rpb.Achievement:
    return rpb.Achievement(
        achievement_type=cpb.ACHIEVEMENT_TYPE_BACHELOR_DEGREE,
        name=name,
        description="Four-year degree.",
        criteria_narrative="Complete 120 credits.",
        alignments=[
            skills_pb2.SkillAlignment(
                framework="ESCO", code="S1.2", url="https://esco.example/s1.2", label="Python"
            )
        ],
        result_descriptions=[
            rpb.ResultDescription(
                id="gpa",
                name="GPA",
                result_type=rpb.RESULT_TYPE_GRADE_POINT_AVERAGE,
            )
        ],
    )


def spec(record_id: str, **kw: object) -> rpb.CredentialSpec:
    base: dict[str, object] = {
        "record_id": record_id,
        "subject": rpb.Subject(did=LEARNER),
        "achievement": achievement(),
        "results": [rpb.Result(result_description_id="gpa", value="3.8")],
        "cryptosuite": cpb.CRYPTOSUITE_EDDSA_JCS_2022,
    }
    base.update(kw)
    return rpb.CredentialSpec(**base)  # type: ignore[arg-type]


@dataclass
class Tenant:
    issuer_id: str
    api_key: str
    did: str

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return metadata_for(self.api_key)


@dataclass
class Running:
    app: IssuanceApp
    stub: pb_grpc.IssuanceServiceStub
    a: Tenant
    b: Tenant


async def _register(stub: pb_grpc.IssuanceServiceStub, name: str) -> Tenant:
    response = await stub.RegisterIssuer(
        pb.RegisterIssuerRequest(name=name, url="https://uni.example"),
        metadata=metadata_for(OPERATOR_TOKEN),
    )
    return Tenant(response.issuer.issuer_id, response.api_key, response.issuer.did)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    settings = service_settings(f"sqlite+aiosqlite:///{tmp_path / 'issuance.db'}")
    app = bootstrap(settings)
    await app.runtime.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
    try:
        stub = pb_grpc.IssuanceServiceStub(channel)
        a = await _register(stub, "University A")
        b = await _register(stub, "College B")
        yield Running(app, stub, a, b)
    finally:
        await channel.close()
        await app.runtime.stop()


def _details(err: grpc.aio.AioRpcError) -> str:
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    if raw is None:
        return ""
    status = status_pb2.Status.FromString(raw)
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


async def test_register_requires_operator(running: Running) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await running.stub.RegisterIssuer(
            pb.RegisterIssuerRequest(name="X", url="https://x.example"), metadata=running.a.md
        )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await running.stub.RegisterIssuer(pb.RegisterIssuerRequest(name="X", url="https://x.ex"))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await running.stub.RegisterIssuer(
            pb.RegisterIssuerRequest(name="", url="nope"), metadata=metadata_for(OPERATOR_TOKEN)
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "name" in (info.value.details() or "")


async def test_issue_replay_conflict_and_verify(running: Running) -> None:
    stub, a = running.stub, running.a
    first = await stub.IssueCredential(
        pb.IssueCredentialRequest(issuer_id=a.issuer_id, spec=spec("R1")), metadata=a.md
    )
    assert not first.replayed and first.credential.issuer_did == a.did
    doc = json.loads(first.credential.signed_credential)
    assert doc["credentialSubject"]["achievement"]["achievementType"] == "BachelorDegree"
    report = await verify_over_http(first.credential.signed_credential)
    assert report.verified, report.to_dict()
    again = await stub.IssueCredential(
        pb.IssueCredentialRequest(issuer_id=a.issuer_id, spec=spec("R1")), metadata=a.md
    )
    assert again.replayed and again.credential.credential_id == first.credential.credential_id
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.IssueCredential(
            pb.IssueCredentialRequest(
                issuer_id=a.issuer_id,
                spec=spec("R1", results=[rpb.Result(result_description_id="gpa", value="2.0")]),
            ),
            metadata=a.md,
        )
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert _details(info.value) == "RECORD_ID_CONFLICT"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.IssueCredential(
            pb.IssueCredentialRequest(
                issuer_id=a.issuer_id, spec=spec("R2", subject=rpb.Subject())
            ),
            metadata=a.md,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "subject" in (info.value.details() or "")


async def test_batch_stream_reports_each_item(running: Running) -> None:
    a = running.a

    async def items() -> AsyncIterator[pb.IssueCredentialsRequest]:
        for i in range(450):
            yield pb.IssueCredentialsRequest(issuer_id=a.issuer_id, spec=spec(f"B{i % 400}"))
        yield pb.IssueCredentialsRequest(issuer_id=a.issuer_id, spec=spec(""))
        yield pb.IssueCredentialsRequest(
            issuer_id=a.issuer_id, spec=spec("T", template_id="tpl_nope", achievement=None)
        )

    response = await running.stub.IssueCredentials(items(), metadata=a.md)
    assert len(response.results) == 452
    assert [r.index for r in response.results] == list(range(452))
    assert (response.issued_count, response.replayed_count, response.rejected_count) == (
        400,
        50,
        2,
    )
    assert response.results[400].credential_id == response.results[0].credential_id
    assert response.results[450].error.reason == "INVALID_SPEC"
    assert response.results[450].error.field == "spec.record_id"
    assert response.results[451].error.reason == "TEMPLATE_NOT_FOUND"


async def test_templates_status_rotation_clr_and_offers(running: Running) -> None:
    stub, a = running.stub, running.a
    created = await stub.CreateAchievementTemplate(
        pb.CreateAchievementTemplateRequest(issuer_id=a.issuer_id, achievement=achievement("C1")),
        metadata=a.md,
    )
    tid = created.template.template_id
    got = await stub.GetAchievementTemplate(
        pb.GetAchievementTemplateRequest(issuer_id=a.issuer_id, template_id=tid), metadata=a.md
    )
    assert got.template.achievement.name == "C1"
    listed = await stub.ListAchievementTemplates(
        pb.ListAchievementTemplatesRequest(
            issuer_id=a.issuer_id, achievement_type=cpb.ACHIEVEMENT_TYPE_BACHELOR_DEGREE
        ),
        metadata=a.md,
    )
    assert [t.template_id for t in listed.templates] == [tid]
    one = await stub.IssueCredential(
        pb.IssueCredentialRequest(issuer_id=a.issuer_id, spec=spec("C-1", template_id=tid)),
        metadata=a.md,
    )
    cid = one.credential.credential_id
    revoked = await stub.ChangeCredentialStatus(
        pb.ChangeCredentialStatusRequest(
            issuer_id=a.issuer_id, credential_id=cid, action=pb.STATUS_ACTION_REVOKE, reason="x"
        ),
        metadata=a.md,
    )
    assert revoked.changed and revoked.credential.status == cpb.CREDENTIAL_STATUS_STATE_REVOKED
    report = await verify_over_http(one.credential.signed_credential)
    assert not report.verified and any("revoked" in c.reason for c in report.failures())
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ChangeCredentialStatus(
            pb.ChangeCredentialStatusRequest(
                issuer_id=a.issuer_id, credential_id=cid, action=pb.STATUS_ACTION_SUSPEND
            ),
            metadata=a.md,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    rotated = await stub.RotateSigningKey(
        pb.RotateSigningKeyRequest(issuer_id=a.issuer_id), metadata=a.md
    )
    assert rotated.issuer.active_key.verification_method.endswith("#key-2")
    assert [k.verification_method[-6:] for k in rotated.issuer.retired_keys] == ["#key-1"]
    two = await stub.IssueCredential(
        pb.IssueCredentialRequest(issuer_id=a.issuer_id, spec=spec("C-2")), metadata=a.md
    )
    clr = await stub.IssueClr(
        pb.IssueClrRequest(
            issuer_id=a.issuer_id,
            record_id="CLR-1",
            subject=rpb.Subject(did=LEARNER),
            name="Transcript",
            credential_ids=[two.credential.credential_id],
            achievements=[pb.ClrAchievement(record_id="C-3", achievement=achievement("Course 3"))],
        ),
        metadata=a.md,
    )
    assert clr.credential.kind == cpb.CREDENTIAL_KIND_CLR and len(clr.issued_credential_ids) == 1
    assert len(clr.credential.embedded_credential_ids) == 2
    report = await verify_over_http(clr.credential.signed_credential)
    assert report.verified, report.to_dict()
    offer = await stub.CreateCredentialOffer(
        pb.CreateCredentialOfferRequest(
            issuer_id=a.issuer_id,
            credential_id=two.credential.credential_id,
            require_tx_code=True,
            ttl=Duration(seconds=3600),
        ),
        metadata=a.md,
    )
    assert offer.offer_uri.startswith("openid-credential-offer://?credential_offer=")
    assert len(offer.tx_code) == 6
    page = await stub.ListCredentials(
        pb.ListCredentialsRequest(issuer_id=a.issuer_id, page={"page_size": 2}), metadata=a.md
    )
    assert len(page.credentials) == 2 and page.page.next_page_token
    assert not page.credentials[0].signed_credential
    rest = await stub.ListCredentials(
        pb.ListCredentialsRequest(
            issuer_id=a.issuer_id, page={"page_size": 10, "page_token": page.page.next_page_token}
        ),
        metadata=a.md,
    )
    ids = {c.credential_id for c in [*page.credentials, *rest.credentials]}
    assert len(ids) == 4 and not rest.page.next_page_token  # C-1, C-2, C-3 and CLR-1


async def test_another_tenant_is_denied_on_every_rpc_and_learns_nothing(running: Running) -> None:
    stub, a, b = running.stub, running.a, running.b
    issued = await stub.IssueCredential(
        pb.IssueCredentialRequest(issuer_id=a.issuer_id, spec=spec("SECRET-1")), metadata=a.md
    )
    cid = issued.credential.credential_id
    tpl = (
        await stub.CreateAchievementTemplate(
            pb.CreateAchievementTemplateRequest(issuer_id=a.issuer_id, achievement=achievement()),
            metadata=a.md,
        )
    ).template.template_id

    async def stream() -> AsyncIterator[pb.IssueCredentialsRequest]:
        yield pb.IssueCredentialsRequest(issuer_id=a.issuer_id, spec=spec("X"))

    calls = {
        "GetIssuer": lambda: stub.GetIssuer(
            pb.GetIssuerRequest(issuer_id=a.issuer_id), metadata=b.md
        ),
        "RotateSigningKey": lambda: stub.RotateSigningKey(
            pb.RotateSigningKeyRequest(issuer_id=a.issuer_id), metadata=b.md
        ),
        "CreateAchievementTemplate": lambda: stub.CreateAchievementTemplate(
            pb.CreateAchievementTemplateRequest(issuer_id=a.issuer_id, achievement=achievement()),
            metadata=b.md,
        ),
        "GetAchievementTemplate": lambda: stub.GetAchievementTemplate(
            pb.GetAchievementTemplateRequest(issuer_id=a.issuer_id, template_id=tpl), metadata=b.md
        ),
        "ListAchievementTemplates": lambda: stub.ListAchievementTemplates(
            pb.ListAchievementTemplatesRequest(issuer_id=a.issuer_id), metadata=b.md
        ),
        "IssueCredential": lambda: stub.IssueCredential(
            pb.IssueCredentialRequest(issuer_id=a.issuer_id, spec=spec("X")), metadata=b.md
        ),
        "IssueCredentials": lambda: stub.IssueCredentials(stream(), metadata=b.md),
        "IssueClr": lambda: stub.IssueClr(
            pb.IssueClrRequest(
                issuer_id=a.issuer_id,
                record_id="X",
                subject=rpb.Subject(did=LEARNER),
                name="n",
                credential_ids=[cid],
            ),
            metadata=b.md,
        ),
        "ChangeCredentialStatus": lambda: stub.ChangeCredentialStatus(
            pb.ChangeCredentialStatusRequest(
                issuer_id=a.issuer_id, credential_id=cid, action=pb.STATUS_ACTION_REVOKE
            ),
            metadata=b.md,
        ),
        "GetCredential": lambda: stub.GetCredential(
            pb.GetCredentialRequest(issuer_id=a.issuer_id, credential_id=cid), metadata=b.md
        ),
        "ListCredentials": lambda: stub.ListCredentials(
            pb.ListCredentialsRequest(issuer_id=a.issuer_id), metadata=b.md
        ),
        "CreateCredentialOffer": lambda: stub.CreateCredentialOffer(
            pb.CreateCredentialOfferRequest(issuer_id=a.issuer_id, credential_id=cid),
            metadata=b.md,
        ),
    }
    service = pb.DESCRIPTOR.services_by_name["IssuanceService"]
    # RegisterIssuer is operator-only; SearchAchievementTemplates is the public catalog (tested
    # in services/wallet/tests/test_career_planning.py): neither names a tenant
    public = {"RegisterIssuer", "SearchAchievementTemplates"}
    assert set(calls) | public == {m.name for m in service.methods}
    for name, call in calls.items():
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call()
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, name
        text = (info.value.details() or "") + repr(info.value.trailing_metadata())
        for secret in (cid, a.did, tpl, "SECRET-1", a.api_key):
            assert secret not in text, (name, secret)
    # under its own issuer id, B cannot reach A's credential or template either: NOT_FOUND
    for call in (
        lambda: stub.GetCredential(
            pb.GetCredentialRequest(issuer_id=b.issuer_id, credential_id=cid), metadata=b.md
        ),
        lambda: stub.ChangeCredentialStatus(
            pb.ChangeCredentialStatusRequest(
                issuer_id=b.issuer_id, credential_id=cid, action=pb.STATUS_ACTION_REVOKE
            ),
            metadata=b.md,
        ),
        lambda: stub.GetAchievementTemplate(
            pb.GetAchievementTemplateRequest(issuer_id=b.issuer_id, template_id=tpl), metadata=b.md
        ),
        lambda: stub.CreateCredentialOffer(
            pb.CreateCredentialOfferRequest(issuer_id=b.issuer_id, credential_id=cid),
            metadata=b.md,
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call()
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await stub.ListCredentials(
        pb.ListCredentialsRequest(issuer_id=b.issuer_id), metadata=b.md
    )
    assert list(listed.credentials) == []
    # A's credential is untouched
    still = await stub.GetCredential(
        pb.GetCredentialRequest(issuer_id=a.issuer_id, credential_id=cid), metadata=a.md
    )
    assert still.credential.status == cpb.CREDENTIAL_STATUS_STATE_ACTIVE


async def test_batch_limit_and_issuer_switch_stop_the_stream_after_earlier_items(
    tmp_path: Path,
) -> None:
    settings = service_settings(f"sqlite+aiosqlite:///{tmp_path / 'limit.db'}", batch_max_items=3)
    app = bootstrap(settings)
    await app.runtime.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}") as channel:
            stub = pb_grpc.IssuanceServiceStub(channel)
            a = await _register(stub, "A")

            async def five() -> AsyncIterator[pb.IssueCredentialsRequest]:
                for i in range(5):
                    yield pb.IssueCredentialsRequest(issuer_id=a.issuer_id, spec=spec(f"L{i}"))

            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.IssueCredentials(five(), metadata=a.md)
            assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

            async def switch() -> AsyncIterator[pb.IssueCredentialsRequest]:
                yield pb.IssueCredentialsRequest(issuer_id=a.issuer_id, spec=spec("S0"))
                yield pb.IssueCredentialsRequest(issuer_id="iss_other", spec=spec("S1"))

            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.IssueCredentials(switch(), metadata=a.md)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            listed = await stub.ListCredentials(
                pb.ListCredentialsRequest(issuer_id=a.issuer_id), metadata=a.md
            )
            # the items before the limit / before the switch were issued, nothing after them
            assert sorted(c.record_id for c in listed.credentials) == ["L0", "L1", "L2", "S0"]
    finally:
        await app.runtime.stop()
