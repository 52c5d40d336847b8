"""Issuing, replaying, templates, status changes and rotation (fake unit of work)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from issuance_fakes import FakeStore
from issuance_helpers import JCS, PYTHON, achievement, spec, verify_from_store
from ler_crypto.report import Outcome as CheckOutcome
from ler_issuance.domain.errors import (
    InvalidSpec,
    RecordIdConflict,
    StatusTransitionNotAllowed,
    TemplateNotFound,
)
from ler_issuance.domain.events import CredentialIssued, CredentialStatusChanged
from ler_issuance.domain.model import (
    CredentialState,
    Cryptosuite,
    Result,
    StatusAction,
    StatusPurpose,
    Subject,
)
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer, rotate_signing_key
from ler_issuance.service_layer.issuing import Outcome, issue_batch, issue_credential
from ler_issuance.service_layer.queries import get_credential
from ler_issuance.service_layer.status import change_status
from ler_issuance.service_layer.templates import create_template, list_templates

OTHER_LEARNER = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"


async def _issuer(ctx: Context, **kw: object) -> str:
    issuer, _ = await register_issuer(
        ctx, NewIssuer(name="Example State University", url="https://esu.example.edu", **kw)
    )
    return issuer.issuer_id


async def test_issued_credential_is_valid_ob3_and_verifies(ctx: Context, store: FakeStore) -> None:
    iid = await _issuer(ctx)
    record, replayed = await issue_credential(ctx, iid, spec("R-1"))
    assert not replayed
    doc = json.loads(record.signed_credential)
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["issuer"]["id"] == store.issuers[iid].did
    subject = doc["credentialSubject"]
    assert subject["achievement"]["alignment"][0]["targetUrl"] == PYTHON.url
    assert subject["result"][0]["value"] == "A"
    purposes = {e["statusPurpose"] for e in doc["credentialStatus"]}
    assert purposes == {"revocation", "suspension"}
    assert doc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    report = await verify_from_store(store, record.signed_credential)
    assert report.verified, report.to_dict()
    assert [type(e) for e in store.events] == [CredentialIssued]


async def test_email_subject_is_hashed_never_in_clear(ctx: Context, store: FakeStore) -> None:
    iid = await _issuer(ctx)
    learner = Subject(email="ada@example.edu", name="Ada Lovelace")
    record, _ = await issue_credential(ctx, iid, spec("R-2", subject=learner, cryptosuite=JCS))
    assert b"ada@example.edu" not in record.signed_credential
    identities = json.loads(record.signed_credential)["credentialSubject"]["identifier"]
    assert identities[0]["identityType"] == "emailAddress" and identities[0]["hashed"] is True
    assert (await verify_from_store(store, record.signed_credential)).verified


async def test_same_record_id_replays_and_different_payload_conflicts(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    first, _ = await issue_credential(ctx, iid, spec("R-1"))
    again, replayed = await issue_credential(ctx, iid, spec("R-1"))
    assert replayed and again.credential_id == first.credential_id
    assert again.signed_credential == first.signed_credential
    with pytest.raises(RecordIdConflict) as info:
        await issue_credential(
            ctx, iid, spec("R-1", results=(Result(result_description_id="grade", value="B"),))
        )
    assert info.value.metadata["credential_id"] == first.credential_id
    assert len(store.credentials) == 1 and len(store.events) == 1


async def test_batch_reports_each_item_and_issues_each_record_once(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    await issue_credential(ctx, iid, spec("OLD"))
    specs = [
        spec("N-1", cryptosuite=JCS),
        spec("N-1", cryptosuite=JCS),  # repeated within the batch: replay of the first
        spec("", cryptosuite=JCS),  # no record id
        spec("OLD"),  # issued before
        spec("N-2", results=(Result(result_description_id="grade", value="Z"),)),
        spec("N-3", template_id="tpl_missing", achievement=None),
        spec(
            "OLD", subject=Subject(did="did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH")
        ),
    ]
    results = await issue_batch(ctx, iid, specs)
    outcomes = [r.outcome for r in results]
    assert outcomes == [
        Outcome.ISSUED,
        Outcome.REPLAYED,
        Outcome.REJECTED,
        Outcome.REPLAYED,
        Outcome.REJECTED,
        Outcome.REJECTED,
        Outcome.REJECTED,
    ]
    assert results[1].credential is not None and results[0].credential is not None
    assert results[1].credential.credential_id == results[0].credential.credential_id
    assert isinstance(results[2].error, InvalidSpec)
    assert results[2].error.violations[0].field == "spec.record_id"
    assert isinstance(results[4].error, InvalidSpec)
    assert "allowed values" in results[4].error.message
    assert isinstance(results[5].error, TemplateNotFound)
    assert isinstance(results[6].error, RecordIdConflict)
    assert sorted(c.record_id for c in store.credentials.values()) == ["N-1", "OLD"]
    indices = {
        e.index
        for c in store.credentials.values()
        for e in c.status_entries
        if e.purpose is StatusPurpose.REVOCATION
    }
    assert len(indices) == 2  # distinct random indices


async def test_templates_issue_many_times_and_list(ctx: Context) -> None:
    iid = await _issuer(ctx)
    template = await create_template(ctx, iid, achievement("Data Science Certificate"))
    assert template.achievement.id.startswith("urn:uuid:")
    one, _ = await issue_credential(
        ctx, iid, spec("T-1", achievement=None, template_id=template.template_id)
    )
    two, _ = await issue_credential(
        ctx, iid, spec("T-2", achievement=None, template_id=template.template_id)
    )
    ids = {
        json.loads(c.signed_credential)["credentialSubject"]["achievement"]["id"]
        for c in (one, two)
    }
    assert ids == {template.achievement.id}
    page, token = await list_templates(ctx, iid, size=10, token="")
    assert [t.template_id for t in page] == [template.template_id] and token == ""
    other = await _issuer(ctx)
    with pytest.raises(TemplateNotFound):  # another tenant's template does not exist for me
        await issue_credential(
            ctx, other, spec("T-1", achievement=None, template_id=template.template_id)
        )


async def test_invalid_inline_achievement_names_the_fields(ctx: Context) -> None:
    iid = await _issuer(ctx)
    bad = achievement(description="", alignments=(replace(PYTHON, url="not a url"),))
    with pytest.raises(InvalidSpec) as info:
        await issue_credential(ctx, iid, spec("X", achievement=bad))
    assert {v.field for v in info.value.violations} == {
        "spec.achievement.description",
        "spec.achievement.alignments[0].url",
    }


async def test_revoke_suspend_reinstate_flip_bits_and_verification_follows(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    record, _ = await issue_credential(ctx, iid, spec("S-1", cryptosuite=JCS))
    cid = record.credential_id

    async def status_check() -> list[CheckOutcome]:
        report = await verify_from_store(store, record.signed_credential)
        return [c.outcome for c in report.checks if c.id == "status"]

    assert await status_check() == [CheckOutcome.PASS, CheckOutcome.PASS]
    change = await change_status(ctx, iid, cid, StatusAction.SUSPEND, "under review")
    assert change.changed and change.credential.status is CredentialState.SUSPENDED
    assert CheckOutcome.FAIL in await status_check()
    again = await change_status(ctx, iid, cid, StatusAction.SUSPEND, "still")
    assert not again.changed
    await change_status(ctx, iid, cid, StatusAction.REINSTATE, "cleared")
    assert await status_check() == [CheckOutcome.PASS, CheckOutcome.PASS]
    # reinstating an active credential asks for the state it has: a no-op (idempotent retry)
    assert not (await change_status(ctx, iid, cid, StatusAction.REINSTATE, "again")).changed
    await change_status(ctx, iid, cid, StatusAction.REVOKE, "degree rescinded")
    report = await verify_from_store(store, record.signed_credential)
    assert not report.verified
    assert any("revoked" in c.reason for c in report.failures())
    with pytest.raises(StatusTransitionNotAllowed):
        await change_status(ctx, iid, cid, StatusAction.SUSPEND, "too late")
    changes = [e for e in store.events if isinstance(e, CredentialStatusChanged)]
    assert [(e.previous_state, e.new_state) for e in changes] == [
        (CredentialState.ACTIVE, CredentialState.SUSPENDED),
        (CredentialState.SUSPENDED, CredentialState.ACTIVE),
        (CredentialState.ACTIVE, CredentialState.REVOKED),
    ]
    assert (await get_credential(ctx, iid, cid)).status_reason == "degree rescinded"


async def test_rotation_old_credentials_verify_new_ones_use_new_key(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx, default_cryptosuite=Cryptosuite.EDDSA_JCS_2022)
    before, _ = await issue_credential(ctx, iid, spec("K-1"))
    await rotate_signing_key(ctx, iid)
    after, _ = await issue_credential(ctx, iid, spec("K-2"))
    vm_before = json.loads(before.signed_credential)["proof"]["verificationMethod"]
    vm_after = json.loads(after.signed_credential)["proof"]["verificationMethod"]
    assert vm_before.endswith("#key-1") and vm_after.endswith("#key-2")
    for record in (before, after):
        report = await verify_from_store(store, record.signed_credential)
        assert report.verified, report.to_dict()
    # a status change after rotation re-signs the list with the new key; old credentials still
    # verify against it
    await change_status(ctx, iid, before.credential_id, StatusAction.SUSPEND, "check")
    listed = json.loads(store.status_lists[(iid, "suspension-1")].signed_credential)
    assert listed["proof"]["verificationMethod"].endswith("#key-2")


async def test_sd_jwt_vc_on_request_hides_learner_claims_until_disclosed(
    ctx: Context, store: FakeStore
) -> None:
    from ler_crypto.sdjwt import parse_sd_jwt
    from ler_issuance.domain.model import CredentialFormat

    iid = await _issuer(ctx)
    learner = Subject(did=spec("x").subject.did, email="ada@example.edu")
    record, _ = await issue_credential(
        ctx, iid, spec("SD-1", subject=learner, format=CredentialFormat.SD_JWT_VC)
    )
    assert record.media_type == "application/dc+sd-jwt" and record.cryptosuite is None
    compact = record.signed_credential.decode()
    parsed = parse_sd_jwt(compact)
    payload = parsed.jws.payload
    assert payload["iss"] == store.issuers[iid].did and "cnf" in payload  # key-bound to did:key
    assert "email" not in payload and "result" in payload  # the email is a disclosure only
    assert b"ada@example.edu" not in compact.split("~")[0].encode()
    report = await verify_from_store(store, record.signed_credential, ctx)
    assert report.verified, report.to_dict()
    with pytest.raises(InvalidSpec):
        await issue_credential(
            ctx, iid, spec("SD-2", format=CredentialFormat.SD_JWT_VC, cryptosuite=JCS)
        )
    change = await change_status(ctx, iid, record.credential_id, StatusAction.REVOKE, "x")
    assert change.changed
    report = await verify_from_store(store, record.signed_credential, ctx)
    assert not report.verified
    assert [c.outcome for c in report.checks if c.id == "status"] == [CheckOutcome.FAIL]
