"""Tenant authentication for gRPC calls (DESIGN.md "Security").

An ``Authenticator`` turns the bearer token of a call into a ``Tenant``; the server
interceptor (``ler_platform.grpc_server.AuthInterceptor``) puts it in ``current_tenant``
for the duration of the call, so service code scopes every query with ``require_tenant()``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from ler_platform.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class Tenant:
    """An authenticated caller: an institution, a verifier, a learner's wallet client..."""

    tenant_id: str
    kind: str = "tenant"


current_tenant: ContextVar[Tenant | None] = ContextVar("ler_current_tenant", default=None)


def require_tenant() -> Tenant:
    """The tenant of the current call; raises ``Unauthenticated`` outside an authenticated call."""
    tenant = current_tenant.get()
    if tenant is None:
        raise Unauthenticated("this call requires an authenticated tenant")
    return tenant


class Authenticator(Protocol):
    """Resolves a bearer token (``None`` when the call carried none) to a tenant."""

    async def authenticate(self, token: str | None, method: str) -> Tenant:
        """Return the tenant, or raise ``Unauthenticated`` / ``PermissionDenied``."""
        ...


def hash_api_key(api_key: str) -> str:
    """The SHA-256 hex digest under which an API key is stored (keys are never stored in clear)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


class ApiKeyAuthenticator:
    """Looks API keys up by their SHA-256 hash.

    The lookup is by hash, so response timing reveals nothing about stored keys; API keys
    are random high-entropy strings, which is why a plain (unsalted) hash suffices.
    """

    def __init__(self, tenants_by_key_hash: Mapping[str, Tenant]) -> None:
        self._tenants = dict(tenants_by_key_hash)

    async def authenticate(self, token: str | None, method: str) -> Tenant:
        """See ``Authenticator``."""
        if not token:
            raise Unauthenticated(
                "missing bearer token (metadata 'authorization: Bearer <api key>')"
            )
        tenant = self._tenants.get(hash_api_key(token))
        if tenant is None:
            raise Unauthenticated("the API key is not valid")
        return tenant
