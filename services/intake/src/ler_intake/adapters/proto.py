"""Mapping between the domain and the protobuf messages (gRPC and events) — in one place."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2 as spb
from ler.common.v1 import verification_report_pb2 as vpb
from ler.intake.v1 import events_pb2 as epb
from ler.intake.v1 import resources_pb2 as rpb

from ler_intake.domain import events
from ler_intake.domain.application import (
    Application,
    ApplicationState,
    Check,
    CheckOutcome,
    Evidence,
    EvidenceKind,
    FlagReason,
    OutcomeKind,
    Report,
    Verdict,
)
from ler_intake.domain.errors import InvalidRequest
from ler_intake.domain.model import (
    Applicant,
    EducationLevel,
    Opportunity,
    OpportunityKind,
    Provider,
    RedactionPolicy,
    VerificationPolicy,
    level_of,
)
from ler_intake.domain.skills import Skill, SkillRequirement


def ts(moment: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp, or None."""
    if moment is None:
        return None
    out = Timestamp()
    out.FromDatetime(moment.astimezone(UTC))
    return out


def from_ts(msg: Message, name: str) -> datetime | None:
    """The datetime of an optional Timestamp field."""
    if not msg.HasField(name):
        return None
    value: Timestamp = getattr(msg, name)
    return value.ToDatetime(tzinfo=UTC)


def _enum_map(enum_type: type, prefix: str, domain: type) -> dict[int, object]:
    return {enum_type.Value(f"{prefix}_{m.name}"): m for m in domain}  # type: ignore[attr-defined]


KIND_OF = _enum_map(rpb.OpportunityKind, "OPPORTUNITY_KIND", OpportunityKind)
STATE_OF = _enum_map(rpb.ApplicationState, "APPLICATION_STATE", ApplicationState)
FLAG_OF = _enum_map(rpb.FlagReason, "FLAG_REASON", FlagReason)
OUTCOME_OF = _enum_map(rpb.OutcomeKind, "OUTCOME_KIND", OutcomeKind)
EVIDENCE_OF = _enum_map(rpb.EvidenceKind, "EVIDENCE_KIND", EvidenceKind)
VERDICT_OF = _enum_map(vpb.Verdict, "VERDICT", Verdict)
CHECK_OF = _enum_map(vpb.CheckOutcome, "CHECK_OUTCOME", CheckOutcome)


_VIA = {"exact": rpb.SKILL_MATCH_VIA_EXACT, "equivalent": rpb.SKILL_MATCH_VIA_EQUIVALENT}


def _to_enum(mapping: dict[int, object], value: object) -> int:
    return next(k for k, v in mapping.items() if v == value)


def skill_from(msg: spb.SkillAlignment) -> Skill:
    """A domain skill from an alignment."""
    return Skill(msg.label, msg.framework, msg.code, msg.url)


def skill_to(skill: Skill) -> spb.SkillAlignment:
    """An alignment from a domain skill."""
    return spb.SkillAlignment(
        label=skill.label, framework=skill.framework, code=skill.code, url=skill.url
    )


def _equivalents_from(msg: rpb.Opportunity) -> list[tuple[Skill, tuple[Skill, ...]]]:
    """The declared equivalents, each checked to name one of the opportunity's requirements."""
    asked = [skill_from(s.skill) for s in (*msg.required_skills, *msg.preferred_skills)]
    out = []
    for i, entry in enumerate(msg.skill_equivalents):
        skill = skill_from(entry.skill)
        if not any(skill.same_as(a) for a in asked):
            raise InvalidRequest(
                f"opportunity.skill_equivalents[{i}].skill",
                "names none of the required or preferred skills",
            )
        alternatives = tuple(skill_from(e) for e in entry.equivalents)
        for j, alt in enumerate(alternatives):
            if not (alt.code or alt.url) or (alt.code and not alt.framework):
                raise InvalidRequest(
                    f"opportunity.skill_equivalents[{i}].equivalents[{j}]",
                    "needs a framework and code, or a url",
                )
        out.append((skill, alternatives))
    return out


def _requirements(
    items: Sequence[spb.SkillRequirement], equivalents: list[tuple[Skill, tuple[Skill, ...]]]
) -> tuple[SkillRequirement, ...]:
    return tuple(
        # weight 0 means the default 1.0; a negative one is kept for validation to refuse
        SkillRequirement(
            skill_from(s.skill),
            s.weight or 1.0,
            tuple(
                e for skill, alts in equivalents if skill.same_as(skill_from(s.skill)) for e in alts
            ),
        )
        for s in items
    )


def opportunity_from(msg: rpb.Opportunity) -> Opportunity:
    """The draft opportunity a CreateOpportunity request carries."""
    p, r = msg.verification_policy, msg.redaction_policy
    kind = KIND_OF.get(msg.kind, OpportunityKind.JOB)
    equivalents = _equivalents_from(msg)
    return Opportunity(
        opportunity_id="",
        provider_id=msg.provider_id,
        title=msg.title,
        kind=kind,  # type: ignore[arg-type]
        created_at=datetime.now(UTC),
        description=msg.description,
        location=msg.location,
        url=msg.url,
        required_skills=_requirements(msg.required_skills, equivalents),
        preferred_skills=_requirements(msg.preferred_skills, equivalents),
        trusted_issuer_ids=tuple(msg.trusted_issuer_ids),
        minimum_education_level=EducationLevel(msg.minimum_education_level),
        verification_policy=VerificationPolicy(
            p.allow_untrusted_issuers,
            p.allow_expired,
            p.allow_unreachable_status,
            p.accept_vc_v1,
            tuple(p.required_accreditations),
        ),
        redaction_policy=RedactionPolicy(
            r.hide_education_level,
            r.hide_institution_names,
            r.hide_dates,
            r.hide_applicant_identity,
        ),
        opens_at=from_ts(msg, "opens_at"),
        closes_at=from_ts(msg, "closes_at"),
    )


def policy_to(p: VerificationPolicy) -> vpb.VerificationPolicy:
    """The verification policy message."""
    return vpb.VerificationPolicy(
        allow_untrusted_issuers=p.allow_untrusted_issuers,
        allow_expired=p.allow_expired,
        allow_unreachable_status=p.allow_unreachable_status,
        accept_vc_v1=p.accept_vc_v1,
        required_accreditations=list(p.required_accreditations),
    )


def opportunity_to(o: Opportunity, now: datetime) -> rpb.Opportunity:
    """The opportunity message."""
    r = o.redaction_policy
    return rpb.Opportunity(
        opportunity_id=o.opportunity_id,
        provider_id=o.provider_id,
        title=o.title,
        description=o.description,
        kind=_to_enum(KIND_OF, o.kind),  # type: ignore[arg-type]
        location=o.location,
        url=o.url,
        required_skills=[
            spb.SkillRequirement(skill=skill_to(s.skill), weight=s.weight)
            for s in o.required_skills
        ],
        preferred_skills=[
            spb.SkillRequirement(skill=skill_to(s.skill), weight=s.weight)
            for s in o.preferred_skills
        ],
        minimum_education_level=int(o.minimum_education_level),  # type: ignore[arg-type]
        verification_policy=policy_to(o.verification_policy),
        redaction_policy=rpb.RedactionPolicy(
            hide_education_level=r.hide_education_level,
            hide_institution_names=r.hide_institution_names,
            hide_dates=r.hide_dates,
            hide_applicant_identity=r.hide_applicant_identity,
        ),
        state=rpb.OPPORTUNITY_STATE_OPEN if o.is_open(now) else rpb.OPPORTUNITY_STATE_CLOSED,
        opens_at=ts(o.opens_at),
        closes_at=ts(o.closes_at),
        created_at=ts(o.created_at),
        skill_equivalents=equivalents_to(o),
        trusted_issuer_ids=list(o.trusted_issuer_ids),
    )


def requirement_to(r: SkillRequirement) -> spb.SkillRequirement:
    """A skill requirement message (its equivalents go to ``equivalents_to``)."""
    return spb.SkillRequirement(skill=skill_to(r.skill), weight=r.weight)


def equivalents_to(o: Opportunity) -> list[rpb.SkillEquivalents]:
    """The declared equivalents of the opportunity's requirements that have any."""
    return [
        rpb.SkillEquivalents(
            skill=skill_to(r.skill), equivalents=[skill_to(e) for e in r.equivalents]
        )
        for r in o.required_skills + o.preferred_skills
        if r.equivalents
    ]


def posting_to(o: Opportunity, provider_name: str) -> rpb.OpportunityPosting:
    """The public posting: built field by field from an allow-list, so that nothing private
    (verification or redaction policy, trust list, provider settings) can slip in."""
    return rpb.OpportunityPosting(
        opportunity_id=o.opportunity_id,
        provider_id=o.provider_id,
        provider_name=provider_name,
        title=o.title,
        description=o.description,
        kind=_to_enum(KIND_OF, o.kind),  # type: ignore[arg-type]
        location=o.location,
        url=o.url,
        required_skills=[requirement_to(r) for r in o.required_skills],
        preferred_skills=[requirement_to(r) for r in o.preferred_skills],
        skill_equivalents=equivalents_to(o),
        minimum_education_level=int(o.minimum_education_level),  # type: ignore[arg-type]
        closes_at=ts(o.closes_at),
    )


def provider_to(p: Provider) -> rpb.Provider:
    """The provider message (never the key hash or webhook secret)."""
    return rpb.Provider(
        provider_id=p.provider_id,
        name=p.name,
        url=p.url,
        domain=p.domain,
        webhook_url=p.webhook_url,
        created_at=ts(p.created_at),
    )


def applicant_from(msg: rpb.Applicant) -> Applicant:
    """The applicant's details."""
    return Applicant(
        msg.name, msg.email, msg.phone, msg.statement, tuple(sorted(msg.answers.items()))
    )


def _ob_term(enum_name: str) -> str:
    # AchievementType enum <-> OB term: drop the prefix, PascalCase the rest (credential.proto)
    suffix = enum_name.removeprefix("ACHIEVEMENT_TYPE_")
    return "".join(part.capitalize() for part in suffix.split("_"))


def _achievement_enum(term: str) -> int:
    if not term:
        return 0
    name = "ACHIEVEMENT_TYPE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", term).upper()
    return cpb.AchievementType.Value(name) if name in cpb.AchievementType.keys() else 0


def evidence_from(msg: cpb.CredentialSummary, *, verified: bool, signed: str) -> Evidence:
    """Evidence from a verification service summary (the level derived from the achievement
    type when the summary leaves it unset)."""
    term = _ob_term(cpb.AchievementType.Name(msg.achievement_type)) if msg.achievement_type else ""
    return Evidence(
        credential_id=msg.credential_id,
        issuer_id=msg.issuer_id,
        verified=verified,
        issuer_name=msg.issuer_name,
        subject_id=msg.subject_id,
        achievement_name=msg.achievement_name,
        achievement_type=term,
        education_level=EducationLevel(msg.education_level) or level_of(term),
        types=tuple(msg.types),
        skills=tuple(skill_from(s) for s in msg.skills),
        valid_from=from_ts(msg, "valid_from"),
        valid_until=from_ts(msg, "valid_until"),
        awarded_at=from_ts(msg, "awarded_at"),
        signed=signed,
    )


def evidence_to(e: Evidence) -> cpb.CredentialSummary:
    """The summary message of one piece of evidence (already redacted as the view needs)."""
    return cpb.CredentialSummary(
        credential_id=e.credential_id,
        kind=cpb.CREDENTIAL_KIND_ACHIEVEMENT,
        types=list(e.types),
        format=cpb.CREDENTIAL_FORMAT_LDP_VC,
        issuer_id=e.issuer_id,
        issuer_name=e.issuer_name,
        subject_id=e.subject_id,
        achievement_name=e.achievement_name,
        achievement_type=_achievement_enum(e.achievement_type),  # type: ignore[arg-type]
        education_level=int(e.education_level),  # type: ignore[arg-type]
        skills=[skill_to(s) for s in e.skills],
        valid_from=ts(e.valid_from),
        valid_until=ts(e.valid_until),
        awarded_at=ts(e.awarded_at),
    )


def report_from(msg: vpb.VerificationReport) -> Report:
    """The domain report."""
    return Report(
        VERDICT_OF.get(msg.verdict, Verdict.FAILED),  # type: ignore[arg-type]
        tuple(
            Check(
                c.id,
                CHECK_OF.get(c.outcome, CheckOutcome.FAIL),  # type: ignore[arg-type]
                c.title,
                c.reason,
                c.error_code,
                c.target or "$",
            )
            for c in msg.checks
        ),
        from_ts(msg, "verified_at") or datetime.now(UTC),
        msg.verification_id,
    )


def report_to(r: Report) -> vpb.VerificationReport:
    """The report message."""
    return vpb.VerificationReport(
        verdict=_to_enum(VERDICT_OF, r.verdict),  # type: ignore[arg-type]
        checks=[
            vpb.Check(
                id=c.id,
                title=c.title,
                reason=c.reason,
                error_code=c.error_code,
                target=c.target,
                outcome=_to_enum(CHECK_OF, c.outcome),
            )  # type: ignore[arg-type]
            for c in r.checks
        ],
        verified_at=ts(r.verified_at),
        verification_id=r.verification_id,
    )


def application_to(
    app: Application, requirements: Opportunity, *, view: int, redacted_fields: list[str]
) -> rpb.Application:
    """The application message of an already rendered (redacted or full) view."""
    msg = rpb.Application(
        application_id=app.application_id,
        opportunity_id=app.opportunity_id,
        provider_id=app.provider_id,
        state=_to_enum(STATE_OF, app.state),  # type: ignore[arg-type]
        applicant=rpb.Applicant(
            name=app.applicant.name,
            email=app.applicant.email,
            phone=app.applicant.phone,
            statement=app.applicant.statement,
            answers=dict(app.applicant.answers),
        ),
        evidence_kind=_to_enum(EVIDENCE_OF, app.evidence_kind),  # type: ignore[arg-type]
        evidence=[evidence_to(e) for e in app.evidence],
        flags=[
            rpb.Flag(
                reason=_to_enum(FLAG_OF, f.reason),  # type: ignore[arg-type]
                message=f.message,
                credential_id=f.credential_id,
                raised_at=ts(f.raised_at),
            )
            for f in app.flags
        ],
        view=view,  # type: ignore[arg-type]
        redacted_fields=redacted_fields,
        reveals=[
            rpb.Reveal(
                field=r.field,
                reason=r.reason,
                revealed_by=r.revealed_by,
                revealed_at=ts(r.revealed_at),
            )
            for r in app.reveals
        ],
        submitted_at=ts(app.submitted_at),
        updated_at=ts(app.updated_at),
    )
    if app.report is not None:
        msg.verification_report.CopyFrom(report_to(app.report))
    if app.match is not None:
        reqs = {True: requirements.required_skills, False: requirements.preferred_skills}
        msg.match.CopyFrom(
            rpb.MatchResult(
                score=app.match.score,
                explanation=app.match.explanation,
                skills=[
                    rpb.SkillMatch(
                        requirement=spb.SkillRequirement(
                            skill=skill_to(reqs[m.required][m.requirement_index].skill),
                            weight=m.weight,
                        ),
                        required=m.required,
                        evidenced=m.evidenced,
                        credential_ids=list(m.credential_ids),
                        via=_VIA.get(m.via, rpb.SKILL_MATCH_VIA_UNSPECIFIED),
                        unverified_credential_ids=list(m.unverified_credential_ids),
                    )
                    for m in app.match.skills
                ],
            )
        )
    if app.outcome is not None:
        msg.outcome.CopyFrom(
            rpb.Outcome(
                kind=_to_enum(OUTCOME_OF, app.outcome.kind),  # type: ignore[arg-type]
                note=app.outcome.note,
                decided_at=ts(app.outcome.decided_at),
            )
        )
    return msg


def event_message(event: events.DomainEvent) -> Message:
    """The protobuf message of a domain event (events.proto)."""
    match event:
        case events.ApplicationSubmitted():
            return epb.ApplicationSubmitted(
                application_id=event.application_id,
                opportunity_id=event.opportunity_id,
                provider_id=event.provider_id,
                evidence_kind=_to_enum(EVIDENCE_OF, event.evidence_kind),  # type: ignore[arg-type]
                submitted_at=ts(event.submitted_at),
            )
        case events.ApplicationVerified():
            return epb.ApplicationVerified(
                application_id=event.application_id,
                opportunity_id=event.opportunity_id,
                provider_id=event.provider_id,
                verdict=_to_enum(VERDICT_OF, event.verdict),  # type: ignore[arg-type]
                verification_id=event.verification_id,
                match_score=event.match_score,
                required_skills_evidenced=event.required_skills_evidenced,
                required_skills_total=event.required_skills_total,
                credential_count=event.credential_count,
                verified_at=ts(event.verified_at),
            )
        case events.ApplicationFlagged():
            return epb.ApplicationFlagged(
                application_id=event.application_id,
                opportunity_id=event.opportunity_id,
                provider_id=event.provider_id,
                reason=_to_enum(FLAG_OF, event.reason),  # type: ignore[arg-type]
                credential_id=event.credential_id,
                flagged_at=ts(event.flagged_at),
            )
        case events.OutcomeRecorded():
            return epb.OutcomeRecorded(
                application_id=event.application_id,
                opportunity_id=event.opportunity_id,
                provider_id=event.provider_id,
                outcome=_to_enum(OUTCOME_OF, event.outcome),  # type: ignore[arg-type]
                decided_at=ts(event.decided_at),
            )
    raise TypeError(f"not an intake event: {type(event).__name__}")  # pragma: no cover
