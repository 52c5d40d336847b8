"""The export: an HR Open Standards LER-RS shaped resume plus every credential untouched.

Shapes follow the LER-RS JSON Schemas (``shared/schemas/ler-rs``): skills are ``SkillType``
(name, description, ``definitionReference``/``schemeReference`` as ``RefSchemeType``) whose
``verifications`` point at the evidencing credentials (``RefSchemeType`` with the credential
id); education, certifications and other records carry the credential itself as a
verification (``1edtob3`` for Open Badges 3.0, ``otherW3CVerifiableCredential`` otherwise,
per ``VerifiableEducationAttendanceType``/``OtherVerifiableCredentialType``). The
``credentials`` array keeps each credential's signed form byte for byte (as a string) with its
SHA-256, so the export is the source of truth, never a re-serialisation.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ler_wallet.domain.model import Account, CredentialFormat, HeldCredential
from ler_wallet.domain.skills import ProfileSkill

LER_RS_VERSION = "4.4"  # version of the LER-RS schemas in shared/schemas/ler-rs
_DEGREE_TYPES = {
    "AssociateDegree",
    "BachelorDegree",
    "MasterDegree",
    "DoctoralDegree",
    "Degree",
    "ProfessionalDoctorate",
    "ResearchDoctorate",
    "Diploma",
    "SecondarySchoolDiploma",
    "GeneralEducationDevelopment",
    "Course",
    "LearningProgram",
}
_CERTIFICATION_TYPES = {
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "MasterCertificate",
    "ApprenticeshipCertificate",
    "JourneymanCertificate",
    "MicroCredential",
    "Badge",
}


def _date(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment else None


def _skill_entry(entry: ProfileSkill) -> dict[str, Any]:
    skill = entry.skill
    item: dict[str, Any] = {"name": skill.label}
    if skill.description:
        item["description"] = skill.description
    if skill.url:
        item["definitionReference"] = {"reference": skill.url}
    if skill.framework:
        item["keywords"] = [skill.framework] + ([skill.code] if skill.code else [])
    if entry.latest_evidence_at:
        item["lastUsedDate"] = _date(entry.latest_evidence_at)
    if entry.verified:
        item["verifications"] = [{"reference": cid} for cid in entry.credential_ids]
    else:
        # LER-RS has no "self-asserted" flag: say it in the comments, and give no verification
        item["comments"] = ["Self-asserted by the learner; not verified by any credential."]
        if entry.narrative:
            item["comments"].append(entry.narrative)
    return item


def _verification(credential: HeldCredential) -> dict[str, Any]:
    if credential.format is CredentialFormat.LDP_VC:
        document = json.loads(credential.signed)
        if credential.summary.kind == "achievement":
            return document  # VerificationsType "1edtob3": the OB 3.0 credential itself
        return {"otherW3CVerifiableCredential": document}
    return {"reference": credential.credential_id}


def _record(credential: HeldCredential) -> dict[str, Any]:
    summary = credential.summary
    record: dict[str, Any] = {
        "name": summary.achievement_name or credential.credential_id,
        "issuer": summary.issuer_name or summary.issuer_id,
        "verifications": [_verification(credential)],
    }
    if summary.achievement_type:
        record["type"] = summary.achievement_type
    if (earned := summary.awarded_at or summary.valid_from) is not None:
        record["date"] = _date(earned)
    return record


def resume_document(
    account: Account,
    credentials: Sequence[HeldCredential],
    profile: Sequence[ProfileSkill],
    generated_at: datetime,
) -> dict[str, Any]:
    """The LER-RS resume with the skills profile, records side by side, and the credentials."""
    education: list[dict[str, Any]] = []
    certifications: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for credential in credentials:
        kind = credential.summary.achievement_type
        target = (
            education
            if kind in _DEGREE_TYPES or credential.summary.kind == "clr"
            else certifications
            if kind in _CERTIFICATION_TYPES
            else other
        )
        target.append(_record(credential))
    return {
        "lerRsVersion": LER_RS_VERSION,
        "generated": generated_at.isoformat(),
        "person": {
            "name": {"formattedName": account.display_name},
            "communication": {"email": [{"address": account.email}]},
            "id": account.holder_did,
        },
        "skills": [_skill_entry(entry) for entry in profile],
        "education": education,
        "certifications": certifications,
        "otherRecords": other,
        "credentials": [
            {
                "id": c.credential_id,
                "mediaType": c.media_type,
                "sha256": c.bytes_hash,
                "status": c.status.value,
                "verifiedOnReceipt": c.verified,
                "signedCredential": c.signed.decode("utf-8"),
            }
            for c in credentials
        ],
    }


def credentials_zip(credentials: Sequence[HeldCredential]) -> bytes:
    """A ZIP with each credential's signed bytes as received, plus ``manifest.json``."""
    buffer = io.BytesIO()
    manifest = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, credential in enumerate(credentials, start=1):
            ext = "json" if credential.format is CredentialFormat.LDP_VC else "sd-jwt"
            name = f"credential-{n:04d}.{ext}"
            archive.writestr(name, credential.signed)
            manifest.append(
                {
                    "file": name,
                    "id": credential.credential_id,
                    "sha256": credential.bytes_hash,
                    "mediaType": credential.media_type,
                }
            )
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return buffer.getvalue()
