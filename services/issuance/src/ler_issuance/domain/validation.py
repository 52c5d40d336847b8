"""Rules a credential spec and an achievement must satisfy before anything is signed.

Each rule reports a ``FieldViolation`` naming the field by its protobuf path (e.g.
``spec.achievement.alignments[2].url``), so a caller can fix the exact field.
"""

from __future__ import annotations

import re

from ler_crypto.vc_model import is_url
from ler_platform.errors import FieldViolation

from ler_issuance.domain.errors import InvalidSpec
from ler_issuance.domain.model import (
    Achievement,
    Alignment,
    CredentialFormat,
    CredentialSpec,
    Subject,
)

MAX_RECORD_ID = 200
MAX_TEXT = 10_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DID = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$")


def _url_ok(value: str) -> bool:
    return is_url(value)


def alignment_violations(alignment: Alignment, path: str) -> list[FieldViolation]:
    """OB 3.0 §B.1.3: targetName and targetUrl are required."""
    out: list[FieldViolation] = []
    if not alignment.label:
        out.append(FieldViolation(f"{path}.label", "is required (OB targetName)"))
    if not alignment.url:
        out.append(FieldViolation(f"{path}.url", "is required (OB targetUrl)"))
    elif not _url_ok(alignment.url):
        out.append(FieldViolation(f"{path}.url", f"must be an absolute URL, got {alignment.url!r}"))
    return out


def achievement_violations(achievement: Achievement, path: str) -> list[FieldViolation]:
    """OB 3.0 §B.1.1: name, description and criteria (narrative or URL) are required."""
    out: list[FieldViolation] = []
    if not achievement.name.strip():
        out.append(FieldViolation(f"{path}.name", "is required"))
    if not achievement.description.strip():
        out.append(FieldViolation(f"{path}.description", "is required by Open Badges 3.0"))
    if not achievement.criteria_narrative and not achievement.criteria_url:
        out.append(
            FieldViolation(
                f"{path}.criteria_narrative", "criteria_narrative or criteria_url is required"
            )
        )
    for name in ("id", "criteria_url", "image_url"):
        value = getattr(achievement, name)
        if value and not _url_ok(value):
            out.append(FieldViolation(f"{path}.{name}", f"must be an absolute URL, got {value!r}"))
    for i, alignment in enumerate(achievement.alignments):
        out.extend(alignment_violations(alignment, f"{path}.alignments[{i}]"))
    out.extend(_result_description_violations(achievement, path))
    if achievement.credits_available < 0:
        out.append(FieldViolation(f"{path}.credits_available", "must not be negative"))
    for name in ("name", "description", "criteria_narrative"):
        if len(getattr(achievement, name)) > MAX_TEXT:
            out.append(FieldViolation(f"{path}.{name}", f"is longer than {MAX_TEXT} characters"))
    return out


def _result_description_violations(achievement: Achievement, path: str) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    for i, rd in enumerate(achievement.result_descriptions):
        rpath = f"{path}.result_descriptions[{i}]"
        if not rd.name:
            out.append(FieldViolation(f"{rpath}.name", "is required"))
        if not rd.result_type:
            out.append(FieldViolation(f"{rpath}.result_type", "is required"))
        for j, alignment in enumerate(rd.alignments):
            out.extend(alignment_violations(alignment, f"{rpath}.alignments[{j}]"))
    return out


def subject_violations(subject: Subject, path: str) -> list[FieldViolation]:
    """A learner needs a DID or an email; each must be well-formed."""
    out: list[FieldViolation] = []
    if not subject.did and not subject.email:
        out.append(FieldViolation(path, "subject.did or subject.email is required"))
    if subject.did and not _DID.match(subject.did):
        out.append(FieldViolation(f"{path}.did", "must be a DID (did:<method>:<id>)"))
    if subject.email and not _EMAIL.match(subject.email):
        out.append(FieldViolation(f"{path}.email", "must be an email address"))
    return out


def record_id_violations(record_id: str, path: str) -> list[FieldViolation]:
    """Record ids are required and at most 200 characters."""
    if not record_id.strip():
        return [FieldViolation(path, "is required (the institution's record id)")]
    if len(record_id) > MAX_RECORD_ID:
        return [FieldViolation(path, f"is longer than {MAX_RECORD_ID} characters")]
    return []


def spec_violations(spec: CredentialSpec, path: str = "spec") -> list[FieldViolation]:
    """Every rule of a spec that does not depend on stored state (templates come later)."""
    out = record_id_violations(spec.record_id, f"{path}.record_id")
    out.extend(subject_violations(spec.subject, f"{path}.subject"))
    if spec.achievement is None and not spec.template_id:
        out.append(FieldViolation(f"{path}.template_id", "template_id or achievement is required"))
    if spec.achievement is not None:
        out.extend(achievement_violations(spec.achievement, f"{path}.achievement"))
    if spec.valid_from and spec.valid_until and spec.valid_until <= spec.valid_from:
        out.append(FieldViolation(f"{path}.valid_until", "must be after valid_from"))
    if spec.credits_earned < 0:
        out.append(FieldViolation(f"{path}.credits_earned", "must not be negative"))
    if spec.format is CredentialFormat.SD_JWT_VC and spec.cryptosuite is not None:
        out.append(
            FieldViolation(f"{path}.cryptosuite", "has no meaning for SD_JWT_VC; leave it unset")
        )
    for i, evidence in enumerate(spec.evidence):
        if evidence.url and not _url_ok(evidence.url):
            out.append(
                FieldViolation(
                    f"{path}.evidence[{i}].url", f"must be an absolute URL, got {evidence.url!r}"
                )
            )
    for i, result in enumerate(spec.results):
        for j, alignment in enumerate(result.alignments):
            out.extend(alignment_violations(alignment, f"{path}.results[{i}].alignments[{j}]"))
    return out


def result_violations(
    spec: CredentialSpec, achievement: Achievement, path: str = "spec"
) -> list[FieldViolation]:
    """Results must name a result description of the achievement and fit its allowed values."""
    out: list[FieldViolation] = []
    descriptions = {rd.id: rd for rd in achievement.result_descriptions}
    for i, result in enumerate(spec.results):
        rpath = f"{path}.results[{i}]"
        rd = descriptions.get(result.result_description_id)
        if rd is None:
            out.append(
                FieldViolation(
                    f"{rpath}.result_description_id",
                    f"{result.result_description_id!r} names no result description of the"
                    " achievement",
                )
            )
            continue
        if rd.allowed_values and result.value not in rd.allowed_values:
            out.append(
                FieldViolation(
                    f"{rpath}.value",
                    f"{result.value!r} is not one of the allowed values {list(rd.allowed_values)}",
                )
            )
    return out


def check_spec(spec: CredentialSpec, path: str = "spec") -> None:
    """Raise ``InvalidSpec`` listing every stateless violation of ``spec``."""
    violations = spec_violations(spec, path)
    if violations:
        raise InvalidSpec(violations)
