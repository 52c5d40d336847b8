"""The journey's shared state and helpers: gRPC channels to the services (with the platform's
tracing interceptors), the cast's credentials, bounded calls and waits, and step checks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from ler.common.v1 import paging_pb2 as pgpb
from ler.intake.v1 import intake_service_pb2 as ipb
from ler.intake.v1 import intake_service_pb2_grpc as ipb_grpc
from ler.intake.v1 import resources_pb2 as irpb
from ler.issuance.v1 import issuance_service_pb2 as ispb
from ler.issuance.v1 import issuance_service_pb2_grpc as ispb_grpc
from ler.issuance.v1 import resources_pb2 as irspb
from ler.wallet.v1 import resources_pb2 as wrpb
from ler.wallet.v1 import wallet_service_pb2 as wpb
from ler.wallet.v1 import wallet_service_pb2_grpc as wpb_grpc
from ler_platform.grpc_server import bearer_metadata, client_interceptors

from ler_cli.journey import story
from ler_cli.journey.errors import JourneyError
from ler_cli.journey.result import Step
from ler_cli.journey.stack import RealStack

T = TypeVar("T")
Narrate = Callable[[str], None]

#: Seconds to wait for asynchronous outcomes (delivery to the wallet, the revocation flag).
DEFAULT_WAIT_SECONDS = 30.0
#: Deadline of each gRPC call.
CALL_TIMEOUT_SECONDS = 15.0
EXPECTED_CREDENTIALS = 2 + len(story.SKILLS)


async def call(what: str, pending: Awaitable[T]) -> T:
    """Await a gRPC call; a failure becomes a JourneyError naming the step and the status."""
    try:
        return await pending
    except grpc.aio.AioRpcError as err:
        raise JourneyError(f"{what}: {err.code().name}: {err.details()}") from err


async def poll(what: str, probe: Callable[[], Awaitable[T | None]], within: float) -> T:
    """Call ``probe`` until it returns a value; JourneyError after ``within`` seconds."""
    deadline = time.monotonic() + within
    delay = 0.05
    while True:
        value = await probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise JourneyError(f"{what}: not seen within {within:.0f} s")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


class JourneyBase:
    """The story's state, shared by the acts (each attribute is set by the act introducing it)."""

    issuers: dict[str, ispb.RegisterIssuerResponse]
    account: wrpb.Account
    learner_md: tuple[tuple[str, str], ...]
    degree_id: str
    clr_id: str
    badges: dict[str, wrpb.StoredCredential]
    employer_md: tuple[tuple[str, str], ...]
    opportunity: irpb.Opportunity
    application_id: str
    score: float

    def __init__(self, stack: RealStack, narrate: Narrate, wait: float) -> None:
        self.stack = stack
        self.say = narrate
        self.wait = wait
        self.steps: list[Step] = []
        self.summary: dict[str, Any] = {}
        self.run = uuid.uuid4().hex[:8]  # keeps record ids and domains unique per journey
        self._channels: list[grpc.aio.Channel] = []
        self.issuance = ispb_grpc.IssuanceServiceStub(self._channel(stack.issuance))
        self.wallet = wpb_grpc.WalletServiceStub(self._channel(stack.wallet))
        self.intake = ipb_grpc.IntakeServiceStub(self._channel(stack.intake))

    def _channel(self, target: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(target, interceptors=client_interceptors())
        self._channels.append(channel)
        return channel

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()

    def check(self, name: str, outcome: str, expected: str) -> None:
        step = Step(name, outcome, expected)
        self.steps.append(step)
        self.say(f"    {'ok' if step.ok else 'UNEXPECTED'}: {outcome}")

    def issuer_md(self, role: str) -> tuple[tuple[str, str], ...]:
        return tuple(bearer_metadata(self.issuers[role].api_key))

    def subject(self) -> irspb.Subject:
        return irspb.Subject(
            did=self.account.holder_did, email=self.account.email, name=self.account.display_name
        )

    async def held(self) -> list[wrpb.StoredCredential]:
        resp = await call(
            "listing the wallet",
            self.wallet.ListCredentials(
                wpb.ListCredentialsRequest(
                    account_id=self.account.account_id,
                    include_hidden=True,
                    page=pgpb.PageRequest(page_size=100),
                ),
                metadata=self.learner_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        return list(resp.credentials)

    async def get_application(self) -> irpb.Application:
        resp = await call(
            "reading the application",
            self.intake.GetApplication(
                ipb.GetApplicationRequest(
                    application_id=self.application_id, view=irpb.APPLICATION_VIEW_REDACTED
                ),
                metadata=self.employer_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        return resp.application
