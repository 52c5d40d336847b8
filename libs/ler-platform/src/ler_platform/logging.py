"""JSON logs: one line per event, carrying the current trace and span ids, never secrets.

``configure_logging`` installs a single stdout handler on the root logger with
``JsonFormatter`` and ``SecretRedactingFilter``. The filter is the last line of defence:
code must not log secrets in the first place, but if a DSN with a password, a bearer
token or a private key slips into a message or an ``extra`` field, it is masked here.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

REDACTED = "[REDACTED]"

# Attributes every LogRecord has; anything else came from ``extra=`` and is emitted.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|kek|private[_-]?key|credential_key)",
    re.IGNORECASE,
)
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # user:password@ in URLs / DSNs
    (re.compile(r"(?P<pre>://[^/\s:@]+:)[^@\s/]+(?P<post>@)"), r"\g<pre>" + REDACTED + r"\g<post>"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        REDACTED,
    ),
    # JWK private members ("d", and RSA's "p", "q", "dp", "dq", "qi") — RFC 7517 §4, RFC 7518 §6
    (
        re.compile(r"""(?P<k>["'](?:d|p|q|dp|dq|qi)["']\s*:\s*)["'][^"']+["']"""),
        r'\g<k>"' + REDACTED + '"',
    ),
    (
        re.compile(
            r"(?i)(?P<k>\b[\w.-]*(?:password|secret|token|api[_-]?key|kek)\s*[=:]\s*)[^\s,;&]+"
        ),
        r"\g<k>" + REDACTED,
    ),
)


def redact(text: str) -> str:
    """Mask anything in ``text`` that looks like a credential."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return value


class SecretRedactingFilter(logging.Filter):
    """Rewrites a record so its message, arguments and extras carry no secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._scrub(record)
        except (
            Exception
        ):  # e.g. during interpreter shutdown: drop the record rather than risk a leak
            return False
        return True

    def _scrub(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key in list(vars(record)):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(key, getattr(record, key)))
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(exc_text)
            record.exc_info = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line with timestamp, level, logger, message and trace ids."""

    def __init__(self, service_name: str | None = None) -> None:
        super().__init__()
        self._service = service_name

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self._service:
            entry["service"] = self._service
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = redact("".join(traceback.format_exception(*record.exc_info)))
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, service_name: str | None = None) -> None:
    """Send all logs as JSON lines to stdout; replaces handlers installed earlier."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service_name))
    handler.addFilter(SecretRedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiokafka logs every rebalance and retry at INFO; keep its chatter to warnings
    logging.getLogger("aiokafka").setLevel(max(root.level, logging.WARNING))
