"""In-process wake-up of WatchApplications streams after a commit recorded changes.

Streams also poll the change feed at a short interval, so changes committed by another
replica (or by the status consumer) are seen without this signal, only a little later.
"""

from __future__ import annotations

import asyncio
import contextlib


class ChangeBroadcaster:
    """``ChangeNotifier``: every waiter wakes on the next ``notify``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, at_most: float) -> None:
        """Return on the next notify, or after ``at_most`` seconds."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), at_most)
