"""Real PostgreSQL: status entries are taken in a short transaction of their own, so that
concurrent batches of one issuer do not queue on the status lists' row locks, and entries of
a batch that rolls back are never given to another credential."""

from __future__ import annotations

import asyncio

import pytest
from ler_issuance.bootstrap import IssuanceApp
from ler_issuance.domain.model import DidMethod, StatusPurpose
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.service_layer.status import allocate_entries

pytestmark = pytest.mark.real


class _RolledBack(Exception):
    """Raised inside a unit of work to roll it back."""


async def _issuer(app: IssuanceApp):  # type: ignore[no-untyped-def]
    ctx = app.ctx
    issuer, _ = await register_issuer(
        ctx, NewIssuer(name="Lock University", url="https://lock.example", did_method=DidMethod.KEY)
    )
    return issuer


async def _taken(app: IssuanceApp, issuer_id: str, purpose: StatusPurpose) -> int:
    async with app.ctx.uow() as uow:
        state = await uow.status_lists.current(issuer_id, purpose)
        assert state is not None
        return state.allocated_count


async def test_a_batch_holding_its_transaction_open_does_not_block_another(
    real_app: tuple[IssuanceApp, object, dict],
) -> None:
    app, _, _ = real_app
    assert app.ctx.status_uow is not None  # PostgreSQL: entries get their own transaction
    issuer = await _issuer(app)
    first_taken = asyncio.Event()
    release = asyncio.Event()

    async def slow_batch() -> None:
        # a batch that took its entries and is still signing and storing (transaction open)
        async with app.ctx.uow() as uow:
            await allocate_entries(app.ctx, uow, issuer, 50)
            first_taken.set()
            await release.wait()

    holder = asyncio.create_task(slow_batch())
    try:
        await asyncio.wait_for(first_taken.wait(), 30)
        async with app.ctx.uow() as uow:
            # had the first batch kept the lists' row locks, this would wait for its commit
            entries = await asyncio.wait_for(allocate_entries(app.ctx, uow, issuer, 50), 15)
        assert len(entries) == 50
    finally:
        release.set()
        await holder
    assert await _taken(app, issuer.issuer_id, StatusPurpose.REVOCATION) == 100


async def test_entries_of_a_rolled_back_batch_stay_taken(
    real_app: tuple[IssuanceApp, object, dict],
) -> None:
    app, _, _ = real_app
    issuer = await _issuer(app)
    with pytest.raises(_RolledBack):
        async with app.ctx.uow() as uow:
            lost = await allocate_entries(app.ctx, uow, issuer, 20)
            raise _RolledBack
    assert await _taken(app, issuer.issuer_id, StatusPurpose.REVOCATION) == 20
    async with app.ctx.uow() as uow:
        later = await allocate_entries(app.ctx, uow, issuer, 500)
    lost_revocation = {
        e.index for entries in lost for e in entries if e.purpose is StatusPurpose.REVOCATION
    }
    later_revocation = {
        e.index for entries in later for e in entries if e.purpose is StatusPurpose.REVOCATION
    }
    assert len(lost_revocation) == 20 and len(later_revocation) == 500
    assert not lost_revocation & later_revocation  # never handed out twice
    # the bits of untaken-by-any-credential entries stay 0: nothing is revoked by the leak
    async with app.ctx.uow() as uow:
        state = await uow.status_lists.current(issuer.issuer_id, StatusPurpose.REVOCATION)
        assert state is not None
        assert not any(state.bits)
