"""Opportunities: create (idempotent), get, list, and the application challenge."""

from __future__ import annotations

from dataclasses import replace

from ler_intake.domain.errors import InvalidRequest, OpportunityClosed, OpportunityNotFound
from ler_intake.domain.model import Opportunity, OpportunityKind, Provider
from ler_intake.domain.skills import Skill
from ler_intake.service_layer.context import Context, new_id
from ler_intake.service_layer.ports import IssuedChallenge
from ler_intake.service_layer.providers import get_provider


async def create_opportunity(
    ctx: Context, provider_id: str, draft: Opportunity, idempotency_key: str
) -> Opportunity:
    """Create ``draft`` for the provider; a repeat with the same key returns the first one."""
    if len(idempotency_key) > 200:
        raise InvalidRequest("idempotency_key", "must be at most 200 characters")
    opportunity = replace(
        draft,
        opportunity_id=new_id("opp"),
        provider_id=provider_id,
        created_at=ctx.clock(),
        closed=False,
    ).validate()
    async with ctx.uow() as uow:
        return await uow.opportunities.add(
            opportunity, idempotency_key or opportunity.opportunity_id
        )


async def get_opportunity(
    ctx: Context, opportunity_id: str, caller_provider: str | None
) -> Opportunity:
    """The opportunity. A provider (``caller_provider`` set) sees only its own; other callers
    (applicant-facing clients, the operator) see open ones. Anything else is NOT_FOUND, as if
    it did not exist; the public part of an open one is ``get_posting``."""
    async with ctx.uow() as uow:
        found = await uow.opportunities.get(opportunity_id)
    if found is None:
        raise OpportunityNotFound(opportunity_id)
    if caller_provider is not None:
        if found.provider_id != caller_provider:
            raise OpportunityNotFound(opportunity_id)
    elif not found.is_open(ctx.clock()):
        raise OpportunityNotFound(opportunity_id)
    return found


async def get_posting(ctx: Context, opportunity_id: str) -> tuple[Opportunity, Provider]:
    """An OPEN opportunity and its provider, for the public posting; anything else (unknown,
    closed, not yet open) is ``OpportunityNotFound`` so nothing is learnt about it."""
    async with ctx.uow() as uow:
        found = await uow.opportunities.get(opportunity_id)
    if found is None or not found.is_open(ctx.clock()):
        raise OpportunityNotFound(opportunity_id)
    return found, await get_provider(ctx, found.provider_id)


async def list_opportunities(
    ctx: Context,
    caller_provider: str | None,
    *,
    provider_id: str = "",
    closed: bool | None = False,
    kind: OpportunityKind | None = None,
    skill: Skill | None = None,
) -> list[Opportunity]:
    """Newest first. A provider lists only its own (open and, with ``closed`` True/None,
    closed ones); other callers list open ones."""
    async with ctx.uow() as uow:
        items = await uow.opportunities.list(provider_id or None)
    now = ctx.clock()
    out = []
    for o in items:
        is_open = o.is_open(now)
        if caller_provider is not None and o.provider_id != caller_provider:
            continue
        if not is_open and o.provider_id != caller_provider:
            continue
        if closed is not None and is_open == closed:
            continue
        if kind is not None and o.kind is not kind:
            continue
        if skill is not None and not o.asks_for(skill):
            continue
        out.append(o)
    return out


async def create_application_challenge(ctx: Context, opportunity_id: str) -> IssuedChallenge:
    """A challenge from VerificationService bound to the provider's domain, recorded as issued
    for this opportunity."""
    opportunity = await load_open(ctx, opportunity_id)
    provider = await get_provider(ctx, opportunity.provider_id)
    issued = await ctx.verification.create_challenge(provider.provider_id, provider.domain)
    # the verification service binds it to the provider's domain; intake binds it to the
    # opportunity (a presentation made for one opportunity is not accepted for another)
    async with ctx.uow() as uow:
        await uow.challenges.record(issued.challenge, opportunity.opportunity_id, issued.expires_at)
    return issued


async def load_open(ctx: Context, opportunity_id: str) -> Opportunity:
    """The opportunity if it takes applications: ``OpportunityNotFound`` / ``OpportunityClosed``."""
    async with ctx.uow() as uow:
        found = await uow.opportunities.get(opportunity_id)
    if found is None:
        raise OpportunityNotFound(opportunity_id)
    if not found.is_open(ctx.clock()):
        raise OpportunityClosed(opportunity_id)
    return found
