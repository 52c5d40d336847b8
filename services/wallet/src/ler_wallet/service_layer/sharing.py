"""Use cases: presentations for a verifier's request, share links, their resolution and the
access log."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ler_crypto import dataintegrity
from ler_crypto.errors import CryptoError
from ler_crypto.keys import KeyPair
from ler_crypto.sdjwt import create_presentation as sd_jwt_presentation
from ler_crypto.sdjwt import parse_sd_jwt, reconstruct

from ler_wallet.domain import events
from ler_wallet.domain.credentials import SD_JWT_MEDIA_TYPE
from ler_wallet.domain.errors import (
    AudienceMismatch,
    CredentialNotFound,
    CredentialUnusable,
    InvalidRequest,
    ShareLinkNotFound,
    ShareLinkUnavailable,
)
from ler_wallet.domain.model import (
    AccessLogEntry,
    AccessOutcome,
    Account,
    CredentialFormat,
    HeldCredential,
    ShareLink,
    StatusState,
)
from ler_wallet.service_layer.accounts import load_account, study_pseudonyms
from ler_wallet.service_layer.context import Context, new_id
from ler_wallet.service_layer.unit_of_work import UnitOfWork

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VP_MEDIA_TYPE = "application/vp+ld+json"
CRYPTOSUITES = ("eddsa-rdfc-2022", "eddsa-jcs-2022")
DEFAULT_LINK_LIFETIME = timedelta(days=30)
MAX_LINK_LIFETIME = timedelta(days=365)
MAX_USER_AGENT = 200


@dataclass(frozen=True)
class Presentation:
    """A signed presentation and how to label it."""

    content: bytes
    format: CredentialFormat
    media_type: str


def pointer_to_path(pointer: str) -> tuple[str | int, ...]:
    """RFC 6901 JSON pointer (``/achievement/name``) to a claim path; digits index arrays."""
    if not pointer.startswith("/"):
        raise InvalidRequest(f"claim path {pointer!r} must be a JSON pointer starting with '/'")
    parts: list[str | int] = []
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")  # RFC 6901 §4 unescaping order
        parts.append(int(token) if token.isdigit() else token)
    return tuple(parts)


async def _chosen(uow: UnitOfWork, account_id: str, ids: Sequence[str]) -> list[HeldCredential]:
    if not ids:
        raise InvalidRequest("choose at least one credential")
    chosen = []
    for credential_id in dict.fromkeys(ids):
        held = await uow.credentials.get(account_id, credential_id)
        if held is None:
            raise CredentialNotFound(credential_id)
        chosen.append(held)
    return chosen


def presentable(held: HeldCredential) -> None:
    """``CredentialUnusable`` unless the credential is active (not revoked or suspended)."""
    if held.status is not StatusState.ACTIVE:
        raise CredentialUnusable(
            f"credential {held.credential_id!r} is {held.status.value} and cannot be presented"
        )


def ldp_presentation(
    account: Account,
    pair: KeyPair,
    chosen: Sequence[HeldCredential],
    challenge: str,
    domain: str,
    cryptosuite: str = "eddsa-rdfc-2022",
) -> dict[str, Any]:
    """A ``VerifiablePresentation`` of JSON-LD credentials with a Data Integrity proof
    (``proofPurpose: authentication``, VC-DATA-INTEGRITY §2.1 challenge/domain)."""
    vp: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiablePresentation"],
        "holder": account.holder_did,
        "verifiableCredential": [json.loads(c.signed) for c in chosen],
    }
    try:
        return dataintegrity.sign(
            vp,
            pair,
            cryptosuite=cryptosuite,
            verification_method=account.holder_verification_method,
            proof_purpose="authentication",
            challenge=challenge,
            domain=domain,
        )
    except CryptoError as err:
        raise InvalidRequest(f"cannot sign the presentation: {err}") from err


def sd_jwt_disclosure(
    held: HeldCredential,
    paths: Sequence[tuple[str | int, ...]],
    pair: KeyPair,
    audience: str,
    nonce: str,
) -> str:
    """An SD-JWT presentation revealing the claims at ``paths`` (whole: selectively disclosable
    claims inside them too) and nothing else, with a KB-JWT bound to ``audience``/``nonce``.
    Paths of always-disclosed claims need no disclosure."""
    text = held.signed.decode()
    try:
        disclosable = set(reconstruct(parse_sd_jwt(text))[1].values())
        wanted = [
            k for k in disclosable if any(k[: len(p)] == p or p[: len(k)] == k for p in paths)
        ]
        return sd_jwt_presentation(
            text, disclose=wanted, holder=pair, audience=audience, nonce=nonce
        )
    except CryptoError as err:
        raise InvalidRequest(f"cannot disclose the requested claims: {err}") from err


async def create_presentation(
    ctx: Context,
    account_id: str,
    credential_ids: Sequence[str],
    challenge: str,
    domain: str,
    disclosures: dict[str, list[str]],
    cryptosuite: str = "eddsa-rdfc-2022",
) -> Presentation:
    """A presentation bound to the verifier's challenge and domain, signed with the holder key.

    JSON-LD credentials go into one ``VerifiablePresentation`` with a Data Integrity proof
    (``proofPurpose: authentication``, VC-DATA-INTEGRITY §2.1 challenge/domain); an SD-JWT VC is
    presented alone with only the chosen claims and a Key Binding JWT (RFC 9901 §4.3) whose
    ``nonce``/``aud`` are the challenge/domain.
    """
    if not challenge.strip():
        raise InvalidRequest("challenge is required")
    if not domain.strip():
        raise InvalidRequest("domain is required")
    if cryptosuite not in CRYPTOSUITES:
        raise InvalidRequest(f"cryptosuite must be one of {CRYPTOSUITES}")
    now = ctx.clock()
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
        chosen = await _chosen(uow, account_id, credential_ids)
        for held in chosen:
            presentable(held)
        for credential_id in disclosures:
            if credential_id not in {c.credential_id for c in chosen}:
                raise InvalidRequest(f"disclosures name {credential_id!r}, which is not presented")
        pair = ctx.keys.open(account.encrypted_holder_key)
        sd = [c for c in chosen if c.format is CredentialFormat.SD_JWT_VC]
        if sd:
            if len(chosen) != 1:
                raise InvalidRequest("an SD_JWT_VC credential is presented alone")
            paths = [pointer_to_path(p) for p in disclosures.get(sd[0].credential_id, [])]
            try:
                text = sd_jwt_presentation(
                    sd[0].signed.decode(),
                    disclose=paths,
                    holder=pair,
                    audience=domain,
                    nonce=challenge,
                )
            except CryptoError as err:
                raise InvalidRequest(f"cannot disclose the chosen claims: {err}") from err
            result = Presentation(text.encode(), CredentialFormat.SD_JWT_VC, SD_JWT_MEDIA_TYPE)
            seen_claims: tuple[tuple[str, tuple[str, ...]], ...] = (
                (sd[0].credential_id, tuple(disclosures.get(sd[0].credential_id, []))),
            )
        else:
            if disclosures:
                raise InvalidRequest("disclosures apply only to SD_JWT_VC credentials")
            seen_claims = ()
            signed = ldp_presentation(account, pair, chosen, challenge, domain, cryptosuite)
            result = Presentation(
                json.dumps(signed, ensure_ascii=False).encode(),
                CredentialFormat.LDP_VC,
                VP_MEDIA_TYPE,
            )
        ids = tuple(c.credential_id for c in chosen)
        await uow.access_log.add(
            AccessLogEntry(
                new_id("acl"),
                account_id,
                "",
                now,
                AccessOutcome.GRANTED,
                verifier_id=domain,
                seen_credential_ids=ids,
                channel="presentation",
                seen_claims=seen_claims,
            )
        )
        uow.publish(
            events.CredentialShared(
                account_id,
                "presentation",
                ids,
                now,
                domain=domain,
                study_pseudonyms=await study_pseudonyms(uow, account_id),
            )
        )
    return result


_DID = re.compile(r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$")
_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # a platform verifier's id, e.g. "prv_..."


def normalize_audience(audience: str) -> str:
    """A share link's audience: a DID or a platform verifier's tenant id (kept as is), or a web
    origin (RFC 6454 §6.2 ASCII
    serialization: lowercase scheme and host, port only when not the default). Empty: public."""
    audience = audience.strip()
    if not audience or _DID.match(audience) or _TENANT.match(audience):
        return audience
    try:
        parts = urlsplit(audience)
        port = parts.port
    except ValueError as err:
        raise InvalidRequest(f"audience {audience!r} is not a DID or an origin") from err
    if (
        parts.scheme.lower() not in ("https", "http")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise InvalidRequest(
            f"audience {audience!r} must be a DID, a verifier id or an origin like"
            " https://jobs.example.com"
        )
    scheme = parts.scheme.lower()
    default = {"https": 443, "http": 80}[scheme]
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def requester_identity(audience: str, verifier_id: str, origin: str) -> str:
    """Who is asking: the verifier's declared id, or its Origin when that is the audience."""
    if audience and origin:
        try:
            if normalize_audience(origin) == audience:
                return audience
        except InvalidRequest:
            pass  # a malformed Origin header identifies no one
    return verifier_id or origin


def token_hash(token: str) -> str:
    """SHA-256 hex of a share-link token (the only form stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewShareLink:
    """A created link with its URL (returned once)."""

    link: ShareLink
    url: str

    def __repr__(self) -> str:
        return f"NewShareLink(link={self.link!r}, url=<redacted>)"


async def create_share_link(
    ctx: Context,
    account_id: str,
    credential_ids: Sequence[str],
    *,
    label: str = "",
    expires_at: datetime | None = None,
    max_accesses: int = 0,
    audience: str = "",
) -> NewShareLink:
    """A link to chosen credentials: expiry (default 30 days, at most 365), optional view
    limit, optional audience (one verifier id; empty means public)."""
    now = ctx.clock()
    expires = expires_at or now + DEFAULT_LINK_LIFETIME
    if expires <= now:
        raise InvalidRequest("expires_at must be in the future")
    if expires > now + MAX_LINK_LIFETIME:
        raise InvalidRequest("expires_at must be at most 365 days ahead")
    if max_accesses < 0:
        raise InvalidRequest("max_accesses must not be negative (0 means unlimited)")
    if len(label) > 200:
        raise InvalidRequest("label must have at most 200 characters")
    token = secrets.token_urlsafe(32)
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        chosen = await _chosen(uow, account_id, credential_ids)
        link = ShareLink(
            share_link_id=new_id("shl"),
            account_id=account_id,
            token_hash=token_hash(token),
            credential_ids=tuple(c.credential_id for c in chosen),
            label=label,
            created_at=now,
            expires_at=expires,
            max_accesses=max_accesses,
            audience=normalize_audience(audience),
        )
        await uow.share_links.add(link)
        uow.publish(
            events.CredentialShared(
                account_id,
                "share_link",
                link.credential_ids,
                now,
                share_link_id=link.share_link_id,
                study_pseudonyms=await study_pseudonyms(uow, account_id),
            )
        )
    return NewShareLink(link, f"{ctx.share_base_url.rstrip('/')}/share/{token}")


async def revoke_share_link(ctx: Context, account_id: str, share_link_id: str) -> ShareLink:
    """Stop the link at once (no-op if already revoked)."""
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        link = await uow.share_links.get(account_id, share_link_id)
        if link is None:
            raise ShareLinkNotFound(repr(share_link_id))
        link.revoke(ctx.clock())
        await uow.share_links.save(link)
    return link


async def list_share_links(
    ctx: Context, account_id: str, include_inactive: bool
) -> list[ShareLink]:
    """The account's links, newest first."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        links = await uow.share_links.for_account(account_id)
    links.sort(key=lambda link: link.created_at, reverse=True)
    return [link for link in links if include_inactive or link.state(now) == "active"]


@dataclass(frozen=True)
class Disclosed:
    """What a granted share-link access serves."""

    link: ShareLink
    holder_did: str
    credentials: list[HeldCredential]


def client_network(address: str) -> str:
    """The requester's network, truncated for privacy: IPv4 /24, IPv6 /48."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


async def resolve_share_link(
    ctx: Context,
    token: str,
    *,
    verifier_id: str = "",
    address: str = "",
    user_agent: str = "",
    origin: str = "",
) -> Disclosed:
    """Serve a share link's credentials. Every attempt — granted or refused — is logged and
    committed before a refusal is raised (``ShareLinkUnavailable`` / ``AudienceMismatch``).

    A link with an audience opens only for it: the requester names itself by ``verifier_id``
    (a DID or tenant id) or, for a browser-based verifier, by its ``origin``."""
    now = ctx.clock()
    refusal: Exception | None = None
    async with ctx.uow() as uow:
        link = await uow.share_links.by_token_hash(token_hash(token))
        if link is None:
            raise ShareLinkNotFound("with this token")
        account = await load_account(uow, link.account_id)
        verifier_id = requester_identity(link.audience, verifier_id, origin)[:MAX_USER_AGENT]
        outcome = link.admit(now, verifier_id)
        shown: list[HeldCredential] = []
        if outcome is AccessOutcome.GRANTED:
            for credential_id in link.credential_ids:
                held = await uow.credentials.get(link.account_id, credential_id)
                if held is not None:
                    shown.append(held)
            await uow.share_links.save(link)
        elif outcome is AccessOutcome.DENIED_AUDIENCE:
            refusal = AudienceMismatch()
        else:
            state = outcome.value.removeprefix("denied_")
            refusal = ShareLinkUnavailable(state, _REFUSALS[state])
        await uow.access_log.add(
            AccessLogEntry(
                new_id("acl"),
                link.account_id,
                link.share_link_id,
                now,
                outcome,
                verifier_id=verifier_id,
                client_network=client_network(address),
                user_agent=user_agent[:MAX_USER_AGENT],
                seen_credential_ids=tuple(c.credential_id for c in shown),
            )
        )
        uow.publish(
            events.ShareLinkAccessed(
                link.account_id,
                link.share_link_id,
                outcome.value,
                verifier_id,
                now,
                await study_pseudonyms(uow, link.account_id),
            )
        )
    if refusal is not None:
        raise refusal
    return Disclosed(link, account.holder_did, shown)


_REFUSALS = {
    "expired": "this share link has expired",
    "revoked": "this share link was revoked by its owner",
    "exhausted": "this share link has reached its view limit",
}


async def list_access_log(
    ctx: Context, account_id: str, share_link_id: str = "", since: datetime | None = None
) -> list[AccessLogEntry]:
    """Who accessed the learner's shared data, newest first."""
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        if share_link_id and await uow.share_links.get(account_id, share_link_id) is None:
            raise ShareLinkNotFound(repr(share_link_id))
        entries = await uow.access_log.for_account(account_id)
    entries = [
        e
        for e in entries
        if (not share_link_id or e.share_link_id == share_link_id)
        and (since is None or e.accessed_at >= since)
    ]
    entries.sort(key=lambda e: e.accessed_at, reverse=True)
    return entries
