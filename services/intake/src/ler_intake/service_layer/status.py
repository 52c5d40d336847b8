"""A credential behind applications changed status: re-verify it and flag the applications."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ler_intake.domain import events, matching
from ler_intake.domain.application import Application, Flag, FlagReason
from ler_intake.service_layer import announce as ann
from ler_intake.service_layer.context import Context
from ler_intake.service_layer.unit_of_work import UnitOfWork

_REASON = {"revoked": FlagReason.EVIDENCE_REVOKED, "suspended": FlagReason.EVIDENCE_SUSPENDED}


async def on_status_changed(
    ctx: Context,
    uow: UnitOfWork,
    credential_id: str,
    announced_state: str,
    changed_at: datetime | None = None,
) -> list[Application]:
    """Re-verify ``credential_id`` in each application holding it (the announcement is a hint;
    the status list, checked by VerificationService, decides) and flag those where it now
    fails. Runs inside the consumer's unit of work; returns the applications flagged.

    ``changed_at`` (the event's time) is passed on as ``status_fresh_after``: VerificationService
    drops its cached status lists on the same event, but may consume it after we do, so
    without it our re-verification could read the list as it was before the change."""
    flagged: list[Application] = []
    for app in await uow.applications.with_credential(credential_id):
        evidence = app.evidence_by_id(credential_id)
        if evidence is None or not evidence.counts:
            continue
        opportunity = await uow.opportunities.get(app.opportunity_id)
        provider = await uow.providers.get(app.provider_id)
        if opportunity is None or provider is None:  # pragma: no cover - foreign keys
            continue
        verified = await ctx.verification.verify_credential(
            app.provider_id,
            evidence.signed.encode(),
            policy=opportunity.verification_policy,
            status_fresh_after=changed_at,
            trusted_issuer_ids=opportunity.trusted_issuer_ids,
        )
        failed = verified.report.failures()
        state = _state_of(failed, announced_state)
        if state is None:
            continue
        now = ctx.clock()
        new_evidence = tuple(
            replace(e, status=state) if e.credential_id == credential_id else e
            for e in app.evidence
        )
        result = matching.match(
            opportunity.required_skills,
            opportunity.preferred_skills,
            new_evidence,
            opportunity.trusted_issuer_ids,
        )
        check = failed[0]
        flag = Flag(
            _REASON[state],
            f"credential {credential_id} is now {state}: check {check.id} failed"
            f" ({check.error_code or 'no code'})",
            now,
            credential_id,
        )
        updated = app.flagged(flag, new_evidence, result, now)
        await uow.applications.save(updated)
        await ann.announce(
            uow,
            provider,
            updated,
            ann.FLAGGED,
            events.ApplicationFlagged(
                updated.application_id,
                updated.opportunity_id,
                updated.provider_id,
                flag.reason,
                credential_id,
                now,
            ),
        )
        flagged.append(updated)
    return flagged


def _state_of(failed: tuple, announced: str) -> str | None:  # type: ignore[type-arg]
    ids = {c.id for c in failed}
    if "status.revocation" in ids:
        return "revoked"
    if "status.suspension" in ids:
        return "suspended"
    if failed and announced in _REASON:
        # another check now fails (e.g. the status list cannot be fetched): flag with the
        # announced state, the message names the failing check
        return announced
    return None
