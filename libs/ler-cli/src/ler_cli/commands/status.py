"""``ler vc status new|set|get|check``: Bitstring Status List credentials from the shell."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ler_crypto import dataintegrity, status_list
from ler_crypto.did import DidResolver
from ler_crypto.errors import CryptoError

from ler_cli.errors import EXIT_INVALID, EXIT_OK, EXIT_UNUSABLE, CliError
from ler_cli.files import dumps, read_json_object, write_output


def register(commands: Any) -> None:
    """Add ``status`` under ``ler vc``."""
    group = commands.add_parser("status", help="Bitstring Status List credentials")
    sub = group.add_subparsers(dest="status_command", metavar="COMMAND", required=True)

    new = sub.add_parser("new", help="create an (optionally signed) status list credential")
    new.add_argument("--url", required=True, help="where the list will be published (its id)")
    new.add_argument("--issuer", help="issuer DID (default: the --key's DID)")
    new.add_argument(
        "--purpose",
        action="append",
        choices=sorted(status_list.STATUS_PURPOSES),
        help="statusPurpose (repeatable; default revocation)",
    )
    new.add_argument("--length", type=int, default=status_list.MIN_LIST_LENGTH)
    new.add_argument("--status-size", type=int, default=1)
    new.add_argument("--key", help="sign with this private JWK (eddsa-rdfc-2022)")
    new.add_argument("--out", help="write here instead of stdout")
    new.set_defaults(handler=_new)

    set_ = sub.add_parser("set", help="set an entry and re-sign the list")
    set_.add_argument("file", help="status list credential")
    set_.add_argument("index", type=int)
    set_.add_argument("--value", type=int, default=1, help="status value (default 1 = set)")
    set_.add_argument("--status-size", type=int, default=1, help="bits per entry (default 1)")
    set_.add_argument("--key", help="re-sign with this private JWK (the old proof is dropped)")
    set_.add_argument("--out", help="write here instead of stdout")
    set_.set_defaults(handler=_set)

    get = sub.add_parser("get", help="read an entry of a status list credential")
    get.add_argument("file")
    get.add_argument("index", type=int)
    get.add_argument("--status-size", type=int, default=1, help="bits per entry (default 1)")
    get.set_defaults(handler=_get)

    check = sub.add_parser(
        "check",
        help="check a credential's status entries against a local list credential",
        description="Exit status: 0 not revoked/suspended, 1 revoked/suspended or the list "
        "does not verify, 2 malformed input.",
    )
    check.add_argument("credential")
    check.add_argument(
        "--list",
        required=True,
        dest="list_file",
        help="the status list credential the entries point to",
    )
    check.set_defaults(handler=_check)


def _subject(credential: dict[str, Any], path: str) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        raise CliError(f"{path} is not a BitstringStatusListCredential")
    return subject


def _decode(credential: dict[str, Any], path: str, status_size: int = 1) -> status_list.StatusList:
    try:
        return status_list.StatusList.decode(
            _subject(credential, path).get("encodedList"), status_size
        )
    except CryptoError as err:
        raise CliError(f"{path}: {err}") from err


def _sign(credential: dict[str, Any], key_path: str) -> dict[str, Any]:
    from ler_cli.commands.vc import load_key

    pair, vm_id = load_key(key_path)
    try:
        return dataintegrity.sign(
            credential, pair, cryptosuite="eddsa-rdfc-2022", verification_method=vm_id
        )
    except CryptoError as err:
        raise CliError(f"cannot sign the status list: {err}") from err


def _new(args: argparse.Namespace) -> int:
    from ler_cli.commands.vc import load_key

    issuer = args.issuer
    if issuer is None:
        if args.key is None:
            raise CliError("give --issuer or --key")
        issuer = load_key(args.key)[1].split("#", 1)[0]
    try:
        lst = status_list.StatusList(args.length, args.status_size)
        credential = status_list.build_status_list_credential(
            list_url=args.url,
            issuer=issuer,
            status_list=lst,
            purpose=args.purpose or ["revocation"],
        )
    except CryptoError as err:
        raise CliError(str(err)) from err
    if args.key:
        credential = _sign(credential, args.key)
    write_output(dumps(credential), args.out)
    return EXIT_OK


def _set(args: argparse.Namespace) -> int:
    credential = read_json_object(args.file, "status list credential")
    lst = _decode(credential, args.file, args.status_size)
    try:
        lst.set(args.index, args.value)
    except CryptoError as err:
        raise CliError(str(err)) from err
    updated = {k: v for k, v in credential.items() if k != "proof"}
    updated["credentialSubject"] = dict(credential["credentialSubject"], encodedList=lst.encode())
    if args.key:
        updated = _sign(updated, args.key)
    write_output(dumps(updated), args.out)
    return EXIT_OK


def _get(args: argparse.Namespace) -> int:
    credential = read_json_object(args.file, "status list credential")
    lst = _decode(credential, args.file, args.status_size)
    try:
        value = lst.get(args.index)
    except CryptoError as err:
        raise CliError(str(err)) from err
    write_output(dumps({"index": args.index, "value": value, "length": lst.length}), None)
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    credential = read_json_object(args.credential, "credential")
    listed = read_json_object(args.list_file, "status list credential")
    entries = credential.get("credentialStatus", [])
    entries = entries if isinstance(entries, list) else [entries]
    if not entries:
        raise CliError(f"{args.credential} has no credentialStatus")
    results: list[dict[str, Any]] = []
    list_ok = _list_proof_ok(listed, credential)
    code = EXIT_OK if list_ok is None else EXIT_INVALID
    for entry in entries:
        try:
            result = status_list.check_status(entry, listed)
        except status_list.StatusCheckError as err:
            results.append({"error": str(err), "kind": err.kind.value})
            code = max(
                code,
                EXIT_UNUSABLE
                if err.kind is status_list.StatusErrorKind.MALFORMED_VALUE
                else EXIT_INVALID,
            )
            continue
        results.append(
            {
                "purpose": result.purpose,
                "index": result.index,
                "value": result.value,
                "active": result.active,
                "message": result.message,
            }
        )
        if result.active and result.purpose in ("revocation", "suspension"):
            code = max(code, EXIT_INVALID)
    write_output(
        dumps(
            {
                "listVerified": list_ok is None,
                **({"listError": list_ok} if list_ok else {}),
                "entries": results,
            }
        ),
        None,
    )
    return code


def _list_proof_ok(listed: dict[str, Any], credential: dict[str, Any]) -> str | None:
    """None when the list's proof verifies offline and it is the credential issuer's; else why."""
    if "proof" not in listed:
        return "the status list credential is not signed"
    try:
        results = asyncio.run(
            dataintegrity.verify(
                listed, DidResolver(offline=True), expected_purpose="assertionMethod"
            )
        )
    except CryptoError as err:
        return str(err)
    failed = [r.error for r in results if not r.verified]
    if failed:
        return f"status list proof does not verify: {failed[0]}"
    issuer = credential.get("issuer")
    issuer = issuer.get("id") if isinstance(issuer, dict) else issuer
    list_issuer = listed.get("issuer")
    list_issuer = list_issuer.get("id") if isinstance(list_issuer, dict) else list_issuer
    if issuer != list_issuer:
        return f"status list issued by {list_issuer!r}, not by {issuer!r}"
    return None
