"""Learner authentication for gRPC (the platform's ``Authenticator`` hook).

The bearer token is the learner's API key, looked up by its SHA-256 hash. ``CreateAccount``
is the only RPC callable without one (there is no account yet); it then runs as an
anonymous caller. Every failure gives the same message, so nothing is learnt from it.
"""

from __future__ import annotations

from ler_platform.auth import Tenant

from ler_wallet.domain.errors import NotAuthenticated
from ler_wallet.service_layer import accounts
from ler_wallet.service_layer.context import Context

HOLDER = "holder"
ANONYMOUS = Tenant("", kind="anonymous")
OPEN_METHODS = frozenset({"/ler.wallet.v1.WalletService/CreateAccount"})


class WalletAuthenticator:
    """See the module docstring."""

    def __init__(self) -> None:
        self._ctx: Context | None = None

    def bind(self, ctx: Context) -> None:
        """Give it the use-case context (built after the runtime that needs this object)."""
        self._ctx = ctx

    async def authenticate(self, token: str | None, method: str) -> Tenant:
        """The learner's tenant, or ANONYMOUS for CreateAccount without a token."""
        if not token:
            if method in OPEN_METHODS:
                return ANONYMOUS
            raise NotAuthenticated(
                "missing bearer token (metadata 'authorization: Bearer <api key>')"
            )
        if self._ctx is None:  # pragma: no cover - bootstrap binds it
            raise NotAuthenticated("the API key is not valid")
        account = await accounts.authenticate(self._ctx, token)
        return Tenant(account.account_id, kind=HOLDER)
