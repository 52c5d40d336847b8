"""Skills-first review: the redacted view of an application.

The opportunity's ``RedactionPolicy`` names what reviewers do not see by default. ``redact``
clears those fields (unless revealed for this application) and lists their paths, which are
also the values ``RevealApplicationField`` accepts. The match (score and explanation) is never
changed by redaction: it is computed from skills only and names credentials by id.
"""

from __future__ import annotations

from dataclasses import replace

from ler_intake.domain.application import Application, Check, Evidence
from ler_intake.domain.model import Applicant, EducationLevel, RedactionPolicy

FULL_VIEW = "*"
# check reasons are free text that may quote issuers or dates, so they go with either policy
CHECK_REASONS = "verification_report.checks.reason"
_IDENTITY = ("name", "email", "phone")
_INSTITUTION = ("issuer_name", "issuer_id")
_LEVEL = ("achievement_type", "education_level")
_DATES = ("awarded_at", "valid_from", "valid_until")
_CLEARED = {
    "name": "",
    "email": "",
    "phone": "",
    "issuer_name": "",
    "issuer_id": "",
    "achievement_type": "",
    "education_level": EducationLevel.UNSPECIFIED,
    "awarded_at": None,
    "valid_from": None,
    "valid_until": None,
    "subject_id": "",
}


def hidden_paths(app: Application, policy: RedactionPolicy) -> list[str]:
    """Every path the policy hides in this application, revealed or not."""
    paths: list[str] = []
    if policy.hide_applicant_identity:
        paths += [f"applicant.{f}" for f in _IDENTITY]
    per_evidence: list[str] = []
    if policy.hide_institution_names:
        per_evidence += list(_INSTITUTION)
    if policy.hide_education_level:
        per_evidence += list(_LEVEL)
    if policy.hide_dates:
        per_evidence += list(_DATES)
    if policy.hide_applicant_identity:
        per_evidence.append("subject_id")  # the holder's DID identifies the applicant
    for i, _ in enumerate(app.evidence):
        paths += [f"evidence[{i}].{f}" for f in per_evidence]
    if policy.hide_institution_names or policy.hide_dates:
        paths.append(CHECK_REASONS)
    return paths


def revealed_paths(app: Application) -> set[str]:
    """Paths revealed so far (all of them after a full view)."""
    return {r.field for r in app.reveals}


def redact(app: Application, policy: RedactionPolicy) -> tuple[Application, list[str]]:
    """The application as a reviewer sees it by default, and the paths cleared in it."""
    revealed = revealed_paths(app)
    cleared = [p for p in hidden_paths(app, policy) if p not in revealed]
    gone = set(cleared)
    applicant: Applicant = replace(
        app.applicant, **{f: _CLEARED[f] for f in _IDENTITY if f"applicant.{f}" in gone}
    )
    evidence: list[Evidence] = []
    for i, e in enumerate(app.evidence):
        fields = {f: _CLEARED[f] for f in _CLEARED if f"evidence[{i}].{f}" in gone}
        evidence.append(replace(e, signed="", **fields))
    report = app.report
    if report is not None and CHECK_REASONS in gone:
        report = replace(
            report,
            checks=tuple(
                Check(c.id, c.outcome, c.title, "", c.error_code, c.target) for c in report.checks
            ),
        )
    view = replace(
        app, applicant=applicant, evidence=tuple(evidence), report=report, presentation=""
    )
    return view, cleared


def full(app: Application) -> Application:
    """The full view: everything but the stored signed bytes."""
    return replace(
        app, evidence=tuple(replace(e, signed="") for e in app.evidence), presentation=""
    )
