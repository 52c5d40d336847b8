"""OID4VCI pre-authorized code flow (OpenID for Verifiable Credential Issuance 1.0).

1. ``create_offer`` (gRPC CreateCredentialOffer): a credential offer (§4.1) carrying a
   pre-authorized code (§4.1.1), optionally protected by a transaction code;
2. ``redeem_code`` (token endpoint, §6): code (+ tx_code) → access token and ``c_nonce``;
3. ``deliver`` (credential endpoint, §8): access token + proof of possession of the holder key
   (a ``openid4vci-proof+jwt``, §8.2.1.1, Appendix F.1) → the credential. A credential issued
   to a DID must be collected by that DID's key; one issued to an email is bound to the
   wallet's key at that moment (re-signed with ``credentialSubject.id``).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson
from ler_crypto.did import DidResolver
from ler_crypto.errors import CryptoError
from ler_crypto.keys import PublicKey

from ler_issuance.domain.errors import (
    CredentialNotFound,
    CredentialRevoked,
    InvalidClient,
    IssuerNotFound,
    OfferNotRedeemable,
    invalid,
)
from ler_issuance.domain.model import CredentialRecord, CredentialState, Subject
from ler_issuance.domain.offers import CredentialOffer, secret_hash
from ler_issuance.service_layer.context import Context

CONFIGURATION_ID = "OpenBadgeCredential_ldp_vc"
PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
DEFAULT_TTL = timedelta(days=7)
MAX_TTL = timedelta(days=30)
TOKEN_TTL = timedelta(minutes=10)
PROOF_MAX_AGE = timedelta(minutes=5)


@dataclass(frozen=True)
class CreatedOffer:
    """What CreateCredentialOffer returns (the URI embeds the code: a secret for the learner)."""

    offer_uri: str
    tx_code: str
    expires_at: datetime
    configuration_id: str


async def create_offer(
    ctx: Context,
    issuer_id: str,
    credential_id: str,
    require_tx_code: bool,
    ttl: timedelta | None,
) -> CreatedOffer:
    """Offer an issued credential to its learner's wallet."""
    lifetime = ttl if ttl is not None else DEFAULT_TTL
    if lifetime <= timedelta(0) or lifetime > MAX_TTL:
        raise invalid("ttl", "must be positive and at most 30 days")
    code = secrets.token_urlsafe(32)
    tx_code = f"{secrets.randbelow(10**6):06d}" if require_tx_code else ""
    expires_at = ctx.now() + lifetime
    async with ctx.uow() as uow:
        record = await uow.credentials.get(issuer_id, credential_id)
        if record is None:
            raise CredentialNotFound(credential_id)
        if record.status is CredentialState.REVOKED:
            raise CredentialRevoked(f"credential {credential_id} is revoked")
        await uow.offers.add(
            CredentialOffer(
                offer_id="off_" + uuid.uuid4().hex,
                issuer_id=issuer_id,
                credential_id=credential_id,
                code_hash=secret_hash(code),
                tx_code_hash=secret_hash(tx_code) if tx_code else None,
                expires_at=expires_at,
                configuration_id=CONFIGURATION_ID,
            )
        )
    grant: dict[str, Any] = {"pre-authorized_code": code}
    if tx_code:
        grant["tx_code"] = {
            "length": 6,
            "input_mode": "numeric",
            "description": "The code your institution sent you",
        }
    offer = {
        "credential_issuer": issuer_base(ctx, issuer_id),
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }
    uri = "openid-credential-offer://?credential_offer=" + quote(
        json.dumps(offer, separators=(",", ":")), safe=""
    )
    return CreatedOffer(uri, tx_code, expires_at, CONFIGURATION_ID)


def issuer_base(ctx: Context, issuer_id: str) -> str:
    """The Credential Issuer Identifier (§12.2.1) of an issuer tenant."""
    return f"{ctx.urls.base_url.rstrip('/')}/issuers/{issuer_id}"


@dataclass(frozen=True)
class IssuedToken:
    """Token endpoint response values (§6.2)."""

    access_token: str
    expires_in: int
    c_nonce: str


async def redeem_code(ctx: Context, code: str, tx_code: str) -> IssuedToken:
    """Exchange a pre-authorized code (once) for an access token."""
    failure = OfferNotRedeemable("the pre-authorized code is invalid, used or expired")
    now = ctx.now()
    async with ctx.uow() as uow:
        offer = await uow.offers.by_code_hash(secret_hash(code))
        if offer is None or not offer.redeemable(now):
            raise failure
        if offer.tx_code_hash is not None and secret_hash(tx_code) != offer.tx_code_hash:
            raise OfferNotRedeemable("the transaction code is not correct")
        token = secrets.token_urlsafe(32)
        offer.token_hash = secret_hash(token)
        offer.token_expires_at = now + TOKEN_TTL
        offer.c_nonce = secrets.token_urlsafe(16)
        await uow.offers.save(offer)
    return IssuedToken(token, int(TOKEN_TTL.total_seconds()), offer.c_nonce)


def _b64json(part: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError) as err:
        raise invalid("proof.jwt", "is not a compact JWS") from err
    if not isinstance(value, dict):
        raise invalid("proof.jwt", "is not a compact JWS")
    return value


async def _holder_key(header: dict[str, Any], resolver: DidResolver) -> tuple[PublicKey, str]:
    """The proof's key and the holder DID it stands for (kid → DID URL, or did:jwk of jwk)."""
    kid = header.get("kid")
    try:
        if isinstance(kid, str) and kid.startswith("did:"):
            key = await resolver.resolve_verification_method(kid, "authentication")
            return key, kid.split("#", 1)[0]
        jwk = header.get("jwk")
        if isinstance(jwk, dict):
            from ler_crypto.did import did_key_from_public_key

            key = PublicKey.from_jwk(jwk)
            return key, did_key_from_public_key(key)[0]
    except CryptoError as err:
        raise invalid("proof.jwt", f"the holder key cannot be resolved: {err}") from err
    raise invalid("proof.jwt", "header needs a 'kid' DID URL or a 'jwk'")


async def check_proof(
    ctx: Context, jwt: str, *, audience: str, nonce: str, resolver: DidResolver
) -> str:
    """Verify a key proof JWT (§8.2.1.1); returns the holder's DID."""
    parts = jwt.split(".")
    if len(parts) != 3:
        raise invalid("proof.jwt", "is not a compact JWS")
    header, payload = _b64json(parts[0]), _b64json(parts[1])
    if header.get("typ") != PROOF_TYP:
        raise invalid("proof.jwt", f"typ must be {PROOF_TYP!r}")
    key, holder = await _holder_key(header, resolver)
    if header.get("alg") != key.algorithm:
        raise invalid("proof.jwt", f"alg must be {key.algorithm} for this key")
    try:
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (binascii.Error, ValueError) as err:
        raise invalid("proof.jwt", "signature is not base64url") from err
    if not key.verify(signature, f"{parts[0]}.{parts[1]}".encode()):
        raise invalid("proof.jwt", "signature does not verify with the holder key")
    if payload.get("aud") != audience:
        raise invalid("proof.jwt", "aud must be the credential issuer identifier")
    if payload.get("nonce") != nonce:
        raise invalid("proof.jwt", "nonce must be the c_nonce from the token response")
    iat = payload.get("iat")
    now = ctx.now().timestamp()
    if not isinstance(iat, int) or abs(now - iat) > PROOF_MAX_AGE.total_seconds():
        raise invalid("proof.jwt", "iat is missing or not recent")
    return holder


async def deliver(
    ctx: Context, access_token: str, proof_jwt: str, resolver: DidResolver
) -> CredentialRecord:
    """The credential endpoint: check token and proof, bind if needed, return the credential."""
    now = ctx.now()
    async with ctx.uow() as uow:
        offer = await uow.offers.by_token_hash(secret_hash(access_token))
        if (
            offer is None
            or offer.token_expires_at is None
            or offer.token_expires_at <= now
            or offer.redeemed_at is not None
        ):
            raise InvalidClient("the access token is invalid or expired")
        holder = await check_proof(
            ctx,
            proof_jwt,
            audience=issuer_base(ctx, offer.issuer_id),
            nonce=offer.c_nonce or "",
            resolver=resolver,
        )
        record = await uow.credentials.get(offer.issuer_id, offer.credential_id)
        issuer = await uow.issuers.get(offer.issuer_id)
        if record is None or issuer is None:
            raise IssuerNotFound(offer.issuer_id)
        if record.subject.did and record.subject.did != holder:
            raise invalid("proof.jwt", "the proof is not by the credential subject's key")
        if not record.subject.did:
            record = _bind(ctx, record, issuer, holder)
            await uow.credentials.bind_subject(record)
        offer.redeemed_at = now
        await uow.offers.save(offer)
    return record


def _bind(ctx: Context, record: CredentialRecord, issuer: Any, holder: str) -> CredentialRecord:
    """Re-sign the credential with ``credentialSubject.id`` = the wallet's DID."""
    document = json.loads(record.signed_credential)
    document.pop("proof", None)
    subject = dict(document["credentialSubject"])
    document["credentialSubject"] = {"id": holder, **subject}
    suite = record.cryptosuite or issuer.default_cryptosuite
    signed = ctx.sign(document, issuer, suite, None)
    return replace(
        record,
        subject=Subject(did=holder, email=record.subject.email, name=record.subject.name),
        signed_credential=orjson.dumps(signed),
    )
