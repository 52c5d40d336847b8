"""OID4VCI credential offers (pre-authorized code flow, OID4VCI §4.1, §6.1 and §8).

The pre-authorized code, the transaction code and the access token are secrets: only their
SHA-256 hashes are stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime


def secret_hash(secret: str) -> str:
    """SHA-256 hex of a high-entropy random secret (codes and tokens are 256-bit random)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class CredentialOffer:
    """An offer of one issued credential to one learner's wallet."""

    offer_id: str
    issuer_id: str
    credential_id: str
    code_hash: str = field(repr=False)
    tx_code_hash: str | None = field(repr=False)
    expires_at: datetime
    configuration_id: str
    token_hash: str | None = field(default=None, repr=False)
    token_expires_at: datetime | None = None
    c_nonce: str | None = field(default=None, repr=False)
    redeemed_at: datetime | None = None

    def redeemable(self, now: datetime) -> bool:
        """Unexpired and not yet exchanged for a token."""
        return self.token_hash is None and self.redeemed_at is None and now < self.expires_at
