"""The one mapping between protobuf messages and the issuance domain.

Enum terms follow the protos' comments: an OB vocabulary value is the PascalCase of the enum
name after its prefix (ACHIEVEMENT_TYPE_BACHELOR_DEGREE <-> "BachelorDegree").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import error_pb2, skills_pb2
from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import resources_pb2 as rpb
from ler_platform.errors import DomainError, InvalidArgument
from ler_proto.events import issuance as topics

from ler_issuance.domain import model as m
from ler_issuance.domain.events import (
    CredentialIssued,
    CredentialStatusChanged,
    DomainEvent,
    IssuanceRequestProcessed,
)


@dataclass(frozen=True)
class EventTopics:
    """Where each event goes (overridable so tests can use fresh topics)."""

    issued: str = topics.CREDENTIALS_ISSUED_TOPIC
    status: str = topics.CREDENTIALS_STATUS_TOPIC
    results: str = topics.ISSUANCE_RESULTS_TOPIC


# --- enums ---------------------------------------------------------------------------------------


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.lower().split("_"))


def _vocabulary(enum: Any, prefix: str) -> tuple[dict[int, str], dict[str, int]]:
    to_term: dict[int, str] = {}
    for name, number in enum.items():
        if number:
            to_term[number] = _pascal(name.removeprefix(prefix))
    return to_term, {v: k for k, v in to_term.items()}


ACHIEVEMENT_TYPES, ACHIEVEMENT_TYPE_NUMBERS = _vocabulary(cpb.AchievementType, "ACHIEVEMENT_TYPE_")
RESULT_TYPES, RESULT_TYPE_NUMBERS = _vocabulary(rpb.ResultType, "RESULT_TYPE_")
RESULT_STATUSES, RESULT_STATUS_NUMBERS = _vocabulary(rpb.ResultStatus, "RESULT_STATUS_")
TARGET_TYPES = {
    skills_pb2.ALIGNMENT_TARGET_TYPE_CEASN_COMPETENCY: "ceasn:Competency",
    skills_pb2.ALIGNMENT_TARGET_TYPE_CETERMS_CREDENTIAL: "ceterms:Credential",
    skills_pb2.ALIGNMENT_TARGET_TYPE_CF_ITEM: "CFItem",
    skills_pb2.ALIGNMENT_TARGET_TYPE_CF_RUBRIC: "CFRubric",
    skills_pb2.ALIGNMENT_TARGET_TYPE_CF_RUBRIC_CRITERION: "CFRubricCriterion",
    skills_pb2.ALIGNMENT_TARGET_TYPE_CF_RUBRIC_CRITERION_LEVEL: "CFRubricCriterionLevel",
    skills_pb2.ALIGNMENT_TARGET_TYPE_CTDL: "CTDL",
}
TARGET_TYPE_NUMBERS = {v: k for k, v in TARGET_TYPES.items()}

FORMATS = {
    cpb.CREDENTIAL_FORMAT_LDP_VC: m.CredentialFormat.LDP_VC,
    cpb.CREDENTIAL_FORMAT_SD_JWT_VC: m.CredentialFormat.SD_JWT_VC,
}
FORMAT_NUMBERS = {v: k for k, v in FORMATS.items()}
SUITES = {
    cpb.CRYPTOSUITE_EDDSA_RDFC_2022: m.Cryptosuite.EDDSA_RDFC_2022,
    cpb.CRYPTOSUITE_EDDSA_JCS_2022: m.Cryptosuite.EDDSA_JCS_2022,
}
SUITE_NUMBERS = {v: k for k, v in SUITES.items()}
STATES = {
    cpb.CREDENTIAL_STATUS_STATE_ACTIVE: m.CredentialState.ACTIVE,
    cpb.CREDENTIAL_STATUS_STATE_REVOKED: m.CredentialState.REVOKED,
    cpb.CREDENTIAL_STATUS_STATE_SUSPENDED: m.CredentialState.SUSPENDED,
}
STATE_NUMBERS = {v: k for k, v in STATES.items()}
PURPOSE_NUMBERS = {
    m.StatusPurpose.REVOCATION: cpb.STATUS_PURPOSE_REVOCATION,
    m.StatusPurpose.SUSPENSION: cpb.STATUS_PURPOSE_SUSPENSION,
}
KIND_NUMBERS = {
    m.CredentialKind.ACHIEVEMENT: cpb.CREDENTIAL_KIND_ACHIEVEMENT,
    m.CredentialKind.CLR: cpb.CREDENTIAL_KIND_CLR,
}
DID_METHODS = {rpb.DID_METHOD_WEB: m.DidMethod.WEB, rpb.DID_METHOD_KEY: m.DidMethod.KEY}
DID_METHOD_NUMBERS = {v: k for k, v in DID_METHODS.items()}


def _enum(value: int, table: Mapping[Any, Any], field: str) -> Any:
    if value == 0:
        return None
    try:
        return table[value]
    except KeyError:
        raise InvalidArgument(f"{field}: unknown enum value {value}") from None


# --- timestamps ----------------------------------------------------------------------------------


def ts(moment: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp (None stays None)."""
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def from_ts(message: Message, field: str) -> datetime | None:
    """The datetime of an optional Timestamp field."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    return value.ToDatetime(tzinfo=UTC)


# --- requests to domain --------------------------------------------------------------------------


def alignment(a: skills_pb2.SkillAlignment) -> m.Alignment:
    """SkillAlignment → domain Alignment."""
    return m.Alignment(
        url=a.url,
        label=a.label,
        framework=a.framework,
        code=a.code,
        description=a.description,
        target_type=TARGET_TYPES.get(a.target_type, ""),
    )


def achievement(a: rpb.Achievement) -> m.Achievement:
    """Achievement message → domain Achievement."""
    return m.Achievement(
        id=a.id,
        name=a.name,
        description=a.description,
        achievement_type=ACHIEVEMENT_TYPES.get(a.achievement_type, ""),
        criteria_narrative=a.criteria_narrative,
        criteria_url=a.criteria_url,
        image_url=a.image_url,
        alignments=tuple(alignment(x) for x in a.alignments),
        result_descriptions=tuple(
            m.ResultDescription(
                id=rd.id,
                name=rd.name,
                result_type=RESULT_TYPES.get(rd.result_type, ""),
                allowed_values=tuple(rd.allowed_values),
                required_value=rd.required_value,
                value_min=rd.value_min,
                value_max=rd.value_max,
                alignments=tuple(alignment(x) for x in rd.alignments),
            )
            for rd in a.result_descriptions
        ),
        credits_available=a.credits_available,
        field_of_study=a.field_of_study,
        specialization=a.specialization,
        human_code=a.human_code,
        tags=tuple(a.tags),
        in_language=a.in_language,
    )


def subject(s: rpb.Subject) -> m.Subject:
    """Subject message → domain Subject."""
    return m.Subject(did=s.did, email=s.email, name=s.name)


def results(items: Iterable[rpb.Result]) -> tuple[m.Result, ...]:
    """Result messages → domain Results."""
    return tuple(
        m.Result(
            result_description_id=r.result_description_id,
            value=r.value,
            status=RESULT_STATUSES.get(r.status, ""),
            achieved_level=r.achieved_level,
            alignments=tuple(alignment(x) for x in r.alignments),
        )
        for r in items
    )


def evidence(items: Iterable[rpb.Evidence]) -> tuple[m.Evidence, ...]:
    """Evidence messages → domain Evidence."""
    return tuple(
        m.Evidence(
            url=e.url,
            name=e.name,
            description=e.description,
            narrative=e.narrative,
            genre=e.genre,
            audience=e.audience,
        )
        for e in items
    )


@functools.lru_cache(maxsize=1024)
def _achievement_of(data: bytes) -> m.Achievement:
    # a stream repeats a handful of inline achievements: convert each once (the domain
    # Achievement is immutable, so one instance can serve every request that carries it)
    return achievement(rpb.Achievement.FromString(data))


def spec(s: rpb.CredentialSpec) -> m.CredentialSpec:
    """CredentialSpec message → domain spec (enum values checked)."""
    source = s.WhichOneof("achievement_source")
    return m.CredentialSpec(
        record_id=s.record_id,
        subject=subject(s.subject),
        template_id=s.template_id if source == "template_id" else "",
        achievement=_achievement_of(s.achievement.SerializeToString(deterministic=True))
        if source == "achievement"
        else None,
        results=results(s.results),
        evidence=evidence(s.evidence),
        awarded_at=from_ts(s, "awarded_at"),
        valid_from=from_ts(s, "valid_from"),
        valid_until=from_ts(s, "valid_until"),
        credits_earned=s.credits_earned,
        format=_enum(s.format, FORMATS, "spec.format"),
        cryptosuite=_enum(s.cryptosuite, SUITES, "spec.cryptosuite"),
    )


# --- domain to responses -------------------------------------------------------------------------


def skill(a: m.Alignment) -> skills_pb2.SkillAlignment:
    """Domain Alignment → SkillAlignment."""
    return skills_pb2.SkillAlignment(
        framework=a.framework,
        code=a.code,
        url=a.url,
        label=a.label,
        description=a.description,
        target_type=TARGET_TYPE_NUMBERS.get(a.target_type, 0),  # type: ignore[arg-type]
    )


def achievement_pb(a: m.Achievement) -> rpb.Achievement:
    """Domain Achievement → Achievement message."""
    return rpb.Achievement(
        id=a.id,
        achievement_type=ACHIEVEMENT_TYPE_NUMBERS.get(a.achievement_type, 0),  # type: ignore[arg-type]
        name=a.name,
        description=a.description,
        criteria_narrative=a.criteria_narrative,
        criteria_url=a.criteria_url,
        image_url=a.image_url,
        alignments=[skill(x) for x in a.alignments],
        result_descriptions=[
            rpb.ResultDescription(
                id=rd.id,
                name=rd.name,
                result_type=RESULT_TYPE_NUMBERS.get(rd.result_type, 0),  # type: ignore[arg-type]
                allowed_values=list(rd.allowed_values),
                required_value=rd.required_value,
                value_min=rd.value_min,
                value_max=rd.value_max,
                alignments=[skill(x) for x in rd.alignments],
            )
            for rd in a.result_descriptions
        ],
        credits_available=a.credits_available,
        field_of_study=a.field_of_study,
        specialization=a.specialization,
        human_code=a.human_code,
        tags=list(a.tags),
        in_language=a.in_language,
    )


def template_pb(t: m.AchievementTemplate) -> rpb.AchievementTemplate:
    """Domain template → AchievementTemplate message."""
    return rpb.AchievementTemplate(
        template_id=t.template_id,
        issuer_id=t.issuer_id,
        achievement=achievement_pb(t.achievement),
        created_at=ts(t.created_at),
    )


def signing_key_pb(k: m.SigningKey) -> rpb.SigningKey:
    """Public half of a signing key."""
    return rpb.SigningKey(
        verification_method=k.verification_method,
        public_key_multibase=k.public_key_multibase,
        created_at=ts(k.created_at),
        retired_at=ts(k.retired_at),
    )


def issuer_pb(i: m.Issuer) -> rpb.Issuer:
    """Domain Issuer → Issuer message (public data only)."""
    return rpb.Issuer(
        issuer_id=i.issuer_id,
        did=i.did,
        did_method=DID_METHOD_NUMBERS[i.did_method],  # type: ignore[arg-type]
        name=i.name,
        url=i.url,
        email=i.email,
        description=i.description,
        image_url=i.image_url,
        active_key=signing_key_pb(i.active_key),
        retired_keys=[signing_key_pb(k) for k in i.retired_keys],
        default_format=FORMAT_NUMBERS[i.default_format],  # type: ignore[arg-type]
        default_cryptosuite=SUITE_NUMBERS[i.default_cryptosuite],  # type: ignore[arg-type]
        created_at=ts(i.created_at),
    )


def credential_pb(r: m.CredentialRecord, *, include_signed: bool = True) -> rpb.Credential:
    """Domain record → Credential message."""
    return rpb.Credential(
        credential_id=r.credential_id,
        issuer_id=r.issuer_id,
        issuer_did=r.issuer_did,
        record_id=r.record_id,
        subject=rpb.Subject(did=r.subject.did, email=r.subject.email, name=r.subject.name),
        kind=KIND_NUMBERS[r.kind],  # type: ignore[arg-type]
        format=FORMAT_NUMBERS[r.format],  # type: ignore[arg-type]
        cryptosuite=SUITE_NUMBERS.get(r.cryptosuite, 0) if r.cryptosuite else 0,  # type: ignore[arg-type]
        template_id=r.template_id,
        achievement_name=r.achievement_name,
        achievement_type=ACHIEVEMENT_TYPE_NUMBERS.get(r.achievement_type, 0),  # type: ignore[arg-type]
        skills=[skill(s) for s in r.skills],
        status=STATE_NUMBERS[r.status],  # type: ignore[arg-type]
        status_reason=r.status_reason,
        status_entries=[
            rpb.StatusEntry(
                purpose=PURPOSE_NUMBERS[e.purpose],  # type: ignore[arg-type]
                status_list_url=e.list_url,
                status_list_index=e.index,
            )
            for e in r.status_entries
        ],
        issued_at=ts(r.issued_at),
        valid_from=ts(r.valid_from),
        valid_until=ts(r.valid_until),
        signed_credential=r.signed_credential if include_signed else b"",
        media_type=r.media_type,
        embedded_credential_ids=list(r.embedded_credential_ids),
    )


def error_detail(err: DomainError) -> error_pb2.ErrorDetail:
    """A per-item ``ErrorDetail`` (reason, field, message, metadata; never secrets)."""
    violations = getattr(err, "violations", ())
    return error_pb2.ErrorDetail(
        reason=err.reason,
        field=violations[0].field if violations else "",
        message=err.message,
        metadata=err.metadata,
    )


# --- events ----------------------------------------------------------------------------------


_OUTCOMES = {
    "issued": epb.ISSUANCE_REQUEST_OUTCOME_ISSUED,
    "replayed": epb.ISSUANCE_REQUEST_OUTCOME_REPLAYED,
    "rejected": epb.ISSUANCE_REQUEST_OUTCOME_REJECTED,
}


def _issued(e: CredentialIssued) -> epb.CredentialIssued:
    r = e.credential
    return epb.CredentialIssued(
        credential_id=r.credential_id,
        issuer_id=r.issuer_id,
        issuer_did=r.issuer_did,
        record_id=r.record_id,
        subject_id=r.subject.did,
        recipient_email=r.subject.email,
        kind=KIND_NUMBERS[r.kind],  # type: ignore[arg-type]
        format=FORMAT_NUMBERS[r.format],  # type: ignore[arg-type]
        signed_credential=r.signed_credential,
        media_type=r.media_type,
        achievement_name=r.achievement_name,
        achievement_type=ACHIEVEMENT_TYPE_NUMBERS.get(r.achievement_type, 0),  # type: ignore[arg-type]
        skills=[skill(s) for s in r.skills],
        issued_at=ts(r.issued_at),
    )


def _status(e: CredentialStatusChanged) -> epb.CredentialStatusChanged:
    return epb.CredentialStatusChanged(
        credential_id=e.credential_id,
        issuer_id=e.issuer_id,
        issuer_did=e.issuer_did,
        status_list_url=e.entry.list_url,
        status_list_index=e.entry.index,
        status_purpose=PURPOSE_NUMBERS[e.entry.purpose],  # type: ignore[arg-type]
        previous_state=STATE_NUMBERS[e.previous_state],  # type: ignore[arg-type]
        new_state=STATE_NUMBERS[e.new_state],  # type: ignore[arg-type]
        reason=e.reason,
        changed_at=ts(e.changed_at),
    )


def _result(e: IssuanceRequestProcessed) -> epb.IssuanceRequestResult:
    message = epb.IssuanceRequestResult(
        issuer_id=e.issuer_id,
        record_id=e.record_id,
        outcome=_OUTCOMES[e.outcome],  # type: ignore[arg-type]
        credential_id=e.credential_id,
        processed_at=ts(e.processed_at),
        request_id=e.request_id,
        kind=KIND_NUMBERS[e.kind] if e.kind else cpb.CREDENTIAL_KIND_UNSPECIFIED,  # type: ignore[arg-type]
        issued_credential_ids=e.issued_credential_ids,
    )
    if e.outcome == "rejected":
        message.error.CopyFrom(
            error_pb2.ErrorDetail(
                reason=e.error_reason, field=e.error_field, message=e.error_message
            )
        )
    return message


def event_records(
    events: Iterable[DomainEvent], where: EventTopics
) -> Iterator[tuple[str, str, Message]]:
    """(topic, key, message) for each domain event, keys per ``ler_proto.events.issuance``."""
    for event in events:
        if isinstance(event, CredentialIssued):
            msg: Message = _issued(event)
            yield where.issued, topics.CREDENTIALS_ISSUED.key_for(msg), msg
        elif isinstance(event, CredentialStatusChanged):
            msg = _status(event)
            yield where.status, topics.CREDENTIALS_STATUS.key_for(msg), msg
        else:
            msg = _result(event)
            yield where.results, topics.ISSUANCE_RESULTS.key_for(msg), msg
