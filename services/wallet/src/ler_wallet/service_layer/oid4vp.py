"""Use cases: answer a verifier's OpenID4VP 1.0 authorization request.

``resolve_request`` shows the learner who asks and what (nothing leaves the wallet);
``respond`` builds one presentation per answered DCQL Credential Query, bound to the request's
``nonce`` and ``client_id``, posts ``vp_token`` (+ ``state``) to ``response_uri`` with Response
Mode ``direct_post`` (§8.2), and records the answer in the access log and as an event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ler_crypto.errors import CryptoError
from ler_crypto.sdjwt import parse_sd_jwt, reconstruct

from ler_wallet.adapters.oid4vp import AuthorizationRequest
from ler_wallet.domain import dcql, events
from ler_wallet.domain.errors import (
    CredentialNotFound,
    InvalidRequest,
    NoMatchingCredential,
    VerifierRefused,
    VerifierUnreachable,
)
from ler_wallet.domain.model import (
    AccessLogEntry,
    AccessOutcome,
    CredentialFormat,
    HeldCredential,
    StatusState,
)
from ler_wallet.service_layer.accounts import load_account, study_pseudonyms
from ler_wallet.service_layer.context import Context, new_id
from ler_wallet.service_layer.sharing import ldp_presentation, presentable, sd_jwt_disclosure

_FORMAT_NAMES = {CredentialFormat.LDP_VC: dcql.LDP_VC, CredentialFormat.SD_JWT_VC: dcql.SD_JWT_VC}


class RequestTransport(Protocol):
    """Reads verifiers' requests and posts responses (``ler_wallet.adapters.oid4vp``)."""

    async def read(self, authorization_request: str) -> AuthorizationRequest: ...
    async def post_response(self, response_uri: str, form: dict[str, str]) -> str: ...


@dataclass(frozen=True)
class QueryMatch:
    """One credential query and the held credentials that can answer it."""

    query: dcql.CredentialQuery
    required: bool
    credential_ids: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedRequest:
    """What the learner is asked, and by whom."""

    request: AuthorizationRequest
    matches: tuple[QueryMatch, ...]


@dataclass(frozen=True)
class Answered:
    """The result of a response: where to go next, and what was shown."""

    redirect_uri: str
    seen: tuple[tuple[str, tuple[str, ...]], ...]  # (credential_id, disclosed claim pointers)


def _checked(request: AuthorizationRequest) -> dcql.DcqlQuery:
    """Check the parameters this wallet needs (§5, §8.2); return the parsed DCQL query."""
    p = request.params
    if p.get("response_type") != "vp_token":
        raise InvalidRequest(
            f"response_type {p.get('response_type')!r} is not supported (only 'vp_token')"
        )
    mode = p.get("response_mode")
    if mode != "direct_post":
        raise InvalidRequest(f"response_mode {mode!r} is not supported (only 'direct_post'; §8.2)")
    nonce = p.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise InvalidRequest("nonce is required (§5.2)")
    uri = p.get("response_uri")
    if not isinstance(uri, str) or not uri:
        raise InvalidRequest("response_uri is required with response_mode direct_post (§8.2)")
    if "redirect_uri" in p:
        raise InvalidRequest("redirect_uri must not be present with direct_post (§8.2)")
    if request.client_id_prefix == "redirect_uri" and request.client_id.split(":", 1)[1] != uri:
        # §5.9.3: with direct_post the client identifier is the response_uri itself
        raise InvalidRequest("client_id of a redirect_uri client must equal its response_uri")
    if "presentation_definition" in p or ("scope" in p and "dcql_query" not in p):
        raise InvalidRequest(
            "only DCQL queries (dcql_query) are supported, not presentation_definition or scope"
        )
    if "dcql_query" not in p:
        raise InvalidRequest("dcql_query is required")
    return dcql.parse_query(p["dcql_query"])


def _document(held: HeldCredential) -> Any:
    """The credential's claims as the DCQL claims paths see them (SD-JWT: all disclosed)."""
    try:
        if held.format is CredentialFormat.SD_JWT_VC:
            return reconstruct(parse_sd_jwt(held.signed.decode()))[0]
        return json.loads(held.signed)
    except (CryptoError, ValueError):
        return None


def _answers(
    query: dcql.CredentialQuery, held: HeldCredential
) -> tuple[dcql.ClaimsQuery, ...] | None:
    fmt = _FORMAT_NAMES.get(held.format)
    document = _document(held)
    if fmt is None or document is None or held.status is not StatusState.ACTIVE:
        return None
    if not dcql.format_matches(query, fmt, document):
        return None
    return dcql.selected_claims(query, document)


async def resolve_request(
    ctx: Context, account_id: str, authorization_request: str
) -> ResolvedRequest:
    """Read and check the request; list for each credential query the held credentials that
    can answer it. Sends nothing to the verifier."""
    transport = _transport(ctx)
    request = await transport.read(authorization_request)
    query = _checked(request)
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        held = await uow.credentials.for_account(account_id)
    matches = tuple(
        QueryMatch(
            q,
            q.query_id in query.required_ids,
            tuple(h.credential_id for h in held if _answers(q, h) is not None),
        )
        for q in query.credentials
    )
    return ResolvedRequest(request, matches)


def _transport(ctx: Context) -> RequestTransport:
    if ctx.presentation_requests is None:
        raise InvalidRequest("OpenID4VP is not enabled on this wallet")
    return ctx.presentation_requests  # type: ignore[return-value]


def _sd_paths(document: Any, claims: Sequence[dcql.ClaimsQuery]) -> list[tuple[str | int, ...]]:
    """Concrete paths of the requested claims (null steps expanded)."""
    paths: list[tuple[str | int, ...]] = []
    for claim in claims:
        paths.extend(dcql.concrete_paths(document, claim.path))
    return paths


def _grouped(query: dcql.DcqlQuery, choices: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """The learner's choices per credential query, checked against the query (§6.4)."""
    if not choices:
        raise InvalidRequest("choose at least one credential to present")
    by_query: dict[str, list[str]] = {}
    for query_id, credential_id in choices:
        query.get(query_id)  # names an unknown query id
        ids = by_query.setdefault(query_id, [])
        if credential_id not in ids:
            ids.append(credential_id)
    for query_id, ids in by_query.items():
        if len(ids) > 1 and not query.get(query_id).multiple:
            raise InvalidRequest(
                f"credential query {query_id!r} takes one credential (multiple=false)"
            )
    missing = sorted(query.required_ids - set(by_query))
    if missing:
        raise InvalidRequest(f"the verifier requires an answer to credential queries {missing}")
    return by_query


async def respond(
    ctx: Context,
    account_id: str,
    authorization_request: str,
    choices: Sequence[tuple[str, str]],
) -> Answered:
    """Answer the request with the chosen (query id, credential id) pairs and post it."""
    transport = _transport(ctx)
    request = await transport.read(authorization_request)
    query = _checked(request)
    by_query = _grouped(query, choices)
    vp_token: dict[str, list[Any]] = {}
    seen: list[tuple[str, tuple[str, ...]]] = []
    sd_seen: list[tuple[str, tuple[str, ...]]] = []  # SD-JWT credentials: claims disclosed
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
        pair = ctx.keys.open(account.encrypted_holder_key)
        for query_id, ids in by_query.items():
            q = query.get(query_id)
            for credential_id in ids:
                held = await uow.credentials.get(account_id, credential_id)
                if held is None:
                    raise CredentialNotFound(credential_id)
                presentable(held)
                claims = _answers(q, held)
                if claims is None:
                    raise NoMatchingCredential(
                        f"credential {credential_id!r} does not answer credential query"
                        f" {query_id!r} (format, type or requested claims)"
                    )
                if held.format is CredentialFormat.SD_JWT_VC:
                    # Appendix B.3: only the requested claims; KB-JWT aud = client_id, nonce
                    paths = _sd_paths(_document(held), claims)
                    text = sd_jwt_disclosure(held, paths, pair, request.client_id, request.nonce)
                    vp_token.setdefault(query_id, []).append(text)
                    pointers = tuple(dcql.to_pointer(p) for p in paths)
                    seen.append((credential_id, pointers))
                    sd_seen.append((credential_id, pointers))
                else:
                    # Appendix B.1: Data Integrity proof, challenge = nonce, domain = client_id
                    vp = ldp_presentation(account, pair, [held], request.nonce, request.client_id)
                    vp_token.setdefault(query_id, []).append(vp)
                    seen.append((credential_id, ()))
    # §8.1: vp_token is a JSON object keyed by credential query id, arrays of presentations
    form = {"vp_token": json.dumps(vp_token, ensure_ascii=False, separators=(",", ":"))}
    if request.state is not None:
        form["state"] = request.state
    failure: Exception | None = None
    redirect = ""
    try:
        redirect = await transport.post_response(request.response_uri, form)
    except (VerifierRefused, VerifierUnreachable) as err:
        failure = err  # the data may have left the wallet: logged all the same, then raised
    now = ctx.clock()
    shown = tuple(cid for cid, _ in seen)
    async with ctx.uow() as uow:
        await uow.access_log.add(
            AccessLogEntry(
                new_id("acl"),
                account_id,
                "",
                now,
                AccessOutcome.GRANTED,
                verifier_id=request.client_id[:500],
                seen_credential_ids=shown,
                channel="openid4vp",
                seen_claims=tuple(sd_seen),
            )
        )
        uow.publish(
            events.CredentialShared(
                account_id,
                "openid4vp",
                shown,
                now,
                domain=request.client_id[:500],
                study_pseudonyms=await study_pseudonyms(uow, account_id),
            )
        )
    if failure is not None:
        raise failure
    return Answered(redirect, tuple(seen))
