"""Use cases: create, get and delete learner accounts; authenticate API keys; consent."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from ler_platform.auth import hash_api_key

from ler_wallet.domain import events
from ler_wallet.domain.errors import (
    AccountNotFound,
    ConfirmationMismatch,
    EmailTaken,
    InvalidRequest,
    NotAuthenticated,
)
from ler_wallet.domain.model import EMAIL, Account, ResearchConsent
from ler_wallet.service_layer.context import Context, new_id
from ler_wallet.service_layer.unit_of_work import UnitOfWork

API_KEY_PREFIX = "lwk_"  # recognisable in secret scanners; never logged


@dataclass(frozen=True)
class NewAccount:
    """A created account and its API key (shown once)."""

    account: Account
    api_key: str

    def __repr__(self) -> str:
        return f"NewAccount(account={self.account!r}, api_key=<redacted>)"


async def create_account(
    ctx: Context, display_name: str, email: str, idempotency_key: str = ""
) -> NewAccount:
    """Create an account with a fresh holder key (encrypted at rest) and an API key.

    A retry with the same ``idempotency_key`` returns the same account. As only the key's hash
    is kept, the retry issues a new API key and the earlier one stops working.
    """
    display_name = display_name.strip()
    email = email.strip().lower()
    if not display_name:
        raise InvalidRequest("display_name is required")
    if len(display_name) > 200:
        raise InvalidRequest("display_name must have at most 200 characters")
    if not EMAIL.match(email):
        raise InvalidRequest("email is not a valid email address")
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    async with ctx.uow() as uow:
        if idempotency_key:
            earlier = await uow.accounts.by_idempotency_key(idempotency_key)
            if earlier is not None:
                if earlier.email != email or earlier.display_name != display_name:
                    raise InvalidRequest(
                        "idempotency_key was already used with a different name or email"
                    )
                await uow.accounts.save_api_key_hash(earlier.account_id, hash_api_key(api_key))
                return NewAccount(earlier, api_key)
        if await uow.accounts.by_email(email) is not None:
            raise EmailTaken()
        key = ctx.keys.generate()
        account = Account(
            account_id=new_id("acc"),
            display_name=display_name,
            email=email,
            holder_did=key.did,
            holder_verification_method=key.verification_method,
            encrypted_holder_key=key.encrypted,
            api_key_hash=hash_api_key(api_key),
            created_at=ctx.clock(),
            idempotency_key=idempotency_key,
        )
        await uow.accounts.add(account)
    return NewAccount(account, api_key)


async def authenticate(ctx: Context, api_key: str) -> Account:
    """The account whose API key this is; ``NotAuthenticated`` otherwise (one message for all)."""
    async with ctx.uow() as uow:
        account = await uow.accounts.by_api_key_hash(hash_api_key(api_key))
    if account is None:
        raise NotAuthenticated("the API key is not valid")
    return account


async def load_account(uow: UnitOfWork, account_id: str) -> Account:
    """The account or ``AccountNotFound``."""
    account = await uow.accounts.get(account_id)
    if account is None:
        raise AccountNotFound(account_id)
    return account


async def get_account(ctx: Context, account_id: str) -> tuple[Account, list[ResearchConsent]]:
    """The account and its research consents."""
    async with ctx.uow() as uow:
        account = await load_account(uow, account_id)
        consents = await uow.consents.for_account(account_id)
    return account, consents


async def study_pseudonyms(uow: UnitOfWork, account_id: str) -> events.Pseudonyms:
    """The learner's pseudonyms in the studies they are opted into right now."""
    return tuple(
        (c.study_id, c.pseudonym) for c in await uow.consents.for_account(account_id) if c.opted_in
    )


async def delete_account(ctx: Context, account_id: str, confirm: str) -> tuple[int, datetime]:
    """Delete the account and every row about it in every wallet table (irreversible)."""
    if confirm != account_id:
        raise ConfirmationMismatch()
    now = ctx.clock()
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        pseudonyms = await study_pseudonyms(uow, account_id)
        deleted = await uow.accounts.delete_everything(account_id)
        uow.publish(events.AccountDeleted(account_id, now, pseudonyms))
    return deleted, now


async def set_research_consent(
    ctx: Context, account_id: str, study_id: str, opted_in: bool
) -> ResearchConsent:
    """Opt in (the study pseudonym appears in events from now on) or out (it stops at once)."""
    ResearchConsent.check_study_id(study_id)
    now = ctx.clock()
    async with ctx.uow() as uow:
        await load_account(uow, account_id)
        pseudonym = ctx.pseudonyms(account_id, study_id) if opted_in else ""
        consent = ResearchConsent(account_id, study_id, opted_in, pseudonym, now)
        await uow.consents.save(consent)
        uow.publish(events.ConsentChanged(account_id, study_id, opted_in, pseudonym, now))
    return consent
