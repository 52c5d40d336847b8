"""Open Badges 3.0 (``AchievementCredential``) and CLR 2.0 (``ClrCredential``) data models.

Validation checks the required properties and value types of the 1EdTech specifications'
data models (OB 3.0 Appendix B.1 "Credential Data Models", CLR 2.0 Appendix B.1) on top of the VC
Data Model checks in :mod:`ler_crypto.vc_model`; every issue names the property by its JSON
pointer. Builders produce unsigned credentials with the right contexts, ready for
``ler_crypto.dataintegrity.sign``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ler_crypto.vc_model import (
    VC_V1_CONTEXT,
    VC_V2_CONTEXT,
    DataModelError,
    ModelIssue,
    Policy,
    as_list,
    is_url,
    parse_datetime_stamp,
    types_of,
    validate_credential,
)

OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_CONTEXTS = frozenset(
    {
        OB_CONTEXT,
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
    }
)
CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
CLR_CONTEXTS = frozenset({CLR_CONTEXT, "https://purl.imsglobal.org/spec/clr/v2p0/context.json"})

OB_CREDENTIAL_TYPES = frozenset({"AchievementCredential", "OpenBadgeCredential"})

#: OB 3.0 §B.3.4 AlignmentTargetType (extensions use the ``ext:`` prefix).
ALIGNMENT_TARGET_TYPES = frozenset(
    {
        "ceasn:Competency",
        "ceterms:Credential",
        "CFItem",
        "CFRubric",
        "CFRubricCriterion",
        "CFRubricCriterionLevel",
        "CTDL",
    }
)
#: OB 3.0 §B.3.15 ResultStatusType.
RESULT_STATUS_TYPES = frozenset(
    {"Completed", "Enrolled", "Failed", "InProgress", "OnHold", "Provisional", "Withdrew"}
)
#: OB 3.0 §B.3.14 ResultType.
RESULT_TYPES = frozenset(
    {
        "GradePointAverage",
        "LetterGrade",
        "Percent",
        "PerformanceLevel",
        "PredictedScore",
        "RawScore",
        "Result",
        "RubricCriterion",
        "RubricCriterionLevel",
        "RubricScore",
        "ScaledScore",
        "Status",
    }
)
#: CLR 2.0 §B.3.1 AssociationType.
ASSOCIATION_TYPES = frozenset(
    {
        "exactMatchOf",
        "isChildOf",
        "isParentOf",
        "isPartOf",
        "isPeerOf",
        "isRelatedTo",
        "precedes",
        "replacedBy",
    }
)


def _ptr(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


class _Out:
    def __init__(self) -> None:
        self.issues: list[ModelIssue] = []

    def add(self, path: str, message: str) -> None:
        self.issues.append(ModelIssue(path, message))

    # -- small reusable property checks --

    def required(self, obj: Mapping[str, Any], key: str, path: str) -> bool:
        if key not in obj:
            self.add(_ptr(path, key), "is required")
            return False
        return True

    def string(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool) -> None:
        if key not in obj:
            if required:
                self.add(_ptr(path, key), "is required")
            return
        if not isinstance(obj[key], str) or not obj[key]:
            self.add(_ptr(path, key), "must be a non-empty string")

    def url(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool) -> None:
        if key not in obj:
            if required:
                self.add(_ptr(path, key), "is required")
            return
        if not is_url(obj[key]):
            self.add(_ptr(path, key), f"must be a URI, got {obj[key]!r}")

    def typed(self, obj: Mapping[str, Any], path: str, expected: str) -> None:
        """``type`` is required and must include ``expected`` (OB 3.0 type [1..*])."""
        if "type" not in obj:
            self.add(_ptr(path, "type"), f"is required and must include {expected!r}")
        elif expected not in types_of(obj):
            self.add(_ptr(path, "type"), f"must include {expected!r}, got {obj['type']!r}")

    def objects(self, obj: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
        """Items of an [0..*] property as (pointer, value); non-objects are reported."""
        if key not in obj:
            return []
        value = obj[key]
        items = as_list(value)
        result = []
        for i, item in enumerate(items):
            ipath = _ptr(_ptr(path, key), i) if isinstance(value, list) else _ptr(path, key)
            if isinstance(item, dict):
                result.append((ipath, item))
            else:
                self.add(ipath, "must be an object")
        return result


def _enum(out: _Out, obj: Mapping[str, Any], key: str, path: str, allowed: frozenset[str]) -> None:
    if key in obj:
        value = obj[key]
        if not isinstance(value, str) or not (value in allowed or value.startswith("ext:")):
            out.add(_ptr(path, key), f"{value!r} is not one of {sorted(allowed)} (or ext:...)")


def _check_profile(out: _Out, profile: Any, path: str) -> None:
    """OB 3.0 §B.2.5 Profile: id URI [1], type includes 'Profile' [1..*]."""
    if not isinstance(profile, dict):
        out.add(path, "must be a Profile object (with id and type 'Profile')")
        return
    out.url(profile, "id", path, required=True)
    out.typed(profile, path, "Profile")
    for key in ("name", "description", "email", "phone"):
        if key in profile and not isinstance(profile[key], str):
            out.add(_ptr(path, key), "must be a string")
    out.url(profile, "url", path, required=False)


def _check_alignment(out: _Out, alignment: Mapping[str, Any], path: str) -> None:
    """OB 3.0 §B.2.6 Alignment: targetName [1], targetUrl [1], optional code/framework/type."""
    out.typed(alignment, path, "Alignment")
    out.string(alignment, "targetName", path, required=True)
    out.url(alignment, "targetUrl", path, required=True)
    for key in ("targetCode", "targetDescription", "targetFramework"):
        out.string(alignment, key, path, required=False)
    _enum(out, alignment, "targetType", path, ALIGNMENT_TARGET_TYPES)


def _check_result_description(out: _Out, desc: Mapping[str, Any], path: str) -> None:
    """OB 3.0 §B.2.13 ResultDescription: id [1], name [1], resultType [1]."""
    out.url(desc, "id", path, required=True)
    out.typed(desc, path, "ResultDescription")
    out.string(desc, "name", path, required=True)
    if out.required(desc, "resultType", path):
        _enum(out, desc, "resultType", path, RESULT_TYPES)
    for a_path, alignment in out.objects(desc, "alignment", path):
        _check_alignment(out, alignment, a_path)


def _check_achievement(out: _Out, achievement: Any, path: str) -> None:
    """OB 3.0 §B.2.1 Achievement: id, type, name, description, criteria (id or narrative)."""
    if not isinstance(achievement, dict):
        out.add(path, "must be an Achievement object")
        return
    out.url(achievement, "id", path, required=True)
    out.typed(achievement, path, "Achievement")
    out.string(achievement, "name", path, required=True)
    out.string(achievement, "description", path, required=True)
    if out.required(achievement, "criteria", path):
        criteria = achievement["criteria"]
        cpath = _ptr(path, "criteria")
        if not isinstance(criteria, dict):
            out.add(cpath, "must be a Criteria object")
        elif "id" not in criteria and "narrative" not in criteria:
            # OB 3.0 §B.2.8: "at least one of the properties MUST be provided".
            out.add(cpath, "must have an id or a narrative")
        else:
            out.url(criteria, "id", cpath, required=False)
            out.string(criteria, "narrative", cpath, required=False)
    for a_path, alignment in out.objects(achievement, "alignment", path):
        _check_alignment(out, alignment, a_path)
    for r_path, desc in out.objects(achievement, "resultDescription", path):
        _check_result_description(out, desc, r_path)
    if "creator" in achievement:
        _check_profile(out, achievement["creator"], _ptr(path, "creator"))
    if "achievementType" in achievement and not isinstance(achievement["achievementType"], str):
        out.add(_ptr(path, "achievementType"), "must be a string")


def _check_result(out: _Out, result: Mapping[str, Any], path: str) -> None:
    """OB 3.0 §B.2.12 Result: type 'Result'; optional value, status, achievedLevel, alignment."""
    out.typed(result, path, "Result")
    out.url(result, "achievedLevel", path, required=False)
    out.url(result, "resultDescription", path, required=False)
    out.string(result, "value", path, required=False)
    _enum(out, result, "status", path, RESULT_STATUS_TYPES)
    for a_path, alignment in out.objects(result, "alignment", path):
        _check_alignment(out, alignment, a_path)


def _check_identity(out: _Out, identity: Mapping[str, Any], path: str) -> None:
    """OB 3.0 §B.2.9 IdentityObject: hashed [1] boolean, identityHash [1], identityType [1]."""
    out.typed(identity, path, "IdentityObject")
    if out.required(identity, "hashed", path) and not isinstance(identity["hashed"], bool):
        out.add(_ptr(path, "hashed"), "must be a boolean")
    out.string(identity, "identityHash", path, required=True)
    out.string(identity, "identityType", path, required=True)


def _check_achievement_subject(out: _Out, subject: Any, path: str) -> None:
    """OB 3.0 §B.2.2 AchievementSubject: type, achievement [1], id or identifier, results."""
    if not isinstance(subject, dict):
        out.add(path, "must be an AchievementSubject object")
        return
    out.typed(subject, path, "AchievementSubject")
    identities = out.objects(subject, "identifier", path)
    if "id" not in subject and not identities:
        out.add(_ptr(path, "id"), "either id or at least one identifier is required")
    out.url(subject, "id", path, required=False)
    for i_path, identity in identities:
        _check_identity(out, identity, i_path)
    if out.required(subject, "achievement", path):
        _check_achievement(out, subject["achievement"], _ptr(path, "achievement"))
    for r_path, result in out.objects(subject, "result", path):
        _check_result(out, result, r_path)


def _check_credential_frame(
    out: _Out,
    credential: Mapping[str, Any],
    path: str,
    accepted_types: frozenset[str],
    context_urls: frozenset[str],
    what: str,
) -> bool:
    """Common OB/CLR credential properties. Returns False if it is not this kind at all."""
    if not accepted_types & set(types_of(credential)):
        out.add(_ptr(path, "type"), f"must include one of {sorted(accepted_types)}")
        return False
    contexts = as_list(credential.get("@context", []))
    if not context_urls & {c for c in contexts if isinstance(c, str)}:
        out.add(
            _ptr(path, "@context"), f"must include the {what} context {sorted(context_urls)[-1]}"
        )
    out.url(credential, "id", path, required=True)
    out.string(credential, "name", path, required=True)
    if "issuer" in credential:
        _check_profile(out, credential["issuer"], _ptr(path, "issuer"))
    else:
        out.add(_ptr(path, "issuer"), "is required")
    v1 = contexts[:1] == [VC_V1_CONTEXT]
    # OB 3.0.3 / CLR 2.0.1 on VC DM 2.0 require validFrom; the VC 1.1 form uses issuanceDate.
    date_key = "issuanceDate" if v1 else "validFrom"
    if date_key not in credential:
        out.add(_ptr(path, date_key), "is required")
    if "awardedDate" in credential:
        try:
            parse_datetime_stamp(credential["awardedDate"])
        except ValueError as err:
            out.add(_ptr(path, "awardedDate"), str(err))
    return True


def validate_achievement_credential(
    credential: Any, policy: Policy | None = None, *, path: str = ""
) -> list[ModelIssue]:
    """VC data model + OB 3.0 ``AchievementCredential`` required properties."""
    out = _Out()
    out.issues.extend(
        ModelIssue(path + i.path, i.message) for i in validate_credential(credential, policy)
    )
    if not isinstance(credential, dict):
        return out.issues
    if not _check_credential_frame(
        out, credential, path, OB_CREDENTIAL_TYPES, OB_CONTEXTS, "Open Badges 3.0"
    ):
        return out.issues
    subject = credential.get("credentialSubject")
    spath = _ptr(path, "credentialSubject")
    if isinstance(subject, list):
        # OB 3.0: credentialSubject AchievementSubject [1] — exactly one.
        out.add(spath, "must be a single AchievementSubject object")
    elif subject is not None:
        _check_achievement_subject(out, subject, spath)
    for e_path, evidence in out.objects(credential, "evidence", path):
        out.typed(evidence, e_path, "Evidence")
    return out.issues


def _check_association(out: _Out, association: Mapping[str, Any], path: str) -> None:
    """CLR 2.0 §B.2.1 Association: associationType [1], sourceId [1], targetId [1]."""
    out.typed(association, path, "Association")
    if out.required(association, "associationType", path):
        value = association["associationType"]
        if value not in ASSOCIATION_TYPES:
            out.add(_ptr(path, "associationType"), f"{value!r} is not a CLR AssociationType")
    out.url(association, "sourceId", path, required=True)
    out.url(association, "targetId", path, required=True)


def validate_clr_credential(credential: Any, policy: Policy | None = None) -> list[ModelIssue]:
    """VC data model + CLR 2.0 ``ClrCredential``: ClrSubject with ≥1 AchievementCredential."""
    out = _Out()
    out.issues.extend(validate_credential(credential, policy))
    if not isinstance(credential, dict):
        return out.issues
    if not _check_credential_frame(
        out, credential, "", frozenset({"ClrCredential"}), CLR_CONTEXTS, "CLR 2.0"
    ):
        return out.issues
    if "partial" in credential and not isinstance(credential["partial"], bool):
        out.add("/partial", "must be a boolean")
    subject = credential.get("credentialSubject")
    if isinstance(subject, list):
        out.add("/credentialSubject", "must be a single ClrSubject object")
        return out.issues
    if not isinstance(subject, dict):
        return out.issues  # already reported by the VC data model checks
    spath = "/credentialSubject"
    out.typed(subject, spath, "ClrSubject")
    out.url(subject, "id", spath, required=False)
    if "id" not in subject and "identifier" not in subject:
        out.add(_ptr(spath, "id"), "either id or at least one identifier is required")
    for i_path, identity in out.objects(subject, "identifier", spath):
        _check_identity(out, identity, i_path)
    credentials = subject.get("verifiableCredential")
    vpath = _ptr(spath, "verifiableCredential")
    if not isinstance(credentials, list) or not credentials:
        out.add(vpath, "is required: an array of at least one AchievementCredential")
    else:
        for i, inner in enumerate(credentials):
            out.issues.extend(validate_achievement_credential(inner, policy, path=_ptr(vpath, i)))
    for a_path, achievement in out.objects(subject, "achievement", spath):
        _check_achievement(out, achievement, a_path)
    for a_path, association in out.objects(subject, "association", spath):
        _check_association(out, association, a_path)
    return out.issues


def is_achievement_credential(document: Any) -> bool:
    """True when the document is typed as an OB 3.0 credential."""
    return bool(OB_CREDENTIAL_TYPES & set(types_of(document)))


def is_clr_credential(document: Any) -> bool:
    """True when the document is typed as a CLR 2.0 credential."""
    return "ClrCredential" in types_of(document)


def check_achievement_credential(credential: Any, policy: Policy | None = None) -> None:
    """Raise :class:`DataModelError` listing every OB 3.0 / VC data model issue."""
    issues = validate_achievement_credential(credential, policy)
    if issues:
        raise DataModelError(issues)


def check_clr_credential(credential: Any, policy: Policy | None = None) -> None:
    """Raise :class:`DataModelError` listing every CLR 2.0 / OB 3.0 / VC data model issue."""
    issues = validate_clr_credential(credential, policy)
    if issues:
        raise DataModelError(issues)


# --- builders ------------------------------------------------------------------------------------


def _now_stamp() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_profile(
    issuer_id: str,
    name: str,
    *,
    url: str | None = None,
    email: str | None = None,
    description: str | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """An OB 3.0 ``Profile`` for an issuer (or creator)."""
    profile: dict[str, Any] = {"id": issuer_id, "type": ["Profile"], "name": name}
    if url:
        profile["url"] = url
    if email:
        profile["email"] = email
    if description:
        profile["description"] = description
    if image:
        profile["image"] = {"id": image, "type": "Image"}
    return profile


def build_alignment(
    *,
    target_name: str,
    target_url: str,
    target_code: str | None = None,
    target_framework: str | None = None,
    target_type: str | None = None,
    target_description: str | None = None,
) -> dict[str, Any]:
    """An OB 3.0 ``Alignment`` to a skill/competency framework item."""
    alignment: dict[str, Any] = {
        "type": ["Alignment"],
        "targetName": target_name,
        "targetUrl": target_url,
    }
    for key, value in (
        ("targetCode", target_code),
        ("targetFramework", target_framework),
        ("targetType", target_type),
        ("targetDescription", target_description),
    ):
        if value is not None:
            alignment[key] = value
    return alignment


def build_achievement(
    *,
    achievement_id: str,
    name: str,
    description: str,
    criteria_narrative: str | None = None,
    criteria_id: str | None = None,
    achievement_type: str | None = None,
    alignments: Sequence[Mapping[str, Any]] = (),
    creator: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An OB 3.0 ``Achievement`` (criteria needs a narrative or an id)."""
    criteria: dict[str, Any] = {}
    if criteria_id:
        criteria["id"] = criteria_id
    if criteria_narrative:
        criteria["narrative"] = criteria_narrative
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "name": name,
        "description": description,
        "criteria": criteria,
    }
    if achievement_type:
        achievement["achievementType"] = achievement_type
    if alignments:
        achievement["alignment"] = [dict(a) for a in alignments]
    if creator:
        achievement["creator"] = dict(creator)
    if extra:
        achievement.update(extra)
    return achievement


def build_achievement_credential(
    *,
    issuer: Mapping[str, Any],
    subject_id: str,
    achievement: Mapping[str, Any],
    name: str | None = None,
    credential_id: str | None = None,
    valid_from: str | None = None,
    valid_until: str | None = None,
    results: Sequence[Mapping[str, Any]] = (),
    credential_status: Mapping[str, Any] | None = None,
    description: str | None = None,
    awarded_date: str | None = None,
    evidence: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An unsigned OB 3.0 ``AchievementCredential`` (VC DM 2.0 + OB context 3.0.3).

    ``issuer`` is a Profile (see :func:`build_profile`). Raises :class:`DataModelError` when
    the result would not pass :func:`validate_achievement_credential`, so issuance never signs a
    credential that verifiers will reject.
    """
    subject: dict[str, Any] = {
        "id": subject_id,
        "type": ["AchievementSubject"],
        "achievement": dict(achievement),
    }
    if results:
        subject["result"] = [dict(r) for r in results]
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, OB_CONTEXT],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": name or str(achievement.get("name", "")),
        "issuer": dict(issuer),
        "validFrom": valid_from or _now_stamp(),
    }
    if description:
        credential["description"] = description
    if valid_until:
        credential["validUntil"] = valid_until
    if awarded_date:
        credential["awardedDate"] = awarded_date
    credential["credentialSubject"] = subject
    if evidence:
        credential["evidence"] = [dict(e) for e in evidence]
    if credential_status:
        credential["credentialStatus"] = dict(credential_status)
    check_achievement_credential(credential)
    return credential


def build_clr_credential(
    *,
    issuer: Mapping[str, Any],
    subject_id: str,
    credentials: Sequence[Mapping[str, Any]],
    name: str,
    credential_id: str | None = None,
    valid_from: str | None = None,
    valid_until: str | None = None,
    associations: Sequence[Mapping[str, Any]] = (),
    achievements: Sequence[Mapping[str, Any]] = (),
    partial: bool | None = None,
    credential_status: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsigned CLR 2.0 ``ClrCredential`` wrapping signed ``AchievementCredential``s."""
    subject: dict[str, Any] = {
        "id": subject_id,
        "type": ["ClrSubject"],
        "verifiableCredential": [dict(c) for c in credentials],
    }
    if achievements:
        subject["achievement"] = [dict(a) for a in achievements]
    if associations:
        subject["association"] = [dict(a) for a in associations]
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, CLR_CONTEXT, OB_CONTEXT],
        "id": credential_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": name,
        "issuer": dict(issuer),
        "validFrom": valid_from or _now_stamp(),
    }
    if valid_until:
        credential["validUntil"] = valid_until
    if partial is not None:
        credential["partial"] = partial
    credential["credentialSubject"] = subject
    if credential_status:
        credential["credentialStatus"] = dict(credential_status)
    check_clr_credential(credential)
    return credential


def build_association(association_type: str, source_id: str, target_id: str) -> dict[str, Any]:
    """A CLR 2.0 ``Association`` between two achievements."""
    return {
        "type": "Association",
        "associationType": association_type,
        "sourceId": source_id,
        "targetId": target_id,
    }
