"""``ler provider ...``: an employer or training provider's use of the intake service over gRPC
(``$LER_INTAKE_TOKEN`` = the provider's API key)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import grpc
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import paging_pb2
from ler.common.v1 import skills_pb2 as spb
from ler.intake.v1 import intake_service_pb2 as pb
from ler.intake.v1 import intake_service_pb2_grpc as pb_grpc
from ler.intake.v1 import resources_pb2 as rpb

from ler_cli.connect import Connection, add_connection_args, run_async, to_dict, with_channel
from ler_cli.errors import EXIT_OK, CliError
from ler_cli.files import dumps

MAX_PAGES = 100
MAX_POSTING_BYTES = 64 * 1024
KINDS = {"job": 1, "apprenticeship": 2, "program": 3, "benefit": 4}
LEVELS = {
    "secondary": cpb.EDUCATION_LEVEL_SECONDARY,
    "post-secondary": cpb.EDUCATION_LEVEL_POST_SECONDARY,
    "short-cycle-tertiary": cpb.EDUCATION_LEVEL_SHORT_CYCLE_TERTIARY,
    "bachelor": cpb.EDUCATION_LEVEL_BACHELOR,
    "master": cpb.EDUCATION_LEVEL_MASTER,
    "doctoral": cpb.EDUCATION_LEVEL_DOCTORAL,
}
POSTING_KEYS = (
    "title",
    "description",
    "kind",
    "location",
    "url",
    "minimum_level",
    "required_skill",
    "preferred_skill",
)
POSTING_FORMAT = """\
Posting file: one 'key: value' per line; '#' starts a comment; skills repeat.
  title: Junior data analyst
  description: Analyse our learning data.
  kind: job                      (job, apprenticeship, program, benefit)
  location: Remote
  url: https://jobs.example/42
  minimum_level: bachelor        (optional: secondary ... doctoral)
  required_skill: FRAMEWORK|CODE|LABEL|WEIGHT   (label and weight optional)
  preferred_skill: FRAMEWORK|CODE|LABEL|WEIGHT
Flags given on the command line override the file."""


def register(subparsers: Any) -> None:
    """Add the ``provider`` command group."""
    group = subparsers.add_parser("provider", help="providers: post opportunities, see applicants")
    commands = group.add_subparsers(dest="provider_command", metavar="COMMAND", required=True)

    post = commands.add_parser(
        "post",
        help="post an opportunity from a simple file and/or flags",
        description=POSTING_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    post.add_argument("--file", help="posting file (format above)")
    post.add_argument("--title")
    post.add_argument("--description")
    post.add_argument("--kind", choices=sorted(KINDS))
    post.add_argument("--location")
    post.add_argument("--url")
    post.add_argument("--minimum-level", choices=sorted(LEVELS))
    post.add_argument("--require-skill", action="append", default=[], metavar="SKILL")
    post.add_argument("--prefer-skill", action="append", default=[], metavar="SKILL")
    post.add_argument("--idempotency-key", default="", help="post at most once per key")
    add_connection_args(post, "intake")
    post.set_defaults(handler=_post)

    list_ = commands.add_parser("list", help="list an opportunity's applications (redacted)")
    list_.add_argument("opportunity_id")
    list_.add_argument("--by-score", action="store_true", help="best match first")
    list_.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_connection_args(list_, "intake")
    list_.set_defaults(handler=_list)

    watch = commands.add_parser("watch", help="print application changes as they happen")
    watch.add_argument("opportunity_id", nargs="?", default="", help="default: all of yours")
    watch.add_argument("--resume-token", default="", help="replay changes after this point")
    watch.add_argument("--max-events", type=int, default=0, help="stop after N (0 = no limit)")
    watch.add_argument(
        "--for", dest="duration", type=float, default=0.0, help="stop after S seconds (0 = never)"
    )
    add_connection_args(watch, "intake")
    watch.set_defaults(handler=_watch)


def _stub(channel: grpc.aio.Channel) -> Any:
    # the generated .pyi types stubs for the sync API; on an aio channel calls are awaitable
    return pb_grpc.IntakeServiceStub(channel)


def parse_requirement(text: str, where: str) -> spb.SkillRequirement:
    """``FRAMEWORK|CODE|LABEL|WEIGHT`` (label and weight optional) as a SkillRequirement."""
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < 2 or len(parts) > 4 or not parts[1]:
        raise CliError(f"{where}: skill {text!r} must be FRAMEWORK|CODE[|LABEL[|WEIGHT]]")
    parts += [""] * (4 - len(parts))
    weight = 0.0
    if parts[3]:
        try:
            weight = float(parts[3])
        except ValueError as err:
            raise CliError(f"{where}: skill weight {parts[3]!r} is not a number") from err
    return spb.SkillRequirement(
        skill=spb.SkillAlignment(framework=parts[0], code=parts[1], label=parts[2] or parts[1]),
        weight=weight,
    )


def read_posting(path: str) -> dict[str, list[str]]:
    """The ``key: value`` lines of a posting file (format in ``POSTING_FORMAT``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_POSTING_BYTES + 1)
    except (OSError, UnicodeDecodeError) as err:
        raise CliError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from err
    if len(text) > MAX_POSTING_BYTES:
        raise CliError(f"{path} is larger than {MAX_POSTING_BYTES} bytes")
    values: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        key = key.strip().lower().replace("-", "_")
        if not sep or key not in POSTING_KEYS:
            raise CliError(
                f"{path}:{number}: expected 'key: value' with key one of {', '.join(POSTING_KEYS)}"
            )
        values.setdefault(key, []).append(value.strip())
    return values


def _post(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    fields = read_posting(args.file) if args.file else {}
    where = args.file or "flags"

    def one(key: str, flag: str | None) -> str:
        if flag is not None:
            return flag
        found = fields.get(key, [])
        if len(found) > 1:
            raise CliError(f"{where}: {key} is given {len(found)} times")
        return found[0] if found else ""

    title, description = one("title", args.title), one("description", args.description)
    if not title or not description:
        raise CliError("an opportunity needs a title and a description (--title, --description)")
    kind = one("kind", args.kind) or "job"
    if kind not in KINDS:
        raise CliError(f"{where}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    level = one("minimum_level", args.minimum_level)
    if level and level not in LEVELS:
        raise CliError(f"{where}: minimum_level {level!r} is not one of {', '.join(LEVELS)}")
    required = [*fields.get("required_skill", []), *args.require_skill]
    preferred = [*fields.get("preferred_skill", []), *args.prefer_skill]
    opportunity = rpb.Opportunity(
        title=title,
        description=description,
        kind=KINDS[kind],  # type: ignore[arg-type]
        location=one("location", args.location),
        url=one("url", args.url),
        required_skills=[parse_requirement(s, where) for s in required],
        preferred_skills=[parse_requirement(s, where) for s in preferred],
        minimum_education_level=LEVELS.get(level, 0),  # type: ignore[arg-type]
    )
    request = pb.CreateOpportunityRequest(
        opportunity=opportunity, idempotency_key=args.idempotency_key
    )

    async def work(channel: grpc.aio.Channel) -> pb.CreateOpportunityResponse:
        response: pb.CreateOpportunityResponse = await _stub(channel).CreateOpportunity(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    created = run_async(with_channel(conn, work)).opportunity
    print(dumps({"opportunity_id": created.opportunity_id, "title": created.title}))
    return EXIT_OK


def _row(application: rpb.Application) -> dict[str, Any]:
    state = to_dict(application).get("state", "")
    return {
        "application_id": application.application_id,
        "state": state.removeprefix("APPLICATION_STATE_").lower(),
        "score": round(application.match.score, 3),
        "flags": ",".join(
            rpb.FlagReason.Name(f.reason).removeprefix("FLAG_REASON_").lower()
            for f in application.flags
        ),
        "explanation": application.match.explanation,
    }


def _list(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    order = pb.APPLICATION_ORDER_MATCH_SCORE_DESC if args.by_score else 0

    async def work(channel: grpc.aio.Channel) -> list[rpb.Application]:
        found: list[rpb.Application] = []
        token = ""
        for _ in range(MAX_PAGES):
            response = await _stub(channel).ListApplications(
                pb.ListApplicationsRequest(
                    opportunity_id=args.opportunity_id,
                    order=order,  # type: ignore[arg-type]
                    page=paging_pb2.PageRequest(page_size=100, page_token=token),
                ),
                metadata=conn.metadata,
                timeout=conn.timeout,
            )
            found.extend(response.applications)
            token = response.page.next_page_token
            if not token:
                break
        return found

    applications = run_async(with_channel(conn, work))
    rows = [_row(a) for a in applications]
    if args.json:
        print(dumps(rows))
        return EXIT_OK
    if not rows:
        print("no applications")
        return EXIT_OK
    for r in rows:
        print(f"{r['application_id']}  {r['state']:<9} {r['score']:<5} {r['flags']}")
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    if args.max_events < 0 or args.duration < 0:
        raise CliError("--max-events and --for must not be negative")
    request = pb.WatchApplicationsRequest(
        opportunity_id=args.opportunity_id, resume_token=args.resume_token
    )

    async def work(channel: grpc.aio.Channel) -> int:
        seen = 0
        # no per-call deadline: a watch is open-ended; --for bounds it instead
        call = _stub(channel).WatchApplications(request, metadata=conn.metadata)

        async def read() -> None:
            nonlocal seen
            async for change in call:
                row = _row(change.application)
                row["change"] = (
                    pb.ApplicationChange.Name(change.change)
                    .removeprefix("APPLICATION_CHANGE_")
                    .lower()
                )
                row["resume_token"] = change.resume_token
                print(json.dumps(row, ensure_ascii=False), flush=True)
                seen += 1
                if args.max_events and seen >= args.max_events:
                    return

        try:
            if args.duration:
                await asyncio.wait_for(read(), timeout=args.duration)
            else:
                await read()
        except TimeoutError:
            pass
        finally:
            call.cancel()
        return seen

    seen = run_async(with_channel(conn, work))
    print(f"{seen} change(s)", file=sys.stderr)
    return EXIT_OK
