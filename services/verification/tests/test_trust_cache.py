"""TrustListCache: concurrent misses share one read; invalidation wins over a read in flight."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import pytest
from ler_verification.domain.model import TrustedIssuer
from ler_verification.service_layer.trust import TrustListCache


class _Trust:
    def __init__(self, store: _Store) -> None:
        self._store = store

    async def all(self, verifier_id: str) -> list[TrustedIssuer]:
        self._store.reads += 1
        await self._store.gate.wait()
        if self._store.fail:
            raise RuntimeError("database unavailable")
        return [TrustedIssuer(i, i, (), "", None) for i in self._store.ids]


class _Store:
    """Stands in for the unit of work: counts reads, which wait until the gate opens."""

    def __init__(self) -> None:
        self.reads = 0
        self.ids = ["did:example:a"]
        self.gate = asyncio.Event()
        self.fail = False

    def __call__(self) -> _Store:
        return self

    async def __aenter__(self) -> Any:
        return type("Uow", (), {"trust": _Trust(self)})()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


def _ids(trust: Any) -> set[str]:
    return {entry.issuer_id for entry in trust.entries}


async def test_concurrent_misses_share_one_read() -> None:
    store = _Store()
    cache = TrustListCache(store, ttl=60)  # type: ignore[arg-type]
    waiters = [asyncio.create_task(cache.get("v1")) for _ in range(32)]
    await asyncio.sleep(0.01)
    store.gate.set()
    lists = await asyncio.gather(*waiters)
    assert store.reads == 1
    assert all(_ids(t) == {"did:example:a"} for t in lists)
    await cache.get("v1")  # cached now
    assert store.reads == 1


async def test_a_cancelled_caller_does_not_cancel_the_shared_read() -> None:
    store = _Store()
    cache = TrustListCache(store, ttl=60)  # type: ignore[arg-type]
    first = asyncio.create_task(cache.get("v1"))
    second = asyncio.create_task(cache.get("v1"))
    await asyncio.sleep(0.01)
    first.cancel()
    store.gate.set()
    assert _ids(await second) == {"did:example:a"}
    assert store.reads == 1


async def test_a_change_during_a_read_is_not_hidden_by_it() -> None:
    store = _Store()
    cache = TrustListCache(store, ttl=60)  # type: ignore[arg-type]
    stale = asyncio.create_task(cache.get("v1"))
    await asyncio.sleep(0.01)
    store.ids = ["did:example:a", "did:example:b"]
    cache.invalidate("v1")  # the list changed while the read was in flight
    store.gate.set()
    await stale
    assert _ids(await cache.get("v1")) == {"did:example:a", "did:example:b"}
    assert store.reads == 2


async def test_a_failed_read_reaches_every_waiter_and_is_not_cached() -> None:
    store = _Store()
    store.fail = True
    cache = TrustListCache(store, ttl=60)  # type: ignore[arg-type]
    waiters = [asyncio.create_task(cache.get("v1")) for _ in range(3)]
    await asyncio.sleep(0.01)
    store.gate.set()
    for waiter in waiters:
        with pytest.raises(RuntimeError, match="database unavailable"):
            await waiter
    store.fail = False
    assert _ids(await cache.get("v1")) == {"did:example:a"}
    assert store.reads == 2
