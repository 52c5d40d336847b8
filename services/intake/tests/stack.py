"""The in-process stack of the gRPC tests: verification + intake on SQLite, one in-process bus,
an HTTPS server for status lists and the ATS webhook receiver."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from intake_helpers import Caller, HttpsServer, Issuer, Party, intake_stub
from ler.intake.v1 import intake_service_pb2 as pb
from ler_intake.bootstrap import IntakeApp, bootstrap
from ler_intake.settings import IntakeSettings
from ler_platform.events.bus import EventBus
from ler_platform.events.inprocess import InProcessBus
from ler_platform.kek import new_kek_value
from ler_platform.local_tls import write_loopback_certificate
from ler_proto.events import intake as intake_topics
from ler_proto.events import issuance as issuance_topics
from ler_verification.bootstrap import VerificationApp
from ler_verification.bootstrap import bootstrap as verification_bootstrap
from ler_verification.domain.model import TenantKind
from ler_verification.service_layer.tenants import register_tenant
from ler_verification.settings import VerificationSettings

OPERATOR_KEY = "operator-key-for-tests"
CLIENT_KEY = "client-key-for-tests"


@dataclass
class Stack:
    """Everything a gRPC test talks to."""

    bus: EventBus
    docs: HttpsServer
    issuer: Issuer
    verification_port: int
    intake: IntakeApp
    channel: grpc.aio.Channel
    operator: Caller
    client: Caller
    service_key: str
    verification: VerificationApp | None = None  # in-process runs only
    events_topic: str = intake_topics.APPLICATIONS_TOPIC
    status_topic: str = issuance_topics.CREDENTIALS_STATUS_TOPIC

    async def provider(self, name: str, *, webhook: bool = True) -> tuple[Caller, str]:
        """Register a provider; returns its caller and webhook secret."""
        resp = await self.operator.stub.RegisterProvider(
            pb.RegisterProviderRequest(
                name=name,
                domain=f"{name.lower()}-{uuid.uuid4().hex[:6]}.example",
                webhook_url=self.docs.url(f"/hook/{name}") if webhook else "",
            ),
            metadata=self.operator.md,
        )
        return (
            Caller(self.operator.stub, resp.api_key, resp.provider.provider_id),
            resp.webhook_secret,
        )


def verification_settings(database_url: str, ca_file: Path, **extra: Any) -> VerificationSettings:
    values: dict[str, Any] = {
        "grpc_port": 0,
        "http_port": 0,
        "database_url": database_url,
        "health_check_interval_seconds": 0.2,
        "grpc_grace_seconds": 1,
        "fetch_allow_private": True,
        "fetch_ca_file": str(ca_file),
        "instance_id": uuid.uuid4().hex[:8],
        "outbox_poll_interval_seconds": 0.1,
        # status lists are re-read on every verification: the scenarios revoke by republishing
        # a list without announcing it (no status event), and expect the next submission to see
        # it. (Status events need no such setting: re-verification asks for fresh lists.)
        "status_cache_default_ttl_seconds": 0,
        "status_cache_max_ttl_seconds": 0,
    }
    values.update(extra)
    return VerificationSettings(**values)


def intake_settings(
    database_url: str, target: str, service_key: str, ca_file: Path, **extra: Any
) -> IntakeSettings:
    values: dict[str, Any] = {
        "grpc_port": 0,
        "http_port": 0,
        "database_url": database_url,
        "verification_grpc_target": target,
        "verification_api_key": service_key,
        "operator_api_key": OPERATOR_KEY,
        "client_api_key": CLIENT_KEY,
        "share_links_allow_private": True,
        "webhook_ca_file": str(ca_file),
        "webhook_poll_seconds": 0.1,
        "webhook_backoff_seconds": 0.1,
        "outbox_poll_interval_seconds": 0.1,
        "health_check_interval_seconds": 0.2,
        "grpc_grace_seconds": 1,
        "kek": new_kek_value(),
    }
    values.update(extra)
    return IntakeSettings(**values)


async def start_verification(
    tmp_path: Path, cert: Path, bus: EventBus, port: int = 0
) -> VerificationApp:
    """The verification service in-process on its SQLite file under ``tmp_path`` (restartable
    on the same ``port`` with the same data)."""
    vapp = verification_bootstrap(
        verification_settings(f"sqlite+aiosqlite:///{tmp_path / 'v.db'}", cert, grpc_port=port),
        bus=bus,
    )
    await vapp.runtime.start()
    return vapp


async def start_stack(tmp_path: Path, *, verification_port: int = 0, **intake_extra: Any) -> Stack:
    cert, key = write_loopback_certificate(tmp_path)
    docs = HttpsServer(cert, key)
    await docs.start()
    issuer = Issuer(Party.new(), docs)
    issuer.publish_lists()
    bus = InProcessBus()
    await bus.start()
    vapp = await start_verification(tmp_path, cert, bus, verification_port)
    service_key = await register_tenant(vapp.uow_factory, "intake", "Intake", TenantKind.SERVICE)
    iapp = bootstrap(
        intake_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'i.db'}",
            f"127.0.0.1:{vapp.runtime.grpc.port}",
            service_key,
            cert,
            **intake_extra,
        ),
        bus=bus,
    )
    await iapp.runtime.start()
    channel, stub = intake_stub(iapp.runtime.grpc.port)  # type: ignore[arg-type]
    return Stack(
        bus=bus,
        docs=docs,
        issuer=issuer,
        verification_port=vapp.runtime.grpc.port or 0,
        intake=iapp,
        channel=channel,
        operator=Caller(stub, OPERATOR_KEY),
        client=Caller(stub, CLIENT_KEY),
        service_key=service_key,
        verification=vapp,
    )


async def stop_stack(stack: Stack) -> None:
    await stack.channel.close()
    await stack.intake.runtime.stop()
    if stack.verification is not None:
        await stack.verification.runtime.stop()
    await stack.bus.stop()
    await stack.docs.stop()
