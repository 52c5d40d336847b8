"""Reading inputs and writing outputs safely."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ler_crypto.errors import CryptoError
from ler_crypto.limits import MAX_DOCUMENT_BYTES, parse_json

from ler_cli.errors import CliError

T = TypeVar("T")

#: Read at most this much from any input file (a little over the library's document limit, so
#: the library reports "too large" itself rather than us truncating silently).
MAX_INPUT_BYTES = MAX_DOCUMENT_BYTES + 1


def read_bytes(path: str) -> bytes:
    """The bytes of ``path`` (``-`` for stdin), bounded in size."""
    try:
        if path == "-":
            return sys.stdin.buffer.read(MAX_INPUT_BYTES)
        with open(path, "rb") as handle:
            return handle.read(MAX_INPUT_BYTES)
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror or err}") from err


def read_json(path: str, what: str = "JSON document") -> Any:
    """Parse ``path`` as JSON with the library's strict, bounded parser."""
    try:
        return parse_json(read_bytes(path))
    except CryptoError as err:
        raise CliError(f"{path} is not a usable {what}: {err}") from err


def read_json_object(path: str, what: str = "JSON document") -> dict[str, Any]:
    """Like :func:`read_json` but the top level must be an object."""
    value = read_json(path, what)
    if not isinstance(value, dict):
        raise CliError(f"{path} must contain a JSON object ({what})")
    return value


def dumps(value: Any) -> str:
    """Pretty JSON for humans and tools alike."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def write_output(text: str, out: str | None) -> None:
    """Write ``text`` to ``out`` (atomically replacing it) or to stdout."""
    if out is None or out == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    target = Path(out)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        tmp.replace(target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise CliError(f"cannot write {out}: {err.strerror or err}") from err


def write_secret(path: str, text: str) -> None:
    """Create ``path`` with mode 0600, refusing to overwrite an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as err:
        raise CliError(f"{path} already exists; refusing to overwrite a key file") from err
    except OSError as err:
        raise CliError(f"cannot create {path}: {err.strerror or err}") from err
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def receive_secret(path: str, call: Callable[[], T], secret_of: Callable[[T], str]) -> T:
    """Run ``call`` (which returns a secret shown only once, e.g. an API key) and write
    ``secret_of(result)`` to a new file at ``path`` (mode 0600, never overwriting).

    The file is created before the call, so a file that cannot be written is found out before
    the secret is issued; if the call fails the empty file is removed. The secret is never
    printed.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as err:
        raise CliError(f"{path} already exists; refusing to overwrite a key file") from err
    except OSError as err:
        raise CliError(f"cannot create {path}: {err.strerror or err}") from err
    handle = os.fdopen(fd, "w", encoding="utf-8")
    try:
        result = call()
    except BaseException:
        handle.close()
        os.unlink(path)
        raise
    with handle:
        handle.write(secret_of(result) + "\n")
    return result
