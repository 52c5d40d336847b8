"""``ler demo [--json]`` and ``ler journey [--json]``: the learner's journey on the four services.

``demo`` starts the four services in this process (embedded mode: SQLite files, one in-process
event bus, loopback ports; nothing to install beyond Python) and runs the journey on them;
``journey`` runs the same journey on already-running services (``make up``), read from the
environment (``RealStack.from_env``), and prints the journey's trace id. Both narrate each step
and end with a summary table; ``--json`` prints only the summary, as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from ler_cli.errors import EXIT_INVALID, EXIT_OK

if TYPE_CHECKING:
    from ler_cli.journey import JourneyResult

# ler_cli.journey (and with it the platform, SQLAlchemy, aiokafka) is imported by the two
# handlers only, so that the other `ler` commands start quickly.


def register(subparsers: Any) -> None:
    """Add the ``demo`` and ``journey`` commands."""
    demo = subparsers.add_parser(
        "demo", help="run the learner's journey on the four services, embedded in this process"
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON only")
    demo.set_defaults(handler=_demo)
    journey = subparsers.add_parser(
        "journey",
        help="run the learner's journey on the running services (make up) and print its trace id",
    )
    journey.add_argument("--json", action="store_true", help="print the summary as JSON only")
    journey.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for each asynchronous outcome (default 60)",
    )
    journey.set_defaults(handler=_journey)


def _narrator(args: argparse.Namespace) -> Any:
    if args.json:
        return None

    def say(line: str) -> None:
        print(line, flush=True)

    return say


async def _embedded(args: argparse.Namespace) -> tuple[JourneyResult, float]:
    from ler_cli.journey import EmbeddedStack, run_journey

    started = time.perf_counter()
    say = _narrator(args)
    if say:
        say("Starting issuance, wallet, verification and intake in this process...")
    async with EmbeddedStack() as stack:
        if say:
            say(f"Services up in {time.perf_counter() - started:.1f} s.\n")
        result = await run_journey(stack, narrate=say)
    return result, time.perf_counter() - started


def _table(result: JourneyResult) -> str:
    steps = result.steps
    width = max(len(s.name) for s in steps)
    lines = [f"{'step':<{width}}  {'ok':<3} outcome", f"{'-' * width}  --- -------"]
    for s in steps:
        lines.append(f"{s.name:<{width}}  {'yes' if s.ok else 'NO':<3} {s.outcome}")
        if not s.ok:
            lines.append(f"{'':<{width}}      expected: {s.expected}")
    return "\n".join(lines)


def _report(args: argparse.Namespace, result: JourneyResult) -> int:
    if args.json:
        json.dump(result.summary, sys.stdout, indent=2)
        print()
    else:
        print()
        print(_table(result))
        s = result.summary
        print(
            f"\nall steps as expected: {'yes' if result.ok else 'NO'}"
            f" (journey {s['seconds']} s, total {s.get('total_seconds', s['seconds'])} s)"
        )
        print(f"trace id: {result.trace_id}")
    return EXIT_OK if result.ok else EXIT_INVALID


def _demo(args: argparse.Namespace) -> int:
    result, total = asyncio.run(_embedded(args))
    result.summary["mode"] = "embedded"
    result.summary["total_seconds"] = round(total, 2)
    return _report(args, result)


def _journey(args: argparse.Namespace) -> int:
    from ler_cli.journey import RealStack, run_journey

    stack = RealStack.from_env()
    say = _narrator(args)
    if say:
        say(f"Journey on the running services: {stack}\n")
    started = time.perf_counter()
    result = asyncio.run(run_journey(stack, narrate=say, wait=args.wait))
    result.summary["mode"] = "real"
    result.summary["total_seconds"] = round(time.perf_counter() - started, 2)
    return _report(args, result)
