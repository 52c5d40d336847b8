"""Reading a credential the wallet receives: its format, and a summary of what it says.

The signed bytes stay the source of truth (DESIGN.md "Contracts"); the summary is what the
wallet lists, matches and aggregates, and is never turned back into a credential.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ler_crypto.errors import CryptoError
from ler_crypto.limits import parse_json
from ler_crypto.sdjwt import parse_sd_jwt, reconstruct
from ler_crypto.vc_model import as_list, issuer_id, parse_datetime_stamp, types_of

from ler_wallet.domain.errors import UnsupportedCredential
from ler_wallet.domain.model import CredentialFormat, CredentialSummary, Skill

MAX_CREDENTIAL_BYTES = 1024 * 1024  # ImportCredential: "exceed 1 MiB" is INVALID_ARGUMENT
LDP_MEDIA_TYPE = "application/vc+ld+json"
SD_JWT_MEDIA_TYPE = "application/dc+sd-jwt"


@dataclass(frozen=True)
class ParsedCredential:
    """A received credential: format, claims (SD-JWT: with every disclosure applied), summary."""

    format: CredentialFormat
    media_type: str
    claims: dict[str, Any]
    summary: CredentialSummary
    bytes_hash: str
    text: str  # the credential as received (JSON text or compact SD-JWT)


def bytes_hash(data: bytes) -> str:
    """SHA-256 hex of the bytes as received (duplicate detection)."""
    return hashlib.sha256(data).hexdigest()


def detect_format(data: bytes) -> CredentialFormat:
    """JSON object → LDP_VC; ``<jwt>~...`` → SD_JWT_VC."""
    head = data.lstrip()[:1]
    if head == b"{":
        return CredentialFormat.LDP_VC
    if b"~" in data and b"." in data:
        return CredentialFormat.SD_JWT_VC
    raise UnsupportedCredential(
        "the credential is neither a JSON object (VC JSON-LD) nor a compact SD-JWT"
    )


def parse_credential(data: bytes, fmt: CredentialFormat | None = None) -> ParsedCredential:
    """Parse and summarise received bytes; ``UnsupportedCredential`` says why they are not one."""
    if not data:
        raise UnsupportedCredential("the credential is empty")
    if len(data) > MAX_CREDENTIAL_BYTES:
        raise UnsupportedCredential(f"the credential exceeds {MAX_CREDENTIAL_BYTES} bytes")
    fmt = fmt or detect_format(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnsupportedCredential("the credential is not UTF-8 text") from err
    digest = bytes_hash(data)
    if fmt is CredentialFormat.LDP_VC:
        try:
            doc = parse_json(text)
        except CryptoError as err:
            raise UnsupportedCredential(f"the credential is not valid JSON: {err}") from err
        if not isinstance(doc, dict) or "VerifiableCredential" not in types_of(doc):
            raise UnsupportedCredential("the JSON is not a VerifiableCredential (type)")
        return ParsedCredential(fmt, LDP_MEDIA_TYPE, doc, summarise_ldp(doc, digest), digest, text)
    try:
        sd = parse_sd_jwt(text.strip())
        claims, _ = reconstruct(sd)
    except CryptoError as err:
        raise UnsupportedCredential(f"the credential is not a valid SD-JWT: {err}") from err
    return ParsedCredential(
        fmt, SD_JWT_MEDIA_TYPE, claims, summarise_sd_jwt(claims, digest), digest, text.strip()
    )


def _kind(types: Iterable[str]) -> str:
    names = set(types)
    if "ClrCredential" in names:
        return "clr"
    if names & {"OpenBadgeCredential", "AchievementCredential"}:
        return "achievement"
    return "other"


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_datetime_stamp(value, require_timezone=False)
    except (CryptoError, ValueError, TypeError):
        return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def skills_of_alignments(alignments: Any) -> list[Skill]:
    """OB 3.0 ``Alignment`` objects (§B.1.3) as skills; malformed entries are skipped."""
    found = []
    for item in as_list(alignments or []):
        if not isinstance(item, Mapping):
            continue
        skill = Skill(
            label=_str(item.get("targetName")),
            url=_str(item.get("targetUrl")),
            framework=_str(item.get("targetFramework")),
            code=_str(item.get("targetCode")),
            description=_str(item.get("targetDescription")),
            target_type=_str(item.get("targetType")),
        )
        if skill.label and (skill.code or skill.url):
            found.append(skill)
    return found


def _achievement_skills(subject: Mapping[str, Any]) -> list[Skill]:
    """The achievement's alignments and its result descriptions' alignments (OB 3.0 §B.1)."""
    achievement = subject.get("achievement")
    skills: list[Skill] = []
    if isinstance(achievement, Mapping):
        skills += skills_of_alignments(achievement.get("alignment"))
        for description in as_list(achievement.get("resultDescription") or []):
            if isinstance(description, Mapping):
                skills += skills_of_alignments(description.get("alignment"))
    return skills


def _unique(skills: Iterable[Skill]) -> tuple[Skill, ...]:
    seen: dict[tuple[str, str], Skill] = {}
    for skill in skills:
        seen.setdefault(skill.key, skill)
    return tuple(seen.values())


def summarise_ldp(doc: Mapping[str, Any], digest: str) -> CredentialSummary:
    """Summary of a VC JSON-LD credential (OB 3.0 AchievementCredential, CLR 2.0, or other)."""
    types = tuple(types_of(doc))
    kind = _kind(types)
    subjects = [s for s in as_list(doc.get("credentialSubject") or []) if isinstance(s, Mapping)]
    subject = subjects[0] if subjects else {}
    issuer = doc.get("issuer")
    issuer_name = _str(issuer.get("name")) if isinstance(issuer, Mapping) else ""
    skills: list[Skill] = []
    name = ""
    achievement_type = ""
    embedded: list[str] = []
    if kind == "clr":
        name = _str(doc.get("name"))
        for vc in as_list(subject.get("verifiableCredential") or []):
            if isinstance(vc, Mapping):
                embedded.append(_str(vc.get("id")))
                for sub in as_list(vc.get("credentialSubject") or []):
                    if isinstance(sub, Mapping):
                        skills += _achievement_skills(sub)
    else:
        achievement = subject.get("achievement")
        if isinstance(achievement, Mapping):
            name = _str(achievement.get("name"))
            achievement_type = _str(achievement.get("achievementType"))
        name = name or _str(doc.get("name"))
        skills = _achievement_skills(subject)
    return CredentialSummary(
        credential_id=_str(doc.get("id")) or f"urn:sha256:{digest}",
        kind=kind,
        types=types,
        issuer_id=issuer_id(doc) or "",
        issuer_name=issuer_name,
        subject_id=_str(subject.get("id")),
        achievement_name=name,
        achievement_type=achievement_type,
        skills=_unique(skills),
        valid_from=_time(doc.get("validFrom") or doc.get("issuanceDate")),
        valid_until=_time(doc.get("validUntil") or doc.get("expirationDate")),
        awarded_at=_time(doc.get("awardedDate")),
        embedded_credential_ids=tuple(e for e in embedded if e),
    )


def summarise_sd_jwt(claims: Mapping[str, Any], digest: str) -> CredentialSummary:
    """Summary of an SD-JWT VC from its claims with every disclosure applied.

    SD-JWT VC has no OB binding, so the wallet reads the OB-shaped claims an issuer may carry
    (``achievement`` with ``name``, ``achievementType`` and ``alignment``).
    """
    achievement = claims.get("achievement")
    subject = {"achievement": achievement} if isinstance(achievement, Mapping) else {}
    iat = claims.get("iat")
    issued = datetime.fromtimestamp(iat).astimezone() if isinstance(iat, int) else None
    exp = claims.get("exp")
    return CredentialSummary(
        credential_id=_str(claims.get("jti")) or _str(claims.get("id")) or f"urn:sha256:{digest}",
        kind="achievement" if subject else "other",
        types=(_str(claims.get("vct")),) if claims.get("vct") else (),
        issuer_id=_str(claims.get("iss")),
        subject_id=_str(claims.get("sub")),
        achievement_name=_str(achievement.get("name")) if isinstance(achievement, Mapping) else "",
        achievement_type=(
            _str(achievement.get("achievementType")) if isinstance(achievement, Mapping) else ""
        ),
        skills=_unique(_achievement_skills(subject)),
        valid_from=issued,
        valid_until=datetime.fromtimestamp(exp).astimezone() if isinstance(exp, int) else None,
        awarded_at=issued,
    )


def holder_jwk(claims: Mapping[str, Any]) -> dict[str, Any] | None:
    """The SD-JWT VC holder key (``cnf.jwk``, RFC 7800), if any."""
    cnf = claims.get("cnf")
    if isinstance(cnf, Mapping) and isinstance(cnf.get("jwk"), Mapping):
        return dict(cnf["jwk"])
    return None
