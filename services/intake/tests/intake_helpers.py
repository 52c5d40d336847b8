"""Test helpers: TLS document server (status lists), issuers, holders, presentations, and the
verification and intake services started in-process or as processes."""

from __future__ import annotations

import asyncio
import json
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
from ler.intake.v1 import intake_service_pb2_grpc as ipb_grpc
from ler.verification.v1 import verification_service_pb2_grpc as vpb_grpc
from ler_crypto import dataintegrity, obv3, status_list
from ler_crypto.did import did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_platform.grpc_server import bearer_metadata
from ler_platform.local_infra import KAFKA_KEY, PG_KEY, LocalInfraMissing, find_local_infra

REPO_ROOT = Path(__file__).resolve().parents[3]
INFRA_ENV = REPO_ROOT / "var" / "infra.env"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
T = TypeVar("T")


class HttpsServer:
    """An HTTPS server: GET serves ``documents`` by path; POST is recorded in ``posts``."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.documents: dict[str, Any] = {}
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_posts = 0  # answer this many POSTs with 503 first
        self.on_post: Callable[[], None] | None = None  # called as each POST arrives
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    async def _get(self, request: web.Request) -> web.Response:
        doc = self.documents.get(request.path)
        if doc is None:
            return web.Response(status=404)
        return web.Response(body=json.dumps(doc).encode(), content_type="application/json")

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.on_post is not None:
            self.on_post()
        if self.fail_posts > 0:
            self.fail_posts -= 1
            return web.Response(status=503)
        self.posts.append((request.path, dict(request.headers), body))
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._get)
        app.router.add_post("/{tail:.*}", self._post)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


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


SKILLS = {
    "python": ("Python", "ESCO", "S1.2.3"),
    "sql": ("SQL", "ESCO", "S4.5.6"),
    "viz": ("Data visualisation", "ESCO", "S7.8.9"),
}


@dataclass
class Issuer:
    """An institution with revocation and suspension lists on the HTTPS server."""

    party: Party
    server: HttpsServer
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    display_name: str = "Example College"
    revoked: set[int] = field(default_factory=set)
    suspended: set[int] = field(default_factory=set)

    def list_url(self, purpose: str) -> str:
        return self.server.url(f"/status/{self.name}/{purpose}")

    def publish_lists(self) -> None:
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
            self.server.documents[f"/status/{self.name}/{purpose}"] = sign(
                unsigned, self.party.key, self.party.vm
            )

    def badge(
        self,
        subject: str,
        *,
        index: int,
        skills: tuple[str, ...],
        achievement_type: str = "BachelorDegree",
    ) -> dict[str, Any]:
        alignments = [
            obv3.build_alignment(
                target_name=SKILLS[s][0],
                target_framework=SKILLS[s][1],
                target_code=SKILLS[s][2],
                target_url=f"https://skills.example/{SKILLS[s][2]}",
            )
            for s in skills
        ]
        credential = obv3.build_achievement_credential(
            issuer=obv3.build_profile(self.party.did, self.display_name),
            subject_id=subject,
            achievement=obv3.build_achievement(
                achievement_id=f"https://college.example.edu/achievements/{index}",
                name="Data Literacy",
                description="Reads and questions data.",
                criteria_narrative="Completed the course.",
                achievement_type=achievement_type,
                alignments=alignments,
            ),
            valid_from="2024-09-01T00:00:00Z",
            awarded_date="2024-06-30T00:00:00Z",
        )
        credential["credentialStatus"] = [
            status_list.build_status_list_entry(
                status_list_credential=self.list_url(p), index=index, purpose=p
            )
            for p in ("revocation", "suspension")
        ]
        return sign(credential, self.party.key, self.party.vm)


def presentation(
    holder: Party, credentials: list[dict[str, Any]], *, challenge: str, domain: str
) -> bytes:
    vp = {
        "@context": [VC_V2],
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": credentials,
    }
    signed = sign(
        vp,
        holder.key,
        holder.vm,
        proof_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )
    return json.dumps(signed).encode()


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
        await asyncio.sleep(0.05)


@dataclass
class Caller:
    """A stub with one caller's API key."""

    stub: ipb_grpc.IntakeServiceStub
    key: str
    tenant_id: str = ""

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return tuple(bearer_metadata(self.key))


def intake_stub(port: int) -> tuple[grpc.aio.Channel, ipb_grpc.IntakeServiceStub]:
    channel = grpc.aio.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 8 * 1024 * 1024)]
    )
    return channel, ipb_grpc.IntakeServiceStub(channel)


def verification_stub(port: int) -> tuple[grpc.aio.Channel, vpb_grpc.VerificationServiceStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return channel, vpb_grpc.VerificationServiceStub(channel)
