"""What a credential says, read out of its JSON for listing and matching (``CredentialSummary``).

Read defensively: the input may have failed verification, so every field is optional and
anything of the wrong type is simply left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ler_crypto import vc_model


@dataclass(frozen=True, slots=True)
class Skill:
    """An Open Badges ``Alignment`` (OB 3.0 §B.1.3)."""

    framework: str = ""
    code: str = ""
    url: str = ""
    label: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class CredentialSummary:
    """See ``ler.common.v1.CredentialSummary``."""

    credential_id: str = ""
    kind: str = "other"  # "achievement" | "clr" | "other"
    types: tuple[str, ...] = ()
    issuer_id: str = ""
    issuer_name: str = ""
    subject_id: str = ""
    achievement_name: str = ""
    achievement_type: str = ""
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    awarded_at: datetime | None = None
    skills: tuple[Skill, ...] = ()
    embedded_credential_ids: tuple[str, ...] = field(default_factory=tuple)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return vc_model.parse_datetime_stamp(value, require_timezone=False)
    except ValueError:
        return None


def _alignments(achievement: Any) -> list[Skill]:
    if not isinstance(achievement, dict):
        return []
    sources = list(vc_model.as_list(achievement.get("alignment", [])))
    for desc in vc_model.as_list(achievement.get("resultDescription", [])):
        if isinstance(desc, dict):
            sources.extend(vc_model.as_list(desc.get("alignment", [])))
    return [
        Skill(
            framework=_str(a.get("targetFramework")),
            code=_str(a.get("targetCode")),
            url=_str(a.get("targetUrl")),
            label=_str(a.get("targetName")),
            description=_str(a.get("targetDescription")),
        )
        for a in sources
        if isinstance(a, dict)
    ]


def _epoch(value: Any) -> datetime | None:
    """A JWT NumericDate (RFC 7519 §2) as a datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def summarize_sd_jwt_vc(claims: Any, *, fallback_id: str = "") -> CredentialSummary | None:
    """The summary of an SD-JWT VC from its *disclosed* claims (what the holder chose to show).

    Registered claims (SD-JWT VC §3.2.2.2): ``iss`` the issuer, ``vct`` the type, ``sub`` the
    subject, ``nbf``/``exp`` the validity period (``iat`` when there is no ``nbf``). The
    achievement is an Open Badges ``Achievement`` object (as issuance writes it) or just its
    name; its alignments become skills. An undisclosed claim is simply absent. SD-JWT VCs carry
    no credential id unless the issuer added ``jti``, so ``fallback_id`` (a digest of the token)
    stands in for it.
    """
    if not isinstance(claims, dict):
        return None
    achievement = claims.get("achievement")
    vct = _str(claims.get("vct"))
    awarded = claims.get("awarded_date") or claims.get("awardedDate")
    return CredentialSummary(
        credential_id=_str(claims.get("jti")) or fallback_id,
        kind="achievement" if isinstance(achievement, dict | str) and achievement else "other",
        types=(vct,) if vct else (),
        issuer_id=_str(claims.get("iss")),
        issuer_name=_str(claims.get("issuer_name")),
        subject_id=_str(claims.get("sub")),
        achievement_name=(
            _str(achievement.get("name")) if isinstance(achievement, dict) else _str(achievement)
        ),
        achievement_type=(
            _str(achievement.get("achievementType")) if isinstance(achievement, dict) else ""
        ),
        valid_from=_epoch(claims.get("nbf", claims.get("iat"))),
        valid_until=_epoch(claims.get("exp")),
        awarded_at=_time(awarded),
        skills=tuple(_alignments(achievement)),
    )


def summarize(doc: Any) -> CredentialSummary | None:
    """The summary of a credential document, or ``None`` if it is not a JSON object."""
    if not isinstance(doc, dict):
        return None
    types = tuple(vc_model.types_of(doc))
    kind = (
        "clr"
        if "ClrCredential" in types
        else (
            "achievement"
            if {"OpenBadgeCredential", "AchievementCredential"} & set(types)
            else "other"
        )
    )
    issuer = doc.get("issuer")
    subject = next(
        (s for s in vc_model.as_list(doc.get("credentialSubject", [])) if isinstance(s, dict)), {}
    )
    achievement = subject.get("achievement")
    skills = _alignments(achievement)
    embedded: list[str] = []
    if kind == "clr":
        for vc in vc_model.as_list(subject.get("verifiableCredential", [])):
            if isinstance(vc, dict):
                embedded.append(_str(vc.get("id")))
                inner = next(
                    (
                        s
                        for s in vc_model.as_list(vc.get("credentialSubject", []))
                        if isinstance(s, dict)
                    ),
                    {},
                )
                skills.extend(_alignments(inner.get("achievement")))
    achievement_type = achievement.get("achievementType") if isinstance(achievement, dict) else None
    return CredentialSummary(
        credential_id=_str(doc.get("id")),
        kind=kind,
        types=types,
        issuer_id=vc_model.issuer_id(doc) or "",
        issuer_name=_str(issuer.get("name")) if isinstance(issuer, dict) else "",
        subject_id=_str(subject.get("id")),
        achievement_name=_str(doc.get("name"))
        if kind == "clr"
        else (_str(achievement.get("name")) if isinstance(achievement, dict) else ""),
        achievement_type=_str(achievement_type),
        valid_from=_time(doc.get("validFrom") or doc.get("issuanceDate")),
        valid_until=_time(doc.get("validUntil") or doc.get("expirationDate")),
        awarded_at=_time(doc.get("awardedDate")),
        skills=tuple(skills),
        embedded_credential_ids=tuple(embedded),
    )
