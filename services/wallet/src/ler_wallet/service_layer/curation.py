"""Use cases: list and get credentials, curate them, the skills profile, self-asserted skills."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from ler_wallet.domain.errors import (
    CredentialNotFound,
    DependencyUnreachable,
    InvalidRequest,
    OpportunityLookupUnavailable,
)
from ler_wallet.domain.model import Curation, HeldCredential, SelfAssertedSkill, Skill, StatusState
from ler_wallet.domain.planning import CareerPlan, Requirement, Suggestion, plan, suggest
from ler_wallet.domain.skills import ProfileSkill, build_profile
from ler_wallet.service_layer.accounts import load_account
from ler_wallet.service_layer.context import Context

log = logging.getLogger(__name__)

CURATION_FIELDS = ("hidden", "featured", "tags", "sort_order")


@dataclass(frozen=True)
class CredentialFilter:
    """ListCredentials filters (empty means any)."""

    include_hidden: bool = False
    tag: str = ""
    skill: Skill | None = None
    status: StatusState | None = None


def curation_order(items: list[HeldCredential]) -> list[HeldCredential]:
    """Featured first, then ordered ones ascending (0 = unordered, after them), newest first."""
    newest = sorted(items, key=lambda c: c.stored_at, reverse=True)
    return sorted(
        newest,
        key=lambda c: (
            not c.curation.featured,
            c.curation.sort_order == 0,
            c.curation.sort_order,
        ),
    )


def _matches(c: HeldCredential, flt: CredentialFilter) -> bool:
    if c.curation.hidden and not flt.include_hidden:
        return False
    if flt.tag and flt.tag not in c.curation.tags:
        return False
    if flt.status is not None and c.status is not flt.status:
        return False
    return flt.skill is None or any(s.key == flt.skill.key for s in c.summary.skills)


async def list_credentials(
    ctx: Context, account_id: str, flt: CredentialFilter
) -> list[HeldCredential]:
    """The account's credentials matching ``flt``, in curation order."""
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        items = await uow.credentials.for_account(account_id)
    return curation_order([c for c in items if _matches(c, flt)])


async def get_credential(ctx: Context, account_id: str, credential_id: str) -> HeldCredential:
    """One credential of the account, with its signed bytes."""
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        held = await uow.credentials.get(account_id, credential_id)
    if held is None:
        raise CredentialNotFound(credential_id)
    return held


async def curate_credential(
    ctx: Context,
    account_id: str,
    credential_id: str,
    values: Curation,
    fields: Collection[str] = (),
) -> HeldCredential:
    """Change the named curation fields (all of them when ``fields`` is empty)."""
    unknown = [f for f in fields if f not in CURATION_FIELDS]
    if unknown:
        raise InvalidRequest(
            f"unknown update_mask path(s) {unknown}; allowed: {list(CURATION_FIELDS)}"
        )
    chosen = set(fields or CURATION_FIELDS)
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        held = await uow.credentials.get(account_id, credential_id)
        if held is None:
            raise CredentialNotFound(credential_id)
        updates = {name: getattr(values, name) for name in chosen}
        if "tags" in updates:
            updates["tags"] = tuple(dict.fromkeys(t.strip() for t in updates["tags"]))
        curation = replace(held.curation, **updates)
        curation.validate()
        held.curation = curation
        await uow.credentials.save(held)
    return held


async def skills_profile(ctx: Context, account_id: str) -> list[ProfileSkill]:
    """Skills evidenced by the account's valid, non-hidden credentials, plus asserted ones."""
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        credentials = await uow.credentials.for_account(account_id)
        asserted = await uow.skills.for_account(account_id)
    return build_profile(credentials, asserted)


async def add_self_asserted_skill(
    ctx: Context, account_id: str, skill: Skill, narrative: str
) -> ProfileSkill:
    """Claim a skill; it shows as self-asserted unless a credential evidences it."""
    claim = SelfAssertedSkill(account_id, skill, narrative.strip(), ctx.clock())
    claim.validate()
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        await uow.skills.upsert(claim)
        credentials = await uow.credentials.for_account(account_id)
        asserted = await uow.skills.for_account(account_id)
    profile = build_profile(credentials, asserted)
    return next(p for p in profile if p.skill.key == skill.key)


async def plan_career(
    ctx: Context,
    account_id: str,
    requirements: Sequence[Requirement],
    *,
    include_self_asserted: bool,
) -> CareerPlan:
    """Which target skills the learner's valid credentials evidence, and which are missing."""
    profile = await skills_profile(ctx, account_id)
    return plan(requirements, profile, include_self_asserted=include_self_asserted)


@dataclass(frozen=True)
class PlanWithSuggestions:
    """A career plan and the achievements that would close its gaps."""

    plan: CareerPlan
    suggestions: list[Suggestion]


async def plan_for_goal(
    ctx: Context,
    account_id: str,
    *,
    requirements: Sequence[Requirement] = (),
    opportunity_id: str | None = None,
    include_self_asserted: bool,
) -> PlanWithSuggestions:
    """Plan for an intake opportunity (looked up over gRPC) or explicit target skills; suggest
    catalog achievements for each missing skill when the issuance catalog is configured."""
    if opportunity_id is not None:
        if ctx.opportunities is None:
            raise OpportunityLookupUnavailable(
                "planning for an intake opportunity needs the intake service, which this wallet"
                " is not configured with (LER_INTAKE_GRPC_TARGET); pass target_skills instead"
            )
        await load_account_only(ctx, account_id)
        requirements = await ctx.opportunities.requirements(opportunity_id)
        if not requirements:
            raise InvalidRequest(f"opportunity {opportunity_id!r} names no skills to plan for")
    made = await plan_career(
        ctx, account_id, requirements, include_self_asserted=include_self_asserted
    )
    if ctx.catalog is None:
        return PlanWithSuggestions(made, [])
    gaps = [m.requirement for m in made.matches if not m.evidenced]
    wanted = [s for r in gaps for s in (r.skill, *r.equivalents)]
    try:
        offers = await ctx.catalog.search(wanted) if wanted else []
    except DependencyUnreachable as err:
        # suggestions are an extra: the plan itself stands (the contract keeps UNAVAILABLE for
        # an opportunity that cannot be read)
        log.warning("achievement suggestions skipped: %s", err.message)
        offers = []
    return PlanWithSuggestions(made, suggest(made, offers))


async def load_account_only(ctx: Context, account_id: str) -> None:
    """``AccountNotFound`` unless the account exists (before calling other services)."""
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
