"""Unsigned Open Badges 3.0 and CLR 2.0 credentials built from specs.

The documents follow OB 3.0 Appendix B.1 and CLR 2.0 Appendix B.1 on the VC Data Model 2.0
and are checked with ``ler_crypto.obv3`` before they are signed, so a credential that a
verifier would reject is never signed.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import secrets
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from ler_crypto.obv3 import (
    CLR_CONTEXT,
    OB_CONTEXT,
    build_alignment,
    check_achievement_credential,
    check_clr_credential,
)
from ler_crypto.sdjwt import Sd
from ler_crypto.status_list import build_status_list_entry
from ler_crypto.vc_model import VC_V2_CONTEXT, DataModelError, is_url

from ler_issuance.domain.errors import InvalidSpec, invalid
from ler_issuance.domain.model import (
    Achievement,
    Alignment,
    CredentialSpec,
    Evidence,
    Issuer,
    Result,
    StatusEntryRef,
    Subject,
)


def stamp(moment: datetime) -> str:
    """An XML Schema dateTimeStamp in UTC, to the second (VC DM 2.0 §4.9)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


_PRIMITIVES = frozenset({str, int, float, bool})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    # dataclasses.fields() rebuilds its tuple on every call: too slow for the hot path
    return tuple(f.name for f in fields(cls))


def _plain(value: Any) -> Any:
    """JSON-ready form of a spec: dataclasses as dicts, tuples as lists, datetimes stamped.

    Hand-rolled rather than ``dataclasses.asdict`` (which deep-copies every leaf): it runs for
    every request on the hot path.
    """
    if value is None or type(value) in _PRIMITIVES:  # exact types: a StrEnum is no plain str
        return value
    if isinstance(value, Achievement):
        return _achievement_digest(value)
    if is_dataclass(value) and not isinstance(value, type):
        names = _field_names(type(value))
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


@functools.lru_cache(maxsize=4096)
def _achievement_digest(achievement: Achievement) -> str:
    """Digest of an achievement (cached: a stream repeats a handful of achievements)."""
    plain = {name: _plain(getattr(achievement, name)) for name in _field_names(Achievement)}
    return hashlib.sha256(orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)).hexdigest()


def spec_fingerprint(spec: CredentialSpec) -> str:
    """SHA-256 of the spec's canonical JSON: "the same request" means the same fingerprint."""
    return hashlib.sha256(orjson.dumps(_plain(spec), option=orjson.OPT_SORT_KEYS)).hexdigest()


def result_description_id(achievement_id: str, rd_id: str) -> str:
    """OB requires ResultDescription ids to be URIs; a local id becomes a fragment."""
    return rd_id if is_url(rd_id) else f"{achievement_id}#result-{rd_id}"


def _alignment(a: Alignment) -> dict[str, Any]:
    return build_alignment(
        target_name=a.label,
        target_url=a.url,
        target_code=a.code or None,
        target_framework=a.framework or None,
        target_type=a.target_type or None,
        target_description=a.description or None,
    )


def achievement_json(achievement: Achievement, creator: dict[str, Any]) -> dict[str, Any]:
    """The OB 3.0 ``Achievement`` object (§B.1.1)."""
    a = achievement
    criteria: dict[str, Any] = {}
    if a.criteria_url:
        criteria["id"] = a.criteria_url
    if a.criteria_narrative:
        criteria["narrative"] = a.criteria_narrative
    doc: dict[str, Any] = {
        "id": a.id,
        "type": ["Achievement"],
        "name": a.name,
        "description": a.description,
        "criteria": criteria,
        "creator": creator,
    }
    if a.achievement_type:
        doc["achievementType"] = a.achievement_type
    if a.image_url:
        doc["image"] = {"id": a.image_url, "type": "Image"}
    if a.alignments:
        doc["alignment"] = [_alignment(x) for x in a.alignments]
    if a.result_descriptions:
        doc["resultDescription"] = [_result_description(a.id, rd) for rd in a.result_descriptions]
    if a.credits_available:
        doc["creditsAvailable"] = a.credits_available
    for key, value in (
        ("fieldOfStudy", a.field_of_study),
        ("specialization", a.specialization),
        ("humanCode", a.human_code),
        ("inLanguage", a.in_language),
    ):
        if value:
            doc[key] = value
    if a.tags:
        doc["tag"] = list(a.tags)
    return doc


def _result_description(achievement_id: str, rd: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": result_description_id(achievement_id, rd.id),
        "type": ["ResultDescription"],
        "name": rd.name,
        "resultType": rd.result_type,
    }
    if rd.allowed_values:
        doc["allowedValue"] = list(rd.allowed_values)
    for key, value in (
        ("requiredValue", rd.required_value),
        ("valueMin", rd.value_min),
        ("valueMax", rd.value_max),
    ):
        if value:
            doc[key] = value
    if rd.alignments:
        doc["alignment"] = [_alignment(x) for x in rd.alignments]
    return doc


def _result(achievement_id: str, r: Result) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": ["Result"]}
    if r.result_description_id:
        doc["resultDescription"] = result_description_id(achievement_id, r.result_description_id)
    if r.value:
        doc["value"] = r.value
    if r.status:
        doc["status"] = r.status
    if r.achieved_level:
        doc["achievedLevel"] = r.achieved_level
    if r.alignments:
        doc["alignment"] = [_alignment(x) for x in r.alignments]
    return doc


def _evidence(e: Evidence) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": ["Evidence"]}
    for key, value in (
        ("id", e.url),
        ("name", e.name),
        ("description", e.description),
        ("narrative", e.narrative),
        ("genre", e.genre),
        ("audience", e.audience),
    ):
        if value:
            doc[key] = value
    return doc


def identity_objects(subject: Subject) -> list[dict[str, Any]]:
    """OB 3.0 §B.1.10 IdentityObjects: the email salted and hashed, the name as recorded."""
    identities: list[dict[str, Any]] = []
    if subject.email:
        salt = secrets.token_hex(16)
        digest = hashlib.sha256((subject.email.strip().lower() + salt).encode()).hexdigest()
        identities.append(
            {
                "type": "IdentityObject",
                "hashed": True,
                "identityHash": f"sha256${digest}",
                "identityType": "emailAddress",
                "salt": salt,
            }
        )
    if subject.name:
        identities.append(
            {
                "type": "IdentityObject",
                "hashed": False,
                "identityHash": subject.name,
                "identityType": "name",
            }
        )
    return identities


def status_entries_json(entries: tuple[StatusEntryRef, ...]) -> list[dict[str, Any]]:
    """``BitstringStatusListEntry`` objects (BSL §2.1) for ``credentialStatus``."""
    return [
        build_status_list_entry(
            status_list_credential=e.list_url, index=e.index, purpose=e.purpose.value
        )
        for e in entries
    ]


def _status_value(entries: tuple[StatusEntryRef, ...]) -> dict[str, Any] | list[dict[str, Any]]:
    docs = status_entries_json(entries)
    return docs[0] if len(docs) == 1 else docs


def build_achievement_credential(
    *,
    issuer: Issuer,
    spec: CredentialSpec,
    achievement: Achievement,
    credential_id: str,
    status_entries: tuple[StatusEntryRef, ...],
    now: datetime,
    validate: bool = True,
) -> dict[str, Any]:
    """An unsigned OB 3.0 ``AchievementCredential``; raises ``InvalidSpec`` if OB rejects it.

    ``validate=False`` leaves the OB 3.0 check to the caller, who must run it before signing
    (the signing pool does, on its workers: see ``not_valid_ob3``).
    """
    profile = issuer.profile()
    subject: dict[str, Any] = {"type": ["AchievementSubject"]}
    if spec.subject.did:
        subject["id"] = spec.subject.did
    identities = identity_objects(spec.subject)
    if identities:
        subject["identifier"] = identities
    subject["achievement"] = achievement_json(achievement, profile)
    if spec.results:
        subject["result"] = [_result(achievement.id, r) for r in spec.results]
    if spec.credits_earned:
        subject["creditsEarned"] = spec.credits_earned
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": achievement.name,
        "issuer": profile,
        "validFrom": stamp(spec.valid_from or now),
    }
    if spec.valid_until:
        credential["validUntil"] = stamp(spec.valid_until)
    credential["awardedDate"] = stamp(spec.awarded_at or now)
    credential["credentialSubject"] = subject
    if spec.evidence:
        credential["evidence"] = [_evidence(e) for e in spec.evidence]
    if status_entries:
        credential["credentialStatus"] = _status_value(status_entries)
    if validate:
        try:
            check_achievement_credential(credential)
        except DataModelError as err:
            raise not_valid_ob3(str(err)) from err
    return credential


def not_valid_ob3(issues: str) -> InvalidSpec:
    """The error for a built credential that OB 3.0 rejects (``issues`` lists why)."""
    return invalid("spec", f"the credential would not be valid Open Badges 3.0: {issues}")


def build_clr_credential(
    *,
    issuer: Issuer,
    subject: Subject,
    name: str,
    description: str,
    partial: bool,
    credentials: list[dict[str, Any]],
    credential_id: str,
    status_entries: tuple[StatusEntryRef, ...],
    now: datetime,
) -> dict[str, Any]:
    """An unsigned CLR 2.0 ``ClrCredential`` embedding signed AchievementCredentials."""
    clr_subject: dict[str, Any] = {"type": ["ClrSubject"]}
    if subject.did:
        clr_subject["id"] = subject.did
    identities = identity_objects(subject)
    if identities:
        clr_subject["identifier"] = identities
    clr_subject["verifiableCredential"] = credentials
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, CLR_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": name,
        "issuer": issuer.profile(),
        "validFrom": stamp(now),
    }
    if description:
        credential["description"] = description
    if partial:
        credential["partial"] = True
    credential["credentialSubject"] = clr_subject
    if status_entries:
        credential["credentialStatus"] = _status_value(status_entries)
    try:
        check_clr_credential(credential)
    except DataModelError as err:
        raise invalid("name", f"the CLR would not be valid CLR 2.0: {err}") from err
    return credential


SD_JWT_VCT = "urn:ler:vct:open-badge-achievement:1"


def sd_jwt_claims(
    *, issuer: Issuer, spec: CredentialSpec, achievement: Achievement, now: datetime
) -> dict[str, Any]:
    """Claims of an SD-JWT VC for an achievement (draft-ietf-oauth-sd-jwt-vc §3.2.2).

    What the achievement *is* stays in the clear; what is about the learner — results, credits,
    award date, name and email — is selectively disclosable (``Sd``), so a holder shows only
    what a verifier needs.
    """
    claims: dict[str, Any] = {
        "issuer_name": issuer.name,
        "achievement": achievement_json(achievement, issuer.profile()),
        "awarded_date": Sd(stamp(spec.awarded_at or now)),
    }
    if spec.subject.did:
        claims["sub"] = spec.subject.did
    if spec.subject.email:
        claims["email"] = Sd(spec.subject.email)
    if spec.subject.name:
        claims["name"] = Sd(spec.subject.name)
    if spec.results:
        claims["result"] = [Sd(_result(achievement.id, r)) for r in spec.results]
    if spec.credits_earned:
        claims["credits_earned"] = Sd(spec.credits_earned)
    if spec.evidence:
        claims["evidence"] = [Sd(_evidence(e)) for e in spec.evidence]
    return claims
