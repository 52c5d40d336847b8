"""Process lifecycle: run an async main until SIGTERM/SIGINT, then let it shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def run_service(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run ``main(stop)`` in a new event loop; SIGTERM or SIGINT sets ``stop``.

    ``main`` is expected to return once it has shut down after ``stop`` is set (see
    ``ServiceRuntime.serve_until``). Returns the process exit code: 0 after a clean
    shutdown, 1 when ``main`` failed (the error is logged, e.g. a database that cannot be
    reached at start-up, so the orchestrator restarts the process).
    """

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await main(stop)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    try:
        asyncio.run(runner())
    except Exception:
        log.exception("service failed")
        return 1
    return 0
