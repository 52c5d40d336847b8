"""Use cases: receive credentials (import, delivery from issuance), verified on receipt; and
status changes announced by issuers."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ler_crypto.errors import CryptoError
from ler_crypto.keys import PublicKey
from ler_crypto.vc_model import as_list

from ler_wallet.domain import events
from ler_wallet.domain.credentials import ParsedCredential, holder_jwk, parse_credential
from ler_wallet.domain.errors import CredentialRejected, InvalidRequest, OfferRefused
from ler_wallet.domain.model import (
    Account,
    CredentialFormat,
    HeldCredential,
    Source,
    StatusState,
)
from ler_wallet.service_layer.accounts import load_account, study_pseudonyms
from ler_wallet.service_layer.context import Context, Receipt
from ler_wallet.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """The stored credential, and whether it was already in the wallet."""

    credential: HeldCredential
    already_present: bool


def _email_matches(identity: Mapping[str, Any], email: str) -> bool:
    """OB 3.0 ``IdentityObject`` (§B.1.14): plain or ``sha256$<hex>`` of email + salt."""
    if identity.get("identityType") != "emailAddress":
        return False
    value = identity.get("identityHash")
    if not isinstance(value, str):
        return False
    if not identity.get("hashed"):
        return value.strip().lower() == email
    salt_value = identity.get("salt")
    salt = salt_value if isinstance(salt_value, str) else ""
    algorithm, _, digest = value.partition("$")
    if algorithm.lower() != "sha256":
        return False
    return hashlib.sha256((email + salt).encode()).hexdigest() == digest.lower()


def issued_to(parsed: ParsedCredential, account: Account, holder_key: PublicKey) -> bool:
    """True when the credential names this learner: the holder DID as subject, the holder key
    as SD-JWT ``cnf``, or (OB 3.0, no subject id) an identifier with the learner's email."""
    subject_id = parsed.summary.subject_id
    if parsed.format is CredentialFormat.SD_JWT_VC:
        jwk = holder_jwk(parsed.claims)
        if jwk is not None:
            try:
                return PublicKey.from_jwk(jwk) == holder_key
            except CryptoError:
                return False
        return subject_id == account.holder_did
    if subject_id:
        return subject_id == account.holder_did
    for subject in as_list(parsed.claims.get("credentialSubject") or []):
        if isinstance(subject, Mapping):
            for identity in as_list(subject.get("identifier") or []):
                if isinstance(identity, Mapping) and _email_matches(identity, account.email):
                    return True
    return False


async def _store(
    ctx: Context,
    uow: UnitOfWork,
    account: Account,
    parsed: ParsedCredential,
    receipt: Receipt,
    source: Source,
) -> Received:
    """Store unless a duplicate (same credential id, or the same bytes) is already held."""
    credential_id = parsed.summary.credential_id
    existing = await uow.credentials.find_duplicate(
        account.account_id, credential_id, parsed.bytes_hash
    )
    if existing is not None:
        return Received(existing, True)
    now = ctx.clock()
    held = HeldCredential(
        account_id=account.account_id,
        credential_id=credential_id,
        format=parsed.format,
        media_type=parsed.media_type,
        signed=parsed.text.encode(),
        bytes_hash=parsed.bytes_hash,
        summary=parsed.summary,
        receipt_report=receipt.report,
        verified=receipt.verified,
        source=source,
        stored_at=now,
    )
    await uow.credentials.add(held)
    uow.publish(
        events.CredentialStored(
            account.account_id,
            credential_id,
            parsed.summary.issuer_id,
            parsed.summary.kind,
            parsed.format.value,
            source.value,
            now,
            await study_pseudonyms(uow, account.account_id),
        )
    )
    return Received(held, False)


async def import_credential(
    ctx: Context, account_id: str, data: bytes, fmt: CredentialFormat | None = None
) -> Received:
    """Import a credential the learner has as bytes: it must parse, verify, and name them."""
    parsed = parse_credential(data, fmt)
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
        existing = await uow.credentials.find_duplicate(
            account_id, parsed.summary.credential_id, parsed.bytes_hash
        )
    if existing is not None:
        return Received(existing, True)
    holder = ctx.keys.open(account.encrypted_holder_key).public_key
    if not issued_to(parsed, account, holder):
        raise CredentialRejected(
            "the credential is issued to a subject other than this account's holder DID or email",
            failed_check="holder.binding",
        )
    receipt = await ctx.verifier.verify(parsed.text)
    if not receipt.verified:
        raise CredentialRejected(
            f"the credential failed verification: {receipt.first_failure}",
            failed_check=",".join(receipt.failed_checks),
        )
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
        return await _store(ctx, uow, account, parsed, receipt, Source.IMPORT)


async def accept_offer(
    ctx: Context, account_id: str, offer_uri: str, tx_code: str = ""
) -> list[Received]:
    """Collect an OID4VCI offer with the holder key (proof of possession), then verify and
    store each credential. Nothing is stored unless every received credential verifies and
    names this learner."""
    if not offer_uri.strip():
        raise InvalidRequest("offer_uri is required")
    if ctx.offers is None:
        raise OfferRefused("this wallet is not configured to accept credential offers")
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
    pair = ctx.keys.open(account.encrypted_holder_key)
    texts = await ctx.offers.collect(offer_uri, tx_code, pair, account.holder_verification_method)
    checked = []
    for text in texts:
        parsed = parse_credential(text.encode())
        if not issued_to(parsed, account, pair.public_key):
            raise CredentialRejected(
                "the issuer delivered a credential for another subject",
                failed_check="holder.binding",
            )
        receipt = await ctx.verifier.verify(parsed.text)
        if not receipt.verified:
            raise CredentialRejected(
                f"a received credential failed verification: {receipt.first_failure}",
                failed_check=",".join(receipt.failed_checks),
            )
        checked.append((parsed, receipt))
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
        return [
            await _store(ctx, uow, account, parsed, receipt, Source.OFFER)
            for parsed, receipt in checked
        ]


async def deliver_issued(
    ctx: Context,
    uow: UnitOfWork,
    *,
    subject_id: str,
    recipient_email: str,
    signed_credential: bytes,
    fmt: CredentialFormat | None,
) -> Received | None:
    """Deliver a credential announced by issuance to the learner it names, inside the
    consumer's transaction. Verified on receipt; the report is kept even when it failed (the
    learner sees it, and it never counts as evidence). ``None`` when no learner matches."""
    account = await uow.accounts.by_holder_did(subject_id) if subject_id else None
    if account is None and recipient_email:
        account = await uow.accounts.by_email(recipient_email.strip().lower())
    if account is None:
        return None
    parsed = parse_credential(signed_credential, fmt)
    receipt = await ctx.verifier.verify(parsed.text)
    if not receipt.verified:
        log.warning(
            "delivered credential failed verification on receipt",
            extra={"credential_id": parsed.summary.credential_id, "checks": receipt.failed_checks},
        )
    return await _store(ctx, uow, account, parsed, receipt, Source.DELIVERY)


async def apply_status_change(uow: UnitOfWork, credential_id: str, new: StatusState) -> int:
    """Mark every held copy of ``credential_id``; returns how many were changed."""
    changed = 0
    for held in await uow.credentials.by_credential_id(credential_id):
        before = held.status
        held.apply_status(new)
        if held.status is not before:
            await uow.credentials.save(held)
            changed += 1
    return changed
