"""bench/report.py and bench/memory.py: figures, targets, the written report, peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from memory import PeakMemoryWatcher, _below_a_service, read_status_kib, service_of
from report import (
    ReportError,
    markdown,
    memory_figures,
    svg_chart,
    target_met,
    target_text,
    validate_figures,
    with_targets,
)


def _figure(**overrides: Any) -> dict[str, Any]:
    figure = {
        "name": "pipeline jcs",
        "value": 900.0,
        "unit": "credentials/s",
        "baseline_name": "bare sign",
        "baseline_value": 1800.0,
        "ratio": 0.5,
    }
    figure.update(overrides)
    return figure


def test_figures_are_validated_with_the_problem_named() -> None:
    assert validate_figures([_figure()], "x.json") == [_figure()]
    with pytest.raises(ReportError, match="expected a JSON list"):
        validate_figures({"figures": []}, "x.json")
    with pytest.raises(ReportError, match="figure 0 lacks baseline_value, ratio"):
        validate_figures([{"name": "a", "value": 1, "unit": "u", "baseline_name": "b"}], "x")
    with pytest.raises(ReportError, match="'pipeline jcs' has a non-numeric value"):
        validate_figures([_figure(value="fast")], "x")


@pytest.mark.parametrize(
    ("figure", "met"),
    [
        (_figure(target=1000.0), False),
        (_figure(target=800.0), True),
        (_figure(), None),
        (_figure(unit="ms", value=30.0, target=20.0), False),  # latency: a ceiling
        (_figure(unit="MiB", value=120.0, target=256.0), True),
        (_figure(target_ratio=0.7), False),  # ratio 0.5
        (_figure(target=800.0, target_ratio=0.4), True),
        (_figure(target=800.0, target_ratio=0.6), False),  # both must hold
    ],
)
def test_targets_are_floors_or_ceilings_by_unit(figure: dict[str, Any], met: bool | None) -> None:
    assert target_met(figure) is met


def test_the_issue_targets_fill_in_only_where_a_benchmark_gave_none() -> None:
    jcs = with_targets(_figure(name="issuance end to end eddsa-jcs-2022"))
    assert jcs["target"] == 1000.0 and target_met(jcs) is False
    assert target_text(jcs) == "≥ 1,000.0"
    own = with_targets(_figure(name="issuance end to end eddsa-jcs-2022", target=500.0))
    assert own["target"] == 500.0 and target_met(own) is True
    p99 = with_targets(_figure(name="verification.grpc_c32_p99_ms", unit="ms", value=12.0))
    assert target_met(p99) is True and target_text(p99) == "≤ 20.0"


def test_report_markdown_and_svg_carry_every_figure() -> None:
    figures = [
        {"benchmark": "issuance", **_figure(target=1000.0)},
        {
            "benchmark": "memory",
            **_figure(
                name="peak RSS ler-wallet",
                unit="MiB",
                value=100.0,
                baseline_name="target",
                baseline_value=256.0,
                ratio=0.39,
                target=256.0,
            ),
        },
    ]
    report = {
        "started": "2026-11-28T21:00:00+00:00",
        "seconds": 12.0,
        "quick": False,
        "machine": {
            "cpu": "Test CPU",
            "cpus": 2,
            "memory_gib": 4.0,
            "kernel": "6.1",
            "implementation": "CPython",
            "python": "3.11.7",
        },
        "figures": figures,
        "errors": ["events: exit status 1: boom"],
    }
    text = markdown(report)
    assert "Test CPU, 2 CPUs, 4.0 GiB" in text
    assert "| issuance | pipeline jcs | 900.0 | credentials/s | bare sign | 1,800.0 | 0.5 |" in text
    assert "| ≥ 1,000.0 | **no** |" in text and "| ≤ 256.0 | yes |" in text
    assert "- events: exit status 1: boom" in text
    svg = svg_chart(figures)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg.count("<rect ") == 1 + len(figures)  # background + one bar per figure


def test_service_of_reads_the_module_from_the_command_line() -> None:
    assert service_of(["/venv/bin/python", "-m", "ler_issuance"]) == "issuance"
    assert service_of(["python", "-X", "dev", "-m", "ler_intake", "serve"]) == "intake"
    assert service_of(["python", "-m", "ler_cli.main"]) is None
    assert service_of(["python", "bench/issuance.py"]) is None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_watcher_records_the_peak_of_a_service_process_below_it(tmp_path: Path) -> None:
    # a stand-in "ler_wallet" module (first on PYTHONPATH) that touches 64 MiB and starts a
    # worker process touching 32 MiB (like issuance's signing pool), then idles
    (tmp_path / "ler_wallet.py").write_text(
        "import subprocess, sys, time\n"
        "worker = subprocess.Popen([sys.executable, '-c', 'import time; b = bytearray(32 << 20);"
        " [b.__setitem__(i, 1) for i in range(0, len(b), 4096)]; print(1, flush=True);"
        " time.sleep(30)'], stdout=subprocess.PIPE)\n"
        "worker.stdout.readline()\n"
        "block = bytearray(64 * 1024 * 1024)\n"
        "for i in range(0, len(block), 4096): block[i] = 1\n"
        "print('ready', flush=True)\n"
        "try:\n    time.sleep(30)\nfinally:\n    worker.kill()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    with PeakMemoryWatcher(interval=0.05) as watcher:
        child = subprocess.Popen(
            [sys.executable, "-m", "ler_wallet"], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + 30  # a busy machine starts processes slowly
            while time.monotonic() < deadline:
                seen = watcher.snapshot()["wallet"]
                if seen.kib >= 64 * 1024 and seen.instance_kib >= 96 * 1024:
                    break
                time.sleep(0.05)
            own_hwm = read_status_kib(child.pid, "VmHWM")
        finally:
            child.terminate()  # its finally kills the worker
            child.wait(10)
    peak = watcher.peaks["wallet"]
    assert peak.pids == {child.pid}
    assert peak.kib >= 64 * 1024
    assert own_hwm is not None and peak.kib <= own_hwm  # what the kernel reports, no more
    assert len(peak.worker_pids) == 1
    assert peak.instance_kib >= 96 * 1024  # the service process and its worker together
    assert watcher.peaks["issuance"].pids == set()  # nothing else is mistaken for a service
    figure, with_workers = memory_figures(watcher)
    assert with_workers["name"] == "peak RSS ler-wallet with its workers (summed VmRSS)"
    assert with_workers["value"] >= 96
    assert figure["name"].startswith("peak RSS ler-wallet")
    assert figure["unit"] == "MiB" and figure["value"] >= 64
    assert figure["ratio"] == pytest.approx(figure["value"] / 256, abs=1e-3)
    json.dumps(figure)  # report.json must be able to hold it


def test_a_child_of_a_service_process_is_never_a_second_instance() -> None:
    # between fork and exec a worker's command line is still its parent's ("-m ler_wallet"):
    # it is below a service process, so it counts as a worker, not as another instance
    services = {10: "wallet", 11: "wallet", 12: None, 13: "wallet", 20: "issuance"}
    parents = {10: 1, 11: 10, 12: 10, 13: 12, 20: 1}
    assert not _below_a_service(10, services, parents)
    assert _below_a_service(11, services, parents)
    assert _below_a_service(13, services, parents)  # through a non-service process
    assert not _below_a_service(20, services, parents)
    assert not _below_a_service(10, services, {10: 10})  # a cycle ends the walk
