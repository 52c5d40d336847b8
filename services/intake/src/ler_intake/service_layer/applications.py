"""Applications: submit (idempotent), verify and match, view, list, reveal, decide."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from ler_intake.domain import events, matching
from ler_intake.domain.application import (
    Application,
    ApplicationState,
    Check,
    CheckOutcome,
    Evidence,
    EvidenceKind,
    Flag,
    FlagReason,
    Outcome,
    OutcomeKind,
    Report,
    Reveal,
    Verdict,
)
from ler_intake.domain.errors import (
    ApplicationNotFound,
    IdempotencyKeyReused,
    InvalidRequest,
    OpportunityNotFound,
    VerificationUnavailable,
)
from ler_intake.domain.model import Applicant, EducationLevel, Opportunity
from ler_intake.domain.redaction import FULL_VIEW, hidden_paths
from ler_intake.service_layer import announce as ann
from ler_intake.service_layer.context import Context, new_id
from ler_intake.service_layer.opportunities import load_open
from ler_intake.service_layer.ports import Verified
from ler_intake.service_layer.providers import get_provider
from ler_intake.service_layer.unit_of_work import UnitOfWork

MAX_PRESENTATION_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Submission:
    """SubmitApplication, decoded: exactly one of ``presentation`` / ``share_link_url``."""

    opportunity_id: str
    applicant: Applicant
    idempotency_key: str
    presentation: bytes = b""
    share_link_url: str = ""
    challenge: str = ""

    def validate(self, *, allow_http_links: bool = False) -> Submission:
        """Raise ``InvalidRequest`` naming the first bad field (``allow_http_links``: tests and
        local clusters only)."""
        if not self.idempotency_key or len(self.idempotency_key) > 200:
            raise InvalidRequest("idempotency_key", "is required (at most 200 characters)")
        if bool(self.presentation) == bool(self.share_link_url):
            raise InvalidRequest("evidence", "needs exactly one of presentation or share_link_url")
        if len(self.presentation) > MAX_PRESENTATION_BYTES:
            raise InvalidRequest("presentation", "exceeds 4 MiB")
        if self.presentation and not self.challenge:
            raise InvalidRequest("challenge", "is required with a presentation")
        schemes = ("https", "http") if allow_http_links else ("https",)
        if self.share_link_url and urlsplit(self.share_link_url).scheme not in schemes:
            raise InvalidRequest("share_link_url", "must be an https URL")
        self.applicant.validate()
        return self

    def digest(self) -> str:
        """What makes two submissions "the same" for the idempotency key."""
        h = hashlib.sha256()
        for part in (
            self.opportunity_id,
            self.share_link_url,
            self.challenge,
            json.dumps(
                [
                    self.applicant.name,
                    self.applicant.email,
                    self.applicant.phone,
                    self.applicant.statement,
                    list(self.applicant.answers),
                ]
            ),
        ):
            h.update(part.encode() + b"\x00")
        h.update(self.presentation)
        return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Submitted:
    """The application and whether this call repeated an earlier submission."""

    application: Application
    replayed: bool


async def submit_application(ctx: Context, sub: Submission) -> Submitted:
    """Record the application, then verify and match it when the verifier answers in time."""
    sub.validate(allow_http_links=ctx.allow_http_share_links)
    opportunity = await load_open(ctx, sub.opportunity_id)
    digest = sub.digest()
    async with ctx.uow() as uow:
        earlier = await uow.applications.by_key(sub.opportunity_id, sub.idempotency_key)
    if earlier is not None:
        return _replay(earlier, digest)
    provider = await get_provider(ctx, opportunity.provider_id)
    credentials: list[str] = []
    if sub.share_link_url:  # resolved before anything is stored: an unusable link is refused
        credentials = await ctx.share_links.resolve(sub.share_link_url, provider.provider_id)
    now = ctx.clock()
    draft = Application(
        application_id=new_id("app"),
        opportunity_id=opportunity.opportunity_id,
        provider_id=provider.provider_id,
        idempotency_key=sub.idempotency_key,
        submission_digest=digest,
        evidence_kind=EvidenceKind.SHARE_LINK if sub.share_link_url else EvidenceKind.PRESENTATION,
        applicant=sub.applicant,
        submitted_at=now,
        updated_at=now,
        presentation=sub.presentation.decode("utf-8", "replace"),
        challenge=sub.challenge,
        # the re-verifier leaves it alone while this call is still verifying it
        next_verify_at=now + timedelta(seconds=ctx.retry.grace),
        evidence=tuple(
            Evidence(credential_id="", issuer_id="", verified=False, signed=c) for c in credentials
        ),
    )
    async with ctx.uow() as uow:
        stored = await uow.applications.add(draft)
        if stored.application_id != draft.application_id:  # a concurrent twin won the insert
            return _replay(stored, digest)
        await ann.announce(
            uow,
            provider,
            stored,
            ann.SUBMITTED,
            events.ApplicationSubmitted(
                stored.application_id,
                stored.opportunity_id,
                stored.provider_id,
                stored.evidence_kind,
                now,
            ),
        )
    ctx.notifier.notify()
    if sub.presentation:
        async with ctx.uow() as uow:
            bound_to = await uow.challenges.opportunity_of(sub.challenge)
        if bound_to != opportunity.opportunity_id:
            refused = _challenge_not_for_opportunity(opportunity.opportunity_id, bound_to, now)
            return Submitted(await apply_verification(ctx, opportunity, stored, refused), False)
    try:
        verified = await verify(ctx, opportunity, stored, sub.challenge, provider.domain)
    except VerificationUnavailable:
        # kept SUBMITTED; the re-verifier tries again (WatchApplications shows the change)
        postponed = stored.verification_postponed(1, ctx.clock() + ctx.retry.delay(1))
        async with ctx.uow() as uow:
            await uow.applications.save(postponed)
        return Submitted(postponed, replayed=False)
    return Submitted(await apply_verification(ctx, opportunity, stored, verified), False)


CHALLENGE_OPPORTUNITY_CHECK = "presentation.challenge.opportunity"


def _challenge_not_for_opportunity(
    opportunity_id: str, bound_to: str | None, now: datetime
) -> Verified:
    """A failed report for a presentation whose challenge intake did not issue for this
    opportunity. The verification service is not asked: the challenge stays usable for the
    opportunity it was issued for."""
    why = (
        f"the challenge was issued for another opportunity, not {opportunity_id}"
        if bound_to is not None
        else "the challenge was not issued by intake's CreateApplicationChallenge"
    )
    check = Check(
        CHALLENGE_OPPORTUNITY_CHECK,
        CheckOutcome.FAIL,
        title="Challenge is for this opportunity",
        reason=why,
        error_code="CHALLENGE_NOT_FOR_OPPORTUNITY",
        target="$.proof.challenge",
    )
    return Verified(Report(Verdict.FAILED, (check,), now), ())


def _replay(earlier: Application, digest: str) -> Submitted:
    if earlier.submission_digest != digest:
        raise IdempotencyKeyReused()
    return Submitted(earlier, replayed=True)


async def verify(
    ctx: Context, opportunity: Opportunity, app: Application, challenge: str, domain: str
) -> Verified:
    """Verify the application's evidence through VerificationService under the opportunity's
    policy (``VerificationUnavailable`` when it cannot be reached in time)."""
    policy = opportunity.verification_policy
    # the opportunity's own trusted issuers are trusted by its provider: verification checks
    # them like its trust list, so their credentials verify cleanly (no issuer.trust warning)
    trusted = opportunity.trusted_issuer_ids
    if app.evidence_kind is EvidenceKind.PRESENTATION:
        return await ctx.verification.verify_presentation(
            app.provider_id,
            app.presentation.encode(),
            challenge=challenge,
            domain=domain,
            policy=policy,
            trusted_issuer_ids=trusted,
        )
    parts = [
        await ctx.verification.verify_credential(
            app.provider_id, e.signed.encode(), policy=policy, trusted_issuer_ids=trusted
        )
        for e in app.evidence
    ]
    return merge_reports(parts, ctx.clock())


def merge_reports(parts: list[Verified], now: datetime) -> Verified:
    """One report for credentials verified one by one (targets become ``$.credentials[i]``)."""
    from dataclasses import replace

    checks = []
    evidence: list[Evidence] = []
    for i, part in enumerate(parts):
        checks += [
            replace(c, target=f"$.credentials[{i}]" + c.target.removeprefix("$"))
            for c in part.report.checks
        ]
        evidence += list(part.evidence)
    verdicts = [p.report.verdict for p in parts]
    verdict = (
        Verdict.FAILED
        if Verdict.FAILED in verdicts
        else Verdict.VERIFIED_WITH_WARNINGS
        if Verdict.VERIFIED_WITH_WARNINGS in verdicts
        else Verdict.VERIFIED
    )
    first_id = parts[0].report.verification_id if parts else ""
    return Verified(Report(verdict, tuple(checks), now, first_id), tuple(evidence))


def _flags_for(opportunity: Opportunity, verified: Verified, now: datetime) -> tuple[Flag, ...]:
    flags: list[Flag] = []
    for check in verified.report.failures():
        flags.append(
            Flag(
                FlagReason.VERIFICATION_FAILED,
                f"check {check.id} failed ({check.error_code or 'no code'}) at {check.target}",
                now,
            )
        )
    minimum = opportunity.minimum_education_level
    if minimum > EducationLevel.UNSPECIFIED:
        best = max(
            (e.education_level for e in verified.evidence if e.counts),
            default=EducationLevel.UNSPECIFIED,
        )
        if best < minimum:
            flags.append(
                Flag(
                    FlagReason.BELOW_MINIMUM_LEVEL,
                    f"no verified credential shows the minimum education level {minimum.name}",
                    now,
                )
            )
    return tuple(flags)


async def apply_verification(
    ctx: Context, opportunity: Opportunity, app: Application, verified: Verified
) -> Application:
    """Store the report and the skills match: VERIFIED, or FLAGGED with the failing checks."""
    now = ctx.clock()
    evidence = verified.evidence
    result = matching.match(
        opportunity.required_skills,
        opportunity.preferred_skills,
        evidence,
        opportunity.trusted_issuer_ids,
    )
    flags = _flags_for(opportunity, verified, now)
    updated = app.with_verification(verified.report, evidence, result, flags, now)
    provider = await get_provider(ctx, app.provider_id)
    async with ctx.uow() as uow:
        await uow.applications.save(updated)
        await ann.announce(uow, provider, updated, ann.VERIFIED, _verified_event(updated))
        for flag in flags:
            await ann.announce(
                uow,
                provider,
                updated,
                ann.FLAGGED,
                events.ApplicationFlagged(
                    updated.application_id,
                    updated.opportunity_id,
                    updated.provider_id,
                    flag.reason,
                    flag.credential_id,
                    now,
                ),
            )
    ctx.notifier.notify()
    return updated


def _verified_event(app: Application) -> events.ApplicationVerified:
    report, result = app.report, app.match
    if report is None or result is None:  # pragma: no cover - called after verification
        raise ValueError("application not verified")
    return events.ApplicationVerified(
        app.application_id,
        app.opportunity_id,
        app.provider_id,
        report.verdict,
        report.verification_id,
        result.score,
        result.required_evidenced,
        result.required_total,
        len(app.evidence),
        report.verified_at,
    )


async def load_own(uow: UnitOfWork, provider_id: str, application_id: str) -> Application:
    """The provider's application; another provider's is indistinguishable from none."""
    found = await uow.applications.get(application_id)
    if found is None or found.provider_id != provider_id:
        raise ApplicationNotFound(application_id)
    return found


async def own_opportunity(ctx: Context, provider_id: str, opportunity_id: str) -> Opportunity:
    """The provider's opportunity (NOT_FOUND for another provider's)."""
    async with ctx.uow() as uow:
        found = await uow.opportunities.get(opportunity_id)
    if found is None or found.provider_id != provider_id:
        raise OpportunityNotFound(opportunity_id)
    return found


async def get_application(
    ctx: Context,
    provider_id: str,
    application_id: str,
    *,
    full: bool,
    reason: str,
    reviewer: str,
) -> tuple[Application, Opportunity]:
    """The application (and its opportunity, for the redaction policy). A full view needs a
    reason and records a reveal of every field ("*")."""
    if full and not reason.strip():
        raise InvalidRequest("reveal_reason", "is required with the full view")
    async with ctx.uow() as uow:
        app = await load_own(uow, provider_id, application_id)
        opportunity = await uow.opportunities.get(app.opportunity_id)
        if opportunity is None:  # pragma: no cover - foreign key
            raise ApplicationNotFound(application_id)
        if full:
            app = app.revealed(
                Reveal(FULL_VIEW, reason.strip(), reviewer, ctx.clock()), app.updated_at
            )
            await uow.applications.save(app)
    return app, opportunity


async def list_applications(
    ctx: Context,
    provider_id: str,
    opportunity_id: str,
    *,
    state: ApplicationState | None,
    min_score: float,
    by_score: bool,
) -> tuple[list[Application], Opportunity]:
    """The opportunity's applications, filtered and ordered (paging is the transport's)."""
    if not 0.0 <= min_score <= 1.0:
        raise InvalidRequest("min_score", "must be between 0 and 1")
    opportunity = await own_opportunity(ctx, provider_id, opportunity_id)
    async with ctx.uow() as uow:
        apps = await uow.applications.for_opportunity(opportunity_id, state)
    if min_score > 0:
        apps = [a for a in apps if a.match is not None and a.match.score >= min_score]
    if by_score:
        apps.sort(key=lambda a: (a.match.score if a.match else -1.0, a.submitted_at), reverse=True)
    else:
        apps.sort(key=lambda a: a.submitted_at, reverse=True)
    return apps, opportunity


async def reveal_field(
    ctx: Context,
    provider_id: str,
    application_id: str,
    *,
    field: str,
    reason: str,
    reviewer: str,
) -> tuple[Application, Opportunity, Reveal]:
    """Reveal one redacted field, recording who, when and why."""
    if not reason.strip():
        raise InvalidRequest("reason", "is required")
    async with ctx.uow() as uow:
        app = await load_own(uow, provider_id, application_id)
        opportunity = await uow.opportunities.get(app.opportunity_id)
        if opportunity is None:  # pragma: no cover - foreign key
            raise ApplicationNotFound(application_id)
        if field not in hidden_paths(app, opportunity.redaction_policy):
            raise InvalidRequest(
                "field", f"{field!r} is not one of the application's redacted fields"
            )
        reveal = Reveal(field, reason.strip(), reviewer, ctx.clock())
        app = app.revealed(reveal, app.updated_at)
        await uow.applications.save(app)
    return app, opportunity, reveal


async def record_outcome(
    ctx: Context,
    provider_id: str,
    application_id: str,
    *,
    kind: OutcomeKind | None,
    note: str,
    decided_at: datetime | None,
) -> Application:
    """Record (or replace) the decision on an application."""
    if kind is None:
        raise InvalidRequest("outcome", "must be specified")
    provider = await get_provider(ctx, provider_id)
    now = ctx.clock()
    async with ctx.uow() as uow:
        app = await load_own(uow, provider_id, application_id)
        app = app.decided(Outcome(kind, decided_at or now, note), now)
        await uow.applications.save(app)
        await ann.announce(
            uow,
            provider,
            app,
            ann.OUTCOME_RECORDED,
            events.OutcomeRecorded(
                app.application_id, app.opportunity_id, app.provider_id, kind, decided_at or now
            ),
        )
    ctx.notifier.notify()
    return app
