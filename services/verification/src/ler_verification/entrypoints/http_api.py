"""VC-API over HTTP (W3C VC-API: ``POST /credentials/verify``, ``POST /presentations/verify``,
``POST /challenges``).

Responses: ``200 {"verified": true, ...}`` when nothing failed; ``422`` (``400`` when the
input could not even be parsed) as ``application/problem+json`` (RFC 9457) with
``"verified": false`` and ``problemDetails`` (VC DM 2.0 §7.1 problem types). Bodies are
size-limited (413) and parsed strictly: duplicate keys, NaN and unknown members are
rejected with 400. Domain errors become problem documents here, in one place.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from ler_crypto.errors import CryptoError
from ler_crypto.limits import parse_json
from ler_platform.auth import Authenticator, Tenant
from ler_platform.errors import (
    DomainError,
    InvalidArgument,
)
from ler_platform.http_errors import http_status_for
from ler_platform.tracing import current_trace_id

from ler_verification.domain.errors import InvalidRequest
from ler_verification.domain.report import Outcome, Policy, Report
from ler_verification.service_layer import challenges, tenants
from ler_verification.service_layer.unit_of_work import UnitOfWorkFactory
from ler_verification.service_layer.verify import (
    Verification,
    VerificationService,
    VerifyCredential,
    VerifyPresentation,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
_POLICY_KEYS = {
    "allowUntrustedIssuers": "allow_untrusted_issuers",
    "allowExpired": "allow_expired",
    "allowUnreachableStatus": "allow_unreachable_status",
    "acceptVcV1": "accept_vc_v1",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {
        "type": extra.pop("type", "about:blank"),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place HTTP errors are mapped: domain errors, aiohttp's own, and the unexpected."""
    try:
        return await handler(request)
    except DomainError as err:
        status = http_status_for(err)
        extra: dict[str, Any] = {"code": err.reason}
        if isinstance(err, InvalidArgument) and err.violations:
            extra["errors"] = [{"field": v.field, "detail": v.description} for v in err.violations]
        if request.path.endswith("/verify"):
            extra["verified"] = False
        response = _problem(status, err.reason.replace("_", " ").capitalize(), err.message, **extra)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return _problem(err.status, err.reason, err.text or err.reason)
    except Exception:
        trace_id = current_trace_id()
        log.exception("unexpected error in %s", request.path)
        return _problem(
            500,
            "Internal error",
            "internal error" + (f" (trace id {trace_id})" if trace_id else ""),
        )


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type not in ("application/json", "application/ld+json"):
        raise InvalidRequest("body", "Content-Type must be application/json")
    raw = await request.read()
    try:
        body = parse_json(raw)
    except CryptoError as err:
        raise InvalidRequest("body", f"is not acceptable JSON: {err}") from err
    if not isinstance(body, dict):
        raise InvalidRequest("body", "must be a JSON object")
    return body


def _only(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise InvalidRequest(
            where, f"unknown member(s): {', '.join(repr(u[:50]) for u in unknown[:5])}"
        )


def _object(body: dict[str, Any], key: str, *, required: bool) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        if required:
            raise InvalidRequest(key, "is required")
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(key, "must be a JSON object")
    return value


def _policy(options: dict[str, Any]) -> Policy:
    raw = _object(options, "policy", required=False)
    _only(raw, {*_POLICY_KEYS, "requiredAccreditations"}, "options.policy")
    values: dict[str, Any] = {}
    for key, name in _POLICY_KEYS.items():
        if key in raw:
            if not isinstance(raw[key], bool):
                raise InvalidRequest(f"options.policy.{key}", "must be a boolean")
            values[name] = raw[key]
    labels = raw.get("requiredAccreditations", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise InvalidRequest("options.policy.requiredAccreditations", "must be an array of strings")
    return Policy(required_accreditations=tuple(labels), **values)


def _secured(value: Any, key: str) -> bytes:
    """A secured document: an object (Data Integrity) or a compact SD-JWT string."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if isinstance(value, str):
        return value.encode()
    raise InvalidRequest(key, "is required: a JSON object, or a compact SD-JWT string")


def _result_body(result: Verification) -> tuple[int, dict[str, Any]]:
    report = result.report
    body: dict[str, Any] = {
        "verified": not report.failed(),
        "verificationId": result.verification_id,
        "verdict": report.verdict.value,
        "checks": [c.id for c in report.checks if c.outcome is Outcome.PASS],
        "warnings": [_detail(c) for c in report.checks if c.outcome is Outcome.WARNING],
        "report": _report_json(report),
    }
    if not report.failed():
        return 200, body
    details = [_detail(c) for c in report.failed()]
    unparsed = any(c.id == "syntax" for c in report.failed())
    status = 400 if unparsed else 422
    body.update(
        type=details[0]["type"],
        title="Verification failed",
        status=status,
        detail="; ".join(f"{d['code']}: {d['title']}" for d in details)[:1000],
        problemDetails=details,
        errors=[d["detail"] for d in details],
    )
    return status, body


def _detail(check: Any) -> dict[str, Any]:
    code = check.error_code or "VERIFICATION_ERROR"
    problem_type = (
        f"https://www.w3.org/TR/vc-data-model#{code}"
        if code.endswith("_ERROR")
        else f"urn:ler:problem:{code}"
    )
    return {
        "type": problem_type,
        "code": code,
        "title": check.title,
        "detail": check.reason,
        "check": check.id,
        "target": check.target,
    }


def _report_json(report: Report) -> dict[str, Any]:
    return {
        "verdict": report.verdict.value,
        "checks": [
            {
                "id": c.id,
                "title": c.title,
                "outcome": c.outcome.value,
                "reason": c.reason,
                "errorCode": c.error_code,
                "target": c.target,
            }
            for c in report.checks
        ],
    }


class VcApi:
    """The routes; ``install`` adds them to an aiohttp application."""

    def __init__(
        self,
        service: VerificationService,
        uow_factory: UnitOfWorkFactory,
        authenticator: Authenticator,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._uow_factory = uow_factory
        self._auth = authenticator
        self._now = now

    def install(self, app: web.Application) -> None:
        """Register the middleware and routes."""
        app.middlewares.append(problem_middleware)
        app.router.add_post("/credentials/verify", self.verify_credential)
        app.router.add_post("/presentations/verify", self.verify_presentation)
        app.router.add_post("/challenges", self.create_challenge)

    async def _caller(self, request: web.Request) -> Tenant:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else None
        return await self._auth.authenticate(bearer or None, request.path)

    async def verify_credential(self, request: web.Request) -> web.Response:
        """``POST /credentials/verify`` {verifiableCredential, options}."""
        caller = await self._caller(request)
        body = await _json_body(request)
        _only(body, {"verifiableCredential", "options"}, "body")
        options = _object(body, "options", required=False)
        _only(options, {"checks", "policy"}, "options")
        data = _secured(body.get("verifiableCredential"), "verifiableCredential")
        verifier = tenants.acting_for(caller, "")
        result = await self._service.verify_credential(
            VerifyCredential(verifier, data, policy=_policy(options))
        )
        status, payload = _result_body(result)
        return web.json_response(
            payload, status=status, content_type="application/json" if status == 200 else PROBLEM
        )

    async def verify_presentation(self, request: web.Request) -> web.Response:
        """``POST /presentations/verify`` {verifiablePresentation, options: {challenge, domain}}."""
        caller = await self._caller(request)
        body = await _json_body(request)
        _only(body, {"verifiablePresentation", "options"}, "body")
        options = _object(body, "options", required=True)
        _only(options, {"challenge", "domain", "checks", "policy"}, "options")
        challenge, domain = options.get("challenge"), options.get("domain")
        if not isinstance(challenge, str) or not challenge:
            raise InvalidRequest("options.challenge", "is required (from POST /challenges)")
        if not isinstance(domain, str) or not domain:
            raise InvalidRequest("options.domain", "is required")
        data = _secured(body.get("verifiablePresentation"), "verifiablePresentation")
        verifier = tenants.acting_for(caller, "")
        result = await self._service.verify_presentation(
            VerifyPresentation(verifier, data, challenge, domain, policy=_policy(options))
        )
        status, payload = _result_body(result)
        if result.holder_id:
            payload["holder"] = result.holder_id
        return web.json_response(
            payload, status=status, content_type="application/json" if status == 200 else PROBLEM
        )

    async def create_challenge(self, request: web.Request) -> web.Response:
        """``POST /challenges`` {domain, ttlSeconds?} → {challenge, domain, expires}."""
        caller = await self._caller(request)
        body = await _json_body(request)
        _only(body, {"domain", "ttlSeconds"}, "body")
        domain = body.get("domain")
        if not isinstance(domain, str):
            raise InvalidRequest("domain", "is required")
        ttl_seconds = body.get("ttlSeconds")
        ttl = None
        if ttl_seconds is not None:
            if (
                isinstance(ttl_seconds, bool)
                or not isinstance(ttl_seconds, int)
                or abs(ttl_seconds) > 10**9
            ):
                raise InvalidRequest("ttlSeconds", "must be an integer number of seconds")
            ttl = timedelta(seconds=ttl_seconds)
        verifier = tenants.acting_for(caller, "")
        challenge = await challenges.create_challenge(
            self._uow_factory, verifier, domain, ttl, self._now()
        )
        return web.json_response(
            {
                "challenge": challenge.value,
                "domain": challenge.domain,
                "expires": challenge.expires_at.isoformat().replace("+00:00", "Z"),
            }
        )
