"""Test helpers: a TLS status-list/did:web server, signed credentials, the service in-process."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from aiohttp import web
from ler.verification.v1 import verification_service_pb2_grpc as pb_grpc
from ler_crypto import dataintegrity, obv3, status_list
from ler_crypto.did import did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_platform.grpc_server import bearer_metadata
from ler_platform.local_infra import KAFKA_KEY, PG_KEY, LocalInfraMissing, find_local_infra
from ler_verification.bootstrap import VerificationApp, bootstrap
from ler_verification.domain.model import TenantKind
from ler_verification.service_layer.tenants import register_tenant
from ler_verification.settings import VerificationSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
INFRA_ENV = REPO_ROOT / "var" / "infra.env"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
T = TypeVar("T")


class DocumentServer:
    """An HTTPS server publishing JSON documents by path (status lists, did:web documents)."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.documents: dict[str, Any] = {}
        self.requests: list[str] = []
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    async def _serve(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        doc = self.documents.get(request.path)
        if doc is None:
            return web.Response(status=404)
        if isinstance(doc, bytes):  # a Token Status List Token (compact JWT), served as-is
            return web.Response(body=doc, content_type="application/statuslist+jwt")
        return web.Response(body=json.dumps(doc).encode(), content_type="application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# --- credentials ----------------------------------------------------------------------------


@dataclass
class Party:
    """A did:key identity."""

    key: KeyPair
    did: str
    vm: str

    @classmethod
    def new(cls) -> Party:
        key = KeyPair.generate("Ed25519")
        did, vm = did_key_from_public_key(key.public_key)
        return cls(key, did, vm)


def sign(doc: dict[str, Any], key: KeyPair, vm: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("cryptosuite", "eddsa-jcs-2022")
    return dataintegrity.sign(doc, key, verification_method=vm, **kw)


@dataclass
class Issuer:
    """An institution with a revocation list and a suspension list on the document server."""

    party: Party
    server: DocumentServer
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    revoked: set[int] = field(default_factory=set)
    suspended: set[int] = field(default_factory=set)

    def list_url(self, purpose: str) -> str:
        return self.server.url(f"/status/{self.name}/{purpose}")

    def publish_lists(self, *, tamper: bool = False) -> None:
        for purpose, indices in (("revocation", self.revoked), ("suspension", self.suspended)):
            lst = status_list.StatusList()
            for index in indices:
                lst.set(index, 1)
            unsigned = status_list.build_status_list_credential(
                list_url=self.list_url(purpose),
                issuer=self.party.did,
                status_list=lst,
                purpose=purpose,
                valid_from="2024-01-01T00:00:00Z",
            )
            signed = sign(unsigned, self.party.key, self.party.vm)
            if tamper:  # flip a bit after signing: the list's proof no longer verifies
                bad = status_list.StatusList()
                bad.set(7, 1)
                signed = copy.deepcopy(signed)
                signed["credentialSubject"]["encodedList"] = bad.encode()
            self.server.documents[f"/status/{self.name}/{purpose}"] = signed

    def badge(
        self,
        subject: str,
        *,
        index: int,
        valid_from: str = "2024-09-01T00:00:00Z",
        valid_until: str | None = None,
        cryptosuite: str = "eddsa-jcs-2022",
        signer: Party | None = None,
    ) -> dict[str, Any]:
        status = [
            status_list.build_status_list_entry(
                status_list_credential=self.list_url("revocation"),
                index=index,
                purpose="revocation",
            ),
            status_list.build_status_list_entry(
                status_list_credential=self.list_url("suspension"),
                index=index,
                purpose="suspension",
            ),
        ]
        credential = obv3.build_achievement_credential(
            issuer=obv3.build_profile(self.party.did, "Example College"),
            subject_id=subject,
            achievement=obv3.build_achievement(
                achievement_id="https://college.example.edu/achievements/1",
                name="Data Literacy",
                description="Reads and questions data.",
                criteria_narrative="Completed the course.",
            ),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        credential["credentialStatus"] = status
        by = signer or self.party
        return sign(credential, by.key, by.vm, cryptosuite=cryptosuite)


def presentation(
    holder: Party, credentials: list[dict[str, Any]], *, challenge: str, domain: str
) -> dict[str, Any]:
    vp = {
        "@context": [VC_V2],
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": credentials,
    }
    return sign(
        vp,
        holder.key,
        holder.vm,
        proof_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )


def to_bytes(doc: Any) -> bytes:
    return json.dumps(doc).encode()


# --- the service ----------------------------------------------------------------------------


def settings_for(database_url: str, ca_file: Path, **overrides: Any) -> VerificationSettings:
    values: dict[str, Any] = {
        "grpc_port": 0,
        "http_port": 0,
        "database_url": database_url,
        "health_check_interval_seconds": 0.2,
        "grpc_grace_seconds": 1,
        "fetch_allow_private": True,  # tests only: the document server is on loopback
        "fetch_ca_file": str(ca_file),
        "instance_id": uuid.uuid4().hex[:8],
        "outbox_poll_interval_seconds": 0.1,
        # in-process unless a test is about the worker pool (test_verify_pool.py): a spawned
        # worker per test would cost every test a second or two of start-up. Setting
        # LER_VERIFY_WORKERS runs every test through a pool instead.
        "verify_workers": int(os.environ.get("LER_VERIFY_WORKERS", "0")),
    }
    values.update(overrides)
    return VerificationSettings(**values)


@dataclass
class Running:
    """A started service with one verifier tenant and a channel to it."""

    app: VerificationApp
    channel: grpc.aio.Channel
    stub: pb_grpc.VerificationServiceStub
    verifier_id: str
    api_key: str

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return tuple(bearer_metadata(self.api_key))

    @property
    def http_base(self) -> str:
        http = self.app.runtime.http
        assert http is not None
        return f"{http.scheme}://127.0.0.1:{http.port}"  # type: ignore[attr-defined]

    async def new_verifier(self, kind: TenantKind = TenantKind.VERIFIER) -> tuple[str, str]:
        tenant_id = f"ver_{uuid.uuid4().hex[:12]}"
        return tenant_id, await register_tenant(
            self.app.uow_factory, tenant_id, "Acme Hiring", kind
        )


async def start_service(settings: VerificationSettings, **kw: Any) -> Running:
    app = bootstrap(settings, **kw)
    await app.runtime.start()
    tenant_id = f"ver_{uuid.uuid4().hex[:12]}"
    api_key = await register_tenant(app.uow_factory, tenant_id, "Acme Hiring")
    channel = grpc.aio.insecure_channel(
        f"127.0.0.1:{app.runtime.grpc.port}",
        options=[("grpc.max_send_message_length", 8 * 1024 * 1024)],
    )
    return Running(app, channel, pb_grpc.VerificationServiceStub(channel), tenant_id, api_key)


async def stop_service(running: Running) -> None:
    await running.channel.close()
    await running.app.runtime.stop()


# --- real servers ---------------------------------------------------------------------------


def infra() -> dict[str, str]:
    """Real-server coordinates; FAILS (never skips) when absent."""
    try:
        found = find_local_infra(INFRA_ENV)
    except LocalInfraMissing as err:
        pytest.fail(f"real-server test: {err}")
    return {PG_KEY: found.pg_dsn, KAFKA_KEY: found.kafka}


async def poll_until(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within: float, what: str
) -> T:
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}; last: {result!r}")
        await asyncio.sleep(0.02)


def did_web_issuer(server: DocumentServer, name: str) -> Issuer:
    """An issuer whose did:web document is published on the document server."""
    did = f"did:web:127.0.0.1%3A{server.port}:issuers:{name}"
    issuer = Issuer(Party(KeyPair.generate("Ed25519"), did, f"{did}#key-1"), server, name=name)
    publish_did_document(issuer)
    issuer.publish_lists()
    return issuer


def publish_did_document(issuer: Issuer) -> None:
    """(Re)publish the issuer's DID document with its current key (key rotation)."""
    did, vm = issuer.party.did, issuer.party.vm
    issuer.server.documents[f"/issuers/{issuer.name}/did.json"] = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": vm,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": issuer.party.key.public_key.to_multikey(),
            }
        ],
        "assertionMethod": [vm],
        "authentication": [vm],
    }
