"""Mapping between the wallet's domain objects and the ``ler.wallet.v1`` protobuf messages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2 as spb
from ler.common.v1 import verification_report_pb2 as vpb
from ler.wallet.v1 import events_pb2 as epb
from ler.wallet.v1 import resources_pb2 as rpb

from ler_wallet.domain import events
from ler_wallet.domain.model import (
    AccessLogEntry,
    AccessOutcome,
    Account,
    CredentialFormat,
    CredentialSummary,
    HeldCredential,
    ResearchConsent,
    ShareLink,
    Skill,
    Source,
    StatusState,
)
from ler_wallet.domain.skills import ProfileSkill


def ts(moment: datetime | None) -> Timestamp | None:
    """A protobuf timestamp (None stays unset)."""
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def from_ts(stamp: Timestamp) -> datetime:
    """An aware UTC datetime from a timestamp."""
    from datetime import UTC

    return stamp.ToDatetime(tzinfo=UTC)


FORMATS: dict[Any, Any] = {
    CredentialFormat.LDP_VC: cpb.CREDENTIAL_FORMAT_LDP_VC,
    CredentialFormat.SD_JWT_VC: cpb.CREDENTIAL_FORMAT_SD_JWT_VC,
}
FORMAT_OF: dict[Any, CredentialFormat] = {v: k for k, v in FORMATS.items()}
KINDS: dict[Any, Any] = {
    "achievement": cpb.CREDENTIAL_KIND_ACHIEVEMENT,
    "clr": cpb.CREDENTIAL_KIND_CLR,
    "other": cpb.CREDENTIAL_KIND_OTHER,
}
SOURCES: dict[Any, Any] = {
    Source.DELIVERY: rpb.CREDENTIAL_SOURCE_DELIVERY,
    Source.OFFER: rpb.CREDENTIAL_SOURCE_OFFER,
    Source.IMPORT: rpb.CREDENTIAL_SOURCE_IMPORT,
}
STATES: dict[Any, Any] = {
    StatusState.ACTIVE: cpb.CREDENTIAL_STATUS_STATE_ACTIVE,
    StatusState.REVOKED: cpb.CREDENTIAL_STATUS_STATE_REVOKED,
    StatusState.SUSPENDED: cpb.CREDENTIAL_STATUS_STATE_SUSPENDED,
}
STATE_OF: dict[Any, StatusState] = {v: k for k, v in STATES.items()}
OUTCOMES: dict[Any, Any] = {
    AccessOutcome.GRANTED: rpb.ACCESS_OUTCOME_GRANTED,
    AccessOutcome.DENIED_EXPIRED: rpb.ACCESS_OUTCOME_DENIED_EXPIRED,
    AccessOutcome.DENIED_REVOKED: rpb.ACCESS_OUTCOME_DENIED_REVOKED,
    AccessOutcome.DENIED_EXHAUSTED: rpb.ACCESS_OUTCOME_DENIED_EXHAUSTED,
    AccessOutcome.DENIED_AUDIENCE: rpb.ACCESS_OUTCOME_DENIED_AUDIENCE,
}
CHANNELS: dict[str, Any] = {
    "share_link": rpb.ACCESS_CHANNEL_SHARE_LINK,
    "presentation": rpb.ACCESS_CHANNEL_PRESENTATION,
    "openid4vp": rpb.ACCESS_CHANNEL_OPENID4VP,
}
LINK_STATES: dict[Any, Any] = {
    "active": rpb.SHARE_LINK_STATE_ACTIVE,
    "expired": rpb.SHARE_LINK_STATE_EXPIRED,
    "revoked": rpb.SHARE_LINK_STATE_REVOKED,
    "exhausted": rpb.SHARE_LINK_STATE_EXHAUSTED,
}
_TARGET_TYPES: dict[Any, Any] = {
    "ceasn:Competency": spb.ALIGNMENT_TARGET_TYPE_CEASN_COMPETENCY,
    "ceterms:Credential": spb.ALIGNMENT_TARGET_TYPE_CETERMS_CREDENTIAL,
    "CFItem": spb.ALIGNMENT_TARGET_TYPE_CF_ITEM,
    "CFRubric": spb.ALIGNMENT_TARGET_TYPE_CF_RUBRIC,
    "CFRubricCriterion": spb.ALIGNMENT_TARGET_TYPE_CF_RUBRIC_CRITERION,
    "CFRubricCriterionLevel": spb.ALIGNMENT_TARGET_TYPE_CF_RUBRIC_CRITERION_LEVEL,
    "CTDL": spb.ALIGNMENT_TARGET_TYPE_CTDL,
}
_TARGET_TYPE_OF: dict[Any, str] = {v: k for k, v in _TARGET_TYPES.items()}
_LEVELS: dict[Any, Any] = {
    "SecondarySchoolDiploma": cpb.EDUCATION_LEVEL_SECONDARY,
    "GeneralEducationDevelopment": cpb.EDUCATION_LEVEL_SECONDARY,
    "Certificate": cpb.EDUCATION_LEVEL_POST_SECONDARY,
    "ApprenticeshipCertificate": cpb.EDUCATION_LEVEL_POST_SECONDARY,
    "AssociateDegree": cpb.EDUCATION_LEVEL_SHORT_CYCLE_TERTIARY,
    "BachelorDegree": cpb.EDUCATION_LEVEL_BACHELOR,
    "MasterDegree": cpb.EDUCATION_LEVEL_MASTER,
    "MasterCertificate": cpb.EDUCATION_LEVEL_MASTER,
    "DoctoralDegree": cpb.EDUCATION_LEVEL_DOCTORAL,
    "ProfessionalDoctorate": cpb.EDUCATION_LEVEL_DOCTORAL,
    "ResearchDoctorate": cpb.EDUCATION_LEVEL_DOCTORAL,
}
_SPECIAL_ACHIEVEMENT_TYPES: dict[Any, Any] = {"CoCurricular": cpb.ACHIEVEMENT_TYPE_CO_CURRICULAR}


def achievement_type(term: str) -> Any:
    """OB AchievementType term → enum (``BachelorDegree`` ↔ ``..._BACHELOR_DEGREE``)."""
    if term in _SPECIAL_ACHIEVEMENT_TYPES:
        return _SPECIAL_ACHIEVEMENT_TYPES[term]
    name = "ACHIEVEMENT_TYPE_" + re.sub(r"(?<!^)(?=[A-Z])", "_", term).upper()
    return int(cpb.AchievementType.Value(name)) if name in cpb.AchievementType.keys() else 0


def skill_msg(skill: Skill) -> spb.SkillAlignment:
    """Domain skill → SkillAlignment."""
    return spb.SkillAlignment(
        framework=skill.framework,
        code=skill.code,
        url=skill.url,
        label=skill.label,
        description=skill.description,
        target_type=_TARGET_TYPES.get(skill.target_type, 0),
    )


def skill_of(msg: spb.SkillAlignment) -> Skill:
    """SkillAlignment → domain skill."""
    return Skill(
        label=msg.label,
        url=msg.url,
        framework=msg.framework,
        code=msg.code,
        description=msg.description,
        target_type=_TARGET_TYPE_OF.get(msg.target_type, ""),
    )


def summary_msg(s: CredentialSummary, fmt: CredentialFormat) -> cpb.CredentialSummary:
    """Domain summary → CredentialSummary."""
    return cpb.CredentialSummary(
        credential_id=s.credential_id,
        kind=KINDS.get(s.kind, 0),
        types=list(s.types),
        format=FORMATS[fmt],
        issuer_id=s.issuer_id,
        issuer_name=s.issuer_name,
        subject_id=s.subject_id,
        achievement_name=s.achievement_name,
        achievement_type=achievement_type(s.achievement_type),
        education_level=_LEVELS.get(s.achievement_type, 0),
        skills=[skill_msg(k) for k in s.skills],
        valid_from=ts(s.valid_from),
        valid_until=ts(s.valid_until),
        awarded_at=ts(s.awarded_at),
        embedded_credential_ids=list(s.embedded_credential_ids),
    )


_OUTCOME: dict[Any, Any] = {
    "pass": vpb.CHECK_OUTCOME_PASS,
    "fail": vpb.CHECK_OUTCOME_FAIL,
    "warning": vpb.CHECK_OUTCOME_WARNING,
    "skipped": vpb.CHECK_OUTCOME_SKIPPED,
}


def report_msg(report: dict[str, Any], verified: bool) -> vpb.VerificationReport:
    """The receipt report (ler_crypto JSON form) → VerificationReport."""
    checks = [
        vpb.Check(
            id=str(c.get("id", "")),
            title=str(c.get("title", "")),
            outcome=_OUTCOME.get(str(c.get("outcome")), 0),
            reason=str(c.get("reason", "")),
        )
        for c in report.get("checks", [])
        if isinstance(c, dict)
    ]
    warned = any(c.outcome == vpb.CHECK_OUTCOME_WARNING for c in checks)
    verdict = (
        vpb.VERDICT_FAILED
        if not verified
        else vpb.VERDICT_VERIFIED_WITH_WARNINGS
        if warned
        else vpb.VERDICT_VERIFIED
    )
    return vpb.VerificationReport(verdict=verdict, checks=checks)


def credential_msg(c: HeldCredential, *, with_bytes: bool) -> rpb.StoredCredential:
    """Held credential → StoredCredential (signed bytes only when asked)."""
    return rpb.StoredCredential(
        credential_id=c.credential_id,
        account_id=c.account_id,
        summary=summary_msg(c.summary, c.format),
        status=STATES[c.status],
        receipt_report=report_msg(c.receipt_report, c.verified),
        curation=rpb.Curation(
            hidden=c.curation.hidden,
            featured=c.curation.featured,
            tags=list(c.curation.tags),
            sort_order=c.curation.sort_order,
        ),
        source=SOURCES[c.source],
        stored_at=ts(c.stored_at),
        signed_credential=c.signed if with_bytes else b"",
        media_type=c.media_type,
    )


def consent_msg(c: ResearchConsent) -> rpb.ResearchConsent:
    """Domain consent → ResearchConsent."""
    return rpb.ResearchConsent(
        study_id=c.study_id,
        opted_in=c.opted_in,
        study_pseudonym=c.pseudonym,
        updated_at=ts(c.updated_at),
    )


def account_msg(a: Account, consents: list[ResearchConsent]) -> rpb.Account:
    """Domain account → Account (never the keys)."""
    return rpb.Account(
        account_id=a.account_id,
        display_name=a.display_name,
        email=a.email,
        holder_did=a.holder_did,
        research_consents=[consent_msg(c) for c in consents],
        created_at=ts(a.created_at),
    )


def profile_skill_msg(p: ProfileSkill) -> rpb.ProfileSkill:
    """Profile entry → ProfileSkill."""
    return rpb.ProfileSkill(
        skill=skill_msg(p.skill),
        source=(rpb.SKILL_SOURCE_CREDENTIAL if p.verified else rpb.SKILL_SOURCE_SELF_ASSERTED),
        credential_ids=p.credential_ids,
        narrative=p.narrative,
        latest_evidence_at=ts(p.latest_evidence_at),
    )


def share_link_msg(link: ShareLink, now: datetime, url: str = "") -> rpb.ShareLink:
    """Domain link → ShareLink (URL only at creation)."""
    return rpb.ShareLink(
        share_link_id=link.share_link_id,
        account_id=link.account_id,
        credential_ids=list(link.credential_ids),
        label=link.label,
        url=url,
        state=LINK_STATES[link.state(now)],
        created_at=ts(link.created_at),
        expires_at=ts(link.expires_at),
        revoked_at=ts(link.revoked_at),
        max_accesses=link.max_accesses,
        access_count=link.access_count,
        audience=link.audience,
    )


def access_entry_msg(e: AccessLogEntry) -> rpb.AccessLogEntry:
    """Domain entry → AccessLogEntry."""
    return rpb.AccessLogEntry(
        entry_id=e.entry_id,
        share_link_id=e.share_link_id,
        accessed_at=ts(e.accessed_at),
        outcome=OUTCOMES[e.outcome],
        client_network=e.client_network,
        user_agent=e.user_agent,
        verifier_id=e.verifier_id,
        seen=seen_msgs(e.seen_credential_ids, e.seen_claims),
        channel=CHANNELS.get(e.channel, rpb.ACCESS_CHANNEL_UNSPECIFIED),
    )


def seen_msgs(
    credential_ids: Sequence[str], claims: Sequence[tuple[str, Sequence[str]]]
) -> list[rpb.SeenCredential]:
    """What an access showed: each credential, with its disclosed claims when selective."""
    by_id = dict(claims)
    return [
        rpb.SeenCredential(credential_id=c, disclosed_claims=list(by_id.get(c, ())))
        for c in credential_ids
    ]


def _pseudonyms(items: events.Pseudonyms) -> list[epb.StudyPseudonym]:
    return [epb.StudyPseudonym(study_id=s, pseudonym=p) for s, p in items]


_SHARE_CHANNELS: dict[str, Any] = {
    "share_link": epb.SHARE_CHANNEL_SHARE_LINK,
    "presentation": epb.SHARE_CHANNEL_PRESENTATION,
    "openid4vp": epb.SHARE_CHANNEL_OPENID4VP,
}


def event_message(event: events.DomainEvent) -> Any:
    """Domain event → its ``ler.wallet.v1`` message (never credential contents)."""
    if isinstance(event, events.CredentialStored):
        return epb.CredentialStored(
            account_id=event.account_id,
            credential_id=event.credential_id,
            issuer_id=event.issuer_id,
            kind=KINDS.get(event.kind, 0),
            format=FORMATS[CredentialFormat(event.format)],
            source=SOURCES[Source(event.source)],
            stored_at=ts(event.stored_at),
            study_pseudonyms=_pseudonyms(event.study_pseudonyms),
        )
    if isinstance(event, events.CredentialShared):
        return epb.CredentialShared(
            account_id=event.account_id,
            channel=_SHARE_CHANNELS.get(event.channel, epb.SHARE_CHANNEL_UNSPECIFIED),
            share_link_id=event.share_link_id,
            domain=event.domain,
            credential_ids=list(event.credential_ids),
            shared_at=ts(event.shared_at),
            study_pseudonyms=_pseudonyms(event.study_pseudonyms),
        )
    if isinstance(event, events.ShareLinkAccessed):
        return epb.ShareLinkAccessed(
            account_id=event.account_id,
            share_link_id=event.share_link_id,
            outcome=OUTCOMES[AccessOutcome(event.outcome)],
            verifier_id=event.verifier_id,
            accessed_at=ts(event.accessed_at),
            study_pseudonyms=_pseudonyms(event.study_pseudonyms),
        )
    if isinstance(event, events.ConsentChanged):
        return epb.ConsentChanged(
            account_id=event.account_id,
            study_id=event.study_id,
            opted_in=event.opted_in,
            study_pseudonym=event.study_pseudonym,
            changed_at=ts(event.changed_at),
        )
    return epb.AccountDeleted(
        account_id=event.account_id,
        deleted_at=ts(event.deleted_at),
        study_pseudonyms=_pseudonyms(event.study_pseudonyms),
    )
