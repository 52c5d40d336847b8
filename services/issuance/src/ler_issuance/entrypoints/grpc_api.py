"""gRPC ``ler.issuance.v1.IssuanceService``: decode, check the tenant, call a use case, encode.

Domain errors become statuses in the platform's error-mapping interceptor (one place). Every
RPC but RegisterIssuer is scoped to the authenticated tenant: a request naming another issuer
is PERMISSION_DENIED before anything is read, so nothing about that issuer leaks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
from ler.issuance.v1 import issuance_service_pb2 as pb
from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc
from ler_platform.auth import require_tenant
from ler_platform.errors import DomainError, InvalidArgument

from ler_issuance.adapters import proto
from ler_issuance.adapters.auth import ISSUER, OPERATOR
from ler_issuance.domain.errors import BatchTooLarge, NotYourIssuer, OperatorOnly
from ler_issuance.domain.model import CredentialFormat, Cryptosuite, DidMethod, StatusAction
from ler_issuance.entrypoints.clr_messages import clr_request
from ler_issuance.service_layer import catalog, clr, issuers, offers, queries, status, templates
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuing import ItemResult, Outcome, issue_batch, issue_credential
from ler_issuance.service_layer.unit_of_work import CredentialFilter

SERVICE_NAME = "ler.issuance.v1.IssuanceService"
STREAM_CHUNK = 200  # items issued per transaction while a batch stream is still arriving

_ACTIONS = {
    pb.STATUS_ACTION_REVOKE: StatusAction.REVOKE,
    pb.STATUS_ACTION_SUSPEND: StatusAction.SUSPEND,
    pb.STATUS_ACTION_REINSTATE: StatusAction.REINSTATE,
}
_ITEM_OUTCOMES = {
    Outcome.ISSUED: pb.ISSUE_ITEM_OUTCOME_ISSUED,
    Outcome.REPLAYED: pb.ISSUE_ITEM_OUTCOME_REPLAYED,
    Outcome.REJECTED: pb.ISSUE_ITEM_OUTCOME_REJECTED,
}


def own_issuer(issuer_id: str) -> str:
    """``issuer_id`` if it names the authenticated issuer tenant; PERMISSION_DENIED otherwise."""
    tenant = require_tenant()
    if tenant.kind != ISSUER or not issuer_id or tenant.tenant_id != issuer_id:
        raise NotYourIssuer()
    return issuer_id


class IssuanceServicer(pb_grpc.IssuanceServiceServicer):
    """See the module docstring."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def RegisterIssuer(
        self, request: pb.RegisterIssuerRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterIssuerResponse:
        if require_tenant().kind != OPERATOR:
            raise OperatorOnly()
        new = issuers.NewIssuer(
            name=request.name,
            url=request.url,
            email=request.email,
            description=request.description,
            image_url=request.image_url,
            did_method=proto._enum(request.did_method, proto.DID_METHODS, "did_method")
            or DidMethod.WEB,
            did_web_domain=request.did_web_domain,
            default_format=proto._enum(request.default_format, proto.FORMATS, "default_format")
            or CredentialFormat.LDP_VC,
            default_cryptosuite=proto._enum(
                request.default_cryptosuite, proto.SUITES, "default_cryptosuite"
            )
            or Cryptosuite.EDDSA_RDFC_2022,
        )
        issuer, api_key = await issuers.register_issuer(self._ctx, new)
        return pb.RegisterIssuerResponse(issuer=proto.issuer_pb(issuer), api_key=api_key)

    async def GetIssuer(
        self, request: pb.GetIssuerRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetIssuerResponse:
        if require_tenant().kind != OPERATOR:
            own_issuer(request.issuer_id)
        issuer = await issuers.get_issuer(self._ctx, request.issuer_id)
        return pb.GetIssuerResponse(issuer=proto.issuer_pb(issuer))

    async def RotateSigningKey(
        self, request: pb.RotateSigningKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.RotateSigningKeyResponse:
        issuer = await issuers.rotate_signing_key(self._ctx, own_issuer(request.issuer_id))
        return pb.RotateSigningKeyResponse(issuer=proto.issuer_pb(issuer))

    async def CreateAchievementTemplate(
        self, request: pb.CreateAchievementTemplateRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateAchievementTemplateResponse:
        template = await templates.create_template(
            self._ctx, own_issuer(request.issuer_id), proto.achievement(request.achievement)
        )
        return pb.CreateAchievementTemplateResponse(template=proto.template_pb(template))

    async def GetAchievementTemplate(
        self, request: pb.GetAchievementTemplateRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAchievementTemplateResponse:
        template = await templates.get_template(
            self._ctx, own_issuer(request.issuer_id), request.template_id
        )
        return pb.GetAchievementTemplateResponse(template=proto.template_pb(template))

    async def ListAchievementTemplates(
        self, request: pb.ListAchievementTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAchievementTemplatesResponse:
        page, token = await templates.list_templates(
            self._ctx,
            own_issuer(request.issuer_id),
            size=request.page.page_size,
            token=request.page.page_token,
            achievement_type=proto.ACHIEVEMENT_TYPES.get(request.achievement_type, ""),
            skill=proto.alignment(request.skill) if request.HasField("skill") else None,
        )
        response = pb.ListAchievementTemplatesResponse(
            templates=[proto.template_pb(t) for t in page]
        )
        response.page.next_page_token = token
        return response

    async def SearchAchievementTemplates(
        self, request: pb.SearchAchievementTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.SearchAchievementTemplatesResponse:
        if self._ctx.catalog is None:  # pragma: no cover - bootstrap always sets it
            raise InvalidArgument("the achievement catalog is not offered here")
        found = await catalog.search_catalog(
            self._ctx.catalog, [proto.alignment(s) for s in request.skills], request.max_results
        )
        return pb.SearchAchievementTemplatesResponse(
            achievements=[
                pb.CatalogAchievement(
                    template_id=e.template.template_id,
                    issuer_id=e.template.issuer_id,
                    issuer_name=e.issuer_name,
                    name=e.template.achievement.name,
                    achievement_type=proto.ACHIEVEMENT_TYPE_NUMBERS.get(  # type: ignore[arg-type]
                        e.template.achievement.achievement_type, 0
                    ),
                    url=e.template.achievement.criteria_url,
                    alignments=[proto.skill(a) for a in e.template.achievement.skills()],
                    matched_skills=[proto.skill(a) for a in e.matched],
                )
                for e in found
            ]
        )

    async def IssueCredential(
        self, request: pb.IssueCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueCredentialResponse:
        issuer_id = own_issuer(request.issuer_id)
        record, replayed = await issue_credential(self._ctx, issuer_id, proto.spec(request.spec))
        return pb.IssueCredentialResponse(credential=proto.credential_pb(record), replayed=replayed)

    async def IssueCredentials(
        self,
        request_iterator: AsyncIterator[pb.IssueCredentialsRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.IssueCredentialsResponse:
        response = pb.IssueCredentialsResponse()
        chunk: list[tuple[int, pb.IssueCredentialsRequest]] = []
        issuer_id: str | None = None
        count = 0
        async for item in request_iterator:
            if issuer_id is None:
                issuer_id = own_issuer(item.issuer_id)
            elif item.issuer_id != issuer_id:
                await self._flush(issuer_id, chunk, response)
                raise InvalidArgument(
                    f"item {count} names issuer {item.issuer_id!r}, not the stream's issuer"
                )
            if count >= self._ctx.batch_max_items:
                await self._flush(issuer_id, chunk, response)
                raise BatchTooLarge(
                    f"a batch holds at most {self._ctx.batch_max_items} items; the first"
                    f" {count} were processed, nothing after them"
                )
            chunk.append((count, item))
            count += 1
            if len(chunk) >= STREAM_CHUNK:
                await self._flush(issuer_id, chunk, response)
        if issuer_id is not None:
            await self._flush(issuer_id, chunk, response)
        return response

    async def _flush(
        self,
        issuer_id: str,
        chunk: list[tuple[int, pb.IssueCredentialsRequest]],
        response: pb.IssueCredentialsResponse,
    ) -> None:
        if not chunk:
            return
        decoded: list[tuple[int, object]] = []
        results: dict[int, ItemResult] = {}
        for index, item in chunk:
            try:
                decoded.append((index, proto.spec(item.spec)))
            except DomainError as err:
                results[index] = ItemResult(index, item.spec.record_id, Outcome.REJECTED, error=err)
        if decoded:
            issued = await issue_batch(self._ctx, issuer_id, [s for _, s in decoded])  # type: ignore[misc]
            for (index, _), result in zip(decoded, issued, strict=True):
                results[index] = result
        for index, _ in chunk:
            r = results[index]
            item_result = pb.IssueItemResult(
                index=index,
                record_id=r.record_id,
                outcome=_ITEM_OUTCOMES[r.outcome],  # type: ignore[arg-type]
                credential_id=r.credential.credential_id if r.credential else "",
            )
            if r.error is not None:
                item_result.error.CopyFrom(proto.error_detail(r.error))
            response.results.append(item_result)
            if r.outcome is Outcome.ISSUED:
                response.issued_count += 1
            elif r.outcome is Outcome.REPLAYED:
                response.replayed_count += 1
            else:
                response.rejected_count += 1
        chunk.clear()

    async def IssueClr(
        self, request: pb.IssueClrRequest, context: grpc.aio.ServicerContext
    ) -> pb.IssueClrResponse:
        issuer_id = own_issuer(request.issuer_id)
        outcome = await clr.issue_clr(self._ctx, issuer_id, clr_request(request))
        return pb.IssueClrResponse(
            credential=proto.credential_pb(outcome.credential),
            replayed=outcome.replayed,
            issued_credential_ids=list(outcome.issued_credential_ids),
        )

    async def ChangeCredentialStatus(
        self, request: pb.ChangeCredentialStatusRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChangeCredentialStatusResponse:
        issuer_id = own_issuer(request.issuer_id)
        if request.action not in (0, *_ACTIONS):
            raise InvalidArgument(f"action: unknown value {request.action}")
        change = await status.change_status(
            self._ctx,
            issuer_id,
            request.credential_id,
            _ACTIONS.get(request.action),
            request.reason,
        )
        return pb.ChangeCredentialStatusResponse(
            credential=proto.credential_pb(change.credential), changed=change.changed
        )

    async def GetCredential(
        self, request: pb.GetCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCredentialResponse:
        record = await queries.get_credential(
            self._ctx, own_issuer(request.issuer_id), request.credential_id
        )
        return pb.GetCredentialResponse(credential=proto.credential_pb(record))

    async def ListCredentials(
        self, request: pb.ListCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCredentialsResponse:
        issuer_id = own_issuer(request.issuer_id)
        flt = CredentialFilter(
            subject_did=request.subject_did,
            subject_email=request.subject_email,
            status=proto._enum(request.status, proto.STATES, "status"),
            template_id=request.template_id,
            record_id=request.record_id,
            issued_after=proto.from_ts(request, "issued_after"),
            issued_before=proto.from_ts(request, "issued_before"),
        )
        page, token = await queries.list_credentials(
            self._ctx,
            issuer_id,
            flt,
            size=request.page.page_size,
            token=request.page.page_token,
            include_signed=request.include_signed_credential,
        )
        response = pb.ListCredentialsResponse(
            credentials=[
                proto.credential_pb(r, include_signed=request.include_signed_credential)
                for r in page
            ]
        )
        response.page.next_page_token = token
        return response

    async def CreateCredentialOffer(
        self, request: pb.CreateCredentialOfferRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCredentialOfferResponse:
        issuer_id = own_issuer(request.issuer_id)
        ttl = request.ttl.ToTimedelta() if request.HasField("ttl") else None
        created = await offers.create_offer(
            self._ctx, issuer_id, request.credential_id, request.require_tx_code, ttl
        )
        return pb.CreateCredentialOfferResponse(
            offer_uri=created.offer_uri,
            tx_code=created.tx_code,
            expires_at=proto.ts(created.expires_at),
            credential_configuration_id=created.configuration_id,
        )


def register(servicer: IssuanceServicer) -> Callable[[grpc.aio.Server], None]:
    """A ``register(server)`` callback for ``GrpcServer.add_service``."""
    return lambda server: pb_grpc.add_IssuanceServiceServicer_to_server(servicer, server)
