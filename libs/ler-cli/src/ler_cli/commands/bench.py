"""``ler bench crypto [--json [PATH]] [--seconds S]``: the crypto benchmark from
``ler_crypto.bench``.

``--json`` alone prints the full result as JSON; ``--json PATH`` also writes the figures
for the benchmark report (``bench/report.py``) to PATH: a JSON list of
``{"name", "value", "unit", "baseline_name", "baseline_value", "ratio", "target"}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from ler_cli.errors import EXIT_OK, CliError

_STDOUT = "-"


def register(subparsers: Any) -> None:
    """Add the ``bench`` command group."""
    bench = subparsers.add_parser("bench", help="benchmarks")
    commands = bench.add_subparsers(dest="bench_command", metavar="COMMAND", required=True)
    crypto = commands.add_parser(
        "crypto", help="sign/verify credentials per second vs raw Ed25519 (same process)"
    )
    crypto.add_argument(
        "--json",
        nargs="?",
        const=_STDOUT,
        default=None,
        metavar="PATH",
        help="print JSON instead of a table; with PATH, write the report's figures there",
    )
    crypto.add_argument(
        "--seconds", type=float, default=None, help="seconds per measured row (default 2)"
    )
    crypto.set_defaults(handler=_crypto)


def _crypto(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module("ler_crypto.bench")
    except ImportError as err:
        raise CliError(f"the crypto benchmark is not available (ler_crypto.bench: {err})") from err
    run = getattr(module, "run", None)
    if not callable(run):
        raise CliError("ler_crypto.bench has no run() function yet")
    path = None if args.json in (None, _STDOUT) else Path(args.json)
    if path is not None and not path.parent.is_dir():
        raise CliError(f"cannot write {path}: directory {path.parent} does not exist")
    kwargs: dict[str, Any] = {}
    if args.seconds is not None:
        if args.seconds <= 0:
            raise CliError(f"--seconds must be positive, got {args.seconds}")
        kwargs["seconds_per_row"] = args.seconds
    # prints its own table, or JSON when asked for on stdout
    result = run(args.json == _STDOUT, **kwargs)
    if path is not None:
        figures = getattr(module, "figures", None)
        if not callable(figures):
            raise CliError("ler_crypto.bench has no figures() function")
        try:
            path.write_text(json.dumps(figures(result), indent=2) + "\n")
        except OSError as err:
            raise CliError(f"cannot write {path}: {err.strerror}") from err
    return EXIT_OK
