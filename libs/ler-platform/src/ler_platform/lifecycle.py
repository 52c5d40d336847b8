"""Process lifecycle: run an async main until SIGTERM/SIGINT, then let it shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# Kubernetes sends SIGKILL terminationGracePeriodSeconds (30 s in the chart) after SIGTERM;
# the process gives up on a shutdown still running after this long, and exits by itself.
DEFAULT_SHUTDOWN_DEADLINE_SECONDS = 28.0


class ShutdownTimedOut(Exception):
    """``main`` did not return within the shutdown deadline after the stop signal."""


def run_service(
    main: Callable[[asyncio.Event], Awaitable[None]],
    *,
    shutdown_deadline: float = DEFAULT_SHUTDOWN_DEADLINE_SECONDS,
) -> int:
    """Run ``main(stop)`` in a new event loop; SIGTERM or SIGINT sets ``stop``.

    ``main`` is expected to return once it has shut down after ``stop`` is set (see
    ``ServiceRuntime.serve_until``, which bounds its own shutdown). If it is still running
    ``shutdown_deadline`` seconds after the signal, it is cancelled (a backstop, so that
    the process always exits before Kubernetes kills it). Returns the process exit code: 0
    after a clean shutdown, 1 when ``main`` failed (the error is logged, e.g. a database
    that cannot be reached at start-up, so the orchestrator restarts the process) or had
    to be cancelled.
    """

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.ensure_future(main(stop))
        watchdog = asyncio.create_task(_cancel_late(task, stop, shutdown_deadline))
        try:
            await task
        except asyncio.CancelledError as err:
            if watchdog.done():
                raise ShutdownTimedOut(
                    f"shutdown did not finish within {shutdown_deadline:.0f} s of the stop signal"
                ) from err
            raise
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(runner())
    except Exception:
        log.exception("service failed")
        return 1
    return 0


async def _cancel_late(task: asyncio.Future[None], stop: asyncio.Event, deadline: float) -> None:
    await stop.wait()
    done, _ = await asyncio.wait([task], timeout=deadline)
    if not done:
        log.error("shutdown still running %.0f s after the stop signal; cancelling it", deadline)
        task.cancel()
