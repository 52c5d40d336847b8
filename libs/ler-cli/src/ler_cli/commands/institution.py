"""``ler institution ...``: an institution's use of the issuance service over gRPC.

``register`` needs the operator token; the other commands the institution's API key (both as
``$LER_ISSUANCE_TOKEN`` or ``--token-file``). ``bulk-issue`` talks to Kafka, not gRPC.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import grpc
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2 as spb
from ler.issuance.v1 import issuance_service_pb2 as pb
from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc
from ler.issuance.v1 import resources_pb2 as rpb
from ler_proto.events.issuance import ISSUANCE_REQUESTS_TOPIC, ISSUANCE_RESULTS_TOPIC

from ler_cli import bulk, connect
from ler_cli.connect import Connection, add_connection_args, run_async, to_dict, with_channel
from ler_cli.errors import EXIT_INVALID, EXIT_OK, CliError
from ler_cli.files import dumps, read_bytes, receive_secret, write_output

BULK_HELP = bulk.__doc__ or ""


def register(subparsers: Any) -> None:
    """Add the ``institution`` command group."""
    group = subparsers.add_parser(
        "institution", help="institutions: register, define achievements, issue, revoke"
    )
    commands = group.add_subparsers(dest="institution_command", metavar="COMMAND", required=True)

    reg = commands.add_parser("register", help="register an institution (operator token)")
    reg.add_argument("--name", required=True)
    reg.add_argument("--url", required=True, help="the institution's home page")
    reg.add_argument("--email", default="")
    reg.add_argument("--description", default="")
    reg.add_argument("--did-web-domain", default="", help="host[:path] of a did:web issuer")
    reg.add_argument("--did-key", action="store_true", help="use did:key instead of did:web")
    reg.add_argument("--cryptosuite", choices=("eddsa-rdfc-2022", "eddsa-jcs-2022"), default=None)
    reg.add_argument(
        "--api-key-out",
        required=True,
        help="file to create (mode 0600) for the institution's API key; it is shown only once",
    )
    add_connection_args(reg, "issuance")
    reg.set_defaults(handler=_register)

    ach = commands.add_parser("achievement", help="achievement templates")
    ach_cmds = ach.add_subparsers(dest="achievement_command", metavar="COMMAND", required=True)
    define = ach_cmds.add_parser("define", help="define a reusable achievement template")
    _issuer_arg(define)
    define.add_argument("--name", required=True)
    define.add_argument("--description", required=True)
    define.add_argument("--criteria", required=True, help="criteria narrative or absolute URL")
    define.add_argument("--type", default="", help="achievement type, e.g. Course, Certificate")
    define.add_argument(
        "--skill",
        action="append",
        default=[],
        metavar="FRAMEWORK|CODE|LABEL|URL",
        help="a skill alignment (repeatable)",
    )
    define.add_argument(
        "--grades",
        default="",
        metavar="A,B,C",
        help="allowed values of a 'grade' result (result description id: grade)",
    )
    add_connection_args(define, "issuance")
    define.set_defaults(handler=_define)

    issue = commands.add_parser("issue", help="issue one credential from a template")
    _issuer_arg(issue)
    issue.add_argument("--record-id", required=True, help="your record id (idempotency key)")
    issue.add_argument("--learner-did", default="")
    issue.add_argument("--learner-email", default="")
    issue.add_argument("--learner-name", default="")
    issue.add_argument("--template", required=True, help="achievement template id")
    issue.add_argument("--grade", default="", help="value of the template's 'grade' result")
    issue.add_argument("--out", help="write the signed credential here")
    add_connection_args(issue, "issuance")
    issue.set_defaults(handler=_issue)

    for name, action, text in STATUS_COMMANDS:
        change = commands.add_parser(name, help=text)
        _issuer_arg(change)
        change.add_argument("credential_id")
        change.add_argument("--reason", required=True, help="why, for the record and the holder")
        add_connection_args(change, "issuance")
        change.set_defaults(handler=_change_status, action=action, verb=name)

    bulk_cmd = commands.add_parser(
        "bulk-issue",
        help="issue from a CSV export over Kafka, with a progress bar and a report",
        description=BULK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit status: 0 every row issued (or already issued), 1 some row failed, "
        "2 unusable input.",
    )
    bulk_cmd.add_argument("file", help="CSV file ('-' for stdin)")
    _issuer_arg(bulk_cmd)
    bulk_cmd.add_argument(
        "--kafka",
        default=os.environ.get("LER_KAFKA_BOOTSTRAP_SERVERS", ""),
        help="Kafka bootstrap servers (default $LER_KAFKA_BOOTSTRAP_SERVERS)",
    )
    bulk_cmd.add_argument("--requests-topic", default=ISSUANCE_REQUESTS_TOPIC)
    bulk_cmd.add_argument("--results-topic", default=ISSUANCE_RESULTS_TOPIC)
    bulk_cmd.add_argument(
        "--wait",
        type=float,
        default=120.0,
        help="give up after this many seconds without a new result (default 120)",
    )
    bulk_cmd.add_argument("--result-id", default="grade", help="default result_id column value")
    bulk_cmd.add_argument("--report", help="also write every row's outcome (.json or .csv)")
    bulk_cmd.add_argument(
        "--check", action="store_true", help="validate the file only; send nothing"
    )
    bulk_cmd.set_defaults(handler=_bulk_issue)


def _issuer_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--issuer",
        default=os.environ.get("LER_ISSUER_ID", ""),
        help="your issuer id (default $LER_ISSUER_ID)",
    )


def _issuer(args: argparse.Namespace) -> str:
    if not args.issuer:
        raise CliError("no issuer id: pass --issuer or set $LER_ISSUER_ID")
    return str(args.issuer)


def _stub(channel: grpc.aio.Channel) -> Any:
    # the generated .pyi types stubs for the sync API; on an aio channel calls are awaitable
    return pb_grpc.IssuanceServiceStub(channel)


def parse_skill(text: str) -> spb.SkillAlignment:
    """``FRAMEWORK|CODE|LABEL|URL`` (label and URL optional) as a SkillAlignment."""
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < 2 or len(parts) > 4 or not parts[1]:
        raise CliError(f"skill {text!r} must be FRAMEWORK|CODE[|LABEL[|URL]]")
    parts += [""] * (4 - len(parts))
    return spb.SkillAlignment(
        framework=parts[0], code=parts[1], label=parts[2] or parts[1], url=parts[3]
    )


def _achievement_type(name: str) -> int:
    if not name:
        return 0
    key = name.replace("_", "").replace(" ", "").lower()
    for value in cpb.AchievementType.DESCRIPTOR.values:
        if value.name.removeprefix("ACHIEVEMENT_TYPE_").replace("_", "").lower() == key:
            return int(value.number)
    raise CliError(f"{name!r} is not an Open Badges achievement type")


def _register(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    request = pb.RegisterIssuerRequest(
        name=args.name,
        url=args.url,
        email=args.email,
        description=args.description,
        did_method=rpb.DID_METHOD_KEY if args.did_key else rpb.DID_METHOD_WEB,
        did_web_domain=args.did_web_domain,
    )
    if args.cryptosuite:
        request.default_cryptosuite = (
            cpb.CRYPTOSUITE_EDDSA_JCS_2022
            if args.cryptosuite == "eddsa-jcs-2022"
            else cpb.CRYPTOSUITE_EDDSA_RDFC_2022
        )

    async def work(channel: grpc.aio.Channel) -> pb.RegisterIssuerResponse:
        response: pb.RegisterIssuerResponse = await _stub(channel).RegisterIssuer(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    response = receive_secret(
        args.api_key_out, lambda: run_async(with_channel(conn, work)), lambda r: r.api_key
    )
    issuer = response.issuer
    print(dumps({"issuer_id": issuer.issuer_id, "did": issuer.did, "name": issuer.name}))
    print(f"API key written to {args.api_key_out}", file=sys.stderr)
    return EXIT_OK


def _define(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    achievement = rpb.Achievement(
        name=args.name,
        description=args.description,
        achievement_type=_achievement_type(args.type),  # type: ignore[arg-type]
        alignments=[parse_skill(s) for s in args.skill],
    )
    if args.criteria.startswith(("https://", "http://")):
        achievement.criteria_url = args.criteria
    else:
        achievement.criteria_narrative = args.criteria
    grades = [g.strip() for g in args.grades.split(",") if g.strip()]
    if grades:
        achievement.result_descriptions.append(
            rpb.ResultDescription(
                id="grade",
                name="Grade",
                result_type=rpb.RESULT_TYPE_LETTER_GRADE,
                allowed_values=grades,
            )
        )
    request = pb.CreateAchievementTemplateRequest(issuer_id=_issuer(args), achievement=achievement)

    async def work(channel: grpc.aio.Channel) -> pb.CreateAchievementTemplateResponse:
        response: pb.CreateAchievementTemplateResponse = await _stub(
            channel
        ).CreateAchievementTemplate(request, metadata=conn.metadata, timeout=conn.timeout)
        return response

    template = run_async(with_channel(conn, work)).template
    print(dumps({"template_id": template.template_id, "name": template.achievement.name}))
    return EXIT_OK


def _issue(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    if not args.learner_did and not args.learner_email:
        raise CliError("name the learner: --learner-did or --learner-email")
    spec = rpb.CredentialSpec(
        record_id=args.record_id,
        subject=rpb.Subject(did=args.learner_did, email=args.learner_email, name=args.learner_name),
        template_id=args.template,
    )
    if args.grade:
        spec.results.append(rpb.Result(result_description_id="grade", value=args.grade))
    request = pb.IssueCredentialRequest(issuer_id=_issuer(args), spec=spec)

    async def work(channel: grpc.aio.Channel) -> pb.IssueCredentialResponse:
        response: pb.IssueCredentialResponse = await _stub(channel).IssueCredential(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    response = run_async(with_channel(conn, work))
    credential = response.credential
    if args.out:
        write_output(credential.signed_credential.decode(), args.out)
    print(
        dumps(
            {
                "credential_id": credential.credential_id,
                "record_id": credential.record_id,
                "achievement": credential.achievement_name,
                "replayed": response.replayed,
            }
        )
    )
    return EXIT_OK


#: Status changes (Bitstring Status List: revocation is final; suspension can be lifted).
STATUS_COMMANDS = (
    ("revoke", pb.STATUS_ACTION_REVOKE, "revoke a credential (final)"),
    ("suspend", pb.STATUS_ACTION_SUSPEND, "suspend a credential (needs suspension enabled)"),
    ("reinstate", pb.STATUS_ACTION_REINSTATE, "lift a credential's suspension"),
)


def _change_status(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    if not args.reason.strip():
        raise CliError("--reason must not be empty")
    request = pb.ChangeCredentialStatusRequest(
        issuer_id=_issuer(args),
        credential_id=args.credential_id,
        action=args.action,
        reason=args.reason,
    )

    async def work(channel: grpc.aio.Channel) -> pb.ChangeCredentialStatusResponse:
        response: pb.ChangeCredentialStatusResponse = await _stub(channel).ChangeCredentialStatus(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    response = run_async(with_channel(conn, work))
    status = to_dict(response.credential).get("status", "")
    print(
        dumps(
            {
                "credential_id": response.credential.credential_id,
                "status": status,
                "changed": response.changed,
            }
        )
    )
    return EXIT_OK


def _bulk_issue(args: argparse.Namespace) -> int:
    issuer_id = _issuer(args)
    raw = read_bytes(args.file) if args.file == "-" else _read_csv(args.file)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CliError(f"{args.file} is not UTF-8 text (byte {err.start})") from err
    parsed = bulk.parse_csv(text, result_id=args.result_id)
    if args.check:
        report = bulk.BulkReport(
            sorted(
                [
                    *(bulk.RowOutcome(line, s.record_id, "valid") for line, s in parsed.requests),
                    *parsed.invalid,
                ],
                key=lambda r: r.row,
            )
        )
    else:
        if args.wait <= 0:
            raise CliError("--wait must be positive")
        topics = bulk.Topics(args.requests_topic, args.results_topic)
        report = asyncio.run(_bulk_run(args.kafka, issuer_id, parsed, topics, args.wait))
    _write_report(report, args.report)
    text = report.text()
    if args.check:  # the counts of a run do not apply: say what was checked
        first, _, rest = text.partition("\n")
        first = (
            f"{len(report.rows)} rows: {len(parsed.requests)} valid, "
            f"{len(parsed.invalid)} invalid (nothing sent)"
        )
        text = f"{first}\n{rest}" if rest else first
    print(text)
    return EXIT_INVALID if report.failed else EXIT_OK


def _read_csv(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(bulk.MAX_CSV_BYTES + 1)
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror or err}") from err
    if len(data) > bulk.MAX_CSV_BYTES:
        raise CliError(f"{path} is larger than {bulk.MAX_CSV_BYTES} bytes; split it")
    return data


async def _bulk_run(
    kafka: str, issuer_id: str, parsed: bulk.ParsedFile, topics: bulk.Topics, wait: float
) -> bulk.BulkReport:
    from ler_platform.events.records import BusError  # type: ignore[import-untyped]

    bus = connect.make_bus(kafka)
    try:
        await bus.start()
        try:
            return await bulk.bulk_issue(bus, issuer_id, parsed, topics, wait_seconds=wait)
        finally:
            await bus.stop()
    except BusError as err:
        raise CliError(f"Kafka at {kafka}: {err}", connect.EXIT_SERVICE) from err


def _write_report(report: bulk.BulkReport, path: str | None) -> None:
    if not path:
        return
    write_output(report.as_json() if path.endswith(".json") else report.as_csv(), path)
