"""``ler learner ...``: a learner's wallet over gRPC (``$LER_WALLET_TOKEN`` = the learner's API
key, ``--account`` / ``$LER_ACCOUNT_ID`` = the account)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from ler.common.v1 import paging_pb2
from ler.wallet.v1 import resources_pb2 as rpb
from ler.wallet.v1 import wallet_service_pb2 as pb
from ler.wallet.v1 import wallet_service_pb2_grpc as pb_grpc

from ler_cli.connect import Connection, add_connection_args, run_async, to_dict, with_channel
from ler_cli.errors import EXIT_OK, CliError
from ler_cli.files import dumps, receive_secret, write_output

#: Pages fetched by ``list`` at most (100 credentials each).
MAX_PAGES = 100
EXPORT_FORMATS = {
    "ler-rs": pb.EXPORT_FORMAT_LER_RS_JSON,
    "zip": pb.EXPORT_FORMAT_CREDENTIALS_ZIP,
}


def register(subparsers: Any) -> None:
    """Add the ``learner`` command group."""
    group = subparsers.add_parser("learner", help="learners: create, list, curate, share, export")
    commands = group.add_subparsers(dest="learner_command", metavar="COMMAND", required=True)

    create = commands.add_parser("create", help="open a wallet account (no token needed)")
    create.add_argument("--name", required=True, help="the name shown to you")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--api-key-out",
        required=True,
        help="file to create (mode 0600) for your API key (LER_WALLET_TOKEN); shown only once",
    )
    add_connection_args(create, "wallet")
    create.set_defaults(handler=_create)

    list_ = commands.add_parser("list", help="list the credentials in the wallet")
    _account_arg(list_)
    list_.add_argument("--include-hidden", action="store_true")
    list_.add_argument("--tag", default="", help="only credentials with this tag")
    list_.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_connection_args(list_, "wallet")
    list_.set_defaults(handler=_list)

    curate = commands.add_parser("curate", help="hide, feature, tag or order a credential")
    _account_arg(curate)
    curate.add_argument("credential_id")
    visible = curate.add_mutually_exclusive_group()
    visible.add_argument("--hide", dest="hidden", action="store_true", default=None)
    visible.add_argument("--show", dest="hidden", action="store_false")
    featured = curate.add_mutually_exclusive_group()
    featured.add_argument("--feature", dest="featured", action="store_true", default=None)
    featured.add_argument("--unfeature", dest="featured", action="store_false")
    curate.add_argument(
        "--tag", action="append", default=None, help="set the tags (repeatable; replaces them)"
    )
    curate.add_argument("--order", type=int, default=None, help="sort order")
    add_connection_args(curate, "wallet")
    curate.set_defaults(handler=_curate)

    share = commands.add_parser("share", help="create a share link for credentials")
    _account_arg(share)
    share.add_argument("credential_ids", nargs="+", metavar="CREDENTIAL_ID")
    share.add_argument("--label", default="")
    share.add_argument("--days", type=int, default=30, help="days until the link expires")
    share.add_argument("--max-accesses", type=int, default=0, help="0 = unlimited")
    add_connection_args(share, "wallet")
    share.set_defaults(handler=_share)

    revoke = commands.add_parser("revoke-share", help="revoke a share link")
    _account_arg(revoke)
    revoke.add_argument("share_link_id")
    add_connection_args(revoke, "wallet")
    revoke.set_defaults(handler=_revoke_share)

    export = commands.add_parser("export", help="export records (LER-RS JSON or a ZIP)")
    _account_arg(export)
    export.add_argument("--format", choices=sorted(EXPORT_FORMATS), default="ler-rs")
    export.add_argument("--include-hidden", action="store_true")
    export.add_argument("--include-self-asserted", action="store_true")
    export.add_argument("--out", help="file to write (required for zip; default stdout)")
    add_connection_args(export, "wallet")
    export.set_defaults(handler=_export)


def _create(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args, token_required=False)  # CreateAccount is open
    request = pb.CreateAccountRequest(display_name=args.name, email=args.email)

    async def work(channel: grpc.aio.Channel) -> pb.CreateAccountResponse:
        response: pb.CreateAccountResponse = await _stub(channel).CreateAccount(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    response = receive_secret(
        args.api_key_out, lambda: run_async(with_channel(conn, work)), lambda r: r.api_key
    )
    account = response.account
    print(dumps({"account_id": account.account_id, "holder_did": account.holder_did}))
    print(f"API key written to {args.api_key_out}", file=sys.stderr)
    return EXIT_OK


def _account_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account",
        default=os.environ.get("LER_ACCOUNT_ID", ""),
        help="your wallet account id (default $LER_ACCOUNT_ID)",
    )


def _account(args: argparse.Namespace) -> str:
    if not args.account:
        raise CliError("no account id: pass --account or set $LER_ACCOUNT_ID")
    return str(args.account)


def _stub(channel: grpc.aio.Channel) -> Any:
    # the generated .pyi types stubs for the sync API; on an aio channel calls are awaitable
    return pb_grpc.WalletServiceStub(channel)


def _list(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    account = _account(args)

    async def work(channel: grpc.aio.Channel) -> list[rpb.StoredCredential]:
        found: list[rpb.StoredCredential] = []
        token = ""
        for _ in range(MAX_PAGES):
            response = await _stub(channel).ListCredentials(
                pb.ListCredentialsRequest(
                    account_id=account,
                    include_hidden=args.include_hidden,
                    tag=args.tag,
                    page=paging_pb2.PageRequest(page_size=100, page_token=token),
                ),
                metadata=conn.metadata,
                timeout=conn.timeout,
            )
            found.extend(response.credentials)
            token = response.page.next_page_token
            if not token:
                break
        return found

    credentials = run_async(with_channel(conn, work))
    if args.json:
        print(dumps([_summary(c) for c in credentials]))
        return EXIT_OK
    rows = [_summary(c) for c in credentials]
    headers = ("credential_id", "achievement", "issuer", "status", "tags")
    table = [headers, *[tuple(str(r[h]) for h in headers) for r in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _summary(credential: rpb.StoredCredential) -> dict[str, Any]:
    status = to_dict(credential).get("status", "CREDENTIAL_STATUS_STATE_UNSPECIFIED")
    return {
        "credential_id": credential.credential_id,
        "achievement": credential.summary.achievement_name,
        "issuer": credential.summary.issuer_name or credential.summary.issuer_id,
        "status": status.removeprefix("CREDENTIAL_STATUS_STATE_").lower(),
        "tags": ",".join(credential.curation.tags),
        "hidden": credential.curation.hidden,
        "featured": credential.curation.featured,
    }


def _curate(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    curation = rpb.Curation()
    paths: list[str] = []
    if args.hidden is not None:
        curation.hidden = args.hidden
        paths.append("hidden")
    if args.featured is not None:
        curation.featured = args.featured
        paths.append("featured")
    if args.tag is not None:
        curation.tags.extend(t for t in args.tag if t)
        paths.append("tags")
    if args.order is not None:
        curation.sort_order = args.order
        paths.append("sort_order")
    if not paths:
        raise CliError(
            "nothing to change: give --hide/--show, --feature/--unfeature, --tag or --order"
        )
    request = pb.CurateCredentialRequest(
        account_id=_account(args),
        credential_id=args.credential_id,
        curation=curation,
        update_mask=FieldMask(paths=paths),
    )

    async def work(channel: grpc.aio.Channel) -> pb.CurateCredentialResponse:
        response: pb.CurateCredentialResponse = await _stub(channel).CurateCredential(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    print(dumps(_summary(run_async(with_channel(conn, work)).credential)))
    return EXIT_OK


def _share(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    if not 1 <= args.days <= 366:
        raise CliError("--days must be between 1 and 366")
    if args.max_accesses < 0:
        raise CliError("--max-accesses must not be negative")
    request = pb.CreateShareLinkRequest(
        account_id=_account(args),
        credential_ids=args.credential_ids,
        label=args.label,
        max_accesses=args.max_accesses,
    )
    request.expires_at.FromDatetime(datetime.now(UTC) + timedelta(days=args.days))

    async def work(channel: grpc.aio.Channel) -> pb.CreateShareLinkResponse:
        response: pb.CreateShareLinkResponse = await _stub(channel).CreateShareLink(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    link = run_async(with_channel(conn, work)).share_link
    # the URL is what the learner asked for: it is printed once, as the service returns it once
    print(
        dumps(
            {
                "share_link_id": link.share_link_id,
                "url": link.url,
                "expires_at": to_dict(link).get("expires_at", ""),
            }
        )
    )
    return EXIT_OK


def _revoke_share(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    request = pb.RevokeShareLinkRequest(account_id=_account(args), share_link_id=args.share_link_id)

    async def work(channel: grpc.aio.Channel) -> pb.RevokeShareLinkResponse:
        response: pb.RevokeShareLinkResponse = await _stub(channel).RevokeShareLink(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    link = run_async(with_channel(conn, work)).share_link
    state = to_dict(link).get("state", "")
    print(dumps({"share_link_id": link.share_link_id, "state": state}))
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    conn = Connection.from_args(args)
    if args.format == "zip" and not args.out:
        raise CliError("a zip export needs --out FILE")
    request = pb.ExportRecordsRequest(
        account_id=_account(args),
        format=EXPORT_FORMATS[args.format],
        include_hidden=args.include_hidden,
        include_self_asserted=args.include_self_asserted,
    )

    async def work(channel: grpc.aio.Channel) -> pb.ExportRecordsResponse:
        response: pb.ExportRecordsResponse = await _stub(channel).ExportRecords(
            request, metadata=conn.metadata, timeout=conn.timeout
        )
        return response

    response = run_async(with_channel(conn, work))
    if args.format == "zip":
        try:
            with open(args.out, "wb") as handle:
                handle.write(response.content)
        except OSError as err:
            raise CliError(f"cannot write {args.out}: {err.strerror or err}") from err
    else:
        write_output(response.content.decode("utf-8"), args.out)
    if args.out and args.out != "-":
        print(f"wrote {len(response.content)} bytes ({response.media_type}) to {args.out}")
    return EXIT_OK
