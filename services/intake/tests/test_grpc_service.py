"""IntakeService over gRPC, in-process on SQLite, with the REAL verification service running
in-process (the scenarios are shared with the real-server tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import scenarios
from stack import Stack, start_stack, stop_stack

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = await start_stack(tmp_path)
    try:
        yield running
    finally:
        await stop_stack(running)


async def test_valid_presentation_is_verified_scored_and_explained(stack: Stack) -> None:
    await scenarios.scenario_valid_presentation_is_verified_scored_and_explained(stack)


async def test_tampered_revoked_and_replayed_presentations_are_flagged(stack: Stack) -> None:
    await scenarios.scenario_tampered_revoked_and_replayed_presentations_are_flagged(stack)


async def test_same_idempotency_key_gives_one_application(stack: Stack) -> None:
    await scenarios.scenario_same_idempotency_key_gives_one_application(stack)


async def test_redacted_view_hides_fields_on_the_wire_and_keeps_the_score(stack: Stack) -> None:
    await scenarios.scenario_redacted_view_hides_fields_on_the_wire_and_keeps_the_score(stack)


async def test_another_provider_sees_nothing(stack: Stack) -> None:
    await scenarios.scenario_another_provider_sees_nothing(stack)


async def test_watch_list_outcome_and_later_revocation(stack: Stack) -> None:
    await scenarios.scenario_watch_list_outcome_and_later_revocation(stack)


async def test_public_posting_carries_no_private_fields(stack: Stack) -> None:
    await scenarios.scenario_public_posting_carries_no_private_fields(stack)


async def test_sd_jwt_presentation_is_verified_by_the_verification_service(stack: Stack) -> None:
    await scenarios.scenario_sd_jwt_presentation_is_verified_by_the_verification_service(stack)
