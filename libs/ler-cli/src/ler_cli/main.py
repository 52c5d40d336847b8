"""The ``ler`` command: ``ler <group> <command> ...`` (console script ``ler_cli.main:main``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ler_crypto.errors import CryptoError

from ler_cli.commands import GROUPS
from ler_cli.errors import EXIT_UNUSABLE, CliError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-parser group per module in ``ler_cli.commands``."""
    parser = argparse.ArgumentParser(
        prog="ler", description="Learning and Employment Record tools."
    )
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    for group in GROUPS:
        group.register(groups)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except CliError as err:
        print(f"ler: {err}", file=sys.stderr)
        return err.exit_code
    except CryptoError as err:
        # Library errors are already specific; show them as one line, never a traceback.
        print(f"ler: {err}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print("ler: interrupted", file=sys.stderr)
        return 130
    return code


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    raise SystemExit(run(argv))


if __name__ == "__main__":
    main()
