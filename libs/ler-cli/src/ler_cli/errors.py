"""The CLI's one exception: a message for stderr and an exit code."""

from __future__ import annotations

#: Exit codes shared by every command.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line on stderr (``ler: <message>``)."""

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
