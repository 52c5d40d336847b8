"""Bulk issuance from a CSV export: parse and validate rows, publish issuance requests onto the
issuance requests topic, collect their results, report.

The CSV layout (header row required; column names are case-insensitive, order is free, unknown
columns are an error so that a typo is not silently ignored):

=========================  ====================================================================
``record_id``              required; the institution's record id (idempotency key, ≤200 chars)
``learner_did``            the learner's DID (``did:<method>:<id>``)  } at least one of them
``learner_email``          the learner's email                         }
``learner_name``           optional display name
``template_id``            an achievement template of the institution, or else the inline
``achievement_name``       achievement: name, description and criteria are then required
``achievement_description``
``criteria``               criteria narrative (or an absolute criteria URL)
``achievement_type``       optional, e.g. Course, Certificate, Badge (OB 3.0 achievementType)
``result``                 optional grade / result value
``result_id``              the template's result description id the value is for
                           (default: ``--result-id``, itself ``grade`` by default)
``awarded_at``             optional ISO 8601 date or date-time
``valid_until``            optional ISO 8601 date or date-time
``credits``                optional credits earned (a number ≥ 0)
=========================  ====================================================================

Each good row becomes one ``IssuanceRequested`` on the requests topic keyed
``<issuer_id>:<record_id>`` (events.proto). The service reports every request on the results
topic keyed by issuer id, echoing each request's ``request_id``: every request of a run carries
``bulk-issue:<run id>:<row>``, so a result is matched to its row by that id and results of earlier
runs on the same topic are never mistaken for this run's. (Every request of a run also carries
one trace id, so the run is one trace in the tracing backend.) Re-running a file is safe: the
service is idempotent on (issuer, record id) and answers REPLAYED without issuing again.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TextIO

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import resources_pb2 as rpb
from ler_platform.events.envelope import Event  # type: ignore[import-untyped]

from ler_cli.errors import CliError

COLUMNS = (
    "record_id",
    "learner_did",
    "learner_email",
    "learner_name",
    "template_id",
    "achievement_name",
    "achievement_description",
    "criteria",
    "achievement_type",
    "result",
    "result_id",
    "awarded_at",
    "valid_until",
    "credits",
)
#: Largest CSV accepted (rows are small; this is ~1M rows of a typical export).
MAX_CSV_BYTES = 256 * 1024 * 1024
MAX_RECORD_ID = 200
PUBLISH_CHUNK = 500
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DID = re.compile(r"^did:[^:\s]+:\S+$")
_URL = re.compile(r"^https?://\S+$")
SOURCE = "urn:ler:cli:bulk-issue"

# outcomes in the report
ISSUED = "issued"
REPLAYED = "replayed"
REJECTED = "rejected"  # by the service
INVALID = "invalid"  # by this command, never sent
NO_RESULT = "no_result"  # sent, but no result within the wait
FAILED = frozenset({REJECTED, INVALID, NO_RESULT})


@dataclass
class RowOutcome:
    """What became of one CSV row (``row`` is the 1-based line number in the file)."""

    row: int
    record_id: str
    outcome: str = ""
    reason: str = ""
    credential_id: str = ""


@dataclass
class ParsedFile:
    """Good rows as requests, and the rows refused client side."""

    requests: list[tuple[int, rpb.CredentialSpec]] = field(default_factory=list)
    invalid: list[RowOutcome] = field(default_factory=list)


def _type_names() -> dict[str, int]:
    """``Course`` / ``COURSE`` / ``course`` → ACHIEVEMENT_TYPE_COURSE."""
    out: dict[str, int] = {}
    for value in cpb.AchievementType.DESCRIPTOR.values:
        short = value.name.removeprefix("ACHIEVEMENT_TYPE_")
        if short != "UNSPECIFIED":
            out[short.replace("_", "").lower()] = value.number
    return out


_TYPES = _type_names()


def parse_time(value: str, column: str) -> Timestamp:
    """An ISO 8601 date (midnight UTC) or date-time (naive means UTC) as a Timestamp."""
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError as err:
        raise ValueError(f"{column}: {value!r} is not an ISO 8601 date or date-time") from err
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC))
    return stamp


def _subject(values: dict[str, str]) -> rpb.Subject:
    did, email = values.get("learner_did", ""), values.get("learner_email", "")
    if not did and not email:
        raise ValueError("learner_did or learner_email: one is required")
    if did and not _DID.match(did):
        raise ValueError(f"learner_did: {did!r} is not a DID (did:<method>:<id>)")
    if email and not _EMAIL.match(email):
        raise ValueError(f"learner_email: {email!r} is not an email address")
    return rpb.Subject(did=did, email=email, name=values.get("learner_name", ""))


def _inline_achievement(values: dict[str, str], grade_id: str) -> rpb.Achievement:
    """The row's own achievement (OB 3.0 §B.1.1: name, description, criteria required)."""
    required = ("achievement_name", "achievement_description", "criteria")
    missing = [c for c in required if not values.get(c)]
    if missing:
        raise ValueError(f"template_id is empty, so {', '.join(missing)} required")
    achievement = rpb.Achievement(
        name=values["achievement_name"], description=values["achievement_description"]
    )
    criteria = values["criteria"]
    if _URL.match(criteria):
        achievement.criteria_url = criteria
    else:
        achievement.criteria_narrative = criteria
    kind = values.get("achievement_type", "")
    if kind:
        number = _TYPES.get(kind.replace("_", "").replace(" ", "").lower())
        if number is None:
            raise ValueError(f"achievement_type: {kind!r} is not an Open Badges achievement type")
        achievement.achievement_type = number  # type: ignore[assignment]
    if grade_id:
        achievement.result_descriptions.append(
            rpb.ResultDescription(id=grade_id, name="Result", result_type=rpb.RESULT_TYPE_RESULT)
        )
    return achievement


def _credits(text: str) -> float:
    try:
        credits = float(text)
    except ValueError as err:
        raise ValueError(f"credits: {text!r} is not a number") from err
    if not credits >= 0:  # also refuses NaN
        raise ValueError("credits: must not be negative")
    return credits


def row_spec(values: dict[str, str], *, result_id: str) -> rpb.CredentialSpec:
    """The CredentialSpec of one row; ``ValueError`` naming the column when it is not usable."""
    record_id = values.get("record_id", "")
    if not record_id:
        raise ValueError("record_id: is required")
    if len(record_id) > MAX_RECORD_ID:
        raise ValueError(f"record_id: longer than {MAX_RECORD_ID} characters")
    spec = rpb.CredentialSpec(record_id=record_id, subject=_subject(values))
    grade = values.get("result", "")
    rid = values.get("result_id", "") or result_id
    if values.get("template_id"):
        spec.template_id = values["template_id"]
    else:
        spec.achievement.CopyFrom(_inline_achievement(values, rid if grade else ""))
    if grade:
        spec.results.append(rpb.Result(result_description_id=rid, value=grade))
    for column in ("awarded_at", "valid_until"):
        if values.get(column):
            getattr(spec, column).CopyFrom(parse_time(values[column], column))
    if values.get("credits"):
        spec.credits_earned = _credits(values["credits"])
    return spec


def _header(reader: Any) -> list[str]:
    """The column names of the header row, checked."""
    try:
        header = next(reader)
    except StopIteration as err:
        raise CliError("the CSV file is empty (a header row is required)") from err
    except csv.Error as err:
        raise CliError(f"the CSV header cannot be read: {err}") from err
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise CliError(
            f"unknown CSV column(s) {', '.join(map(repr, unknown))}; known: {', '.join(COLUMNS)}"
        )
    if "record_id" not in names:
        raise CliError("the CSV header has no record_id column")
    if len(set(names)) != len(names):
        raise CliError("the CSV header names a column twice")
    return names


def parse_csv(text: str, *, result_id: str = "grade") -> ParsedFile:
    """Validate every row of a CSV export; rows are numbered by their line in the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    names = _header(reader)
    id_column = names.index("record_id")
    parsed = ParsedFile()
    first_seen: dict[str, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            parsed.invalid.append(
                RowOutcome(reader.line_num, "", INVALID, f"unreadable CSV: {err}")
            )
            continue
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank line
        record_id = cells[id_column].strip() if len(cells) > id_column else ""
        if len(cells) != len(names):
            why = f"has {len(cells)} fields, the header has {len(names)}"
            parsed.invalid.append(RowOutcome(line, record_id, INVALID, why))
            continue
        values = {n: c.strip() for n, c in zip(names, cells, strict=True)}
        try:
            spec = row_spec(values, result_id=result_id)
        except ValueError as err:
            parsed.invalid.append(RowOutcome(line, record_id, INVALID, str(err)))
            continue
        if record_id in first_seen:
            parsed.invalid.append(
                RowOutcome(
                    line,
                    record_id,
                    INVALID,
                    f"record_id: duplicate of row {first_seen[record_id]} in this file",
                )
            )
            continue
        first_seen[record_id] = line
        parsed.requests.append((line, spec))
    return parsed


class Progress:
    """A progress bar on stderr; on a non-terminal, a plain line every 10%."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._label, self._total, self._done = label, max(total, 0), 0
        self._last_decile = -1
        self._last_draw = 0.0

    def advance(self, count: int) -> None:
        """Add ``count`` finished items."""
        self._done = min(self._total, self._done + count)
        if self._tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or self._done == self._total:
                self._last_draw = now
                width = 30
                filled = width * self._done // self._total if self._total else width
                bar = "#" * filled + "-" * (width - filled)
                self._stream.write(f"\r{self._label} [{bar}] {self._done}/{self._total}")
                self._stream.flush()
        else:
            decile = 10 * self._done // self._total if self._total else 10
            if decile != self._last_decile:
                self._last_decile = decile
                self._stream.write(f"{self._label}: {self._done}/{self._total}\n")
                self._stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()


@dataclass(frozen=True)
class Topics:
    """Where requests go and results come from."""

    requests: str
    results: str


def request_id_for(run_id: str, row: int) -> str:
    """The request_id of a row's request: the service echoes it on the row's result."""
    return f"bulk-issue:{run_id}:{row}"


async def publish_requests(
    bus: Any,
    issuer_id: str,
    requests: Sequence[tuple[int, rpb.CredentialSpec]],
    topics: Topics,
    run_id: str,
    progress: Progress,
) -> None:
    """Publish one IssuanceRequested per spec, keyed ``<issuer_id>:<record_id>``, each with
    its row's ``request_id``."""
    trace_id = run_id
    for start in range(0, len(requests), PUBLISH_CHUNK):
        chunk = requests[start : start + PUBLISH_CHUNK]
        records = []
        for line, spec in chunk:
            message = epb.IssuanceRequested(
                issuer_id=issuer_id, spec=spec, request_id=request_id_for(run_id, line)
            )
            message.requested_at.GetCurrentTime()
            # W3C Trace Context §3.2: version-traceid-parentid-flags; one trace id per run
            parent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
            event = Event(
                key=f"{issuer_id}:{spec.record_id}",
                message=message,
                source=SOURCE,
                subject=spec.record_id,
                trace_headers=(("traceparent", parent.encode()),),
            )
            records.append(event.to_record(topics.requests))
        await bus.publish_batch(records)
        progress.advance(len(chunk))


async def collect_results(
    bus: Any,
    issuer_id: str,
    pending: dict[str, RowOutcome],
    topics: Topics,
    *,
    wait_seconds: float,
    progress: Progress,
) -> None:
    """Read the results topic until every pending request (``pending`` is keyed by request_id)
    has its result, or until
    ``wait_seconds`` pass without a new one (the rest stay without a result): a large file on
    a busy service may take long, but a stalled one is given up on."""
    group = f"ler-cli.bulk-issue.{issuer_id}.{uuid.uuid4().hex[:12]}"
    consumer = bus.consumer([topics.results], group, max_records=2000)
    await consumer.start()
    key = issuer_id.encode()
    deadline = time.monotonic() + wait_seconds
    try:
        while pending and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300, max_records=2000)
            got = 0
            for records in batches.values():
                for record in records:
                    if record.key != key:
                        continue  # another institution's
                    try:
                        result = epb.IssuanceRequestResult.FromString(record.value)
                    except DecodeError:
                        continue  # a corrupt record is not ours to judge
                    row = pending.get(result.request_id)
                    if row is None or row.record_id != result.record_id:
                        continue  # an earlier run's, or another system's
                    del pending[result.request_id]
                    got += 1
                    _apply(row, result)
            if got:
                progress.advance(got)
                deadline = time.monotonic() + wait_seconds
    finally:
        await consumer.stop()


def _apply(row: RowOutcome, result: epb.IssuanceRequestResult) -> None:
    if result.outcome == epb.ISSUANCE_REQUEST_OUTCOME_ISSUED:
        row.outcome, row.credential_id = ISSUED, result.credential_id
    elif result.outcome == epb.ISSUANCE_REQUEST_OUTCOME_REPLAYED:
        row.outcome, row.credential_id = REPLAYED, result.credential_id
    else:
        error = result.error
        where = f" ({error.field})" if error.field else ""
        row.outcome = REJECTED
        row.reason = f"{error.reason or 'REJECTED'}{where}: {error.message or 'rejected'}"


@dataclass
class BulkReport:
    """Every row's outcome, in file order."""

    rows: list[RowOutcome]
    elapsed_seconds: float = 0.0
    #: How long publishing took; the rest of ``elapsed_seconds`` is waiting for the service.
    send_seconds: float = 0.0

    def count(self, outcome: str) -> int:
        """Rows with ``outcome``."""
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def failed(self) -> list[RowOutcome]:
        """Rows that did not end with a credential."""
        return [r for r in self.rows if r.outcome in FAILED]

    def summary(self) -> dict[str, Any]:
        """Counts by outcome."""
        return {
            "rows": len(self.rows),
            ISSUED: self.count(ISSUED),
            REPLAYED: self.count(REPLAYED),
            INVALID: self.count(INVALID),
            REJECTED: self.count(REJECTED),
            NO_RESULT: self.count(NO_RESULT),
            "send_seconds": round(self.send_seconds, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }

    def text(self) -> str:
        """The human report: a summary line, then one line per failed row."""
        s = self.summary()
        lines = [
            f"{s['rows']} rows: {s[ISSUED]} issued, {s[REPLAYED]} already issued (replayed), "
            f"{s[INVALID]} invalid (not sent), {s[REJECTED]} rejected by the service, "
            f"{s[NO_RESULT]} without a result (sent in {s['send_seconds']:.1f}s, "
            f"done in {s['elapsed_seconds']:.1f}s)"
        ]
        for r in self.failed:
            lines.append(f"row {r.row} ({r.record_id or 'no record id'}): {r.outcome}: {r.reason}")
        return "\n".join(lines)

    def as_json(self) -> str:
        """Summary and every row, as JSON."""
        return json.dumps(
            {"summary": self.summary(), "rows": [r.__dict__ for r in self.rows]},
            indent=2,
            ensure_ascii=False,
        )

    def as_csv(self) -> str:
        """Every row as CSV: row, record_id, outcome, credential_id, reason."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["row", "record_id", "outcome", "credential_id", "reason"])
        for r in self.rows:
            writer.writerow([r.row, r.record_id, r.outcome, r.credential_id, r.reason])
        return out.getvalue()


async def bulk_issue(
    bus: Any,
    issuer_id: str,
    parsed: ParsedFile,
    topics: Topics,
    *,
    wait_seconds: float,
    stream: TextIO | None = None,
) -> BulkReport:
    """Publish the good rows, wait for their results, and report every row.

    ``bus`` must be started; its lifecycle belongs to the caller.
    """
    started = time.monotonic()
    run_id = secrets.token_hex(16)  # also the run's trace id (W3C Trace Context format)
    rows = {
        request_id_for(run_id, line): RowOutcome(line, spec.record_id)
        for line, spec in parsed.requests
    }
    pending = dict(rows)
    sent_after = 0.0
    if parsed.requests:
        sending = Progress("sending", len(parsed.requests), stream)
        await publish_requests(bus, issuer_id, parsed.requests, topics, run_id, sending)
        sending.close()
        sent_after = time.monotonic() - started
        waiting = Progress("results", len(pending), stream)
        await collect_results(
            bus, issuer_id, pending, topics, wait_seconds=wait_seconds, progress=waiting
        )
        waiting.close()
    for row in pending.values():
        row.outcome = NO_RESULT
        row.reason = (
            f"no result ({wait_seconds:g}s without progress); re-running the same file is safe "
            "(record ids are idempotent)"
        )
    every = sorted([*rows.values(), *parsed.invalid], key=lambda r: r.row)
    return BulkReport(every, time.monotonic() - started, sent_after)
