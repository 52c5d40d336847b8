"""gRPC ``ler.intake.v1.IntakeService``: decode, authorize, call the use case, encode.

Provider calls are scoped to the authenticated provider: another provider's opportunity or
application is NOT_FOUND (nothing about it leaks), another provider's profile is
PERMISSION_DENIED. Domain errors become statuses in the platform's error-mapping interceptor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import grpc
from ler.intake.v1 import intake_service_pb2 as pb
from ler.intake.v1 import intake_service_pb2_grpc as pb_grpc
from ler.intake.v1 import resources_pb2 as rpb
from ler_platform.auth import Tenant, require_tenant

from ler_intake.adapters import proto
from ler_intake.adapters.auth import CLIENT, OPERATOR, PROVIDER
from ler_intake.adapters.notify import ChangeBroadcaster
from ler_intake.domain.application import Application
from ler_intake.domain.errors import InvalidRequest, NotAllowed, OpportunityNotFound
from ler_intake.domain.model import Opportunity
from ler_intake.domain.redaction import full, redact
from ler_intake.service_layer import applications, opportunities, providers
from ler_intake.service_layer.applications import Submission
from ler_intake.service_layer.context import Context

SERVICE_NAME = "ler.intake.v1.IntakeService"
DEFAULT_PAGE = 50
MAX_PAGE = 500
WATCH_POLL_SECONDS = 0.5
WATCH_BATCH = 100
T = TypeVar("T")

_CHANGE = {
    "submitted": pb.APPLICATION_CHANGE_SUBMITTED,
    "verified": pb.APPLICATION_CHANGE_VERIFIED,
    "flagged": pb.APPLICATION_CHANGE_FLAGGED,
    "outcome_recorded": pb.APPLICATION_CHANGE_OUTCOME_RECORDED,
}


def _provider() -> str:
    tenant = require_tenant()
    if tenant.kind != PROVIDER:
        raise NotAllowed("this call needs a provider's API key")
    return tenant.tenant_id


def _any_caller() -> Tenant:
    tenant = require_tenant()
    if tenant.kind not in (PROVIDER, OPERATOR, CLIENT):  # pragma: no cover - authenticator
        raise NotAllowed("unknown caller")
    return tenant


def _own_id(tenant: Tenant) -> str | None:
    return tenant.tenant_id if tenant.kind == PROVIDER else None


def _decode_token(token: str, fingerprint: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        start, bound = int(data["o"]), str(data["f"])
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise InvalidRequest("page.page_token", "is not valid") from err
    if bound != fingerprint or start < 0:
        raise InvalidRequest("page.page_token", "was issued for different filters")
    return start


def page(items: Sequence[T], request: Any, fingerprint: str) -> tuple[list[T], str]:
    """Offset paging with a token bound to the filters it was issued for (AIP-158)."""
    size = request.page_size
    if size < 0:
        raise InvalidRequest("page.page_size", "must not be negative")
    size = min(size or DEFAULT_PAGE, MAX_PAGE)
    start = _decode_token(request.page_token, fingerprint) if request.page_token else 0
    chunk = list(items[start : start + size])
    more = start + size < len(items)
    token = (
        base64.urlsafe_b64encode(
            json.dumps({"o": start + size, "f": fingerprint}).encode()
        ).decode()
        if more
        else ""
    )
    return chunk, token


def render(app: Application, opportunity: Opportunity, *, full_view: bool) -> rpb.Application:
    """The application message in the redacted (default) or full view."""
    if full_view:
        return proto.application_to(
            full(app), opportunity, view=rpb.APPLICATION_VIEW_FULL, redacted_fields=[]
        )
    view, cleared = redact(app, opportunity.redaction_policy)
    return proto.application_to(
        view, opportunity, view=rpb.APPLICATION_VIEW_REDACTED, redacted_fields=cleared
    )


def _resume_token(provider_id: str, seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": provider_id, "s": seq}).encode()).decode()


def _resume_seq(token: str, provider_id: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        seq, bound = int(data["s"]), str(data["p"])
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise InvalidRequest("resume_token", "is not valid") from err
    if bound != provider_id or seq < 0:
        raise InvalidRequest("resume_token", "is not valid")
    return seq


class IntakeServicer(pb_grpc.IntakeServiceServicer):
    """The servicer; one per process, built by the composition root."""

    def __init__(self, ctx: Context, changes: ChangeBroadcaster) -> None:
        self._ctx = ctx
        self._changes = changes

    async def _applicant_side(self, opportunity_id: str) -> None:
        """The applicant-side calls: any caller, but a provider only on its own opportunities
        (another provider's are NOT_FOUND, as everywhere)."""
        tenant = _any_caller()
        if tenant.kind == PROVIDER:
            await opportunities.get_opportunity(self._ctx, opportunity_id, tenant.tenant_id)

    async def RegisterProvider(
        self, request: pb.RegisterProviderRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterProviderResponse:
        if require_tenant().kind != OPERATOR:
            raise NotAllowed("only the operator registers providers")
        provider, key, secret = await providers.register_provider(
            self._ctx,
            name=request.name,
            url=request.url,
            domain=request.domain,
            webhook_url=request.webhook_url,
        )
        return pb.RegisterProviderResponse(
            provider=proto.provider_to(provider), api_key=key, webhook_secret=secret
        )

    async def GetProvider(
        self, request: pb.GetProviderRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProviderResponse:
        tenant = require_tenant()
        if tenant.kind != OPERATOR and tenant.tenant_id != request.provider_id:
            raise NotAllowed("a provider may only read its own profile")
        found = await providers.get_provider(self._ctx, request.provider_id)
        return pb.GetProviderResponse(provider=proto.provider_to(found))

    async def CreateOpportunity(
        self, request: pb.CreateOpportunityRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateOpportunityResponse:
        provider_id = _provider()
        if request.opportunity.provider_id not in ("", provider_id):
            raise NotAllowed("opportunity.provider_id must be the caller")
        created = await opportunities.create_opportunity(
            self._ctx,
            provider_id,
            proto.opportunity_from(request.opportunity),
            request.idempotency_key,
        )
        return pb.CreateOpportunityResponse(
            opportunity=proto.opportunity_to(created, self._ctx.clock())
        )

    async def GetOpportunity(
        self, request: pb.GetOpportunityRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOpportunityResponse:
        tenant = _any_caller()
        found = await opportunities.get_opportunity(
            self._ctx, request.opportunity_id, _own_id(tenant)
        )
        return pb.GetOpportunityResponse(opportunity=proto.opportunity_to(found, self._ctx.clock()))

    async def ListOpportunities(
        self, request: pb.ListOpportunitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOpportunitiesResponse:
        tenant = _any_caller()
        closed: bool | None = {
            rpb.OPPORTUNITY_STATE_UNSPECIFIED: False,
            rpb.OPPORTUNITY_STATE_OPEN: False,
            rpb.OPPORTUNITY_STATE_CLOSED: True,
        }.get(request.state, False)
        kind = proto.KIND_OF.get(request.kind)
        skill = proto.skill_from(request.skill) if request.HasField("skill") else None
        items = await opportunities.list_opportunities(
            self._ctx,
            _own_id(tenant),
            provider_id=request.provider_id,
            closed=closed,
            kind=kind,
            skill=skill,
        )  # type: ignore[arg-type]
        probe = pb.ListOpportunitiesRequest()
        probe.CopyFrom(request)
        probe.ClearField("page")
        fingerprint = probe.SerializeToString(deterministic=True).hex() + "|" + tenant.tenant_id
        chunk, token = page(items, request.page, fingerprint)
        now = self._ctx.clock()
        return pb.ListOpportunitiesResponse(
            opportunities=[proto.opportunity_to(o, now) for o in chunk],
            page={"next_page_token": token},
        )

    async def CreateApplicationChallenge(
        self, request: pb.CreateApplicationChallengeRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateApplicationChallengeResponse:
        await self._applicant_side(request.opportunity_id)
        issued = await opportunities.create_application_challenge(self._ctx, request.opportunity_id)
        return pb.CreateApplicationChallengeResponse(
            challenge=issued.challenge, domain=issued.domain, expires_at=proto.ts(issued.expires_at)
        )

    async def SubmitApplication(
        self, request: pb.SubmitApplicationRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitApplicationResponse:
        await self._applicant_side(request.opportunity_id)
        which = request.WhichOneof("evidence")
        sub = Submission(
            opportunity_id=request.opportunity_id,
            applicant=proto.applicant_from(request.applicant),
            idempotency_key=request.idempotency_key,
            presentation=request.presentation if which == "presentation" else b"",
            share_link_url=request.share_link_url if which == "share_link_url" else "",
            challenge=request.challenge,
        )
        got = await applications.submit_application(self._ctx, sub)
        async with self._ctx.uow() as uow:
            opportunity = await uow.opportunities.get(got.application.opportunity_id)
        if opportunity is None:  # pragma: no cover - just loaded
            raise OpportunityNotFound(request.opportunity_id)
        # the applicant sees their own application in full, without reveals or notes
        app = got.application
        msg = proto.application_to(
            full(app), opportunity, view=rpb.APPLICATION_VIEW_FULL, redacted_fields=[]
        )
        del msg.reveals[:]
        msg.ClearField("outcome")
        return pb.SubmitApplicationResponse(application=msg, replayed=got.replayed)

    async def GetApplication(
        self, request: pb.GetApplicationRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetApplicationResponse:
        provider_id = _provider()
        want_full = request.view == rpb.APPLICATION_VIEW_FULL
        app, opportunity = await applications.get_application(
            self._ctx,
            provider_id,
            request.application_id,
            full=want_full,
            reason=request.reveal_reason,
            reviewer=provider_id,
        )
        return pb.GetApplicationResponse(application=render(app, opportunity, full_view=want_full))

    async def ListApplications(
        self, request: pb.ListApplicationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListApplicationsResponse:
        provider_id = _provider()
        state = proto.STATE_OF.get(request.state)
        apps, opportunity = await applications.list_applications(
            self._ctx,
            provider_id,
            request.opportunity_id,
            state=state,  # type: ignore[arg-type]
            min_score=request.min_score,
            by_score=request.order == pb.APPLICATION_ORDER_MATCH_SCORE_DESC,
        )
        probe = pb.ListApplicationsRequest()
        probe.CopyFrom(request)
        probe.ClearField("page")
        chunk, token = page(apps, request.page, probe.SerializeToString(deterministic=True).hex())
        return pb.ListApplicationsResponse(
            applications=[render(a, opportunity, full_view=False) for a in chunk],
            page={"next_page_token": token},
        )

    async def WatchApplications(
        self, request: pb.WatchApplicationsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchApplicationsResponse]:
        provider_id = _provider()
        if request.opportunity_id:
            await applications.own_opportunity(self._ctx, provider_id, request.opportunity_id)
        async with self._ctx.uow() as uow:
            seq = (
                _resume_seq(request.resume_token, provider_id)
                if request.resume_token
                else await uow.changes.last_seq()
            )
        while True:
            async with self._ctx.uow() as uow:
                batch = await uow.changes.after(provider_id, seq, WATCH_BATCH)
                rendered = []
                for change in batch:
                    seq = change.seq
                    if request.opportunity_id and change.opportunity_id != request.opportunity_id:
                        continue
                    app = await uow.applications.get(change.application_id)
                    opportunity = await uow.opportunities.get(change.opportunity_id)
                    if app is None or opportunity is None:  # pragma: no cover - never deleted
                        continue
                    rendered.append(
                        pb.WatchApplicationsResponse(
                            change=_CHANGE.get(change.change, pb.APPLICATION_CHANGE_UNSPECIFIED),
                            application=render(app, opportunity, full_view=False),
                            changed_at=proto.ts(change.changed_at),
                            resume_token=_resume_token(provider_id, change.seq),
                        )
                    )
            for item in rendered:
                yield item
            if not batch:
                await self._changes.wait(WATCH_POLL_SECONDS)

    async def RevealApplicationField(
        self, request: pb.RevealApplicationFieldRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevealApplicationFieldResponse:
        provider_id = _provider()
        app, opportunity, reveal = await applications.reveal_field(
            self._ctx,
            provider_id,
            request.application_id,
            field=request.field,
            reason=request.reason,
            reviewer=provider_id,
        )
        return pb.RevealApplicationFieldResponse(
            application=render(app, opportunity, full_view=False),
            reveal=rpb.Reveal(
                field=reveal.field,
                reason=reveal.reason,
                revealed_by=reveal.revealed_by,
                revealed_at=proto.ts(reveal.revealed_at),
            ),
        )

    async def GetOpportunityPosting(
        self, request: pb.GetOpportunityPostingRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOpportunityPostingResponse:
        # public: any caller, even without a token (see auth.PUBLIC_METHODS)
        opportunity, provider = await opportunities.get_posting(self._ctx, request.opportunity_id)
        return pb.GetOpportunityPostingResponse(
            posting=proto.posting_to(opportunity, provider.name)
        )

    async def RecordOutcome(
        self, request: pb.RecordOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordOutcomeResponse:
        provider_id = _provider()
        app = await applications.record_outcome(
            self._ctx,
            provider_id,
            request.application_id,
            kind=proto.OUTCOME_OF.get(request.outcome),  # type: ignore[arg-type]
            note=request.note,
            decided_at=proto.from_ts(request, "decided_at"),
        )
        async with self._ctx.uow() as uow:
            opportunity = await uow.opportunities.get(app.opportunity_id)
        if opportunity is None:  # pragma: no cover - foreign key
            raise OpportunityNotFound(app.opportunity_id)
        return pb.RecordOutcomeResponse(application=render(app, opportunity, full_view=False))


def register(servicer: IntakeServicer) -> Callable[[grpc.aio.Server], None]:
    """The registration callback for ``GrpcServer.add_service``."""
    return lambda server: pb_grpc.add_IntakeServiceServicer_to_server(servicer, server)
