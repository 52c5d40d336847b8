"""Scenarios of IntakeService over gRPC, run against a ``Stack``: in-process on SQLite
(test_grpc_service.py) and on the real PostgreSQL and Kafka with the verification service as
its own process (integration/test_real_intake.py). The verification service is always the
real one, verifying real signed credentials and presentations."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

import grpc
import pytest
from intake_helpers import Caller, Party, poll_until, presentation, verification_stub
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2 as spb
from ler.common.v1 import tenant_pb2 as tpb
from ler.common.v1 import verification_report_pb2 as vrpb
from ler.intake.v1 import events_pb2 as epb
from ler.intake.v1 import intake_service_pb2 as pb
from ler.intake.v1 import resources_pb2 as rpb
from ler.issuance.v1.events_pb2 import CredentialStatusChanged
from ler.verification.v1 import verification_service_pb2 as vpb
from ler_intake.service_layer.reverify import RoundResult, reverify_round
from ler_platform.events.envelope import Event, EventTypeRegistry
from ler_platform.grpc_server import bearer_metadata
from ler_proto.events import intake as intake_topics
from stack import Stack


def _req(label: str, code: str, weight: float = 1.0) -> spb.SkillRequirement:
    return spb.SkillRequirement(
        skill=spb.SkillAlignment(
            framework="ESCO", code=code, label=label, url=f"https://skills.example/{code}"
        ),
        weight=weight,
    )


async def _opportunity(provider: Caller, **extra: Any) -> rpb.Opportunity:
    resp = await provider.stub.CreateOpportunity(
        pb.CreateOpportunityRequest(
            opportunity=rpb.Opportunity(
                title="Junior data analyst",
                kind=rpb.OPPORTUNITY_KIND_JOB,
                required_skills=[_req("Python", "S1.2.3", 2.0), _req("SQL", "S4.5.6")],
                preferred_skills=[_req("Data visualisation", "S7.8.9")],
                redaction_policy=rpb.RedactionPolicy(
                    hide_education_level=True,
                    hide_institution_names=True,
                    hide_dates=True,
                    hide_applicant_identity=True,
                ),
                **extra,
            ),
            idempotency_key=uuid.uuid4().hex,
        ),
        metadata=provider.md,
    )
    return resp.opportunity


async def _trust_issuer(stack: Stack, provider_id: str) -> None:
    """Put the issuer on the provider's trust list (intake's service identity acting for it)."""
    channel, vstub = verification_stub(stack.verification_port)
    try:
        await vstub.PutTrustedIssuer(
            vpb.PutTrustedIssuerRequest(
                verifier=tpb.TenantRef(tenant_id=provider_id, kind=tpb.TENANT_KIND_VERIFIER),
                issuer=vpb.TrustedIssuer(issuer_id=stack.issuer.party.did, name="Example College"),
            ),
            metadata=tuple(bearer_metadata(stack.service_key)),
        )
    finally:
        await channel.close()


async def _apply(
    stack: Stack,
    opp: rpb.Opportunity,
    creds: list[dict[str, Any]],
    *,
    key: str | None = None,
    holder: Party | None = None,
    tamper: bool = False,
) -> tuple[pb.SubmitApplicationResponse, bytes, str]:
    ch = await stack.client.stub.CreateApplicationChallenge(
        pb.CreateApplicationChallengeRequest(opportunity_id=opp.opportunity_id),
        metadata=stack.client.md,
    )
    vp = presentation(holder or Party.new(), creds, challenge=ch.challenge, domain=ch.domain)
    if tamper:
        doc = json.loads(vp)
        doc["verifiableCredential"][0]["credentialSubject"]["achievement"]["name"] = "Forged"
        vp = json.dumps(doc).encode()
    resp = await _submit(stack, opp, vp, ch.challenge, key or uuid.uuid4().hex)
    return resp, vp, ch.challenge


async def _submit(
    stack: Stack, opp: rpb.Opportunity, vp: bytes, challenge: str, key: str
) -> pb.SubmitApplicationResponse:
    return await stack.client.stub.SubmitApplication(
        pb.SubmitApplicationRequest(
            opportunity_id=opp.opportunity_id,
            presentation=vp,
            challenge=challenge,
            applicant=rpb.Applicant(
                name="Ada Lovelace", email="ada@example.org", statement="I like data."
            ),
            idempotency_key=key,
        ),
        metadata=stack.client.md,
    )


def _failing(app: rpb.Application) -> set[str]:
    return {c.id for c in app.verification_report.checks if c.outcome == vrpb.CHECK_OUTCOME_FAIL}


async def scenario_valid_presentation_is_verified_scored_and_explained(stack: Stack) -> None:
    acme, _ = await stack.provider("Acme")
    await _trust_issuer(stack, acme.tenant_id)
    opp = await _opportunity(acme)
    holder = Party.new()
    creds = [
        stack.issuer.badge(holder.did, index=1, skills=("python",)),
        stack.issuer.badge(holder.did, index=2, skills=("sql", "viz")),
    ]
    resp, _, _ = await _apply(stack, opp, creds, holder=holder)
    app = resp.application
    assert app.state == rpb.APPLICATION_STATE_VERIFIED, app.flags
    assert app.verification_report.verdict == vrpb.VERDICT_VERIFIED
    assert app.match.score == pytest.approx(1.0)
    assert [(m.requirement.skill.label, list(m.credential_ids)) for m in app.match.skills] == [
        ("Python", [creds[0]["id"]]),
        ("SQL", [creds[1]["id"]]),
        ("Data visualisation", [creds[1]["id"]]),
    ]
    assert app.match.explanation.startswith(
        "2 of 2 required skills evidenced by 2 verified credentials; 1 of 1 preferred"
    )
    assert [m.via for m in app.match.skills] == [rpb.SKILL_MATCH_VIA_EXACT] * 3


async def scenario_tampered_revoked_and_replayed_presentations_are_flagged(stack: Stack) -> None:
    acme, _ = await stack.provider("Acme")
    await _trust_issuer(stack, acme.tenant_id)
    opp = await _opportunity(acme)
    holder = Party.new()
    tampered, _, _ = await _apply(
        stack,
        opp,
        [stack.issuer.badge(holder.did, index=3, skills=("python",))],
        holder=holder,
        tamper=True,
    )
    assert tampered.application.state == rpb.APPLICATION_STATE_FLAGGED
    assert "proof" in _failing(tampered.application)
    assert tampered.application.match.score == 0.0
    # the forged credential's claim is shown as unverified, never scored
    python = tampered.application.match.skills[0]
    assert not python.evidenced and len(python.unverified_credential_ids) == 1
    stack.issuer.revoked.add(4)
    stack.issuer.publish_lists()
    revoked, _, _ = await _apply(
        stack, opp, [stack.issuer.badge(holder.did, index=4, skills=("python",))], holder=holder
    )
    assert revoked.application.state == rpb.APPLICATION_STATE_FLAGGED
    assert "status.revocation" in _failing(revoked.application)
    assert any("status.revocation" in f.message for f in revoked.application.flags)
    ok, vp, challenge = await _apply(
        stack, opp, [stack.issuer.badge(holder.did, index=5, skills=("python",))], holder=holder
    )
    assert ok.application.state == rpb.APPLICATION_STATE_VERIFIED
    replay = await _submit(stack, opp, vp, challenge, uuid.uuid4().hex)  # new key, same VP
    assert replay.application.state == rpb.APPLICATION_STATE_FLAGGED
    assert "presentation.replay" in _failing(replay.application)
    assert replay.application.flags[0].reason == rpb.FLAG_REASON_VERIFICATION_FAILED
    # a presentation made for this opportunity's challenge is not accepted for another one
    other_opp = await _opportunity(acme)
    ch = await stack.client.stub.CreateApplicationChallenge(
        pb.CreateApplicationChallengeRequest(opportunity_id=opp.opportunity_id),
        metadata=stack.client.md,
    )
    vp_for_opp = presentation(
        holder,
        [stack.issuer.badge(holder.did, index=12, skills=("python",))],
        challenge=ch.challenge,
        domain=ch.domain,
    )
    elsewhere = await _submit(stack, other_opp, vp_for_opp, ch.challenge, uuid.uuid4().hex)
    assert elsewhere.application.state == rpb.APPLICATION_STATE_FLAGGED
    assert _failing(elsewhere.application) == {"presentation.challenge.opportunity"}
    here = await _submit(stack, opp, vp_for_opp, ch.challenge, uuid.uuid4().hex)
    assert here.application.state == rpb.APPLICATION_STATE_VERIFIED, here.application.flags


async def scenario_same_idempotency_key_gives_one_application(stack: Stack) -> None:
    acme, _ = await stack.provider("Acme")
    opp = await _opportunity(acme)
    holder = Party.new()
    first, vp, challenge = await _apply(
        stack,
        opp,
        [stack.issuer.badge(holder.did, index=6, skills=("sql",))],
        holder=holder,
        key="same-key",
    )
    again = await _submit(stack, opp, vp, challenge, "same-key")
    assert again.replayed and not first.replayed
    assert again.application.application_id == first.application.application_id
    listed = await acme.stub.ListApplications(
        pb.ListApplicationsRequest(opportunity_id=opp.opportunity_id), metadata=acme.md
    )
    assert [a.application_id for a in listed.applications] == [first.application.application_id]
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # same key, other evidence
        await _submit(stack, opp, vp + b" ", challenge, "same-key")
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # the re-verifier finds nothing to do: every application here was verified at once
    # (its claim query, FOR UPDATE SKIP LOCKED on PostgreSQL, runs on each backend)
    assert await reverify_round(stack.intake.ctx) == RoundResult()


async def scenario_redacted_view_hides_fields_on_the_wire_and_keeps_the_score(stack: Stack) -> None:
    acme, _ = await stack.provider("Acme")
    await _trust_issuer(stack, acme.tenant_id)
    opp = await _opportunity(acme)
    holder = Party.new()
    submitted, _, _ = await _apply(
        stack,
        opp,
        [stack.issuer.badge(holder.did, index=7, skills=("python", "sql"))],
        holder=holder,
    )
    app_id = submitted.application.application_id
    redacted = (
        await acme.stub.GetApplication(
            pb.GetApplicationRequest(application_id=app_id), metadata=acme.md
        )
    ).application
    wire = redacted.SerializeToString()
    for hidden in (
        b"Ada Lovelace",
        b"ada@example.org",
        b"Example College",
        stack.issuer.party.did.encode(),
        holder.did.encode(),
        b"2024",
    ):
        assert hidden not in wire, hidden
    assert all(
        not e.HasField("awarded_at")
        and not e.HasField("valid_from")
        and e.education_level == cpb.EDUCATION_LEVEL_UNSPECIFIED
        and e.achievement_type == cpb.ACHIEVEMENT_TYPE_UNSPECIFIED
        for e in redacted.evidence
    )
    assert "applicant.name" in redacted.redacted_fields
    assert "evidence[0].issuer_name" in redacted.redacted_fields
    full = (
        await acme.stub.GetApplication(
            pb.GetApplicationRequest(
                application_id=app_id,
                view=rpb.APPLICATION_VIEW_FULL,
                reveal_reason="final interview",
            ),
            metadata=acme.md,
        )
    ).application
    assert full.applicant.name == "Ada Lovelace"
    assert full.evidence[0].issuer_name == "Example College"
    assert full.evidence[0].education_level == cpb.EDUCATION_LEVEL_BACHELOR
    assert full.match == redacted.match and redacted.match.score == pytest.approx(0.8)
    assert [r.field for r in full.reveals] == ["*"]
    revealed = await acme.stub.RevealApplicationField(
        pb.RevealApplicationFieldRequest(
            application_id=app_id, field="applicant.name", reason="calling back"
        ),
        metadata=acme.md,
    )
    assert revealed.application.applicant.name == "Ada Lovelace"
    assert revealed.application.applicant.email == ""
    assert revealed.reveal.revealed_by == acme.tenant_id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await acme.stub.RevealApplicationField(
            pb.RevealApplicationFieldRequest(
                application_id=app_id, field="match.score", reason="x"
            ),
            metadata=acme.md,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def scenario_another_provider_sees_nothing(stack: Stack) -> None:
    acme, _ = await stack.provider("Acme")
    other, _ = await stack.provider("Other")
    opp = await _opportunity(acme)
    holder = Party.new()
    sub, _, _ = await _apply(
        stack, opp, [stack.issuer.badge(holder.did, index=8, skills=("sql",))], holder=holder
    )
    app_id = sub.application.application_id
    stub, md = other.stub, other.md
    calls = {
        "GetApplication": stub.GetApplication(
            pb.GetApplicationRequest(application_id=app_id), metadata=md
        ),
        "GetApplication(full)": stub.GetApplication(
            pb.GetApplicationRequest(
                application_id=app_id, view=rpb.APPLICATION_VIEW_FULL, reveal_reason="x"
            ),
            metadata=md,
        ),
        "ListApplications": stub.ListApplications(
            pb.ListApplicationsRequest(opportunity_id=opp.opportunity_id), metadata=md
        ),
        "RevealApplicationField": stub.RevealApplicationField(
            pb.RevealApplicationFieldRequest(
                application_id=app_id, field="applicant.name", reason="x"
            ),
            metadata=md,
        ),
        "RecordOutcome": stub.RecordOutcome(
            pb.RecordOutcomeRequest(application_id=app_id, outcome=rpb.OUTCOME_KIND_ACCEPTED),
            metadata=md,
        ),
    }
    for name, call in calls.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, name
        # indistinguishable from an id that does not exist: nothing about it leaks
        assert "Ada" not in (caught.value.details() or ""), name
    missing = "app_" + "0" * 32
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await stub.GetApplication(pb.GetApplicationRequest(application_id=missing), metadata=md)
    with pytest.raises(grpc.aio.AioRpcError) as foreign:
        await stub.GetApplication(pb.GetApplicationRequest(application_id=app_id), metadata=md)
    assert (foreign.value.details() or "").replace(app_id, missing) == unknown.value.details()
    watch = stub.WatchApplications(
        pb.WatchApplicationsRequest(opportunity_id=opp.opportunity_id), metadata=md
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await watch.read()
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetProvider(pb.GetProviderRequest(provider_id=acme.tenant_id), metadata=md)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateOpportunity(
            pb.CreateOpportunityRequest(
                opportunity=rpb.Opportunity(provider_id=acme.tenant_id, title="Hijack")
            ),
            metadata=md,
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Acme's opportunity, even open, is invisible to Other: NOT_FOUND and never listed (its
    # public posting is the way to read what it asks for)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetOpportunity(
            pb.GetOpportunityRequest(opportunity_id=opp.opportunity_id), metadata=md
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    everything = await stub.ListOpportunities(pb.ListOpportunitiesRequest(), metadata=md)
    assert opp.opportunity_id not in [o.opportunity_id for o in everything.opportunities]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateApplicationChallenge(
            pb.CreateApplicationChallengeRequest(opportunity_id=opp.opportunity_id), metadata=md
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # the applicant-facing client still reads the open opportunity
    seen = await stack.client.stub.GetOpportunity(
        pb.GetOpportunityRequest(opportunity_id=opp.opportunity_id), metadata=stack.client.md
    )
    assert seen.opportunity.title == opp.title
    # a closed opportunity of Acme is invisible to Other; its own listing shows none of Acme's
    listed = await stub.ListOpportunities(
        pb.ListOpportunitiesRequest(provider_id=acme.tenant_id, state=rpb.OPPORTUNITY_STATE_CLOSED),
        metadata=md,
    )
    assert list(listed.opportunities) == []
    # the applicant-facing client cannot read applications either
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.client.stub.GetApplication(
            pb.GetApplicationRequest(application_id=app_id), metadata=stack.client.md
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stack.client.stub.RegisterProvider(
            pb.RegisterProviderRequest(name="X", domain="x.example"), metadata=stack.client.md
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetApplication(
            pb.GetApplicationRequest(application_id=app_id),
            metadata=(("authorization", "Bearer nope"),),
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def scenario_watch_list_outcome_and_later_revocation(stack: Stack) -> None:
    acme, secret = await stack.provider("Acme")
    await _trust_issuer(stack, acme.tenant_id)
    opp = await _opportunity(acme)
    watch = acme.stub.WatchApplications(
        pb.WatchApplicationsRequest(opportunity_id=opp.opportunity_id), metadata=acme.md
    )
    seen: list[pb.WatchApplicationsResponse] = []

    async def read() -> None:
        async for item in watch:
            seen.append(item)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.2)  # the stream starts "from now"
    holder = Party.new()
    cred = stack.issuer.badge(holder.did, index=9, skills=("python", "sql"))
    sub, _, _ = await _apply(stack, opp, [cred], holder=holder)
    app_id = sub.application.application_id
    assert sub.application.state == rpb.APPLICATION_STATE_VERIFIED

    async def changes() -> list[int]:
        return [s.change for s in seen]

    await poll_until(changes, lambda c: len(c) >= 2, within=10, what="watch changes")
    assert [s.change for s in seen][:2] == [
        pb.APPLICATION_CHANGE_SUBMITTED,
        pb.APPLICATION_CHANGE_VERIFIED,
    ]
    assert all(s.application.applicant.name == "" for s in seen)  # redacted view

    # the issuer revokes it later: list flipped, event on ler.credentials.status.v1
    stack.issuer.revoked.add(9)
    stack.issuer.publish_lists()
    event = Event(
        key=cred["id"],
        source="urn:test",
        message=CredentialStatusChanged(
            credential_id=cred["id"],
            issuer_did=stack.issuer.party.did,
            status_list_url=stack.issuer.list_url("revocation"),
            status_list_index=9,
            status_purpose=cpb.STATUS_PURPOSE_REVOCATION,
            previous_state=cpb.CREDENTIAL_STATUS_STATE_ACTIVE,
            new_state=cpb.CREDENTIAL_STATUS_STATE_REVOKED,
        ),
    )
    await stack.bus.publish_batch([event.to_record(stack.status_topic)])

    async def current() -> rpb.Application:
        return (
            await acme.stub.GetApplication(
                pb.GetApplicationRequest(application_id=app_id), metadata=acme.md
            )
        ).application

    flagged = await poll_until(
        current,
        lambda a: a.state == rpb.APPLICATION_STATE_FLAGGED,
        within=15,
        what="the application flagged",
    )
    assert flagged.flags[-1].reason == rpb.FLAG_REASON_EVIDENCE_REVOKED
    assert flagged.flags[-1].credential_id == cred["id"]
    assert flagged.match.score == 0.0
    await poll_until(
        changes,
        lambda c: pb.APPLICATION_CHANGE_FLAGGED in c,
        within=10,
        what="the flagged change on the stream",
    )

    # the ATS webhook got the flag, signed over timestamp + body
    async def hooks() -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in stack.docs.posts]

    await poll_until(
        hooks,
        lambda h: any(x["type"] == "application.flagged" for x in h),
        within=10,
        what="the flagged webhook",
    )
    for path, headers, body in stack.docs.posts:
        assert path == "/hook/Acme"
        stamp, mac = (part.split("=", 1)[1] for part in headers["X-Ler-Signature"].split(","))
        expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        assert hmac.compare_digest(mac, expected.hexdigest())
        assert b"Ada" not in body

    # the event reached ler.applications.v1 through the outbox
    consumer = stack.bus.consumer(
        [stack.events_topic], f"test-reader-{uuid.uuid4().hex[:8]}", max_records=500
    )
    await consumer.start()
    registry = EventTypeRegistry(intake_topics.APPLICATIONS.event_types)
    try:

        async def kinds() -> list[str]:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for records in batch.values():
                for record in records:
                    message = registry.decode(record).message
                    if getattr(message, "application_id", "") == app_id:
                        found.append(type(message).__name__)
            return found

        found: list[str] = []
        await poll_until(
            kinds,
            lambda k: "ApplicationFlagged" in k,
            within=10,
            what="ApplicationFlagged on ler.applications.v1",
        )
        assert found[:2] == ["ApplicationSubmitted", "ApplicationVerified"]
        assert epb.ApplicationFlagged.DESCRIPTOR.full_name.endswith("ApplicationFlagged")
    finally:
        await consumer.stop()

    decided = await acme.stub.RecordOutcome(
        pb.RecordOutcomeRequest(
            application_id=app_id, outcome=rpb.OUTCOME_KIND_INTERVIEW, note="talk"
        ),
        metadata=acme.md,
    )
    assert decided.application.state == rpb.APPLICATION_STATE_DECIDED
    assert decided.application.outcome.kind == rpb.OUTCOME_KIND_INTERVIEW
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader


async def scenario_public_posting_carries_no_private_fields(stack: Stack) -> None:
    acme, _ = await stack.provider("Acme")
    opp = await _opportunity(
        acme,
        description="Crunch numbers.",
        minimum_education_level=cpb.EDUCATION_LEVEL_BACHELOR,
        verification_policy=vrpb.VerificationPolicy(required_accreditations=["urn:secret-accr"]),
    )
    anonymous = stack.client.stub  # the same stub, called with no token at all
    posting = (
        await anonymous.GetOpportunityPosting(
            pb.GetOpportunityPostingRequest(opportunity_id=opp.opportunity_id)
        )
    ).posting
    assert (posting.opportunity_id, posting.provider_id) == (opp.opportunity_id, acme.tenant_id)
    assert (posting.title, posting.description) == ("Junior data analyst", "Crunch numbers.")
    assert posting.provider_name == "Acme"
    assert posting.kind == rpb.OPPORTUNITY_KIND_JOB
    assert posting.minimum_education_level == cpb.EDUCATION_LEVEL_BACHELOR
    assert [
        (r.skill.framework, r.skill.code, r.skill.label, r.weight) for r in posting.required_skills
    ] == [("ESCO", "S1.2.3", "Python", 2.0), ("ESCO", "S4.5.6", "SQL", 1.0)]
    assert [r.skill.label for r in posting.preferred_skills] == ["Data visualisation"]
    # nothing private on the wire: no policy, trust settings, provider domain or webhook
    provider = (
        await acme.stub.GetProvider(
            pb.GetProviderRequest(provider_id=acme.tenant_id), metadata=acme.md
        )
    ).provider
    wire = posting.SerializeToString()
    for private in (b"urn:secret-accr", provider.domain.encode(), provider.webhook_url.encode()):
        assert private not in wire, private
    names = set(rpb.OpportunityPosting.DESCRIPTOR.fields_by_name)
    assert not names & {"verification_policy", "redaction_policy", "webhook_url", "domain"}
    # a token that is sent must be valid; unknown ids are NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await anonymous.GetOpportunityPosting(
            pb.GetOpportunityPostingRequest(opportunity_id=opp.opportunity_id),
            metadata=(("authorization", "Bearer nope"),),
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await anonymous.GetOpportunityPosting(
            pb.GetOpportunityPostingRequest(opportunity_id="opp_" + "0" * 32)
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # an opportunity that is not open yet has no public posting; other RPCs still need a token
    later = await _opportunity(acme, opens_at={"seconds": 4_102_444_800})  # 2100-01-01
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await anonymous.GetOpportunityPosting(
            pb.GetOpportunityPostingRequest(opportunity_id=later.opportunity_id)
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await anonymous.GetOpportunity(pb.GetOpportunityRequest(opportunity_id=opp.opportunity_id))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def scenario_sd_jwt_presentation_is_verified_by_the_verification_service(
    stack: Stack,
) -> None:
    from ler_crypto.sdjwt.holder import create_presentation
    from ler_crypto.sdjwt.issuer import Sd, issue_sd_jwt_vc

    acme, _ = await stack.provider("Acme")
    await _trust_issuer(stack, acme.tenant_id)
    opp = await _opportunity(acme)
    holder, issuer = Party.new(), stack.issuer.party
    issued = issue_sd_jwt_vc(
        issuer=issuer.did,
        vct="urn:ler:badge",
        signer=issuer.key,
        holder_key=holder.key.public_key,
        kid=issuer.vm,
        claims={
            "sub": holder.did,
            "issuer_name": "Example College",
            "achievement": Sd(
                {
                    "type": ["Achievement"],
                    "name": "Data Literacy",
                    "achievementType": "Certificate",
                    "alignment": [
                        {
                            "type": ["Alignment"],
                            "targetName": "SQL",
                            "targetFramework": "ESCO",
                            "targetCode": "S4.5.6",
                            "targetUrl": "https://skills.example/S4.5.6",
                        }
                    ],
                }
            ),
            "grade": Sd("A"),
        },
    )

    async def apply(nonce_from_other_challenge: bool = False) -> rpb.Application:
        ch = await stack.client.stub.CreateApplicationChallenge(
            pb.CreateApplicationChallengeRequest(opportunity_id=opp.opportunity_id),
            metadata=stack.client.md,
        )
        nonce = ch.challenge
        if nonce_from_other_challenge:
            nonce = (
                await stack.client.stub.CreateApplicationChallenge(
                    pb.CreateApplicationChallengeRequest(opportunity_id=opp.opportunity_id),
                    metadata=stack.client.md,
                )
            ).challenge
        shown = create_presentation(
            issued, disclose=["achievement"], holder=holder.key, audience=ch.domain, nonce=nonce
        )
        resp = await _submit(stack, opp, shown.encode(), ch.challenge, uuid.uuid4().hex)
        return resp.application

    ok = await apply()
    assert ok.verification_report.verdict == vrpb.VERDICT_VERIFIED, [
        (c.id, c.reason) for c in ok.verification_report.checks
    ]
    assert ok.state == rpb.APPLICATION_STATE_VERIFIED
    passed = {c.id for c in ok.verification_report.checks if c.outcome == vrpb.CHECK_OUTCOME_PASS}
    assert {"proof", "holder.binding", "presentation.replay"} <= passed
    # the disclosed achievement (and its SQL alignment) is verified evidence, scored like a
    # Data Integrity credential: SQL is 1 of 3 required weight units, nothing preferred
    [evidence] = ok.evidence
    assert evidence.issuer_id == issuer.did and evidence.achievement_name == "Data Literacy"
    assert [k.code for k in evidence.skills] == ["S4.5.6"]
    assert ok.match.score == pytest.approx(0.8 * 1 / 3, abs=1e-3)
    assert ok.match.explanation.startswith("1 of 2 required skills evidenced"), ok.match
    assert [(m.requirement.skill.label, list(m.credential_ids)) for m in ok.match.skills][1] == (
        "SQL",
        [evidence.credential_id],
    )
    # the key binding JWT must carry this application's challenge
    wrong = await apply(nonce_from_other_challenge=True)
    assert wrong.state == rpb.APPLICATION_STATE_FLAGGED
    assert _failing(wrong) and "presentation.replay" not in _failing(wrong)
