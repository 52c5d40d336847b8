"""IntakeService over HTTP for ATSs: JSON in and out, on the service's HTTP listener.

A thin second transport over the same code as gRPC: each route turns its path, query and JSON
body into the ``ler.intake.v1`` request message (the proto3 JSON mapping, camelCase members,
enum names; unknown members are refused), authenticates the bearer exactly as gRPC does (the
same provider API keys, the same ``IntakeAuthenticator``), and calls the same
``IntakeServicer`` method, whose use cases and tenant scoping are shared. The response is the
response message in the proto3 JSON mapping.

Routes (``Authorization: Bearer <api key>``; the posting is public)::

    POST /v1/opportunities                               CreateOpportunity
    GET  /v1/opportunities                               ListOpportunities (state, kind,
                                                         providerId, pageSize, pageToken)
    GET  /v1/opportunities/{id}                          GetOpportunity
    GET  /v1/opportunities/{id}/posting                  GetOpportunityPosting (no token)
    POST /v1/opportunities/{id}/challenges               CreateApplicationChallenge
    POST /v1/opportunities/{id}/applications             SubmitApplication
    GET  /v1/opportunities/{id}/applications             ListApplications (state, minScore,
                                                         order, pageSize, pageToken)
    GET  /v1/applications/{id}                           GetApplication (view, revealReason)
    POST /v1/applications/{id}/reveals                   RevealApplicationField
    PUT  /v1/applications/{id}/outcome                   RecordOutcome

In ``SubmitApplication`` the ``presentation`` member is the presentation itself: a JSON object
(a Data Integrity presentation) or a string (a compact JWT / SD-JWT), not base64. An
``Idempotency-Key`` header may stand in for the body's ``idempotencyKey``.

Errors are RFC 9457 ``application/problem+json`` documents: ``type`` is a URN naming the
specific problem (e.g. ``urn:ler:problem:intake:opportunity-not-found``), ``title`` its short
name, ``status``, ``detail`` the domain message, ``code`` the machine reason and, for a bad
field, ``errors: [{field, detail}]``. They are mapped here, in one place.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message
from ler.intake.v1 import intake_service_pb2 as pb
from ler_crypto.errors import CryptoError
from ler_crypto.limits import parse_json
from ler_platform.auth import current_tenant
from ler_platform.errors import (
    DomainError,
    InvalidArgument,
)
from ler_platform.http_errors import http_status_for
from ler_platform.tracing import current_trace_id

from ler_intake.adapters.auth import IntakeAuthenticator
from ler_intake.domain.errors import InvalidRequest, VerificationUnavailable
from ler_intake.entrypoints.grpc_api import SERVICE_NAME, IntakeServicer
from ler_intake.service_layer.applications import MAX_PRESENTATION_BYTES

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
PROBLEM_PREFIX = "urn:ler:problem:intake:"
# a presentation of the largest accepted size, plus the rest of the request and JSON overhead
MAX_BODY_BYTES = MAX_PRESENTATION_BYTES + 1024 * 1024
M = TypeVar("M", bound=Message)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Z][a-z0-9]*", name)]


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> web.Response:
    """An RFC 9457 problem document response."""
    body = {"type": PROBLEM_PREFIX + slug, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM)


def _domain_problem(err: DomainError) -> web.Response:
    status = 503 if isinstance(err, VerificationUnavailable) else http_status_for(err)
    words = _words(type(err).__name__)  # OpportunityNotFound -> "opportunity-not-found"
    extra: dict[str, Any] = {"code": err.reason}
    if isinstance(err, InvalidRequest):
        extra["errors"] = [{"field": err.field, "detail": err.message}]
    elif isinstance(err, InvalidArgument) and err.violations:
        extra["errors"] = [{"field": v.field, "detail": v.description} for v in err.violations]
    response = problem(status, "-".join(words), " ".join(words).capitalize(), err.message, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        response.headers["Retry-After"] = "5"
    return response


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every error of the API routes to a problem document (probes are left alone)."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    try:
        return await handler(request)
    except DomainError as err:
        return _domain_problem(err)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        slug = {404: "no-such-route", 405: "method-not-allowed", 413: "body-too-large"}.get(
            err.status, "http-error"
        )
        return problem(err.status, slug, err.reason, err.text or err.reason)
    except Exception:
        trace_id = current_trace_id()
        log.exception("unexpected error in %s %s", request.method, request.path)
        return problem(
            500,
            "internal-error",
            "Internal error",
            "internal error" + (f" (trace id {trace_id})" if trace_id else ""),
        )


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _parse_into(data: dict[str, Any], message: M, where: str = "body") -> M:
    try:
        json_format.ParseDict(data, message)
    except json_format.ParseError as err:
        # the parser names the member and the problem, e.g. 'no field named "foo"'
        raise InvalidRequest(where, f"is not a valid {message.DESCRIPTOR.name}: {err}") from err
    return message


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise InvalidRequest("body", "Content-Type must be application/json")
    raw = await request.read()
    try:
        body = parse_json(raw, max_bytes=MAX_BODY_BYTES)
    except CryptoError as err:
        raise InvalidRequest("body", f"is not acceptable JSON: {err}") from err
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a JSON object")
    return body


def _query(request: web.Request, allowed: dict[str, str]) -> dict[str, Any]:
    """Query parameters (camelCase names) as a proto3 JSON object; ``allowed`` maps each name
    to its path in the request message ("page.pageSize")."""
    out: dict[str, Any] = {}
    for name in request.query:
        if name not in allowed:
            raise InvalidRequest(name, "is not a query parameter of this route")
        values = request.query.getall(name)
        if len(values) > 1:
            raise InvalidRequest(name, "is given more than once")
        target = out
        *parents, leaf = allowed[name].split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = values[0]
    return out


def _json(message: Message, status: int = 200) -> web.Response:
    return web.json_response(json_format.MessageToDict(message), status=status)


class IntakeHttpApi:
    """The routes; ``install`` adds them and the problem middleware to an aiohttp app."""

    def __init__(self, servicer: IntakeServicer, authenticator: IntakeAuthenticator) -> None:
        self._servicer = servicer
        self._auth = authenticator

    def install(self, app: web.Application) -> None:
        """Add the routes (before the app starts)."""
        app.middlewares.append(problem_middleware)
        r = app.router
        r.add_post("/v1/opportunities", self._create_opportunity)
        r.add_get("/v1/opportunities", self._list_opportunities)
        r.add_get("/v1/opportunities/{id}", self._get_opportunity)
        r.add_get("/v1/opportunities/{id}/posting", self._get_posting)
        r.add_post("/v1/opportunities/{id}/challenges", self._create_challenge)
        r.add_post("/v1/opportunities/{id}/applications", self._submit)
        r.add_get("/v1/opportunities/{id}/applications", self._list_applications)
        r.add_get("/v1/applications/{id}", self._get_application)
        r.add_post("/v1/applications/{id}/reveals", self._reveal)
        r.add_put("/v1/applications/{id}/outcome", self._record_outcome)

    async def _call(self, request: web.Request, rpc: str, message: Message) -> Message:
        """Authenticate as the gRPC interceptor does, then run the servicer method."""
        tenant = await self._auth.authenticate(_bearer(request), f"/{SERVICE_NAME}/{rpc}")
        reset = current_tenant.set(tenant)
        try:
            result: Message = await getattr(self._servicer, rpc)(message, None)
            return result
        finally:
            current_tenant.reset(reset)

    async def _create_opportunity(self, request: web.Request) -> web.Response:
        msg = _parse_into(await _body(request), pb.CreateOpportunityRequest())
        if not msg.idempotency_key:
            msg.idempotency_key = request.headers.get("Idempotency-Key", "")
        return _json(await self._call(request, "CreateOpportunity", msg), status=201)

    async def _list_opportunities(self, request: web.Request) -> web.Response:
        query = _query(
            request,
            {
                "state": "state",
                "kind": "kind",
                "providerId": "providerId",
                "pageSize": "page.pageSize",
                "pageToken": "page.pageToken",
            },
        )
        msg = _parse_into(query, pb.ListOpportunitiesRequest(), "query")
        return _json(await self._call(request, "ListOpportunities", msg))

    async def _get_opportunity(self, request: web.Request) -> web.Response:
        msg = pb.GetOpportunityRequest(opportunity_id=request.match_info["id"])
        return _json(await self._call(request, "GetOpportunity", msg))

    async def _get_posting(self, request: web.Request) -> web.Response:
        msg = pb.GetOpportunityPostingRequest(opportunity_id=request.match_info["id"])
        return _json(await self._call(request, "GetOpportunityPosting", msg))

    async def _create_challenge(self, request: web.Request) -> web.Response:
        msg = pb.CreateApplicationChallengeRequest(opportunity_id=request.match_info["id"])
        return _json(await self._call(request, "CreateApplicationChallenge", msg), status=201)

    async def _submit(self, request: web.Request) -> web.Response:
        body = await _body(request)
        presentation = body.pop("presentation", None)
        if "opportunityId" in body:
            raise InvalidRequest("opportunityId", "comes from the path, not the body")
        msg = _parse_into(body, pb.SubmitApplicationRequest())
        msg.opportunity_id = request.match_info["id"]
        if isinstance(presentation, dict):
            msg.presentation = json.dumps(
                presentation, ensure_ascii=False, separators=(",", ":")
            ).encode()
        elif isinstance(presentation, str):
            msg.presentation = presentation.encode()
        elif presentation is not None:
            raise InvalidRequest(
                "presentation", "must be a JSON object or a compact JWT / SD-JWT string"
            )
        if not msg.idempotency_key:
            msg.idempotency_key = request.headers.get("Idempotency-Key", "")
        resp = await self._call(request, "SubmitApplication", msg)
        replayed = isinstance(resp, pb.SubmitApplicationResponse) and resp.replayed
        return _json(resp, status=200 if replayed else 201)

    async def _list_applications(self, request: web.Request) -> web.Response:
        query = _query(
            request,
            {
                "state": "state",
                "minScore": "minScore",
                "order": "order",
                "pageSize": "page.pageSize",
                "pageToken": "page.pageToken",
            },
        )
        msg = _parse_into(query, pb.ListApplicationsRequest(), "query")
        msg.opportunity_id = request.match_info["id"]
        return _json(await self._call(request, "ListApplications", msg))

    async def _get_application(self, request: web.Request) -> web.Response:
        query = _query(request, {"view": "view", "revealReason": "revealReason"})
        msg = _parse_into(query, pb.GetApplicationRequest(), "query")
        msg.application_id = request.match_info["id"]
        return _json(await self._call(request, "GetApplication", msg))

    async def _reveal(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if "applicationId" in body:
            raise InvalidRequest("applicationId", "comes from the path, not the body")
        msg = _parse_into(body, pb.RevealApplicationFieldRequest())
        msg.application_id = request.match_info["id"]
        return _json(await self._call(request, "RevealApplicationField", msg), status=201)

    async def _record_outcome(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if "applicationId" in body:
            raise InvalidRequest("applicationId", "comes from the path, not the body")
        msg = _parse_into(body, pb.RecordOutcomeRequest())
        msg.application_id = request.match_info["id"]
        return _json(await self._call(request, "RecordOutcome", msg))
