"""Public HTTP routes of the issuance service (aiohttp).

* ``GET /issuers/{id}/did.json``, ``GET /.well-known/did.json`` and ``GET /{path}/did.json``
  — did:web documents (did:web §3.2: the DID maps to exactly these URLs);
* ``GET /issuers/{id}/status-lists/{list}`` — signed BitstringStatusListCredentials with
  ``ETag`` and ``Cache-Control``, ``304`` on a matching ``If-None-Match`` (RFC 9110 §13.1.2);
* ``GET /issuers/{id}/status-lists/{list}/token`` — the Status List Token of a revocation list
  (draft-ietf-oauth-status-list §5.1, served as ``application/statuslist+jwt``, §8.2), which
  SD-JWT VCs name; cached the same way;
* ``POST /oauth/token`` — OAuth 2.0 client credentials (RFC 6749 §4.4) → bearer token;
* ``POST /credentials/issue`` — VC-API issue (bearer token);
* OID4VCI: ``/.well-known/openid-credential-issuer/issuers/{id}`` (and under the issuer path)
  metadata, ``/.well-known/oauth-authorization-server/issuers/{id}``, ``POST /oid4vci/token``
  and ``POST /oid4vci/credential``.

Domain errors become ``application/problem+json`` (RFC 9457) in ``_problem`` — the one place
for this transport; OAuth endpoints answer with RFC 6749 §5.2 error objects instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web
from ler_crypto.did import DidResolver
from ler_crypto.obv3 import OB_CONTEXT
from ler_crypto.token_status_list import MEDIA_TYPE as STATUS_LIST_JWT_MEDIA_TYPE
from ler_crypto.vc_model import VC_V2_CONTEXT
from ler_platform.auth import Tenant
from ler_platform.errors import (
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from ler_platform.http_errors import http_status_for

from ler_issuance.adapters.auth import ISSUER, IssuanceAuthenticator
from ler_issuance.domain.errors import InvalidClient, OfferNotRedeemable
from ler_issuance.domain.model import DidMethod
from ler_issuance.service_layer import issuers, offers, status, vcapi
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.status_tokens import StatusListTokens
from ler_issuance.service_layer.tokens import AccessTokens

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(err: DomainError) -> web.Response:
    """RFC 9457 problem details for a domain error (message and reason only; no internals)."""
    code = http_status_for(err)
    body: dict[str, Any] = {
        "type": f"urn:ler:problem:{err.reason.lower()}",
        "title": err.reason,
        "status": code,
        "detail": err.message,
    }
    violations = getattr(err, "violations", ())
    if violations:
        body["errors"] = [{"field": v.field, "detail": v.description} for v in violations]
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if code == 401 else None
    return web.json_response(
        body, status=code, content_type="application/problem+json", headers=headers
    )


def _oauth_error(error: str, description: str, status_code: int = 400) -> web.Response:
    """RFC 6749 §5.2 error response."""
    headers = {"Cache-Control": "no-store"}
    if status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="ler-issuance"'
    return web.json_response(
        {"error": error, "error_description": description}, status=status_code, headers=headers
    )


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _json_body(request: web.Request) -> Any:
    if request.content_type not in ("application/json", "application/ld+json"):
        raise InvalidArgument("the request body must be application/json")
    try:
        return json.loads(await request.read())
    except ValueError as err:
        raise InvalidArgument("the request body is not valid JSON") from err


def _did_from_host_path(host: str, path: str) -> str:
    """did:web §3.2 in reverse: ``Host`` and ``/a/b/did.json`` → ``did:web:<host>:a:b``."""
    segments = [s for s in path.strip("/").split("/")[:-1] if s and s != ".well-known"]
    return ":".join(["did:web", quote(host, safe=""), *segments])


class IssuanceHttpApi:
    """See the module docstring."""

    def __init__(
        self,
        ctx: Context,
        tokens: AccessTokens,
        authenticator: IssuanceAuthenticator,
        *,
        default_issuer_id: str = "",
        status_max_age: int = 60,
    ) -> None:
        self._ctx = ctx
        self._tokens = tokens
        self._auth = authenticator
        self._default_issuer = default_issuer_id
        self._max_age = status_max_age
        self._status_tokens = StatusListTokens(ctx, ttl=status_max_age)
        # holder proofs are by did:key / did:jwk keys, resolved locally (no outbound fetch)
        self._holder_resolver = DidResolver(None, offline=True)

    def install(self, app: web.Application) -> None:
        """Add the routes to ``app``."""
        r = app.router
        r.add_get("/issuers/{issuer_id}/did.json", self._guard(self.issuer_did))
        r.add_get("/.well-known/did.json", self._guard(self.well_known_did))
        r.add_get("/issuers/{issuer_id}/status-lists/{list_id}", self._guard(self.status_list))
        r.add_get(
            "/issuers/{issuer_id}/status-lists/{list_id}/token",
            self._guard(self.status_list_token),
        )
        r.add_post("/oauth/token", self.oauth_token)
        r.add_post("/credentials/issue", self._guard(self.issue))
        r.add_get(
            "/.well-known/openid-credential-issuer/issuers/{issuer_id}",
            self._guard(self.issuer_metadata),
        )
        r.add_get(
            "/issuers/{issuer_id}/.well-known/openid-credential-issuer",
            self._guard(self.issuer_metadata),
        )
        r.add_get(
            "/.well-known/oauth-authorization-server/issuers/{issuer_id}",
            self._guard(self.as_metadata),
        )
        r.add_post("/oid4vci/token", self.oid4vci_token)
        r.add_post("/oid4vci/credential", self._guard(self.oid4vci_credential))
        r.add_get("/{path:.+}/did.json", self._guard(self.path_did))

    @staticmethod
    def _guard(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except DomainError as err:
                return _problem(err)

        return guarded

    # --- DID documents ---------------------------------------------------------------------

    async def _did_document(self, issuer: Any) -> web.Response:
        if issuer.did_method is not DidMethod.WEB:
            raise NotFound("no did:web document here")
        return web.json_response(
            issuer.did_document(),
            content_type="application/did+json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    async def issuer_did(self, request: web.Request) -> web.Response:
        """``/issuers/{id}/did.json`` for issuers whose did:web this service mints."""
        issuer_id = request.match_info["issuer_id"]
        issuer = await issuers.get_issuer(self._ctx, issuer_id)
        if not issuer.did.endswith(f":issuers:{issuer_id}"):
            raise NotFound("no did:web document here")
        return await self._did_document(issuer)

    async def well_known_did(self, request: web.Request) -> web.Response:
        """The default issuer's document, else the issuer whose DID is ``did:web:<Host>``."""
        if self._default_issuer:
            return await self._did_document(
                await issuers.get_issuer(self._ctx, self._default_issuer)
            )
        return await self.path_did(request)

    async def path_did(self, request: web.Request) -> web.Response:
        """Any registered did:web whose URL (Host + path) this request is."""
        did = _did_from_host_path(request.host, request.path)
        async with self._ctx.uow() as uow:
            issuer = await uow.issuers.get_by_did(did)
        if issuer is None:
            raise NotFound("no DID document here")
        return await self._did_document(issuer)

    # --- status lists ----------------------------------------------------------------------

    async def status_list(self, request: web.Request) -> web.Response:
        """A signed status list credential, cacheable, with an ETag (BSL §2.2, §6.1)."""
        state = await status.status_list_credential(
            self._ctx, request.match_info["issuer_id"], request.match_info["list_id"]
        )
        return self._cacheable(request, bytes(state.signed_credential), "application/vc+ld+json")

    async def status_list_token(self, request: web.Request) -> web.Response:
        """A Status List Token (draft-ietf-oauth-status-list §5.1, §8.2), cacheable like the
        list credential; public, as status lists are by design."""
        signed = await self._status_tokens.get(
            request.match_info["issuer_id"], request.match_info["list_id"]
        )
        return self._cacheable(request, signed.token.encode(), STATUS_LIST_JWT_MEDIA_TYPE)

    def _cacheable(self, request: web.Request, body: bytes, content_type: str) -> web.Response:
        """``body`` with an ETag and ``Cache-Control: max-age``; 304 on a matching
        ``If-None-Match`` (RFC 9110 §13.1.2)."""
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {
            "ETag": etag,
            "Cache-Control": f"public, max-age={self._max_age}",
        }
        wanted = request.headers.get("If-None-Match", "")
        if etag in [t.strip() for t in wanted.split(",")] or wanted.strip() == "*":
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=content_type, headers=headers)

    # --- OAuth 2.0 client credentials ------------------------------------------------------

    async def oauth_token(self, request: web.Request) -> web.Response:
        """RFC 6749 §4.4: client credentials (HTTP Basic or form parameters) → bearer token."""
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "only client_credentials is supported")
        client_id, secret = _client_credentials(request, form)
        if not secret:
            return _oauth_error("invalid_client", "client authentication failed", 401)
        try:
            issuer = await issuers.authenticate_client(self._ctx, client_id, secret)
        except InvalidClient:
            return _oauth_error("invalid_client", "client authentication failed", 401)
        token = self._tokens.issue(issuer.issuer_id)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self._tokens.ttl_seconds,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    async def _tenant(self, request: web.Request) -> Tenant:
        tenant = await self._auth.authenticate(_bearer(request), request.path)
        if tenant.kind != ISSUER:
            raise PermissionDenied("only issuer tenants may issue credentials")
        return tenant

    # --- VC-API ------------------------------------------------------------------------------

    async def issue(self, request: web.Request) -> web.Response:
        """VC-API ``POST /credentials/issue``: 201 with ``verifiableCredential``."""
        tenant = await self._tenant(request)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise InvalidArgument("the request body must be a JSON object")
        record, _ = await vcapi.issue_document(
            self._ctx, tenant.tenant_id, body.get("credential"), body.get("options")
        )
        return web.json_response(
            {"verifiableCredential": json.loads(record.signed_credential)}, status=201
        )

    # --- OID4VCI -----------------------------------------------------------------------------

    async def issuer_metadata(self, request: web.Request) -> web.Response:
        """Credential Issuer Metadata (OID4VCI §12.2)."""
        issuer = await issuers.get_issuer(self._ctx, request.match_info["issuer_id"])
        base = self._ctx.urls.base_url.rstrip("/")
        return web.json_response(
            {
                "credential_issuer": offers.issuer_base(self._ctx, issuer.issuer_id),
                "authorization_servers": [offers.issuer_base(self._ctx, issuer.issuer_id)],
                "credential_endpoint": f"{base}/oid4vci/credential",
                "display": [{"name": issuer.name, "locale": "en"}],
                "credential_configurations_supported": {
                    offers.CONFIGURATION_ID: {
                        "format": "ldp_vc",
                        "credential_definition": {
                            "@context": [VC_V2_CONTEXT, OB_CONTEXT],
                            "type": ["VerifiableCredential", "OpenBadgeCredential"],
                        },
                        "cryptographic_binding_methods_supported": ["did:key", "did:jwk"],
                        "credential_signing_alg_values_supported": [
                            "eddsa-rdfc-2022",
                            "eddsa-jcs-2022",
                        ],
                        "proof_types_supported": {
                            "jwt": {"proof_signing_alg_values_supported": ["EdDSA", "ES256"]}
                        },
                    }
                },
            }
        )

    async def as_metadata(self, request: web.Request) -> web.Response:
        """OAuth Authorization Server Metadata (RFC 8414) for the pre-authorized code grant."""
        issuer = await issuers.get_issuer(self._ctx, request.match_info["issuer_id"])
        base = self._ctx.urls.base_url.rstrip("/")
        return web.json_response(
            {
                "issuer": offers.issuer_base(self._ctx, issuer.issuer_id),
                "token_endpoint": f"{base}/oid4vci/token",
                "grant_types_supported": [offers.PRE_AUTHORIZED_GRANT],
                "pre-authorized_grant_anonymous_access_supported": True,
            }
        )

    async def oid4vci_token(self, request: web.Request) -> web.Response:
        """OID4VCI §6: pre-authorized code (+ tx_code) → access token and c_nonce."""
        form = await request.post()
        if form.get("grant_type") != offers.PRE_AUTHORIZED_GRANT:
            return _oauth_error("unsupported_grant_type", "use the pre-authorized_code grant")
        code = str(form.get("pre-authorized_code") or "")
        if not code:
            return _oauth_error("invalid_request", "pre-authorized_code is required")
        try:
            issued = await offers.redeem_code(self._ctx, code, str(form.get("tx_code") or ""))
        except OfferNotRedeemable as err:
            return _oauth_error("invalid_grant", err.message)
        return web.json_response(
            {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "c_nonce": issued.c_nonce,
                "c_nonce_expires_in": issued.expires_in,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def oid4vci_credential(self, request: web.Request) -> web.Response:
        """OID4VCI §8: the credential, after checking the access token and the key proof."""
        token = _bearer(request)
        if not token:
            raise InvalidClient("an access token is required")
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise InvalidArgument("the request body must be a JSON object")
        proof = body.get("proof")
        jwt = proof.get("jwt") if isinstance(proof, dict) else None
        proofs = body.get("proofs")
        if jwt is None and isinstance(proofs, dict) and isinstance(proofs.get("jwt"), list):
            jwt = proofs["jwt"][0] if proofs["jwt"] else None
        if not isinstance(jwt, str):
            raise InvalidArgument("a proof of possession (proof.jwt) is required")
        record = await offers.deliver(self._ctx, token, jwt, self._holder_resolver)
        return web.json_response(
            {"credentials": [{"credential": json.loads(record.signed_credential)}]}
        )


def _client_credentials(request: web.Request, form: Any) -> tuple[str | None, str]:
    """Client id and secret from HTTP Basic (RFC 6749 §2.3.1) or from the form body."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, ""
        client_id, _, secret = decoded.partition(":")
        return client_id or None, secret
    return (str(form.get("client_id") or "") or None), str(form.get("client_secret") or "")
