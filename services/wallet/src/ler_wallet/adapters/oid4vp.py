"""Wallet side of OpenID for Verifiable Presentations 1.0 (transport only).

Reads an Authorization Request (§5) given by value or by reference (``request_uri``, JAR
RFC 9101, fetched with GET or POST per ``request_uri_method`` §5.10), checks who asks by its
Client Identifier Prefix (§5.9), and posts the Authorization Response with Response Mode
``direct_post`` (§8.2). Building the presentations is the use case's job
(``ler_wallet.service_layer.oid4vp``).

Every fetch is bounded in size and time; plain http and non-public addresses are refused
unless the operator allows them (local clusters, tests).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from ler_crypto.did import DidResolver, HttpsWebFetcher
from ler_crypto.did.web import check_public_host
from ler_crypto.errors import CryptoError
from ler_crypto.sdjwt import parse_compact
from ler_crypto.sdjwt.jws import ParsedJws

from ler_wallet.domain.errors import (
    InvalidRequest,
    VerifierRefused,
    VerifierUnreachable,
)

MAX_REQUEST_BYTES = 256 * 1024
MAX_RESPONSE_BYTES = 64 * 1024
REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"  # RFC 9101 §10.8, OpenID4VP §5
SUPPORTED_PREFIXES = ("redirect_uri", "decentralized_identifier")
# §5.9.3 prefixes this wallet knows but does not support (no X.509 trust anchors, attestation
# issuers or federation trust anchors are configured); "origin" is reserved for the DC API.
KNOWN_PREFIXES = (
    "x509_san_dns",
    "x509_hash",
    "verifier_attestation",
    "openid_federation",
    "origin",
)


@dataclass(frozen=True)
class AuthorizationRequest:
    """The parameters of a verifier's request, after fetching and checking its origin."""

    client_id: str
    client_id_prefix: str
    params: dict[str, Any] = field(repr=False)
    signed: bool

    @property
    def nonce(self) -> str:
        """The nonce the presentations are bound to (§5.2)."""
        return str(self.params["nonce"])

    @property
    def response_uri(self) -> str:
        """Where the response is posted (§8.2)."""
        return str(self.params["response_uri"])

    @property
    def state(self) -> str | None:
        """The verifier's state, echoed back when given."""
        value = self.params.get("state")
        return value if isinstance(value, str) else None

    @property
    def verifier_name(self) -> str:
        """``client_metadata.client_name``, if any (self-declared unless signed)."""
        meta = self.params.get("client_metadata")
        name = meta.get("client_name") if isinstance(meta, dict) else None
        return name[:200] if isinstance(name, str) else ""


def _single(query: dict[str, list[str]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, values in query.items():
        if len(values) != 1:
            raise InvalidRequest(f"parameter {key!r} appears {len(values)} times")
        params[key] = values[0]
    for key in ("dcql_query", "client_metadata"):
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError as err:
                raise InvalidRequest(f"{key} is not JSON") from err
    return params


def parse_request_uri(uri: str) -> dict[str, Any]:
    """The query parameters of an authorization request URI (``openid4vp://?...``)."""
    if not uri.strip():
        raise InvalidRequest("authorization_request is required")
    if len(uri) > MAX_REQUEST_BYTES:
        raise InvalidRequest(f"authorization_request exceeds {MAX_REQUEST_BYTES} characters")
    parts = urlsplit(uri.strip())
    if not parts.query:
        raise InvalidRequest("authorization_request has no parameters")
    return _single(parse_qs(parts.query, keep_blank_values=True))


def client_id_prefix(client_id: str) -> str:
    """The Client Identifier Prefix (§5.9): the part before the first ':'."""
    if ":" not in client_id:
        # §5.9: no ':' means a pre-registered client; this wallet has no registrations
        raise InvalidRequest(f"client_id {client_id!r} is not a client registered with this wallet")
    prefix = client_id.split(":", 1)[0]
    if prefix in SUPPORTED_PREFIXES:
        return prefix
    if prefix in KNOWN_PREFIXES:
        raise InvalidRequest(f"client identifier prefix {prefix!r} is not supported by this wallet")
    raise InvalidRequest(f"unknown client identifier prefix {prefix!r} in client_id")


class Oid4vpClient:
    """Fetches verifiers' requests and posts the wallet's responses."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = 10.0,
        resolver: DidResolver | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._resolver = resolver or DidResolver(HttpsWebFetcher(allow_private=allow_private))

    async def _check(self, url: str, what: str) -> None:
        scheme = urlsplit(url).scheme
        if self._allow_private:
            if scheme not in ("http", "https"):
                raise InvalidRequest(f"the {what} must be an http(s) URL")
            return
        if scheme != "https":
            raise InvalidRequest(f"the {what} must be an https URL")
        try:
            await asyncio.to_thread(check_public_host, url)
        except CryptoError as err:
            raise VerifierUnreachable(f"refusing to contact the verifier: {err}") from err

    async def _call(
        self,
        method: str,
        url: str,
        what: str,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, str]:
        await self._check(url, what)
        limit = MAX_REQUEST_BYTES if what == "request_uri" else MAX_RESPONSE_BYTES
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as http,
                http.request(
                    method, url, data=data, headers=headers, allow_redirects=False
                ) as response,
            ):
                body = await response.content.read(limit + 1)
                return response.status, body, response.content_type
        except (aiohttp.ClientError, TimeoutError) as err:
            raise VerifierUnreachable(
                f"the verifier at {urlsplit(url).netloc} cannot be reached ({type(err).__name__})"
            ) from err

    async def read(self, authorization_request: str) -> AuthorizationRequest:
        """The request's parameters: by value, or fetched from ``request_uri`` (RFC 9101 §5.2)
        and checked against the client_id's prefix (§5.9.3)."""
        outer = parse_request_uri(authorization_request)
        client_id = outer.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise InvalidRequest("client_id is required")
        prefix = client_id_prefix(client_id)
        if "request" in outer and "request_uri" in outer:
            raise InvalidRequest("request and request_uri must not both be present (RFC 9101 §5)")
        if "request" in outer:
            return await self._request_object(client_id, prefix, outer["request"])
        if "request_uri" not in outer:
            if prefix == "decentralized_identifier":
                # §5.9.3: requests of this prefix MUST be signed
                raise InvalidRequest("a decentralized_identifier client must sign its request")
            return AuthorizationRequest(client_id, prefix, outer, signed=False)
        uri = outer["request_uri"]
        method = str(outer.get("request_uri_method", "get")).lower()
        if method not in ("get", "post"):  # §5.10
            raise InvalidRequest(f"request_uri_method {method!r} must be 'get' or 'post'")
        # §5.10: with "post" the wallet POSTs a form (it sends no wallet_metadata/wallet_nonce:
        # it needs no encrypted request and declares no non-default capabilities)
        status, body, _ = await self._call(
            method.upper(),
            uri,
            "request_uri",
            data={} if method == "post" else None,
            headers={
                "Accept": f"application/{REQUEST_OBJECT_TYP}",
                **(
                    {"Content-Type": "application/x-www-form-urlencoded"}
                    if method == "post"
                    else {}
                ),
            },
        )
        if status >= 500:
            raise VerifierUnreachable(f"the verifier answered {status} for request_uri")
        if status >= 400:
            raise InvalidRequest(f"the verifier answered {status} for request_uri")
        if len(body) > MAX_REQUEST_BYTES:
            raise InvalidRequest(f"the request object exceeds {MAX_REQUEST_BYTES} bytes")
        return await self._request_object(client_id, prefix, body.decode("ascii", "replace"))

    async def _request_object(
        self, client_id: str, prefix: str, token: str
    ) -> AuthorizationRequest:
        try:
            jws = parse_compact(token.strip(), what="request object")
        except CryptoError as err:
            raise InvalidRequest(f"the request object is not a JWT: {err}") from err
        signature_present = bool(jws.signature)  # empty for an unsigned (alg "none") object
        header, params = jws.header, dict(jws.payload)
        if header.get("typ") not in (None, REQUEST_OBJECT_TYP):
            raise InvalidRequest(f"request object typ must be {REQUEST_OBJECT_TYP!r}")
        if params.get("client_id") != client_id:
            # RFC 9101 §5.2 / OpenID4VP §5: the outer client_id must match the request object's
            raise InvalidRequest("client_id of the request object differs from the request's")
        alg = header.get("alg")
        if prefix == "redirect_uri":
            # §5.9.3: a redirect_uri client cannot sign; an unsigned object must say alg none
            if alg != "none" or signature_present:
                raise InvalidRequest("a redirect_uri client's request object must be unsigned")
            return AuthorizationRequest(client_id, prefix, params, signed=False)
        # decentralized_identifier: signed with a key of the client's DID (kid is a DID URL)
        did = client_id.split(":", 1)[1]
        kid = header.get("kid")
        if not isinstance(kid, str) or kid.split("#", 1)[0] != did:
            raise InvalidRequest(
                "the request object's kid must be a verification method of the client's DID"
            )
        if alg == "none" or not signature_present:
            raise InvalidRequest("a decentralized_identifier client must sign its request object")
        await self._verify_with_did(jws, kid)
        return AuthorizationRequest(client_id, prefix, params, signed=True)

    async def _verify_with_did(self, jws: ParsedJws, kid: str) -> None:
        """§5.9.3: the key comes from the DID document's verification methods (the spec names
        no relationship: authentication, else assertionMethod)."""
        failure: CryptoError | None = None
        for relationship in ("authentication", "assertionMethod"):
            try:
                key = await self._resolver.resolve_verification_method(kid, relationship)
                jws.verify(key)
                return
            except CryptoError as err:
                failure = err
        raise InvalidRequest(
            f"the request object's signature does not verify: {failure}"
        ) from failure

    async def post_response(self, response_uri: str, form: dict[str, str]) -> str:
        """POST the Authorization Response (§8.2, form-encoded); the redirect_uri the verifier
        returns, if any."""
        status, body, content_type = await self._call("POST", response_uri, "response_uri", form)
        if status >= 500:
            raise VerifierUnreachable(f"the verifier answered {status}; retry later")
        if status >= 400:
            reason = ""
            try:
                data = json.loads(body)
                reason = str(data.get("error_description") or data.get("error") or "")[:200]
            except (ValueError, AttributeError):
                pass
            raise VerifierRefused(f"the verifier rejected the response ({status}) {reason}".strip())
        if content_type == "application/json" and body:
            try:
                data = json.loads(body)
            except ValueError:
                return ""
            redirect = data.get("redirect_uri") if isinstance(data, dict) else None
            return redirect if isinstance(redirect, str) else ""
        return ""
