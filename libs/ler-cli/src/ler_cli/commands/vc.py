"""``ler vc ...``: keys, signing, verification and status lists for Verifiable Credentials."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from ler_crypto import dataintegrity
from ler_crypto.did import DidResolver, HttpsWebFetcher, did_key_from_public_key
from ler_crypto.errors import CryptoError
from ler_crypto.keys import KeyPair
from ler_crypto.verifier import verify_document

from ler_cli.commands import status
from ler_cli.errors import EXIT_INVALID, EXIT_OK, EXIT_UNUSABLE, CliError
from ler_cli.files import dumps, read_bytes, read_json_object, write_output, write_secret

SUITES = ("eddsa-rdfc-2022", "eddsa-jcs-2022")
PURPOSES = ("assertionMethod", "authentication")
#: Status list credentials are larger than DID documents (a busy 8-bit list is ~200 KB).
STATUS_LIST_MAX_BYTES = 2 * 1024 * 1024


def register(subparsers: Any) -> None:
    """Add the ``vc`` command group."""
    vc = subparsers.add_parser("vc", help="Verifiable Credentials: keygen, sign, verify, status")
    commands = vc.add_subparsers(dest="vc_command", metavar="COMMAND", required=True)

    keygen = commands.add_parser("keygen", help="generate a key pair and its did:key")
    keygen.add_argument("--curve", choices=("Ed25519", "P-256"), default="Ed25519")
    keygen.add_argument(
        "--out",
        help="private JWK file to create (mode 0600; default "
        "ler-key-<fingerprint>.jwk in the current directory)",
    )
    keygen.set_defaults(handler=_keygen)

    sign = commands.add_parser("sign", help="add a Data Integrity proof to a credential")
    sign.add_argument("file", help="JSON credential or presentation ('-' for stdin)")
    sign.add_argument("--key", required=True, help="private JWK file from 'ler vc keygen'")
    sign.add_argument("--suite", choices=SUITES, default="eddsa-rdfc-2022")
    sign.add_argument(
        "--purpose",
        choices=PURPOSES,
        default=None,
        help="proofPurpose (default: authentication for a presentation, assertionMethod otherwise)",
    )
    sign.add_argument("--challenge", help="presentation challenge")
    sign.add_argument("--domain", help="presentation domain")
    sign.add_argument("--verification-method", help="override the key file's kid / did:key")
    sign.add_argument("--out", help="write the signed document here instead of stdout")
    sign.set_defaults(handler=_sign)

    verify = commands.add_parser(
        "verify",
        help="verify a credential, presentation or SD-JWT VC; print a JSON report",
        description="Exit status: 0 verified, 1 not verified, 2 malformed or unusable input.",
    )
    verify.add_argument("file", help="JSON credential/presentation or compact SD-JWT ('-' = stdin)")
    verify.add_argument("--challenge", help="expected presentation challenge (SD-JWT: nonce)")
    verify.add_argument("--domain", help="expected presentation domain (SD-JWT: aud)")
    verify.add_argument(
        "--offline",
        action="store_true",
        help="no network at all: only did:key/did:jwk and bundled contexts",
    )
    verify.add_argument(
        "--trusted-issuer",
        action="append",
        metavar="DID",
        help="issuer to trust (repeatable); without it trust is a warning",
    )
    verify.add_argument(
        "--status-list",
        action="append",
        metavar="FILE",
        default=[],
        help="a local status list credential, used instead of fetching its id",
    )
    verify.set_defaults(handler=_verify)

    status.register(commands)


def load_key(path: str) -> tuple[KeyPair, str]:
    """A key pair from a private JWK file and the verification method to sign with."""
    jwk = read_json_object(path, "private JWK")
    try:
        pair = KeyPair.from_private_jwk(jwk)
    except CryptoError as err:
        raise CliError(f"{path} is not a usable private key: {err}") from err
    kid = jwk.get("kid")
    if isinstance(kid, str) and kid.startswith("did:") and "#" in kid:
        return pair, kid
    _, vm_id = did_key_from_public_key(pair.public_key)
    return pair, vm_id


def _keygen(args: argparse.Namespace) -> int:
    pair = KeyPair.generate(args.curve)
    did, vm_id = did_key_from_public_key(pair.public_key)
    path = args.out or f"ler-key-{pair.public_key.jwk_thumbprint()[:12]}.jwk"
    jwk = {**pair.to_private_jwk(), "kid": vm_id}
    write_secret(path, json.dumps(jwk, indent=2) + "\n")
    write_output(
        dumps({"did": did, "verificationMethod": vm_id, "keyFile": path, "curve": args.curve}), None
    )
    return EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    document = read_json_object(args.file, "credential")
    pair, vm_id = load_key(args.key)
    types = document.get("type", [])
    is_vp = "VerifiablePresentation" in (types if isinstance(types, list) else [types])
    purpose = args.purpose or ("authentication" if is_vp else "assertionMethod")
    try:
        signed = dataintegrity.sign(
            document,
            pair,
            cryptosuite=args.suite,
            verification_method=args.verification_method or vm_id,
            proof_purpose=purpose,
            challenge=args.challenge,
            domain=args.domain,
        )
    except CryptoError as err:
        raise CliError(f"cannot sign {args.file}: {err}") from err
    write_output(dumps(signed), args.out)
    return EXIT_OK


class LocalFirstStatusFetcher:
    """Serves status lists given on the command line; fetches others unless offline."""

    def __init__(self, local: dict[str, Any], remote: HttpsWebFetcher | None) -> None:
        self.local = local
        self.remote = remote

    async def fetch(self, url: str) -> Any:
        """The local copy of ``url`` or, when online, the HTTPS response body."""
        if url in self.local:
            return self.local[url]
        if self.remote is None:
            raise CryptoError(f"offline: {url} was not fetched (pass it with --status-list)")
        return await self.remote.fetch(url)


def _verify(args: argparse.Namespace) -> int:
    data = read_bytes(args.file)
    local: dict[str, Any] = {}
    for path in args.status_list:
        listed = read_json_object(path, "status list credential")
        if not isinstance(listed.get("id"), str):
            raise CliError(f"{path}: a status list credential needs an 'id' (its URL)")
        local[listed["id"]] = listed
    web = None if args.offline else HttpsWebFetcher()
    remote = None if args.offline else HttpsWebFetcher(max_bytes=STATUS_LIST_MAX_BYTES)
    fetcher = LocalFirstStatusFetcher(local, remote) if (local or remote) else None
    resolver = DidResolver(web, offline=args.offline)
    report = asyncio.run(
        verify_document(
            data,
            challenge=args.challenge,
            domain=args.domain,
            resolver=resolver,
            status_fetcher=fetcher,
            trusted_issuers=set(args.trusted_issuer) if args.trusted_issuer else None,
        )
    )
    write_output(dumps(report.to_dict()), None)
    if report.malformed:
        return EXIT_UNUSABLE
    return EXIT_OK if report.verified else EXIT_INVALID


__all__ = ["load_key", "register"]
