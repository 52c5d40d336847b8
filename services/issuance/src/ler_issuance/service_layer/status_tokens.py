"""Status List Tokens (draft-ietf-oauth-status-list §5.1) for SD-JWT VCs, signed on demand.

A token is a signed view of a revocation list and its same-numbered suspension list (see
``domain.status_lists``), so there is no token state to store: it is signed when first asked for
and cached in memory until either list changes (their ``version``), the issuer's active key
changes, or the token is ``REISSUE_AFTER`` old. Nothing is signed per request.

``iat`` is a deterministic function of the lists (the later of their last change and the start
of the current ``REISSUE_AFTER`` window) and Ed25519 signatures are deterministic, so every
replica serves byte-identical tokens for the same state: ETags agree across replicas and a
client's ``If-None-Match`` keeps working whichever replica answers.

Times (§5.1, §13.7 caching guidance): ``ttl`` is the HTTP ``max-age`` of the status endpoints, so
a client re-fetches a token exactly as often as it would re-fetch the Bitstring list beside it;
``exp`` is ``TOKEN_LIFETIME`` after ``iat``, and a served token is re-issued hourly, so it always
has at least 23 hours left — long enough for offline verifiers, short enough that a stolen
outdated token cannot stand in for the current one for long.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ler_crypto.token_status_list import build_status_list_token

from ler_issuance.domain.errors import StatusListNotFound
from ler_issuance.domain.model import Issuer, StatusPurpose
from ler_issuance.domain.status_lists import StatusListState, token_status_bytes, token_url
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.status import list_id as make_list_id

TOKEN_LIFETIME = 24 * 3600  # seconds from iat to exp
REISSUE_AFTER = 3600  # a cached token older than this is re-signed (exp then moves on)
MAX_CACHED = 1024  # tokens kept in memory (least recently used dropped first)


@dataclass(frozen=True)
class StatusListToken:
    """A signed Status List Token and what the HTTP layer needs to serve it."""

    token: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class _Cached:
    versions: tuple[int, int]
    kid: str
    token: StatusListToken


class StatusListTokens:
    """Signs Status List Tokens and caches them per (issuer, list); see the module docstring."""

    def __init__(self, ctx: Context, *, ttl: int) -> None:
        self._ctx = ctx
        self._ttl = ttl
        self._cache: OrderedDict[tuple[str, str], _Cached] = OrderedDict()

    async def get(self, issuer_id: str, list_id: str) -> StatusListToken:
        """The current token of revocation list ``list_id`` (public, like the lists)."""
        issuer, revocation, suspension = await self._load(issuer_id, list_id)
        versions = (revocation.version, suspension.version if suspension else 0)
        kid = issuer.active_key.verification_method
        iat = self._issued_at(revocation, suspension)
        key = (issuer_id, list_id)
        cached = self._cache.get(key)
        if (
            cached is not None
            and cached.versions == versions
            and cached.kid == kid
            and cached.token.issued_at == iat
        ):
            self._cache.move_to_end(key)
            return cached.token
        token = self._sign(issuer, revocation, suspension, iat)
        self._cache[key] = _Cached(versions, kid, token)
        self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return token

    async def _load(
        self, issuer_id: str, list_id: str
    ) -> tuple[Issuer, StatusListState, StatusListState | None]:
        async with self._ctx.uow() as uow:
            issuer = await uow.issuers.get(issuer_id)
            revocation = await uow.status_lists.get(issuer_id, list_id)
            if issuer is None or revocation is None:
                raise StatusListNotFound(list_id)
            if revocation.purpose is not StatusPurpose.REVOCATION:
                # SD-JWT VCs name the revocation list's token; its suspension list is inside it
                raise StatusListNotFound(list_id)
            suspension = None
            if issuer.suspension_enabled:
                suspension = await uow.status_lists.get(
                    issuer_id, make_list_id(StatusPurpose.SUSPENSION, revocation.seq)
                )
        return issuer, revocation, suspension

    def _issued_at(self, revocation: StatusListState, suspension: StatusListState | None) -> int:
        now = int(self._ctx.now().timestamp())
        changed = max(
            (
                int(s.updated_at.timestamp())
                for s in (revocation, suspension)
                if s is not None and s.updated_at is not None
            ),
            default=0,
        )
        # a token issued at the start of the window, unless the lists changed since
        return min(now, max(now - now % REISSUE_AFTER, changed))

    def _sign(
        self,
        issuer: Issuer,
        revocation: StatusListState,
        suspension: StatusListState | None,
        iat: int,
    ) -> StatusListToken:
        statuses, bits = token_status_bytes(revocation, suspension)
        key = issuer.active_key
        exp = iat + TOKEN_LIFETIME
        token = build_status_list_token(
            uri=token_url(revocation.url),  # §5.1: sub = the uri Referenced Tokens name
            issuer=issuer.did,
            statuses=statuses,
            bits=bits,
            iat=iat,
            exp=exp,
            ttl=self._ttl,
            signer=self._ctx.keys.signer(key),
            kid=key.verification_method,
        )
        return StatusListToken(token, iat, exp)
