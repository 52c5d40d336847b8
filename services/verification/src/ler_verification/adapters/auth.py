"""API-key authentication against the tenants table (the platform's ``Authenticator`` hook).

Keys are looked up by their SHA-256 hash (``ler_platform.auth.hash_api_key``); the key is
never stored or logged. Successful lookups are cached briefly so a busy verifier does not
cost a query per call; a deleted tenant's key stops working within ``ttl`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from ler_platform.auth import Tenant, hash_api_key
from ler_platform.errors import Unauthenticated
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ler_verification.adapters.repositories import TenantRepository

MAX_KEY_LENGTH = 256


class DbApiKeyAuthenticator:
    """Resolves ``authorization: Bearer <api key>`` to the tenant holding the key."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        ttl: float = 30.0,
        max_entries: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._max = max_entries
        self._cache: OrderedDict[str, tuple[float, Tenant]] = OrderedDict()

    def bind(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Give the authenticator its sessions once the runtime has made them.

        ``build_runtime`` wants the authenticator before it creates the engine, so the
        composition root binds the sessions afterwards (reported to the platform owner).
        """
        self._sessions = sessions

    async def authenticate(self, token: str | None, method: str) -> Tenant:
        """See ``ler_platform.auth.Authenticator``."""
        if self._sessions is None:
            raise Unauthenticated("authentication is not ready yet")
        if not token:
            raise Unauthenticated("missing bearer token (authorization: Bearer <api key>)")
        if len(token) > MAX_KEY_LENGTH:
            raise Unauthenticated("the API key is not valid")
        key_hash = hash_api_key(token)
        now = time.monotonic()
        hit = self._cache.get(key_hash)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._sessions() as session:
            found = await TenantRepository(session).by_key_hash(key_hash)
        if found is None:
            raise Unauthenticated("the API key is not valid")
        tenant = Tenant(found[0], found[1].value)
        self._cache[key_hash] = (now + self._ttl, tenant)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return tenant
