"""Issuer use cases: register an institution, read it, rotate its key, check its API key."""

from __future__ import annotations

import os
import re
import secrets
import uuid
from dataclasses import dataclass

from ler_crypto.did import did_key_from_public_key
from ler_crypto.vc_model import is_url
from ler_platform.errors import FieldViolation

from ler_issuance.domain.errors import (
    CannotRotate,
    InvalidClient,
    InvalidSpec,
    IssuerAlreadyExists,
    IssuerNotFound,
)
from ler_issuance.domain.model import (
    CredentialFormat,
    Cryptosuite,
    DidMethod,
    Issuer,
    SigningKey,
    hash_secret,
)
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.status import create_status_lists

# did:web §3.1: host (optionally with a %3A-encoded port), then ':'-separated path segments
_DID_WEB_DOMAIN = re.compile(
    r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(%3[aA][0-9]{1,5})?"
    r"(:[A-Za-z0-9._~-]+)*$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
API_KEY_SEPARATOR = "."


@dataclass(frozen=True)
class NewIssuer:
    """What RegisterIssuer asks for."""

    name: str
    url: str
    email: str = ""
    description: str = ""
    image_url: str = ""
    did_method: DidMethod = DidMethod.WEB
    did_web_domain: str = ""
    default_format: CredentialFormat = CredentialFormat.LDP_VC
    default_cryptosuite: Cryptosuite = Cryptosuite.EDDSA_RDFC_2022


def _violations(req: NewIssuer) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if not req.name.strip():
        out.append(FieldViolation("name", "is required"))
    if not req.url or not req.url.startswith(("https://", "http://")) or not is_url(req.url):
        out.append(FieldViolation("url", f"must be an http(s) URL, got {req.url!r}"))
    if req.image_url and not is_url(req.image_url):
        out.append(FieldViolation("image_url", f"must be an absolute URL, got {req.image_url!r}"))
    if req.email and not _EMAIL.match(req.email):
        out.append(FieldViolation("email", "must be an email address"))
    if req.did_web_domain and req.did_method is DidMethod.KEY:
        out.append(FieldViolation("did_web_domain", "only applies to did:web issuers"))
    if req.did_web_domain and not _DID_WEB_DOMAIN.match(req.did_web_domain):
        out.append(
            FieldViolation(
                "did_web_domain",
                "must be a host name, optionally with %3A<port> and ':'-separated path segments",
            )
        )
    return out


async def register_issuer(ctx: Context, req: NewIssuer) -> tuple[Issuer, str]:
    """Create the tenant, its DID, first signing key and status lists; return the API key.

    The API key is returned once; only its salted hash is kept.
    """
    violations = _violations(req)
    if violations:
        raise InvalidSpec(violations)
    issuer_id = "iss_" + uuid.uuid4().hex
    pair, blob = ctx.keys.generate()
    if req.did_method is DidMethod.KEY:
        did, vm = did_key_from_public_key(pair.public_key)
    else:
        did = (
            f"did:web:{req.did_web_domain}"
            if req.did_web_domain
            else ctx.urls.issuer_did_web(issuer_id)
        )
        vm = f"{did}#key-1"
    now = ctx.now()
    api_key = issuer_id + API_KEY_SEPARATOR + secrets.token_urlsafe(32)
    salt = os.urandom(16)
    issuer = Issuer(
        issuer_id=issuer_id,
        did=did,
        did_method=req.did_method,
        name=req.name.strip(),
        url=req.url,
        email=req.email,
        description=req.description,
        image_url=req.image_url,
        default_format=req.default_format,
        default_cryptosuite=req.default_cryptosuite,
        suspension_enabled=ctx.suspension_enabled,
        created_at=now,
        api_key_salt=salt,
        api_key_hash=hash_secret(api_key, salt),
        keys=[
            SigningKey(
                number=1,
                verification_method=vm,
                public_key_multibase=pair.public_key.to_multikey(),
                encrypted_private_key=blob,
                created_at=now,
            )
        ],
    )
    async with ctx.uow() as uow:
        if await uow.issuers.get_by_did(did) is not None:
            raise IssuerAlreadyExists(f"an issuer with DID {did} is already registered")
        await uow.issuers.add(issuer)
        await create_status_lists(ctx, uow, issuer)
    return issuer, api_key


async def get_issuer(ctx: Context, issuer_id: str) -> Issuer:
    """An issuer by id; ``IssuerNotFound`` when there is none."""
    async with ctx.uow() as uow:
        issuer = await uow.issuers.get(issuer_id)
    if issuer is None:
        raise IssuerNotFound(issuer_id)
    return issuer


async def rotate_signing_key(ctx: Context, issuer_id: str) -> Issuer:
    """New active key; the old one is retired but stays in the DID document."""
    async with ctx.uow() as uow:
        issuer = await uow.issuers.get(issuer_id)
        if issuer is None:
            raise IssuerNotFound(issuer_id)
        if issuer.did_method is DidMethod.KEY:
            raise CannotRotate("a did:key issuer cannot rotate: its DID is its key")
        now = ctx.now()
        old = issuer.active_key
        pair, blob = ctx.keys.generate()
        number = max(k.number for k in issuer.keys) + 1
        new = SigningKey(
            number=number,
            verification_method=f"{issuer.did}#key-{number}",
            public_key_multibase=pair.public_key.to_multikey(),
            encrypted_private_key=blob,
            created_at=now,
        )
        old.retired_at = now
        issuer.keys.append(new)
        await uow.issuers.retire_key(issuer_id, old.number, now)
        await uow.issuers.add_key(issuer_id, new)
    return issuer


async def authenticate_client(ctx: Context, client_id: str | None, api_key: str) -> Issuer:
    """The issuer whose API key this is (OAuth client credentials: id = issuer id).

    Unknown issuer and wrong key fail alike, so the answer reveals nothing.
    """
    issuer_id = api_key.partition(API_KEY_SEPARATOR)[0]
    failure = InvalidClient("client authentication failed")
    if not issuer_id or (client_id and client_id != issuer_id):
        raise failure
    async with ctx.uow() as uow:
        issuer = await uow.issuers.get(issuer_id)
    if issuer is None or not issuer.check_api_key(api_key):
        raise failure
    return issuer
