"""Status lists: creating and signing them, allocating entries, revoking and reinstating.

Status list credentials are ``BitstringStatusListCredential``s (BSL §2.2) signed by the issuer's
active key with its default cryptosuite; they are re-signed in the same transaction that flips a
bit, so the served list and the recorded state never disagree.

SD-JWT VCs get their revocation and suspension entries at one index (``allocate_entries(...,
aligned=...)``) and name the Token Status List view of those lists (``domain.status_lists``,
served by ``status_tokens``); their status events carry that token URL, which is what the
credential names and what verifiers cache by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import orjson
from ler_crypto.errors import CryptoError
from ler_crypto.sdjwt import parse_sd_jwt
from ler_crypto.status_list import build_status_list_credential
from ler_crypto.token_status_list import StatusReference, parse_status_reference

from ler_issuance.domain.credentials import stamp
from ler_issuance.domain.errors import (
    CredentialNotFound,
    IssuerNotFound,
    StatusListNotFound,
    StatusListsFull,
    StatusTransitionNotAllowed,
    invalid,
)
from ler_issuance.domain.events import CredentialStatusChanged
from ler_issuance.domain.model import (
    CredentialFormat,
    CredentialRecord,
    CredentialState,
    Issuer,
    StatusAction,
    StatusEntryRef,
    StatusPurpose,
)
from ler_issuance.domain.status_lists import StatusListState, allocate_aligned
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.unit_of_work import UnitOfWork

MAX_LISTS_PER_PURPOSE = 10_000
MAX_REASON = 500


def purposes_for(ctx: Context, issuer: Issuer) -> tuple[StatusPurpose, ...]:
    """Revocation always; suspension where the issuer enables it."""
    if issuer.suspension_enabled:
        return (StatusPurpose.REVOCATION, StatusPurpose.SUSPENSION)
    return (StatusPurpose.REVOCATION,)


def list_id(purpose: StatusPurpose, seq: int) -> str:
    """A list's id within its issuer, e.g. ``revocation-1``."""
    return f"{purpose.value}-{seq}"


def sign_list(ctx: Context, issuer: Issuer, state: StatusListState) -> None:
    """Build and sign the list credential from the current bits (BSL §2.2)."""
    now = ctx.now()
    document = build_status_list_credential(
        list_url=state.url,
        issuer=issuer.did,
        status_list=state.to_status_list(),
        purpose=state.purpose.value,
        valid_from=stamp(now),
    )
    signed = ctx.sign(document, issuer, issuer.default_cryptosuite, None)
    state.signed_credential = orjson.dumps(signed)
    state.version += 1
    state.updated_at = now
    state.dirty = False


async def new_list(
    ctx: Context, uow: UnitOfWork, issuer: Issuer, purpose: StatusPurpose, seq: int
) -> StatusListState:
    """Create, sign and store list number ``seq`` of ``purpose``."""
    if seq > MAX_LISTS_PER_PURPOSE:
        raise StatusListsFull(f"the issuer's {purpose.value} status lists are full")
    lid = list_id(purpose, seq)
    state = StatusListState.new(
        list_id=lid,
        issuer_id=issuer.issuer_id,
        purpose=purpose,
        seq=seq,
        url=ctx.urls.status_list_url(issuer.issuer_id, lid),
    )
    sign_list(ctx, issuer, state)
    await uow.status_lists.add(state)
    return state


async def create_status_lists(ctx: Context, uow: UnitOfWork, issuer: Issuer) -> None:
    """The first list of each purpose, for a newly registered issuer."""
    for purpose in purposes_for(ctx, issuer):
        await new_list(ctx, uow, issuer, purpose, 1)


class _Allocator:
    """Hands out status entries for one batch, opening new lists as the current ones fill."""

    def __init__(self, ctx: Context, uow: UnitOfWork, issuer: Issuer) -> None:
        self._ctx = ctx
        self._uow = uow
        self._issuer = issuer
        self._purposes = purposes_for(ctx, issuer)
        self._current: dict[StatusPurpose, StatusListState] = {}
        self._touched: dict[str, StatusListState] = {}

    async def _list(self, purpose: StatusPurpose) -> StatusListState:
        state = self._current.get(purpose)
        if state is None:
            state = await self._uow.status_lists.current(self._issuer.issuer_id, purpose)
            if state is None:
                state = await new_list(self._ctx, self._uow, self._issuer, purpose, 1)
            self._current[purpose] = state
        return state

    async def _open(self, purpose: StatusPurpose, seq: int) -> StatusListState:
        state = await new_list(self._ctx, self._uow, self._issuer, purpose, seq)
        self._current[purpose] = state
        return state

    def _entry(self, state: StatusListState, index: int) -> StatusEntryRef:
        self._touched[state.list_id] = state
        return StatusEntryRef(state.purpose, state.list_id, state.url, index)

    async def independent(self) -> tuple[StatusEntryRef, ...]:
        """One entry per purpose, each at its own random free index (Bitstring credentials)."""
        entries: list[StatusEntryRef] = []
        for purpose in self._purposes:
            state = await self._list(purpose)
            if state.full:
                state = await self._open(purpose, state.seq + 1)
            entries.append(self._entry(state, state.allocate()))
        return tuple(entries)

    async def aligned(self) -> tuple[StatusEntryRef, ...]:
        """Entries at ONE random index in same-numbered lists (SD-JWT VCs: the Token Status
        List view of ``domain.status_lists`` needs revocation and suspension to line up)."""
        if StatusPurpose.SUSPENSION not in self._purposes:
            return await self.independent()
        revocation = await self._list(StatusPurpose.REVOCATION)
        suspension = await self._list(StatusPurpose.SUSPENSION)
        index = (
            allocate_aligned(revocation, suspension) if revocation.seq == suspension.seq else None
        )
        if index is None:  # no common free index (or lists out of step): open a fresh pair
            seq = max(revocation.seq, suspension.seq) + 1
            revocation = await self._open(StatusPurpose.REVOCATION, seq)
            suspension = await self._open(StatusPurpose.SUSPENSION, seq)
            index = allocate_aligned(revocation, suspension)
            if index is None:  # pragma: no cover - two empty lists share every index
                raise StatusListsFull("new status lists have no free index")
        return (self._entry(revocation, index), self._entry(suspension, index))

    async def save(self) -> None:
        """Store every list an entry was taken from."""
        for state in self._touched.values():
            await self._uow.status_lists.save(state)


async def allocate_entries(
    ctx: Context,
    uow: UnitOfWork,
    issuer: Issuer,
    count: int,
    *,
    aligned: Sequence[bool] = (),
) -> list[tuple[StatusEntryRef, ...]]:
    """``count`` sets of status entries (one per purpose), each at a random free index.

    ``aligned[i]`` true: set ``i`` has all its entries at one index (an SD-JWT VC's set, see
    ``domain.status_lists``); otherwise each purpose's index is drawn independently.

    With ``ctx.status_uow`` the entries are taken in a short transaction of their own, committed
    before ``uow``'s: the lists' rows are locked only while the entries are taken, not while
    the batch is signed and stored, so concurrent batches of one issuer do not queue behind
    each other. Should ``uow`` then roll back, its entries stay taken and unused: their bits
    stay 0 and no other credential is ever given them (random allocation never reuses an
    index), which costs list capacity, never correctness.
    """
    if count == 0:
        return []
    if ctx.status_uow is None:
        return await _allocate(ctx, uow, issuer, count, aligned)
    async with ctx.status_uow() as own:
        return await _allocate(ctx, own, issuer, count, aligned)


async def _allocate(
    ctx: Context, uow: UnitOfWork, issuer: Issuer, count: int, aligned: Sequence[bool]
) -> list[tuple[StatusEntryRef, ...]]:
    allocator = _Allocator(ctx, uow, issuer)
    result = [
        await (allocator.aligned() if i < len(aligned) and aligned[i] else allocator.independent())
        for i in range(count)
    ]
    await allocator.save()
    return result


@dataclass(frozen=True)
class StatusChange:
    """The outcome of ChangeCredentialStatus."""

    credential: CredentialRecord
    changed: bool


_TARGET = {
    StatusAction.REVOKE: CredentialState.REVOKED,
    StatusAction.SUSPEND: CredentialState.SUSPENDED,
    StatusAction.REINSTATE: CredentialState.ACTIVE,
}


def _check_transition(record: CredentialRecord, action: StatusAction) -> bool:
    """True when the action changes something; raises when it is not allowed."""
    current = record.status
    target = _TARGET[action]
    if current is target:
        return False
    if current is CredentialState.REVOKED:
        raise StatusTransitionNotAllowed(
            f"credential {record.credential_id} is revoked, which is final; cannot"
            f" {action.value} it"
        )
    if action is StatusAction.REINSTATE and current is not CredentialState.SUSPENDED:
        raise StatusTransitionNotAllowed(
            f"credential {record.credential_id} is not suspended; only a suspension can be lifted"
        )
    if action is not StatusAction.REVOKE and record.entry(StatusPurpose.SUSPENSION) is None:
        raise StatusTransitionNotAllowed(
            f"credential {record.credential_id} has no suspension entry (suspension was not"
            " enabled when it was issued)"
        )
    return True


async def change_status(
    ctx: Context, issuer_id: str, credential_id: str, action: StatusAction | None, reason: str
) -> StatusChange:
    """Revoke, suspend or reinstate: flip the bits, re-sign the lists, announce the change."""
    if action is None:
        raise invalid("action", "is required (REVOKE, SUSPEND or REINSTATE)")
    if len(reason) > MAX_REASON:
        raise invalid("reason", f"is longer than {MAX_REASON} characters")
    async with ctx.uow() as uow:
        issuer = await uow.issuers.get(issuer_id)
        if issuer is None:
            raise IssuerNotFound(issuer_id)
        record = await uow.credentials.get(issuer_id, credential_id)
        if record is None:
            raise CredentialNotFound(credential_id)
        if not _check_transition(record, action):
            return StatusChange(record, False)
        previous = record.status
        target = _TARGET[action]
        # revocation sets the revocation bit; suspend/reinstate set/clear the suspension bit.
        # A suspended credential being revoked keeps its suspension bit: both lists tell truth.
        purpose = (
            StatusPurpose.REVOCATION
            if action is StatusAction.REVOKE
            else (StatusPurpose.SUSPENSION)
        )
        entry = record.entry(purpose)
        if entry is None:  # pragma: no cover - every credential has a revocation entry
            raise StatusTransitionNotAllowed(f"credential {credential_id} has no {purpose} entry")
        state = await uow.status_lists.get(issuer_id, entry.list_id, for_update=True)
        if state is None:  # pragma: no cover - lists are never deleted
            raise StatusTransitionNotAllowed(f"status list {entry.list_id} is missing")
        state.set(entry.index, action is not StatusAction.REINSTATE)
        sign_list(ctx, issuer, state)
        await uow.status_lists.save(state)
        record.status = target
        record.status_reason = reason
        await uow.credentials.save_status(record)
        uow.publish(
            CredentialStatusChanged(
                credential_id=record.credential_id,
                issuer_id=issuer_id,
                issuer_did=record.issuer_did,
                entry=_announced_entry(record, entry),
                previous_state=previous,
                new_state=target,
                reason=reason,
                changed_at=ctx.now(),
            )
        )
    return StatusChange(record, True)


def _sd_jwt_status_reference(record: CredentialRecord) -> StatusReference | None:
    """The ``status.status_list`` reference of an SD-JWT VC's issuer-signed payload (draft-ietf-
    oauth-status-list §6.2); None when it has none (SD-JWT VCs issued before the service wrote
    status into them)."""
    try:
        payload = parse_sd_jwt(bytes(record.signed_credential).decode()).jws.payload
        return parse_status_reference(payload["status"]) if "status" in payload else None
    except (CryptoError, UnicodeDecodeError):  # our own signed bytes: not expected
        return None


def _announced_entry(record: CredentialRecord, entry: StatusEntryRef) -> StatusEntryRef:
    """The entry a status event names: for an SD-JWT VC, the Status List Token URL and index
    the credential itself names (verifiers cache status by that URL), else the Bitstring
    list's."""
    if record.format is not CredentialFormat.SD_JWT_VC:
        return entry
    reference = _sd_jwt_status_reference(record)
    if reference is None:
        return entry
    return replace(entry, list_url=reference.uri, index=reference.idx)


async def status_list_credential(ctx: Context, issuer_id: str, lid: str) -> StatusListState:
    """A published status list (public: anyone may fetch it)."""
    async with ctx.uow() as uow:
        state = await uow.status_lists.get(issuer_id, lid)
    if state is None:
        raise StatusListNotFound(lid)
    return state
