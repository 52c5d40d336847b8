"""SIGTERM ends a service within the chart's 30 s terminationGracePeriodSeconds, even when a
gRPC call and a component's stop() would never finish."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

PROC = Path(__file__).resolve().parent / "procs" / "stuck_shutdown_service.py"
CHART_TERMINATION_GRACE_SECONDS = 30
pytestmark = pytest.mark.timeout(120)


async def _sigterm_a_stuck_service(tmp_path: Path, env: dict[str, str]) -> tuple[float, int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROC),
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    output = asyncio.create_task(process.stdout.read())
    try:
        line = await asyncio.wait_for(process.stderr.readline(), 30)
        assert line.startswith(b"READY "), line
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), CHART_TERMINATION_GRACE_SECONDS + 15)
        elapsed = time.monotonic() - stopped_at
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return elapsed, returncode, (await output).decode()


async def test_default_settings_exit_within_the_termination_grace_period(tmp_path: Path) -> None:
    elapsed, returncode, output = await _sigterm_a_stuck_service(tmp_path, {})
    assert elapsed < CHART_TERMINATION_GRACE_SECONDS, f"took {elapsed:.1f} s"
    assert returncode == 0  # the runtime gave up on the stuck steps and finished shutdown
    messages = [json.loads(line)["msg"] for line in output.splitlines() if line.strip()]
    assert any("did not finish within the 25 s shutdown budget" in m for m in messages)
    assert "stuck stopped" in messages


async def test_the_shutdown_budget_is_configurable(tmp_path: Path) -> None:
    elapsed, returncode, output = await _sigterm_a_stuck_service(
        tmp_path, {"LER_SHUTDOWN_TIMEOUT_SECONDS": "3", "LER_GRPC_GRACE_SECONDS": "1"}
    )
    assert 0.9 < elapsed < 8, f"took {elapsed:.1f} s"
    assert returncode == 0
    assert "stuck stopped" in output
