"""Caller authentication for gRPC (the platform's ``Authenticator`` hook).

Three kinds of caller: a provider (its API key, looked up by SHA-256 hash), the operator
(``LER_OPERATOR_API_KEY``: registers providers) and applicant-facing clients
(``LER_CLIENT_API_KEY``: wallets, careers sites; the open RPCs). Public methods (the
opportunity posting) need no token at all: the caller is ``ANONYMOUS``; a token that is sent is
still checked. Every failure gives the same message, so nothing is learnt from it.
"""

from __future__ import annotations

import hmac

from ler_platform.auth import Tenant, hash_api_key

from ler_intake.domain.errors import NotAuthenticated
from ler_intake.service_layer import providers
from ler_intake.service_layer.context import Context

PROVIDER = "provider"
OPERATOR = "operator"
CLIENT = "client"
ANONYMOUS = "anonymous"
# methods anyone may call without a token (applicant-facing, public data only)
PUBLIC_METHODS = frozenset({"/ler.intake.v1.IntakeService/GetOpportunityPosting"})


class IntakeAuthenticator:
    """See the module docstring."""

    def __init__(self, *, operator_key: str | None, client_key: str | None) -> None:
        self._ctx: Context | None = None
        self._operator = hash_api_key(operator_key) if operator_key else None
        self._client = hash_api_key(client_key) if client_key else None

    def bind(self, ctx: Context) -> None:
        """Give it the use-case context (built after the runtime that needs this object)."""
        self._ctx = ctx

    async def authenticate(self, token: str | None, method: str) -> Tenant:
        """The caller's tenant."""
        if not token and method in PUBLIC_METHODS:
            return Tenant("anonymous", kind=ANONYMOUS)
        if not token:
            raise NotAuthenticated("missing bearer token (authorization: Bearer <api key>)")
        key_hash = hash_api_key(token)
        if self._operator and hmac.compare_digest(key_hash, self._operator):
            return Tenant("operator", kind=OPERATOR)
        if self._client and hmac.compare_digest(key_hash, self._client):
            return Tenant("client", kind=CLIENT)
        if self._ctx is None:  # pragma: no cover - bootstrap binds it
            raise NotAuthenticated("the API key is not valid")
        provider = await providers.authenticate(self._ctx, token)
        return Tenant(provider.provider_id, kind=PROVIDER)
