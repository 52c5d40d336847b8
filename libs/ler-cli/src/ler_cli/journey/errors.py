"""The journey's error: a step that could not be carried out (a service refused or timed out)."""

from __future__ import annotations

from ler_cli.errors import EXIT_UNUSABLE, CliError


class JourneyError(CliError):
    """A journey step failed to run; the message names the step and the cause (never a secret)."""

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE) -> None:
        super().__init__(message, exit_code)
