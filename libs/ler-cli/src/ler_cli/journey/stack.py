"""The stacks the learner's journey runs on: where the four services are and how to reach them.

* ``RealStack`` — already-running service processes (``make up``, the e2e test, a cluster):
  their gRPC addresses, the operator credentials, and Kafka for publishing issuance requests.
* ``EmbeddedStack`` — the four services in this process (DESIGN.md "Configuration and modes",
  embedded): each its own ``bootstrap`` with its own SQLite file in a temporary directory, one
  shared ``InProcessBus``, gRPC and HTTP on loopback ports. Nothing to install beyond Python.

The journey driver reaches both the same way: gRPC clients and the issuance-requests topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from ler_platform.events.bus import EventBus
from ler_platform.events.inprocess import InProcessBus
from ler_platform.events.kafka import KafkaBus
from ler_platform.kek import new_kek_value
from ler_platform.local_tls import write_loopback_certificate
from ler_proto.events.issuance import ISSUANCE_REQUESTS_TOPIC

from ler_cli.journey.errors import JourneyError

log = logging.getLogger(__name__)

#: gRPC addresses of deploy/local/services.sh (ports 50051.. in the order below).
DEFAULT_ADDRESSES = {
    "issuance": "127.0.0.1:50051",
    "wallet": "127.0.0.1:50052",
    "verification": "127.0.0.1:50053",
    "intake": "127.0.0.1:50054",
}
DEFAULT_KAFKA = "127.0.0.1:59092"
#: Seconds each embedded service may take to stop before it is abandoned.
STOP_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class RealStack:
    """Addresses and credentials of four running services (no secret appears in the repr).

    ``bus`` is set by ``EmbeddedStack`` (the shared in-process bus); otherwise issuance
    requests are published to Kafka at ``kafka_bootstrap``.
    """

    issuance: str
    wallet: str
    verification: str
    intake: str
    issuance_operator_token: str = field(repr=False)
    intake_operator_key: str = field(repr=False)
    intake_client_key: str = field(repr=False)
    kafka_bootstrap: str = DEFAULT_KAFKA
    requests_topic: str = ISSUANCE_REQUESTS_TOPIC
    bus: EventBus | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RealStack:
        """Read the stack from the environment (defaults: deploy/local/services.sh ports).

        ``LER_ISSUANCE_ADDR`` ... ``LER_INTAKE_ADDR``: gRPC addresses;
        ``LER_ISSUANCE_OPERATOR_TOKEN``, ``LER_INTAKE_OPERATOR_KEY``,
        ``LER_INTAKE_CLIENT_KEY``: credentials (``make up`` writes them to
        ``var/run/credentials.env``); ``LER_KAFKA_BOOTSTRAP_SERVERS`` and
        ``LER_ISSUANCE_REQUESTS_TOPIC``: where issuance requests go.
        """
        env = os.environ if env is None else env
        missing = [
            name
            for name in (
                "LER_ISSUANCE_OPERATOR_TOKEN",
                "LER_INTAKE_OPERATOR_KEY",
                "LER_INTAKE_CLIENT_KEY",
            )
            if not env.get(name)
        ]
        if missing:
            raise JourneyError(
                f"the real stack needs {', '.join(missing)} (`make up` writes them to"
                " var/run/credentials.env)"
            )
        return cls(
            **{s: env.get(f"LER_{s.upper()}_ADDR") or a for s, a in DEFAULT_ADDRESSES.items()},
            issuance_operator_token=env["LER_ISSUANCE_OPERATOR_TOKEN"],
            intake_operator_key=env["LER_INTAKE_OPERATOR_KEY"],
            intake_client_key=env["LER_INTAKE_CLIENT_KEY"],
            kafka_bootstrap=env.get("LER_KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_KAFKA,
            requests_topic=env.get("LER_ISSUANCE_REQUESTS_TOPIC") or ISSUANCE_REQUESTS_TOPIC,
        )

    @property
    def endpoints(self) -> RealStack:
        """The stack itself (``EmbeddedStack.endpoints`` gives its running services' one)."""
        return self

    @contextlib.asynccontextmanager
    async def publisher(self) -> AsyncIterator[EventBus]:
        """A bus to publish issuance requests on: the shared one, or a Kafka producer."""
        if self.bus is not None:
            yield self.bus
            return
        bus = KafkaBus(self.kafka_bootstrap, client_id=f"ler-journey-{uuid.uuid4().hex[:8]}")
        await bus.start()
        try:
            # the issuance consumer creates it too; a journey may be the first to publish
            await bus.ensure_topics([self.requests_topic])
            yield bus
        finally:
            await bus.stop()


def free_port() -> int:
    """A loopback port free right now (for listeners whose address must be known upfront)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedStack:
    """The four services in this process; ``async with EmbeddedStack() as stack``.

    Started in dependency order (verification, issuance, wallet, intake) and stopped in
    reverse, each stop bounded by ``STOP_TIMEOUT_SECONDS``. ``workdir`` (default: a temporary
    directory removed at exit) holds the SQLite files and the loopback certificate.
    """

    def __init__(self, workdir: Path | None = None) -> None:
        self._given_workdir = workdir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._bus: InProcessBus | None = None
        self._apps: list[tuple[str, Any]] = []
        self._endpoints: RealStack | None = None

    @property
    def endpoints(self) -> RealStack:
        """Addresses and credentials of the running services."""
        if self._endpoints is None:
            raise JourneyError("the embedded stack is not started (use `async with`)")
        return self._endpoints

    async def __aenter__(self) -> EmbeddedStack:
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _start(self) -> None:
        # imported here: `ler vc ...` and friends need none of the services
        from ler_intake.bootstrap import bootstrap as intake_bootstrap
        from ler_intake.settings import IntakeSettings
        from ler_issuance.bootstrap import bootstrap as issuance_bootstrap
        from ler_issuance.settings import IssuanceSettings
        from ler_verification.bootstrap import bootstrap as verification_bootstrap
        from ler_verification.domain.model import TenantKind
        from ler_verification.service_layer.tenants import register_tenant
        from ler_verification.settings import VerificationSettings
        from ler_wallet.bootstrap import bootstrap as wallet_bootstrap
        from ler_wallet.settings import WalletSettings

        if self._given_workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ler-embedded-")
            workdir = Path(self._tmp.name)
        else:
            workdir = self._given_workdir
            workdir.mkdir(parents=True, exist_ok=True)
        cert, key = write_loopback_certificate(workdir / "tls", days=1)
        operator_token = secrets.token_urlsafe(24)
        intake_operator, intake_client = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._bus = InProcessBus()
        await self._bus.start()

        def common(name: str) -> dict[str, Any]:
            return {
                "database_url": f"sqlite+aiosqlite:///{workdir / f'{name}.db'}",
                "kafka_bootstrap_servers": None,  # the shared in-process bus
                "metrics_port": None,
                "grpc_port": 0,
                "http_port": 0,
                "grpc_grace_seconds": 1,
                "shutdown_timeout_seconds": STOP_TIMEOUT_SECONDS - 1,
                "health_check_interval_seconds": 0.5,
                "outbox_poll_interval_seconds": 0.05,
                # a fresh key-encryption key per run (no development KEK file left behind)
                "kek": new_kek_value(),
            }

        verification = verification_bootstrap(
            VerificationSettings(
                **common("verification"),
                # issuance's status lists are on loopback, under the certificate made above
                fetch_allow_private=True,
                fetch_ca_file=str(cert),
                instance_id=f"embedded-{uuid.uuid4().hex[:8]}",
                # the whole story in this one process: no worker process for its few checks
                verify_workers=0,
            ),
            bus=self._bus,
        )
        await self._start_app("verification", verification)
        # intake's service identity at verification (what `ler-verification add-tenant
        # intake Intake --service` does for a deployment)
        service_key = await register_tenant(
            verification.uow_factory, "intake", "Intake", TenantKind.SERVICE
        )
        # the status-list URLs in credentials are built from this address: fixed upfront
        issuance_http = free_port()
        issuance = issuance_bootstrap(
            IssuanceSettings(
                **{**common("issuance"), "http_port": issuance_http},
                operator_token=operator_token,
                http_tls_cert=str(cert),
                http_tls_key=str(key),
                status_list_max_age_seconds=0,
            ),
            bus=self._bus,
        )
        await self._start_app("issuance", issuance)
        wallet = wallet_bootstrap(WalletSettings(**common("wallet")), bus=self._bus)
        await self._start_app("wallet", wallet)
        intake = intake_bootstrap(
            IntakeSettings(
                **common("intake"),
                verification_grpc_target=f"127.0.0.1:{verification.runtime.grpc.port}",
                verification_api_key=service_key,
                operator_api_key=intake_operator,
                client_api_key=intake_client,
                webhook_poll_seconds=0.2,
            ),
            bus=self._bus,
        )
        await self._start_app("intake", intake)
        ports = {name: app.runtime.grpc.port for name, app in self._apps}
        self._endpoints = RealStack(
            **{name: f"127.0.0.1:{port}" for name, port in ports.items()},
            issuance_operator_token=operator_token,
            intake_operator_key=intake_operator,
            intake_client_key=intake_client,
            bus=self._bus,
        )

    async def _start_app(self, name: str, app: Any) -> None:
        self._apps.append((name, app))
        await app.runtime.start()

    async def _stop(self) -> None:
        for name, app in reversed(self._apps):
            try:
                await asyncio.wait_for(app.runtime.stop(), STOP_TIMEOUT_SECONDS)
            except Exception:  # one service failing to stop must not keep the others up
                log.exception("stopping embedded %s failed", name)
        self._apps.clear()
        if self._bus is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._bus.stop(), STOP_TIMEOUT_SECONDS)
            self._bus = None
        self._endpoints = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
