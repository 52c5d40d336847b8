"""Re-verification of applications left SUBMITTED because the verification service was
unavailable when they were submitted.

Each round claims the due applications in one short transaction (moving their next try out
by the backoff, so a crash or another replica cannot verify one twice at once), commits, then
calls VerificationService outside any transaction. A success stores the report and match as a
submission would; another failure leaves the application for its next try; after
``VerificationRetry.max_attempts`` tries it is FLAGGED with the reason
VERIFICATION_UNAVAILABLE, and the ATS is told like for any flag.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ler_intake.domain import events
from ler_intake.domain.application import Application, ApplicationState, Flag, FlagReason
from ler_intake.domain.errors import VerificationUnavailable
from ler_intake.service_layer import announce as ann
from ler_intake.service_layer.applications import apply_verification, verify
from ler_intake.service_layer.context import Context
from ler_intake.service_layer.providers import get_provider

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one round did (counts of applications)."""

    verified: int = 0
    postponed: int = 0
    abandoned: int = 0


async def claim_due(ctx: Context, limit: int) -> list[Application]:
    """Claim up to ``limit`` due SUBMITTED applications: count the try and schedule the next
    one now, in one transaction, before any slow call."""
    now = ctx.clock()
    claimed = []
    async with ctx.uow() as uow:
        for app in await uow.applications.due_for_verification(now, limit):
            attempts = app.verify_attempts + 1
            claim = app.verification_postponed(attempts, now + ctx.retry.delay(attempts))
            await uow.applications.save(claim)
            claimed.append(claim)
    return claimed


async def reverify_round(ctx: Context, limit: int = 20) -> RoundResult:
    """One round of the re-verifier; see the module docstring."""
    verified = postponed = abandoned = 0
    for app in await claim_due(ctx, limit):
        async with ctx.uow() as uow:
            opportunity = await uow.opportunities.get(app.opportunity_id)
        provider = await get_provider(ctx, app.provider_id)
        if opportunity is None:  # pragma: no cover - opportunities are never deleted
            continue
        try:
            result = await verify(ctx, opportunity, app, app.challenge, provider.domain)
        except VerificationUnavailable as err:
            if app.verify_attempts >= ctx.retry.max_attempts:
                await _abandon(ctx, app, str(err))
                abandoned += 1
            else:
                postponed += 1
            continue
        async with ctx.uow() as uow:
            current = await uow.applications.get(app.application_id)
        if current is None or current.state is not ApplicationState.SUBMITTED:
            continue  # changed meanwhile (e.g. flagged by a revocation)
        await apply_verification(ctx, opportunity, current, result)
        verified += 1
    if verified or postponed or abandoned:
        log.info(
            "re-verification round",
            extra={"verified": verified, "postponed": postponed, "abandoned": abandoned},
        )
    return RoundResult(verified, postponed, abandoned)


async def _abandon(ctx: Context, app: Application, error: str) -> None:
    now = ctx.clock()
    flag = Flag(
        FlagReason.VERIFICATION_UNAVAILABLE,
        f"the evidence could not be verified: the verification service was unavailable on"
        f" all {app.verify_attempts} tries ({error})",
        now,
    )
    provider = await get_provider(ctx, app.provider_id)
    async with ctx.uow() as uow:
        current = await uow.applications.get(app.application_id)
        if current is None or current.state is not ApplicationState.SUBMITTED:
            return
        flagged = current.verification_abandoned(flag, now)
        await uow.applications.save(flagged)
        await ann.announce(
            uow,
            provider,
            flagged,
            ann.FLAGGED,
            events.ApplicationFlagged(
                flagged.application_id,
                flagged.opportunity_id,
                flagged.provider_id,
                flag.reason,
                "",
                now,
            ),
        )
    ctx.notifier.notify()
