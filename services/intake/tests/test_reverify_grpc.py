"""Verification down, then up: an application submitted while the verification service is
unreachable stays SUBMITTED, and the background re-verifier verifies it once the service is
back (in-process, SQLite, the real verification service restarted on the same port)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from intake_helpers import Party, poll_until, presentation
from ler.intake.v1 import intake_service_pb2 as pb
from ler.intake.v1 import resources_pb2 as rpb
from scenarios import _opportunity, _trust_issuer
from stack import start_stack, start_verification, stop_stack

pytestmark = pytest.mark.timeout(120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_submitted_while_verification_is_down_is_verified_when_it_is_back(
    tmp_path: Path,
) -> None:
    port = _free_port()
    stack = await start_stack(
        tmp_path,
        verification_port=port,
        verification_timeout_seconds=1.0,
        reverify_poll_seconds=0.2,
        reverify_backoff_seconds=0.3,
        reverify_backoff_max_seconds=1.0,
        reverify_max_attempts=50,
    )
    try:
        acme, _ = await stack.provider("Acme")
        await _trust_issuer(stack, acme.tenant_id)
        opp = await _opportunity(acme)
        ch = await stack.client.stub.CreateApplicationChallenge(
            pb.CreateApplicationChallengeRequest(opportunity_id=opp.opportunity_id),
            metadata=stack.client.md,
        )
        holder = Party.new()
        creds = [stack.issuer.badge(holder.did, index=11, skills=("python", "sql"))]
        vp = presentation(holder, creds, challenge=ch.challenge, domain=ch.domain)

        assert stack.verification is not None
        await stack.verification.runtime.stop()  # verification goes down
        submitted = await stack.client.stub.SubmitApplication(
            pb.SubmitApplicationRequest(
                opportunity_id=opp.opportunity_id,
                presentation=vp,
                challenge=ch.challenge,
                applicant=rpb.Applicant(name="Ada Lovelace", email="ada@example.org"),
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=stack.client.md,
        )
        app_id = submitted.application.application_id
        assert submitted.application.state == rpb.APPLICATION_STATE_SUBMITTED

        async def current() -> rpb.Application:
            return (
                await acme.stub.GetApplication(
                    pb.GetApplicationRequest(application_id=app_id), metadata=acme.md
                )
            ).application

        # while it is down the re-verifier keeps trying, and the application stays SUBMITTED
        attempts = await poll_until(
            lambda: _attempts(stack, app_id), lambda n: n >= 3, within=15, what="retries"
        )
        assert attempts >= 3
        assert (await current()).state == rpb.APPLICATION_STATE_SUBMITTED

        # back up on the same port, with the same data (the challenge it issued is still there)
        stack.verification = await start_verification(
            tmp_path, tmp_path / "cert.pem", stack.bus, port
        )
        verified = await poll_until(
            current,
            lambda a: a.state != rpb.APPLICATION_STATE_SUBMITTED,
            within=30,
            what="the application verified by the re-verifier",
        )
        assert verified.state == rpb.APPLICATION_STATE_VERIFIED, verified.flags
        assert verified.match.score == pytest.approx(0.8)
        assert not [f for f in verified.flags]
    finally:
        await stop_stack(stack)


async def _attempts(stack, app_id: str) -> int:  # type: ignore[no-untyped-def]
    async with stack.intake.ctx.uow() as uow:
        app = await uow.applications.get(app_id)
    return app.verify_attempts if app is not None else 0
