"""gRPC ``ler.wallet.v1.WalletService``: decode, authorize, call the use case, encode.

Every RPC but CreateAccount acts on ``account_id``, which must be the caller's own account
(PERMISSION_DENIED otherwise; UNAUTHENTICATED without a valid API key). Domain errors become
statuses in the platform's error-mapping interceptor.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import paging_pb2 as ppb
from ler.common.v1 import skills_pb2 as cspb
from ler.wallet.v1 import resources_pb2 as rpb
from ler.wallet.v1 import wallet_service_pb2 as pb
from ler.wallet.v1 import wallet_service_pb2_grpc as pb_grpc
from ler_platform.auth import current_tenant

from ler_wallet.adapters import proto
from ler_wallet.adapters.auth import HOLDER
from ler_wallet.domain import dcql
from ler_wallet.domain.errors import (
    DependencyUnreachable,
    InvalidRequest,
    IssuerUnreachable,
    NotAuthenticated,
    NotYourAccount,
    VerifierUnreachable,
)
from ler_wallet.domain.model import Curation
from ler_wallet.domain.planning import Requirement
from ler_wallet.service_layer import accounts, curation, export, oid4vp, receiving, sharing
from ler_wallet.service_layer.context import Context

SERVICE_NAME = "ler.wallet.v1.WalletService"
DEFAULT_PAGE = 50
MAX_PAGE = 500
T = TypeVar("T")


def _authorize(account_id: str) -> str:
    tenant = current_tenant.get()
    if tenant is None or tenant.kind != HOLDER:
        raise NotAuthenticated("this call needs the learner's API key")
    if not account_id:
        raise InvalidRequest("account_id is required")
    if tenant.tenant_id != account_id:
        raise NotYourAccount()
    return account_id


def _page(items: Sequence[T], page: Any, fingerprint: str) -> tuple[list[T], str]:
    """Offset paging with a token bound to the filters it was issued for (AIP-158)."""
    size = page.page_size
    if size < 0:
        raise InvalidRequest("page_size must not be negative")
    size = min(size or DEFAULT_PAGE, MAX_PAGE)
    start = 0
    if page.page_token:
        try:
            data = json.loads(base64.urlsafe_b64decode(page.page_token.encode()))
            start, bound = int(data["o"]), str(data["f"])
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidRequest("page_token is not valid") from err
        if bound != fingerprint or start < 0:
            raise InvalidRequest("page_token was issued for different filters")
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


_EXPORT_FORMATS = {
    pb.EXPORT_FORMAT_LER_RS_JSON: "ler_rs_json",
    pb.EXPORT_FORMAT_CREDENTIALS_ZIP: "credentials_zip",
}
_SUITES = {
    cpb.CRYPTOSUITE_UNSPECIFIED: "eddsa-rdfc-2022",
    cpb.CRYPTOSUITE_EDDSA_RDFC_2022: "eddsa-rdfc-2022",
    cpb.CRYPTOSUITE_EDDSA_JCS_2022: "eddsa-jcs-2022",
}


class WalletServicer(pb_grpc.WalletServiceServicer):
    """See the module docstring."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def CreateAccount(
        self, request: pb.CreateAccountRequest, context: Any
    ) -> pb.CreateAccountResponse:
        new = await accounts.create_account(
            self._ctx, request.display_name, request.email, request.idempotency_key
        )
        return pb.CreateAccountResponse(
            account=proto.account_msg(new.account, []), api_key=new.api_key
        )

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Any
    ) -> pb.GetAccountResponse:
        account, consents = await accounts.get_account(self._ctx, _authorize(request.account_id))
        return pb.GetAccountResponse(account=proto.account_msg(account, consents))

    async def DeleteAccount(
        self, request: pb.DeleteAccountRequest, context: Any
    ) -> pb.DeleteAccountResponse:
        deleted, when = await accounts.delete_account(
            self._ctx, _authorize(request.account_id), request.confirm
        )
        return pb.DeleteAccountResponse(deleted_credentials=deleted, deleted_at=proto.ts(when))

    async def AcceptCredentialOffer(
        self, request: pb.AcceptCredentialOfferRequest, context: Any
    ) -> pb.AcceptCredentialOfferResponse:
        account_id = _authorize(request.account_id)
        try:
            received = await receiving.accept_offer(
                self._ctx, account_id, request.offer_uri, request.tx_code
            )
        except IssuerUnreachable as err:
            # the platform's DomainError family has no UNAVAILABLE: mapped here, once
            await context.abort(grpc.StatusCode.UNAVAILABLE, err.message)
            raise AssertionError("unreachable") from err  # pragma: no cover - abort raises
        return pb.AcceptCredentialOfferResponse(
            credentials=[proto.credential_msg(r.credential, with_bytes=True) for r in received]
        )

    async def ImportCredential(
        self, request: pb.ImportCredentialRequest, context: Any
    ) -> pb.ImportCredentialResponse:
        fmt = proto.FORMAT_OF.get(request.format) if request.format else None
        got = await receiving.import_credential(
            self._ctx, _authorize(request.account_id), request.credential, fmt
        )
        return pb.ImportCredentialResponse(
            credential=proto.credential_msg(got.credential, with_bytes=True),
            already_present=got.already_present,
        )

    async def ListCredentials(
        self, request: pb.ListCredentialsRequest, context: Any
    ) -> pb.ListCredentialsResponse:
        flt = curation.CredentialFilter(
            include_hidden=request.include_hidden,
            tag=request.tag,
            skill=proto.skill_of(request.skill) if request.HasField("skill") else None,
            status=proto.STATE_OF.get(request.status) if request.status else None,
        )
        items = await curation.list_credentials(self._ctx, _authorize(request.account_id), flt)
        fingerprint = repr((flt, request.include_signed_credential))
        chunk, token = _page(items, request.page, fingerprint)
        return pb.ListCredentialsResponse(
            credentials=[
                proto.credential_msg(c, with_bytes=request.include_signed_credential) for c in chunk
            ],
            page=ppb.PageResponse(next_page_token=token),
        )

    async def GetCredential(
        self, request: pb.GetCredentialRequest, context: Any
    ) -> pb.GetCredentialResponse:
        held = await curation.get_credential(
            self._ctx, _authorize(request.account_id), request.credential_id
        )
        return pb.GetCredentialResponse(credential=proto.credential_msg(held, with_bytes=True))

    async def CurateCredential(
        self, request: pb.CurateCredentialRequest, context: Any
    ) -> pb.CurateCredentialResponse:
        c = request.curation
        held = await curation.curate_credential(
            self._ctx,
            _authorize(request.account_id),
            request.credential_id,
            Curation(c.hidden, c.featured, tuple(c.tags), c.sort_order),
            list(request.update_mask.paths),
        )
        return pb.CurateCredentialResponse(credential=proto.credential_msg(held, with_bytes=False))

    async def GetSkillsProfile(
        self, request: pb.GetSkillsProfileRequest, context: Any
    ) -> pb.GetSkillsProfileResponse:
        account_id = _authorize(request.account_id)
        profile = await curation.skills_profile(self._ctx, account_id)
        return pb.GetSkillsProfileResponse(
            profile=rpb.SkillsProfile(
                account_id=account_id,
                skills=[proto.profile_skill_msg(p) for p in profile],
                computed_at=proto.ts(self._ctx.clock()),
            )
        )

    async def AddSelfAssertedSkill(
        self, request: pb.AddSelfAssertedSkillRequest, context: Any
    ) -> pb.AddSelfAssertedSkillResponse:
        entry = await curation.add_self_asserted_skill(
            self._ctx,
            _authorize(request.account_id),
            proto.skill_of(request.skill),
            request.narrative,
        )
        return pb.AddSelfAssertedSkillResponse(skill=proto.profile_skill_msg(entry))

    async def PlanCareer(
        self, request: pb.PlanCareerRequest, context: Any
    ) -> pb.PlanCareerResponse:
        account_id = _authorize(request.account_id)
        goal = request.target_skills
        requirements = [
            Requirement(proto.skill_of(r.skill), r.weight, required)
            for required, group in ((True, goal.required_skills), (False, goal.preferred_skills))
            for r in group
        ]
        try:
            made = await curation.plan_for_goal(
                self._ctx,
                account_id,
                requirements=requirements,
                opportunity_id=request.opportunity_id
                if request.WhichOneof("goal") == "opportunity_id"
                else None,
                include_self_asserted=request.include_self_asserted,
            )
        except DependencyUnreachable as err:
            await context.abort(grpc.StatusCode.UNAVAILABLE, err.message)
            raise AssertionError("unreachable") from err  # pragma: no cover - abort raises
        response = pb.PlanCareerResponse(required_coverage=made.plan.required_coverage)
        for match in made.plan.matches:
            requirement = cspb.SkillRequirement(
                skill=proto.skill_msg(match.requirement.skill), weight=match.requirement.weight
            )
            if match.evidenced:
                response.evidenced.append(
                    pb.EvidencedSkill(
                        requirement=requirement,
                        required=match.requirement.required,
                        credential_ids=list(match.credential_ids),
                        self_asserted_only=match.self_asserted_only,
                    )
                )
            else:
                response.missing.append(
                    pb.MissingSkill(requirement=requirement, required=match.requirement.required)
                )
        response.suggestions.extend(
            pb.SuggestedAchievement(
                skill=proto.skill_msg(s.skill),
                achievement_name=s.offer.name,
                achievement_type=cpb.AchievementType.Value(s.offer.achievement_type),
                issuer_id=s.offer.issuer_id,
                issuer_name=s.offer.issuer_name,
                template_id=s.offer.template_id,
                url=s.offer.url,
            )
            for s in made.suggestions
        )
        return response

    async def CreatePresentation(
        self, request: pb.CreatePresentationRequest, context: Any
    ) -> pb.CreatePresentationResponse:
        disclosures: dict[str, list[str]] = {}
        for d in request.disclosures:
            disclosures.setdefault(d.credential_id, []).extend(d.claim_paths)
        made = await sharing.create_presentation(
            self._ctx,
            _authorize(request.account_id),
            list(request.credential_ids),
            request.challenge,
            request.domain,
            disclosures,
            _SUITES.get(request.cryptosuite, "eddsa-rdfc-2022"),
        )
        return pb.CreatePresentationResponse(
            presentation=made.content, format=proto.FORMATS[made.format], media_type=made.media_type
        )

    async def ResolvePresentationRequest(
        self, request: pb.ResolvePresentationRequestRequest, context: Any
    ) -> pb.ResolvePresentationRequestResponse:
        account_id = _authorize(request.account_id)
        try:
            got = await oid4vp.resolve_request(self._ctx, account_id, request.authorization_request)
        except VerifierUnreachable as err:
            await context.abort(grpc.StatusCode.UNAVAILABLE, err.message)
            raise AssertionError("unreachable") from err  # pragma: no cover - abort raises
        return pb.ResolvePresentationRequestResponse(
            client_id=got.request.client_id,
            client_id_prefix=got.request.client_id_prefix,
            verifier_name=got.request.verifier_name,
            response_uri=got.request.response_uri,
            signed=got.request.signed,
            credentials=[
                pb.RequestedCredential(
                    query_id=m.query.query_id,
                    format=m.query.format,
                    claim_paths=[dcql.to_pointer(c.path) for c in m.query.claims],
                    matching_credential_ids=list(m.credential_ids),
                    required=m.required,
                )
                for m in got.matches
            ],
        )

    async def RespondToPresentationRequest(
        self, request: pb.RespondToPresentationRequestRequest, context: Any
    ) -> pb.RespondToPresentationRequestResponse:
        account_id = _authorize(request.account_id)
        try:
            done = await oid4vp.respond(
                self._ctx,
                account_id,
                request.authorization_request,
                [(c.query_id, c.credential_id) for c in request.choices],
            )
        except VerifierUnreachable as err:
            await context.abort(grpc.StatusCode.UNAVAILABLE, err.message)
            raise AssertionError("unreachable") from err  # pragma: no cover - abort raises
        return pb.RespondToPresentationRequestResponse(
            redirect_uri=done.redirect_uri,
            presented=proto.seen_msgs([c for c, _ in done.seen], done.seen),
        )

    async def CreateShareLink(
        self, request: pb.CreateShareLinkRequest, context: Any
    ) -> pb.CreateShareLinkResponse:
        made = await sharing.create_share_link(
            self._ctx,
            _authorize(request.account_id),
            list(request.credential_ids),
            label=request.label,
            expires_at=proto.from_ts(request.expires_at)
            if request.HasField("expires_at")
            else None,
            max_accesses=request.max_accesses,
            audience=request.audience,
        )
        return pb.CreateShareLinkResponse(
            share_link=proto.share_link_msg(made.link, self._ctx.clock(), made.url)
        )

    async def RevokeShareLink(
        self, request: pb.RevokeShareLinkRequest, context: Any
    ) -> pb.RevokeShareLinkResponse:
        link = await sharing.revoke_share_link(
            self._ctx, _authorize(request.account_id), request.share_link_id
        )
        return pb.RevokeShareLinkResponse(share_link=proto.share_link_msg(link, self._ctx.clock()))

    async def ListShareLinks(
        self, request: pb.ListShareLinksRequest, context: Any
    ) -> pb.ListShareLinksResponse:
        links = await sharing.list_share_links(
            self._ctx, _authorize(request.account_id), request.include_inactive
        )
        chunk, token = _page(links, request.page, repr(request.include_inactive))
        now = self._ctx.clock()
        return pb.ListShareLinksResponse(
            share_links=[proto.share_link_msg(x, now) for x in chunk],
            page=ppb.PageResponse(next_page_token=token),
        )

    async def ListAccessLog(
        self, request: pb.ListAccessLogRequest, context: Any
    ) -> pb.ListAccessLogResponse:
        since = proto.from_ts(request.since) if request.HasField("since") else None
        entries = await sharing.list_access_log(
            self._ctx, _authorize(request.account_id), request.share_link_id, since
        )
        chunk, token = _page(entries, request.page, repr((request.share_link_id, since)))
        return pb.ListAccessLogResponse(
            entries=[proto.access_entry_msg(e) for e in chunk],
            page=ppb.PageResponse(next_page_token=token),
        )

    async def SetResearchConsent(
        self, request: pb.SetResearchConsentRequest, context: Any
    ) -> pb.SetResearchConsentResponse:
        consent = await accounts.set_research_consent(
            self._ctx, _authorize(request.account_id), request.study_id, request.opted_in
        )
        return pb.SetResearchConsentResponse(consent=proto.consent_msg(consent))

    async def ExportRecords(
        self, request: pb.ExportRecordsRequest, context: Any
    ) -> pb.ExportRecordsResponse:
        account_id = _authorize(request.account_id)
        fmt = _EXPORT_FORMATS.get(request.format)
        if fmt is None:
            raise InvalidRequest("format must be LER_RS_JSON or CREDENTIALS_ZIP")
        made = await export.export_records(
            self._ctx,
            account_id,
            fmt,
            include_hidden=request.include_hidden,
            include_self_asserted=request.include_self_asserted,
        )
        return pb.ExportRecordsResponse(
            content=made.content, media_type=made.media_type, filename=made.filename
        )


def register(servicer: WalletServicer) -> Callable[[grpc.aio.Server], None]:
    """The registration callback for ``GrpcServer.add_service``."""

    def add(server: grpc.aio.Server) -> None:
        pb_grpc.add_WalletServiceServicer_to_server(servicer, server)

    return add
