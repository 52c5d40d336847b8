"""Use cases against the fake unit of work and fake verification (assert on outcomes)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from intake_fakes import FakeShareLinks, FakeUnitOfWork, FakeVerification, Store, vp
from ler_intake.domain import events
from ler_intake.domain.application import (
    ApplicationState,
    Check,
    CheckOutcome,
    Evidence,
    FlagReason,
    OutcomeKind,
)
from ler_intake.domain.errors import (
    ApplicationNotFound,
    IdempotencyKeyReused,
    InvalidRequest,
    OpportunityClosed,
    OpportunityNotFound,
    ShareLinkUnresolvable,
)
from ler_intake.domain.model import (
    Applicant,
    EducationLevel,
    Opportunity,
    OpportunityKind,
    RedactionPolicy,
)
from ler_intake.domain.redaction import redact
from ler_intake.domain.skills import Skill, SkillRequirement
from ler_intake.service_layer import applications, opportunities, providers, reverify, status
from ler_intake.service_layer.applications import Submission
from ler_intake.service_layer.context import Context, VerificationRetry

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PY = Skill("Python", "ESCO", "S1.2.3")
SQL = Skill("SQL", "ESCO", "S4.5.6")
SQL_ONET = Skill("Structured query language", "O*NET", "2.C.3.e")
VIZ = Skill("Data visualisation", url="https://skills.example/viz")


@pytest.fixture
def world() -> tuple[Context, Store, FakeVerification, FakeShareLinks]:
    store = Store()
    ver = FakeVerification()
    links = FakeShareLinks()
    ctx = Context(
        uow=lambda: FakeUnitOfWork(store), verification=ver, share_links=links, clock=lambda: NOW
    )
    ver.evidence = {
        "urn:c:py": Evidence(
            "urn:c:py",
            "did:key:college",
            True,
            issuer_name="Example College",
            achievement_type="BachelorDegree",
            education_level=EducationLevel.BACHELOR,
            skills=(PY,),
            awarded_at=datetime(2024, 6, 1, tzinfo=UTC),
        ),
        "urn:c:sql": Evidence(
            "urn:c:sql",
            "did:key:bootcamp",
            True,
            issuer_name="SQL Camp",
            skills=(SQL_ONET,),
            awarded_at=datetime(2025, 1, 1, tzinfo=UTC),
        ),
        "urn:c:viz": Evidence(
            "urn:c:viz", "did:key:mill", True, issuer_name="Badge Mill", skills=(VIZ,)
        ),
    }
    return ctx, store, ver, links


async def _setup(ctx: Context, **kw: object) -> tuple[str, Opportunity]:
    prov, _key, _secret = await providers.register_provider(
        ctx,
        name="ACME",
        url="https://acme.example",
        domain="jobs.acme.example",
        webhook_url="https://ats.acme.example/hook",
    )
    draft = Opportunity(
        opportunity_id="",
        provider_id="",
        title="Junior data analyst",
        kind=OpportunityKind.JOB,
        created_at=NOW,
        required_skills=(SkillRequirement(PY, 2.0), SkillRequirement(SQL, 1.0, (SQL_ONET,))),
        preferred_skills=(SkillRequirement(VIZ),),
        redaction_policy=RedactionPolicy(True, True, True, True),
        **kw,
    )  # type: ignore[arg-type]
    opp = await opportunities.create_opportunity(ctx, prov.provider_id, draft, "opp-1")
    async with ctx.uow() as uow:  # as CreateApplicationChallenge records it
        await uow.challenges.record(_challenge(opp), opp.opportunity_id, NOW)
    return prov.provider_id, opp


def _challenge(opp: Opportunity) -> str:
    return f"ch-{opp.opportunity_id}"


def _sub(opp: Opportunity, *ids: str, key: str = "k1") -> Submission:
    return Submission(
        opp.opportunity_id,
        Applicant("Ada Lovelace", "ada@example.org"),
        key,
        presentation=vp(*ids),
        challenge=_challenge(opp),
    )


async def test_valid_presentation_is_verified_scored_and_explained(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, _ver, _ = world
    _provider_id, opp = await _setup(ctx)
    got = await applications.submit_application(ctx, _sub(opp, "urn:c:py", "urn:c:sql"))
    app = got.application
    assert app.state is ApplicationState.VERIFIED and not got.replayed
    assert app.match is not None
    by_label = {m.label: m for m in app.match.skills}
    assert by_label["Python"].credential_ids == ("urn:c:py",) and by_label["Python"].via == "exact"
    assert by_label["SQL"].credential_ids == ("urn:c:sql",) and by_label["SQL"].via == "equivalent"
    assert not by_label["Data visualisation"].evidenced
    assert app.match.score == pytest.approx(0.8)
    assert "2 of 2 required skills evidenced by 2 verified credentials" in app.match.explanation
    assert "via declared equivalents: SQL" in app.match.explanation
    kinds = [type(e) for e in store.events]
    assert kinds == [events.ApplicationSubmitted, events.ApplicationVerified]
    assert [d.event_type for d in store.webhooks] == [
        "application.submitted",
        "application.verified",
    ]
    assert [c.change for c in store.changes] == ["submitted", "verified"]
    body = store.webhooks[-1].body
    assert b"Ada" not in body and b"ada@" not in body and json.loads(body)["match_score"] == 0.8


async def test_failed_credential_counts_only_as_unverified(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, ver, _ = world
    _, opp = await _setup(ctx)
    ver.failing["urn:c:py"] = [
        Check("proof", CheckOutcome.FAIL, error_code="PROOF_VERIFICATION_ERROR")
    ]
    app = (
        await applications.submit_application(ctx, _sub(opp, "urn:c:py", "urn:c:viz"))
    ).application
    assert app.state is ApplicationState.FLAGGED
    assert app.flags[0].reason is FlagReason.VERIFICATION_FAILED
    assert (
        "check proof failed (PROOF_VERIFICATION_ERROR) at $.verifiableCredential[0]"
        == app.flags[0].message
    )
    assert app.match is not None
    py = next(m for m in app.match.skills if m.label == "Python")
    assert not py.evidenced and py.unverified_credential_ids == ("urn:c:py",)
    assert app.match.score == pytest.approx(0.2)  # only the preferred skill
    assert "claimed only by unverified credentials (not counted): Python" in app.match.explanation
    assert isinstance(store.events[-1], events.ApplicationFlagged)


async def test_replayed_presentation_flags_every_credential(world) -> None:  # type: ignore[no-untyped-def]
    ctx, _, ver, _ = world
    _, opp = await _setup(ctx)
    ver.presentation_failures = [
        Check("presentation.replay", CheckOutcome.FAIL, error_code="CHALLENGE_REPLAYED")
    ]
    app = (await applications.submit_application(ctx, _sub(opp, "urn:c:py"))).application
    assert app.state is ApplicationState.FLAGGED
    assert "presentation.replay" in app.flags[0].message
    assert app.match is not None and app.match.score == 0.0


async def test_same_idempotency_key_gives_one_application(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, ver, _ = world
    _, opp = await _setup(ctx)
    first = await applications.submit_application(ctx, _sub(opp, "urn:c:py"))
    again = await applications.submit_application(ctx, _sub(opp, "urn:c:py"))
    assert again.replayed and again.application.application_id == first.application.application_id
    assert len(store.applications) == 1
    assert sum(1 for c in ver.calls if c[0] == "presentation") == 1
    with pytest.raises(IdempotencyKeyReused):
        await applications.submit_application(ctx, _sub(opp, "urn:c:sql"))


async def test_unavailable_verifier_keeps_submitted(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, ver, _ = world
    _, opp = await _setup(ctx)
    ver.unavailable = True
    app = (await applications.submit_application(ctx, _sub(opp, "urn:c:py"))).application
    assert app.state is ApplicationState.SUBMITTED and app.match is None
    assert [type(e) for e in store.events] == [events.ApplicationSubmitted]
    # the next try is scheduled after the first backoff; nothing is due before it
    assert (app.verify_attempts, app.next_verify_at) == (1, NOW + ctx.retry.delay(1))
    assert await reverify.reverify_round(ctx) == reverify.RoundResult()


async def test_reverifier_verifies_once_the_verifier_is_back(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, ver, _ = world
    _, opp = await _setup(ctx)
    ver.unavailable = True
    app = (
        await applications.submit_application(ctx, _sub(opp, "urn:c:py", "urn:c:sql"))
    ).application
    later = NOW + timedelta(seconds=ctx.retry.backoff_base)
    ctx.clock = lambda: later
    assert await reverify.reverify_round(ctx) == reverify.RoundResult(postponed=1)
    held = store.applications[app.application_id]
    assert held.state is ApplicationState.SUBMITTED and held.verify_attempts == 2
    assert held.next_verify_at == later + ctx.retry.delay(2)  # exponential backoff
    ver.unavailable = False
    assert await reverify.reverify_round(ctx) == reverify.RoundResult()  # not due yet
    ctx.clock = lambda: later + ctx.retry.delay(2)
    assert await reverify.reverify_round(ctx) == reverify.RoundResult(verified=1)
    done = store.applications[app.application_id]
    assert done.state is ApplicationState.VERIFIED and done.match is not None
    assert done.match.score == pytest.approx(0.8) and done.next_verify_at is None
    # the presentation was verified with the challenge it was submitted with
    assert ver.challenges == [(_challenge(opp), "jobs.acme.example")]
    assert [type(e) for e in store.events] == [
        events.ApplicationSubmitted,
        events.ApplicationVerified,
    ]
    assert await reverify.reverify_round(ctx) == reverify.RoundResult()  # nothing left


async def test_reverifier_flags_after_the_bounded_attempts(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, ver, _ = world
    ctx.retry = VerificationRetry(max_attempts=3, backoff_base=1.0, backoff_max=2.0)
    _, opp = await _setup(ctx)
    ver.unavailable = True
    app = (await applications.submit_application(ctx, _sub(opp, "urn:c:py"))).application
    results = []
    for minutes in (1, 2, 3):
        ctx.clock = lambda m=minutes: NOW + timedelta(minutes=m)  # type: ignore[misc]
        results.append(await reverify.reverify_round(ctx))
    assert results == [
        reverify.RoundResult(postponed=1),
        reverify.RoundResult(abandoned=1),
        reverify.RoundResult(),
    ]
    flagged = store.applications[app.application_id]
    assert flagged.state is ApplicationState.FLAGGED and flagged.report is None
    assert flagged.flags[-1].reason is FlagReason.VERIFICATION_UNAVAILABLE
    assert "unavailable on all 3 tries" in flagged.flags[-1].message
    assert type(store.events[-1]) is events.ApplicationFlagged
    assert store.events[-1].reason is FlagReason.VERIFICATION_UNAVAILABLE  # type: ignore[attr-defined]
    assert store.webhooks[-1].event_type == "application.flagged"


async def test_share_link_is_resolved_as_the_provider_and_verified_per_credential(world) -> None:  # type: ignore[no-untyped-def]
    ctx, _, _ver, links = world
    provider_id, opp = await _setup(ctx)
    links.links["https://wallet.example/share/t1"] = ['{"id": "urn:c:py"}', '{"id": "urn:c:sql"}']
    sub = Submission(
        opp.opportunity_id,
        Applicant("Ada", "ada@example.org"),
        "k9",
        share_link_url="https://wallet.example/share/t1",
    )
    app = (await applications.submit_application(ctx, sub)).application
    assert links.seen == [("https://wallet.example/share/t1", provider_id)]
    assert app.state is ApplicationState.VERIFIED and app.match and app.match.score == 0.8
    assert app.report is not None
    assert {c.target for c in app.report.checks} == {"$.credentials[0]", "$.credentials[1]"}
    bad = replace(sub, idempotency_key="k10", share_link_url="https://wallet.example/share/gone")
    with pytest.raises(ShareLinkUnresolvable):
        await applications.submit_application(ctx, bad)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"presentation": b"", "share_link_url": ""}, "evidence"),
        ({"share_link_url": "http://x.example/s"}, "evidence"),
        ({"presentation": b"", "share_link_url": "http://x.example/s"}, "share_link_url"),
        ({"challenge": ""}, "challenge"),
        ({"applicant": Applicant("", "a@b.c")}, "applicant.name"),
        ({"applicant": Applicant("A", "nope")}, "applicant.email"),
        ({"presentation": b"x" * (4 * 1024 * 1024 + 1)}, "presentation"),
    ],
)
async def test_bad_submissions_name_the_field(world, change, error) -> None:  # type: ignore[no-untyped-def]
    ctx, store, _, _ = world
    _, opp = await _setup(ctx)
    with pytest.raises(InvalidRequest) as caught:
        await applications.submit_application(ctx, replace(_sub(opp, "urn:c:py"), **change))
    assert caught.value.field == error
    assert not store.applications


async def test_closed_and_unknown_opportunities(world) -> None:  # type: ignore[no-untyped-def]
    ctx, _, _, _ = world
    _, opp = await _setup(
        ctx, closes_at=datetime(2026, 1, 1, tzinfo=UTC), opens_at=datetime(2025, 1, 1, tzinfo=UTC)
    )
    with pytest.raises(OpportunityClosed):
        await applications.submit_application(ctx, _sub(opp, "urn:c:py"))
    with pytest.raises(OpportunityNotFound):
        await applications.submit_application(ctx, replace(_sub(opp), opportunity_id="opp_x"))
    with pytest.raises(OpportunityNotFound):  # closed: hidden from other callers
        await opportunities.get_opportunity(ctx, opp.opportunity_id, None)
    assert (await opportunities.get_opportunity(ctx, opp.opportunity_id, opp.provider_id)) == opp


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": " "}, "opportunity.title"),
        (
            {"required_skills": (SkillRequirement(Skill("x")),)},
            "opportunity.required_skills[0].skill",
        ),
        (
            {"preferred_skills": (SkillRequirement(PY, -1.0),)},
            "opportunity.preferred_skills[0].weight",
        ),
        ({"opens_at": NOW, "closes_at": datetime(2020, 1, 1, tzinfo=UTC)}, "opportunity.closes_at"),
    ],
)
async def test_bad_opportunities(world, change, field) -> None:  # type: ignore[no-untyped-def]
    ctx, _, _, _ = world
    prov, _, _ = await providers.register_provider(
        ctx, name="A", url="", domain="a.example", webhook_url=""
    )
    draft = replace(Opportunity("", "", "T", OpportunityKind.PROGRAM, NOW), **change)
    with pytest.raises(InvalidRequest) as caught:
        await opportunities.create_opportunity(ctx, prov.provider_id, draft, "k")
    assert caught.value.field == field


async def test_opportunity_idempotency(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, _, _ = world
    provider_id, opp = await _setup(ctx)
    again = await opportunities.create_opportunity(ctx, provider_id, opp, "opp-1")
    assert again.opportunity_id == opp.opportunity_id and len(store.opportunities) == 1


async def test_redacted_view_hides_fields_and_keeps_score(world) -> None:  # type: ignore[no-untyped-def]
    ctx, _, _, _ = world
    provider_id, opp = await _setup(ctx)
    app = (
        await applications.submit_application(ctx, _sub(opp, "urn:c:py", "urn:c:sql"))
    ).application
    view, cleared = redact(app, opp.redaction_policy)
    text = repr(view) + repr([e.signed for e in view.evidence]) + view.presentation
    for secret in (
        "Ada",
        "ada@",
        "Example College",
        "SQL Camp",
        "BachelorDegree",
        "2024",
        "did:key:college",
    ):
        assert secret not in text, secret
    assert view.match == app.match
    assert "applicant.name" in cleared and "evidence[0].issuer_name" in cleared
    revealed, _, reveal = await applications.reveal_field(
        ctx,
        provider_id,
        app.application_id,
        field="evidence[0].issuer_name",
        reason="checking accreditation",
        reviewer="prv",
    )
    view2, cleared2 = redact(revealed, opp.redaction_policy)
    assert view2.evidence[0].issuer_name == "Example College" and "Ada" not in repr(view2)
    assert "evidence[0].issuer_name" not in cleared2 and reveal.reason == "checking accreditation"
    with pytest.raises(InvalidRequest):
        await applications.reveal_field(
            ctx, provider_id, app.application_id, field="match.score", reason="x", reviewer="prv"
        )
    with pytest.raises(InvalidRequest):
        await applications.reveal_field(
            ctx, provider_id, app.application_id, field="applicant.name", reason=" ", reviewer="prv"
        )


async def test_other_provider_sees_nothing(world) -> None:  # type: ignore[no-untyped-def]
    ctx, _, _, _ = world
    _, opp = await _setup(ctx)
    app = (await applications.submit_application(ctx, _sub(opp, "urn:c:py"))).application
    other, _, _ = await providers.register_provider(
        ctx, name="B", url="", domain="b.example", webhook_url=""
    )
    with pytest.raises(ApplicationNotFound):
        await applications.get_application(
            ctx, other.provider_id, app.application_id, full=False, reason="", reviewer="b"
        )
    with pytest.raises(ApplicationNotFound):
        await applications.record_outcome(
            ctx,
            other.provider_id,
            app.application_id,
            kind=OutcomeKind.ACCEPTED,
            note="",
            decided_at=None,
        )
    with pytest.raises(OpportunityNotFound):
        await applications.list_applications(
            ctx, other.provider_id, opp.opportunity_id, state=None, min_score=0, by_score=False
        )


async def test_outcome_full_view_and_listing(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, _, _ = world
    provider_id, opp = await _setup(ctx)
    a1 = (await applications.submit_application(ctx, _sub(opp, "urn:c:py"))).application
    a2 = (
        await applications.submit_application(ctx, _sub(opp, "urn:c:py", "urn:c:sql", key="k2"))
    ).application
    listed, _ = await applications.list_applications(
        ctx, provider_id, opp.opportunity_id, state=None, min_score=0.6, by_score=True
    )
    assert [a.application_id for a in listed] == [a2.application_id]
    with pytest.raises(InvalidRequest):
        await applications.list_applications(
            ctx, provider_id, opp.opportunity_id, state=None, min_score=1.5, by_score=False
        )
    decided = await applications.record_outcome(
        ctx,
        provider_id,
        a1.application_id,
        kind=OutcomeKind.INTERVIEW,
        note="good",
        decided_at=None,
    )
    assert decided.state is ApplicationState.DECIDED and isinstance(
        store.events[-1], events.OutcomeRecorded
    )
    with pytest.raises(InvalidRequest):
        await applications.record_outcome(
            ctx, provider_id, a1.application_id, kind=None, note="", decided_at=None
        )
    with pytest.raises(InvalidRequest):
        await applications.get_application(
            ctx, provider_id, a1.application_id, full=True, reason="", reviewer="r"
        )
    full, _ = await applications.get_application(
        ctx, provider_id, a1.application_id, full=True, reason="interview prep", reviewer="r"
    )
    assert full.reveals[-1].field == "*" and store.applications[a1.application_id].reveals


async def test_later_revocation_flags_and_rescores(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, ver, _ = world
    _, opp = await _setup(ctx)
    app = (
        await applications.submit_application(ctx, _sub(opp, "urn:c:py", "urn:c:sql"))
    ).application
    assert app.state is ApplicationState.VERIFIED
    async with ctx.uow() as uow:  # nothing failing yet: a hint alone flags nothing
        assert await status.on_status_changed(ctx, uow, "urn:c:py", "revoked") == []
    ver.failing["urn:c:py"] = [
        Check("status.revocation", CheckOutcome.FAIL, error_code="CREDENTIAL_REVOKED")
    ]
    changed_at = datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC)
    async with ctx.uow() as uow:
        flagged = await status.on_status_changed(ctx, uow, "urn:c:py", "revoked", changed_at)
    assert len(flagged) == 1
    # the re-verification demands status information at least as fresh as the change
    assert ver.fresh_after[-1] == changed_at
    now = store.applications[app.application_id]
    assert now.state is ApplicationState.FLAGGED
    assert now.flags[-1].reason is FlagReason.EVIDENCE_REVOKED
    assert now.flags[-1].credential_id == "urn:c:py"
    assert now.match is not None and now.match.score == pytest.approx(0.8 * 1 / 3, abs=1e-3)
    assert isinstance(store.events[-1], events.ApplicationFlagged)
    assert store.webhooks[-1].event_type == "application.flagged"
    async with ctx.uow() as uow:  # already not counting: no second flag
        assert await status.on_status_changed(ctx, uow, "urn:c:py", "revoked") == []


async def test_below_minimum_level_is_flagged(world) -> None:  # type: ignore[no-untyped-def]
    ctx, _, _, _ = world
    _, opp = await _setup(ctx, minimum_education_level=EducationLevel.MASTER)
    app = (await applications.submit_application(ctx, _sub(opp, "urn:c:py"))).application
    assert [f.reason for f in app.flags] == [FlagReason.BELOW_MINIMUM_LEVEL]


async def test_provider_registration_and_keys(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, _, _ = world
    prov, key, secret = await providers.register_provider(
        ctx, name="ACME", url="", domain="Jobs.Acme.Example", webhook_url="https://h.example/x"
    )
    assert key not in repr(prov) and secret not in repr(prov)
    assert store.providers[prov.provider_id].api_key_hash != key
    assert (await providers.authenticate(ctx, key)).provider_id == prov.provider_id
    with pytest.raises(Exception, match="not valid"):
        await providers.authenticate(ctx, key + "x")
    with pytest.raises(InvalidRequest):
        await providers.register_provider(
            ctx, name="B", url="", domain="b.example", webhook_url="http://insecure.example"
        )
    with pytest.raises(Exception, match="already registered"):
        await providers.register_provider(
            ctx, name="C", url="", domain="jobs.acme.example", webhook_url=""
        )


async def test_a_challenge_is_accepted_only_for_its_opportunity(world) -> None:  # type: ignore[no-untyped-def]
    ctx, store, ver, _ = world
    provider_id, opp_a = await _setup(ctx)
    draft_b = replace(opp_a, opportunity_id="", title="Senior data analyst")
    opp_b = await opportunities.create_opportunity(ctx, provider_id, draft_b, "opp-b")
    issued = await opportunities.create_application_challenge(ctx, opp_a.opportunity_id)
    assert store.challenges[issued.challenge] == opp_a.opportunity_id
    made_for_a = replace(_sub(opp_a, "urn:c:py"), challenge=issued.challenge)
    got = await applications.submit_application(
        ctx, replace(made_for_a, opportunity_id=opp_b.opportunity_id)
    )
    app = got.application
    assert app.state is ApplicationState.FLAGGED and app.report is not None
    (check,) = app.report.failures()
    assert check.id == "presentation.challenge.opportunity"
    assert check.error_code == "CHALLENGE_NOT_FOR_OPPORTUNITY"
    assert "issued for another opportunity" in check.reason
    assert app.flags[0].reason is FlagReason.VERIFICATION_FAILED
    assert "presentation.challenge.opportunity" in app.flags[0].message
    assert app.match is not None and app.match.score == 0.0
    assert ver.challenges == []  # not sent to verification: the challenge stays usable for A
    # for A itself it is accepted
    ok = await applications.submit_application(ctx, replace(made_for_a, idempotency_key="k2"))
    assert ok.application.state is ApplicationState.VERIFIED
    # a challenge intake never issued is refused the same way
    forged = await applications.submit_application(
        ctx, replace(made_for_a, challenge="made-up", idempotency_key="k3")
    )
    assert forged.application.report is not None
    assert "not issued by intake" in forged.application.report.failures()[0].reason
