"""CreateChallenge: a random, single-use, expiring nonce stored for the verifier."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from ler_verification.domain.model import Challenge, validate_challenge_request
from ler_verification.service_layer.unit_of_work import UnitOfWorkFactory

CHALLENGE_BYTES = 24  # 192 random bits; the contract asks for at least 128


def new_challenge_value() -> str:
    """A fresh challenge: random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(CHALLENGE_BYTES)).rstrip(b"=").decode()


async def create_challenge(
    uow_factory: UnitOfWorkFactory,
    verifier_id: str,
    domain: str,
    ttl: timedelta | None,
    now: datetime,
) -> Challenge:
    """Issue and store a challenge; expired ones are pruned on the way."""
    lifetime = validate_challenge_request(domain, ttl)
    challenge = Challenge(
        value=new_challenge_value(),
        verifier_id=verifier_id,
        domain=domain,
        created_at=now,
        expires_at=now + lifetime,
    )
    async with uow_factory() as uow:
        await uow.challenges.prune_expired(now)
        await uow.challenges.add(challenge)
    return challenge
