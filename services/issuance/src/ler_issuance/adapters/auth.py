"""Authentication of gRPC calls and VC-API requests (the platform's ``Authenticator`` hook).

A bearer credential is one of:

* an access token from ``POST /oauth/token`` (client credentials; stateless HMAC check);
* the tenant's API key itself (for systems that call gRPC without OAuth), checked against the
  stored salted hash — positive answers are cached for ``api_key_cache_seconds``;
* the operator token (``LER_OPERATOR_TOKEN``), which may register issuers.

Public methods (the achievement catalog) need no token: the caller is ``PUBLIC_TENANT``; a
token that is sent is still checked.

Every failure is the same ``Unauthenticated`` message, so nothing is learnt from it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable

from ler_platform.auth import Tenant

from ler_issuance.domain.errors import InvalidClient
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuers import authenticate_client
from ler_issuance.service_layer.tokens import AccessTokens

ISSUER = "issuer"
OPERATOR = "operator"
OPERATOR_TENANT = Tenant("operator", kind=OPERATOR)
PUBLIC = "public"
PUBLIC_TENANT = Tenant("public", kind=PUBLIC)
# methods anyone may call without a token (public data only: the achievement catalog)
PUBLIC_METHODS = frozenset({"/ler.issuance.v1.IssuanceService/SearchAchievementTemplates"})


class IssuanceAuthenticator:
    """See the module docstring."""

    def __init__(
        self,
        tokens: AccessTokens,
        *,
        operator_token: str | None,
        api_key_cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._operator_digest = (
            hashlib.sha256(operator_token.encode()).digest() if operator_token else None
        )
        self._ctx: Context | None = None
        self._ttl = api_key_cache_seconds
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[float, str]] = OrderedDict()

    def bind(self, ctx: Context) -> None:
        """Give it the use-case context (built after the runtime that needs this object)."""
        self._ctx = ctx

    async def authenticate(self, token: str | None, method: str) -> Tenant:
        """The tenant of a bearer credential; ``InvalidClient`` (UNAUTHENTICATED) otherwise."""
        if not token and method in PUBLIC_METHODS:
            return PUBLIC_TENANT
        if not token:
            raise InvalidClient("missing bearer token (metadata 'authorization: Bearer <token>')")
        if self._operator_digest is not None and hmac.compare_digest(
            hashlib.sha256(token.encode()).digest(), self._operator_digest
        ):
            return OPERATOR_TENANT
        if AccessTokens.looks_like_token(token):
            return Tenant(self._tokens.verify(token), kind=ISSUER)
        return Tenant(await self._api_key_tenant(token), kind=ISSUER)

    async def _api_key_tenant(self, api_key: str) -> str:
        digest = hashlib.sha256(api_key.encode()).digest()
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        if self._ctx is None:  # pragma: no cover - bootstrap binds it
            raise InvalidClient("the bearer token is not valid")
        try:
            issuer = await authenticate_client(self._ctx, None, api_key)
        except InvalidClient:
            raise InvalidClient("the bearer token is not valid") from None
        self._cache[digest] = (now + self._ttl, issuer.issuer_id)
        if len(self._cache) > 10_000:
            self._cache.popitem(last=False)
        return issuer.issuer_id
