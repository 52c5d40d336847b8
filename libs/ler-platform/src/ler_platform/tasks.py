"""Stopping background tasks without trusting them to honour one cancellation.

On Python 3.11, ``asyncio.wait_for`` loses a cancellation that arrives just as the awaited
operation completes (CPython gh-86296, fixed in 3.12): a periodic task cancelled while one
of its bounded probes finishes carries on to its next sleep, and ``task.cancel(); await
task`` then waits for ever. The health monitor did exactly that, rarely, in CI. So a task
is stopped by cancelling it again until it is done, and the wait is bounded either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long to wait for a task to end after each cancellation before cancelling it again.
_RECANCEL_SECONDS = 0.2


async def stop_task(task: asyncio.Future[Any] | None, *, name: str, within: float = 5.0) -> None:
    """Cancel ``task`` and wait until it has ended, at most ``within`` seconds.

    A task that swallows a cancellation is cancelled again; one still running at the
    deadline is abandoned with an error logged. An exception the task ended with is logged,
    never raised: stopping must go on.
    """
    if task is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.error("%s did not stop within %.1f s of being cancelled; abandoned", name, within)
            return
        task.cancel()
        await asyncio.wait({task}, timeout=min(remaining, _RECANCEL_SECONDS))
    if not task.cancelled() and task.exception() is not None:
        log.error("%s had failed", name, exc_info=task.exception())


async def run_bounded(step: Awaitable[T], *, name: str, within: float) -> T:
    """Await ``step`` for at most ``within`` seconds; past that, cancel it (see
    ``stop_task``) and raise ``TimeoutError``. Unlike ``asyncio.wait_for`` on 3.11 this
    returns at the deadline even when the step ignores or loses its cancellation."""
    task = asyncio.ensure_future(step)
    try:
        done, _ = await asyncio.wait({task}, timeout=max(within, 0.0))
    except asyncio.CancelledError:
        await stop_task(task, name=name, within=1.0)
        raise
    if done:
        return task.result()
    await stop_task(task, name=name, within=1.0)
    raise TimeoutError(f"{name} did not finish within {within:.1f} s")
