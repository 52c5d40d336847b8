"""``ler bench crypto [--json]``: the crypto benchmark from ``ler_crypto.bench``."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from ler_cli.errors import EXIT_OK, CliError


def register(subparsers: Any) -> None:
    """Add the ``bench`` command group."""
    bench = subparsers.add_parser("bench", help="benchmarks")
    commands = bench.add_subparsers(dest="bench_command", metavar="COMMAND", required=True)
    crypto = commands.add_parser(
        "crypto", help="sign/verify credentials per second vs raw Ed25519 (same process)"
    )
    crypto.add_argument("--json", action="store_true", help="print JSON instead of a table")
    crypto.set_defaults(handler=_crypto)


def _crypto(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module("ler_crypto.bench")
    except ImportError as err:
        raise CliError(f"the crypto benchmark is not available (ler_crypto.bench: {err})") from err
    run = getattr(module, "run", None)
    if not callable(run):
        raise CliError("ler_crypto.bench has no run() function yet")
    run(args.json)  # prints its own table / JSON
    return EXIT_OK
