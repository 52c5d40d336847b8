"""Suite-wide diagnostics: name the await a stuck test is waiting on.

pytest-timeout shows thread stacks, but an asyncio test that hangs is a main thread idle in
the event loop; what is stuck is a *task*. When a test (setup, call and teardown together)
has run for ``LER_TEST_STALL_SECONDS`` (default 240 s, well under the 600 s timeout), and
each time that much more passes, every pending asyncio task's await chain is written to
stderr, so a CI log that ends in a timeout also says which coroutine never finished.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import io
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

_STALL_SECONDS = float(os.environ.get("LER_TEST_STALL_SECONDS", "240"))


_capture: list[Any] = []  # pytest's CaptureManager (not public API)
_running: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    _capture[:] = [config.pluginmanager.getplugin("capturemanager")]


def _report(lines: str) -> None:
    """Write past pytest's output capture, straight to the run's log."""
    capman = _capture[0] if _capture else None
    if capman is None:
        print(lines, file=sys.stderr, flush=True)
        return
    with capman.global_and_fixture_disabled():
        print(lines, file=sys.stderr, flush=True)


def _await_chain(awaitable: object) -> list[str]:
    """Where each coroutine in the chain a task is suspended on stands (``cr_await`` and
    its kin), down to the innermost one: ``Task.print_stack`` shows the outermost only."""
    lines: list[str] = []
    seen = 0
    while awaitable is not None and seen < 60:
        seen += 1
        frame = None
        nxt = None
        for frame_attr, await_attr in (
            ("cr_frame", "cr_await"),
            ("ag_frame", "ag_await"),
            ("gi_frame", "gi_yieldfrom"),
        ):
            if hasattr(awaitable, frame_attr):
                frame = getattr(awaitable, frame_attr)
                nxt = getattr(awaitable, await_attr)
                break
        if frame is None and type(awaitable).__name__ == "async_generator_asend":
            # no way from the asend object to its generator: take the generators that are
            # suspended at an await rather than at a yield
            gens = [g for g in gc.get_objects() if inspect.isasyncgen(g) and g.ag_await]
            for gen in gens:
                lines.append(f"(async generator {gen.ag_code.co_qualname}:)")
                lines.extend(_await_chain(gen))
            break
        if frame is None:
            lines.append(repr(awaitable)[:300])
            break
        code = frame.f_code
        lines.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_qualname}")
        awaitable = nxt
    return lines


def _dump_tasks(_signum: int, _frame: FrameType | None) -> None:
    _report(f"[stall] {_running[0] if _running else '?'} has run for a long time")
    loop = asyncio._get_running_loop()  # the handler runs on the main thread, inside the loop
    if loop is None:
        _report("[stall] no running event loop on the main thread")
        return
    tasks = asyncio.all_tasks(loop)
    text = io.StringIO()
    print(f"[stall] {len(tasks)} pending asyncio tasks:", file=text)
    for task in tasks:
        print(f"[stall] --- {task.get_name()}: {task.get_coro()!r}", file=text)
        for line in _await_chain(task.get_coro()):
            print(f"    {line}", file=text)
    _report(text.getvalue())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if _STALL_SECONDS <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    main = threading.main_thread().ident
    assert main is not None
    previous = signal.signal(signal.SIGUSR2, _dump_tasks)
    stalled = threading.Event()

    def watch() -> None:
        while not stalled.wait(_STALL_SECONDS):
            signal.pthread_kill(main, signal.SIGUSR2)

    _running[:] = [item.nodeid]
    watcher = threading.Thread(target=watch, name="stall-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stalled.set()
        watcher.join()
        signal.signal(signal.SIGUSR2, previous)
