"""The offline phase of credential verification on worker processes, so that verification
uses more than one core.

About 70% of verifying a Data Integrity credential is offline CPU work on the document alone
(``ler_crypto.verifier.prepare_credential``: bounded parse, VC data model with the JSON-LD
data-loss check, OB 3.0 / CLR 2.0 profile; and the proofs and issuer key when every DID
involved is ``did:key``/``did:jwk``, another ~20%). It holds the GIL, so a service process does
it on one core however idle the machine's others are. ``PreparePool`` runs it on ``workers``
processes, while the service process keeps its event loop for the online phase (proofs by
``did:web`` keys, trust list, status lists), gRPC and the outbox.

Micro-batching: handing one item to a worker costs the service about as much CPU (pickling,
pipes, the executor's threads) as the item saves, so items are sent in batches. An item that
arrives while the workers have room goes at once, alone (no added latency at low load); items
that arrive while every worker has ``depth`` batches in hand (one running, the others waiting in
its pipe) wait in a queue and go together, up to ``max_batch`` per task, as soon as a batch comes
back. Each batch comes back in order.

Every caller gets an answer: when a worker dies (OOM killer, a signal) the pool is replaced,
and the items it held are prepared in the service process instead, as are items arriving
while the new workers start. Workers are started with ``spawn`` (they inherit nothing of the
service's memory: no sockets, no event loop, no threads) and die with the service.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ler_crypto.vc_model import Policy
from ler_crypto.verifier import PreparedCredential, prepare_credential

from ler_verification.adapters import prepare_worker

log = logging.getLogger(__name__)

#: items per task to a worker: enough to make the per-task cost negligible, small enough that
#: one batch (~1.3 ms per item) does not keep the next items waiting long
DEFAULT_MAX_BATCH = 32
#: batches in flight per worker: one running and more waiting in its pipe, so that a worker
#: starts its next batch at once rather than after the service process (busy, holding the GIL)
#: has received the last one's results and sent more. Three batches of 32 rather than two of
#: 64: a stream then has room (its concurrency, 128) for new items to reach the queue while a
#: returned batch completes in the service process, so the worker is not left idle; measured
#: on 2 cores, 5 runs each, streamed 481/s -> 560/s (medians), faster in every pair.
DEFAULT_DEPTH = 3


class PreparePoolUnavailable(RuntimeError):
    """The worker processes did not start. Deliberately not a ``DomainError``: no request's
    fault; raised by ``start`` only, so the service does not report SERVING without them."""


@dataclass(slots=True)
class _Item:
    data: bytes
    policy: Policy
    now: datetime
    answer: asyncio.Future[PreparedCredential]


class PreparePool:
    """A ``CredentialPreparer`` on worker processes (a runtime component: ``start``/``stop``)."""

    def __init__(
        self,
        workers: int,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        depth: int = DEFAULT_DEPTH,
        start_within: float = 120.0,
    ) -> None:
        if workers < 1:
            raise ValueError("a verification worker pool needs at least one worker")
        if max_batch < 1 or depth < 1:
            raise ValueError("max_batch and depth must be at least 1")
        self.workers = workers
        self._max_batch = max_batch
        self._start_within = start_within
        self._executor: ProcessPoolExecutor | None = None
        # False while a replacement pool starts: items are then prepared in-process
        self._warm = False
        self._queue: deque[_Item] = deque()
        self._in_flight = 0  # batches handed to workers and not yet answered
        self._depth = depth
        self._tasks: set[asyncio.Task[None]] = set()
        self._warming: asyncio.Task[None] | None = None
        # what the workers did (for operators and tests)
        self.restarts = 0
        self.prepared_by_workers = 0
        self.largest_batch = 0

    def __repr__(self) -> str:
        return f"PreparePool(workers={self.workers}, restarts={self.restarts})"

    @property
    def ready(self) -> bool:
        """True while items go to worker processes (not during a restart or when stopped)."""
        return self._executor is not None and self._warm

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=prepare_worker.init_worker,
            initargs=(os.getpid(),),
        )

    async def start(self) -> None:
        """Start the workers and wait until every one has initialised (imports, contexts)."""
        executor = self._executor = self._new_executor()
        try:
            await self._probe(executor, self._start_within)
        except BaseException:
            self._executor = None
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
            raise
        self._warm = True

    async def _probe(self, executor: ProcessPoolExecutor, within: float) -> set[int]:
        """Wait until every worker answers; their pids."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        seen: set[int] = set()
        while len(seen) < self.workers:
            if loop.time() > deadline:
                raise PreparePoolUnavailable(
                    f"only {len(seen)} of {self.workers} verification workers started"
                    f" in {within:.0f} s"
                )
            probes = [
                loop.run_in_executor(executor, prepare_worker.ready) for _ in range(self.workers)
            ]
            seen.update(await asyncio.gather(*probes))
        return seen

    async def worker_pids(self) -> set[int]:
        """The pids of the current workers (asks each of them)."""
        executor = self._executor
        if executor is None:
            return set()
        return await self._probe(executor, self._start_within)

    async def stop(self) -> None:
        """Let the batches in hand finish, then stop the workers."""
        executor, self._executor = self._executor, None
        self._warm = False
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
            self._warming = None
        # batches in hand finish (or fall back in-process); queued items are prepared here
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._flush_in_process()
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def prepare(self, data: Any, policy: Policy, now: datetime) -> PreparedCredential:
        """The offline phase of verifying ``data`` as of ``now`` (see ``ler_crypto.verifier``)."""
        if not self.ready or not isinstance(data, bytes):
            return prepare_credential(data, policy=policy, proofs_as_of=now)
        answer: asyncio.Future[PreparedCredential] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(data, policy, now, answer))
        self._dispatch()
        return await answer

    def _dispatch(self) -> None:
        """Hand queued items to free workers, up to ``max_batch`` per worker."""
        while self._queue and self._in_flight < self.workers * self._depth:
            batch: list[_Item] = []
            while self._queue and len(batch) < self._max_batch:
                item = self._queue.popleft()
                if not item.answer.done():  # a cancelled caller needs no answer
                    batch.append(item)
            if not batch:
                return
            self._in_flight += 1
            task = asyncio.create_task(self._run(batch), name="verification-prepare-batch")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Item]) -> None:
        executor = self._executor
        results: list[PreparedCredential | None] = [None] * len(batch)
        try:
            if executor is not None and self._warm:
                jobs = [(item.data, item.policy.allow_v1, item.now) for item in batch]
                loop = asyncio.get_running_loop()
                results = await loop.run_in_executor(executor, prepare_worker.prepare_batch, jobs)
                self.prepared_by_workers += sum(r is not None for r in results)
                self.largest_batch = max(self.largest_batch, len(batch))
        except BrokenProcessPool:
            self._replace(executor)
        except Exception:  # e.g. the executor shut down under us: answer in-process
            log.exception("a verification worker batch failed; preparing it in-process")
        finally:
            self._in_flight -= 1
            self._dispatch()  # keep the workers busy before answering this batch
        for item, result in zip(batch, results, strict=True):
            self._answer(item, result)

    @staticmethod
    def _answer(item: _Item, result: PreparedCredential | None) -> None:
        if item.answer.done():
            return
        if result is None:
            try:
                result = prepare_credential(item.data, policy=item.policy, proofs_as_of=item.now)
            except Exception as err:  # surfaces to the caller as it would without a pool
                item.answer.set_exception(err)
                return
        item.answer.set_result(result)

    def _flush_in_process(self) -> None:
        while self._queue:
            self._answer(self._queue.popleft(), None)

    def _replace(self, broken: ProcessPoolExecutor | None) -> None:
        """A worker died: start a new pool (items go in-process until it is up)."""
        if broken is None or self._executor is not broken:
            return  # another batch of the same pool has replaced it already
        self.restarts += 1
        log.error("a verification worker died; restarting the worker pool")
        broken.shutdown(wait=False, cancel_futures=True)
        self._warm = False
        self._executor = self._new_executor()
        self._flush_in_process()
        self._warming = asyncio.create_task(
            self._rewarm(self._executor), name="verification-pool-warm"
        )

    async def _rewarm(self, executor: ProcessPoolExecutor) -> None:
        try:
            await self._probe(executor, self._start_within)
        except BrokenProcessPool:
            self._replace(executor)
            return
        except Exception:
            log.exception("verification workers did not restart; preparing in-process")
            return
        if self._executor is executor:
            self._warm = True
