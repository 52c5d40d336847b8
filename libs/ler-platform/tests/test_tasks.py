"""Stopping background tasks that lose or ignore a cancellation (ler_platform.tasks)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from ler_platform.tasks import run_bounded, stop_task


async def _swallows_cancellations(times: list[int], stopped: list[str]) -> None:
    """A periodic loop that loses cancellations while ``times[0]`` is above zero, as a loop
    whose bounded probe completes just as the cancel arrives does on Python 3.11."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if times[0] > 0:
                times[0] -= 1
                continue
            stopped.append("cancelled")
            raise


async def test_a_cancellation_lost_once_still_stops_the_task() -> None:
    stopped: list[str] = []
    task = asyncio.create_task(_swallows_cancellations([2], stopped))
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_task(task, name="probe loop", within=5.0), 10)
    assert task.cancelled()
    assert stopped == ["cancelled"]


async def test_a_task_that_never_stops_is_abandoned_at_the_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stubborn = [10**9]
    task = asyncio.create_task(_swallows_cancellations(stubborn, []))
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.ERROR, logger="ler_platform.tasks"):
        await stop_task(task, name="stubborn loop", within=0.5)
    assert 0.4 <= loop.time() - started < 3
    assert not task.done()
    assert "stubborn loop did not stop" in caplog.text
    stubborn[0] = 0  # let it go, so that the test's loop closes cleanly
    task.cancel()
    await asyncio.wait({task}, timeout=1)
    assert task.cancelled()


async def test_a_task_that_failed_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("broken probe")

    task = asyncio.create_task(boom())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="ler_platform.tasks"):
        await stop_task(task, name="probe", within=1.0)
    assert "probe had failed" in caplog.text


async def test_run_bounded_returns_the_result_in_time() -> None:
    async def quick() -> int:
        await asyncio.sleep(0.01)
        return 7

    assert await run_bounded(quick(), name="quick", within=5.0) == 7


async def test_run_bounded_raises_at_the_deadline_even_if_the_step_ignores_cancel() -> None:
    stopped: list[str] = []
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError, match=r"slow step did not finish within 0\.3 s"):
        await run_bounded(_swallows_cancellations([1], stopped), name="slow step", within=0.3)
    assert loop.time() - started < 2
    assert stopped == ["cancelled"]  # the second cancellation reached it


async def test_run_bounded_passes_the_step_error_on() -> None:
    async def broken() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await run_bounded(broken(), name="broken", within=1.0)
