"""``make bench``: every benchmark in one run, one report (issue 9).

    uv run python bench/report.py [--quick] [--journeys 5] [--out bench]

Runs, one after the other, each as its own process writing its figures with ``--json PATH``:

* ``ler bench crypto`` — cryptosuites vs raw Ed25519;
* ``bench/events.py`` — event plumbing vs raw aiokafka;
* ``bench/issuance.py`` — the issuance pipeline vs the library's bare sign rate;
* ``bench/verification.py --real`` — verification throughput and latency vs the bare library;

then the learner's journey (``ler_cli.journey.run_journey``): ``--journeys`` times on the real
stack (the four services as processes on PostgreSQL and Kafka, started by
``tests/e2e/real_stack.py``), beside the same journey on the embedded stack (one process,
SQLite, in-process bus) in the same run, then a burst of concurrent journeys as load.

Throughout, ``bench/memory.py`` samples the peak resident memory (``VmHWM``) of every service
process the benchmarks and the stack start (target: ≤ 256 MiB each; the Helm chart's memory
requests and limits are set from these figures).

Writes ``report.md`` (table: figure, value, baseline, ratio, target, met?, and the machine),
``report.json`` (the same, machine-readable) and ``report.svg`` (a chart) into ``--out``.
A benchmark that fails is reported as such (with the tail of its output) and the others
still run; the exit status is non-zero when any failed.

Every figure is ``{"name", "value", "unit", "baseline_name", "baseline_value", "ratio"}``
(plus optional ``"target"``); ``ratio`` is value / baseline as each benchmark defines it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from memory import SERVICES, PeakMemoryWatcher  # noqa: E402 - after the path set-up

MEMORY_TARGET_MIB = 256.0
FIGURE_KEYS = ("name", "value", "unit", "baseline_name", "baseline_value", "ratio")
#: Units where less is better: a target is a ceiling, not a floor.
LOWER_IS_BETTER_UNITS = frozenset({"ms", "s", "MiB", "KiB", "bytes"})
BENCH_TIMEOUT_SECONDS = 1800
#: The issues' targets for figures whose benchmark does not state its own ``target`` (on the
#: value) or ``target_ratio`` (on the ratio to the same-run baseline, always a floor).
TARGETS: dict[str, dict[str, float]] = {
    # issue 2: >= 3,000 events/s through outbox, Kafka and idempotent consumer; >= 0.3 of raw
    "outbox -> Kafka -> idempotent consumer": {"target": 3000.0, "target_ratio": 0.3},
    # issue 4: >= 1,000 credentials/s with jcs; rdfc within 30% of bare rdfc sign
    "issuance end to end eddsa-jcs-2022": {"target": 1000.0},
    "issuance end to end eddsa-rdfc-2022": {"target_ratio": 0.7},
    # issue 6: p99 < 20 ms at concurrency 32; streamed >= 70% of the bare library
    "verification.grpc_c32_p99_ms": {"target": 20.0},
    "verification.grpc_streamed_per_s": {"target_ratio": 0.7},
}


class ReportError(Exception):
    """A benchmark's output is not what the report reads."""


@dataclass
class BenchRun:
    """One benchmark process: its figures, or why there are none."""

    name: str
    command: list[str]
    figures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def validate_figures(data: Any, source: str) -> list[dict[str, Any]]:
    """Check a benchmark's ``--json`` output: a list of figure objects (see the docstring)."""
    if not isinstance(data, list):
        raise ReportError(f"{source}: expected a JSON list of figures, got {type(data).__name__}")
    figures: list[dict[str, Any]] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ReportError(f"{source}: figure {i} is not an object")
        missing = [k for k in FIGURE_KEYS if k not in item]
        if missing:
            raise ReportError(f"{source}: figure {i} lacks {', '.join(missing)}")
        for key in ("value", "baseline_value", "ratio"):
            value = item[key]
            if value is not None and not isinstance(value, int | float):
                raise ReportError(f"{source}: figure {item['name']!r} has a non-numeric {key}")
        figures.append(dict(item))
    return figures


def with_targets(figure: dict[str, Any]) -> dict[str, Any]:
    """The figure with the issue's target filled in when its benchmark gave none."""
    if figure.get("target") is None and figure.get("target_ratio") is None:
        return {**figure, **TARGETS.get(figure["name"], {})}
    return figure


def target_met(figure: dict[str, Any]) -> bool | None:
    """Whether the figure meets its target (``None`` without a target). ``target`` is on
    the value (a ceiling for times and sizes, else a floor); ``target_ratio`` is a floor on
    the ratio to the same-run baseline; with both, both must hold."""
    verdicts: list[bool] = []
    target, value = figure.get("target"), figure.get("value")
    if target is not None and value is not None:
        lower = figure.get("unit") in LOWER_IS_BETTER_UNITS
        verdicts.append(bool(value <= target) if lower else bool(value >= target))
    target_ratio, ratio = figure.get("target_ratio"), figure.get("ratio")
    if target_ratio is not None and ratio is not None:
        verdicts.append(bool(ratio >= target_ratio))
    return all(verdicts) if verdicts else None


def target_text(figure: dict[str, Any]) -> str:
    """The target as the table shows it: ``≥ 1,000``, ``≤ 20``, ``ratio ≥ 0.7``."""
    parts = []
    if figure.get("target") is not None:
        lower = figure.get("unit") in LOWER_IS_BETTER_UNITS
        parts.append(f"{'≤' if lower else '≥'} {_fmt(figure['target'])}")
    if figure.get("target_ratio") is not None:
        parts.append(f"ratio ≥ {_fmt(figure['target_ratio'])}")
    return ", ".join(parts) or "-"


def run_benchmark(
    name: str, command: list[str], out_dir: Path, watcher: PeakMemoryWatcher
) -> BenchRun:
    """Run one benchmark process with ``--json PATH`` and read its figures."""
    path = out_dir / f"{name}.json"
    path.unlink(missing_ok=True)
    full = [*command, "--json", str(path)]
    run = BenchRun(name, full)
    watcher.phase = name
    print(f"== {name}: {' '.join(full)}", flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            full, cwd=ROOT, capture_output=True, text=True, timeout=BENCH_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        run.error = f"did not finish within {BENCH_TIMEOUT_SECONDS} s"
        return run
    finally:
        run.seconds = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        run.error = f"exit status {done.returncode}: " + " | ".join(tail)
        return run
    try:
        run.figures = validate_figures(json.loads(path.read_text()), str(path))
    except FileNotFoundError:
        run.error = f"wrote no {path.name} (does it support --json PATH?)"
    except (json.JSONDecodeError, ReportError) as err:
        run.error = str(err)
    return run


def benchmarks(quick: bool) -> list[tuple[str, list[str]]]:
    """The benchmark commands; ``quick`` shortens each (for a smoke run, not for figures)."""
    py = sys.executable
    crypto = [py, "-m", "ler_cli.main", "bench", "crypto"]
    events = [py, "bench/events.py"]
    issuance = [py, "bench/issuance.py"]
    # three runs, as the other benchmarks take three rounds: medians, over a host whose speed
    # drifts within minutes
    verification = [py, "bench/verification.py", "--real", "--runs", "3"]
    if quick:
        crypto += ["--seconds", "0.2"]
        events += ["--events", "2000", "--rounds", "1"]
        issuance += ["--credentials", "300"]
        verification += ["--seconds", "1", "--runs", "1"]
    return [
        ("crypto", crypto),
        ("events", events),
        ("issuance", issuance),
        ("verification", verification),
    ]


# --- the journey -------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _time_journeys(stack: Any, count: int) -> list[float]:
    from ler_cli.journey import run_journey

    seconds: list[float] = []
    for _ in range(count):
        started = time.perf_counter()
        result = await run_journey(stack)
        elapsed = time.perf_counter() - started
        if not result.ok:
            failed = [s.name for s in result.steps if not s.ok]
            raise ReportError(f"the journey's outcomes differ from the story: {failed}")
        seconds.append(elapsed)
    return seconds


@contextlib.asynccontextmanager
async def real_stack(workdir: Path) -> AsyncIterator[Any]:
    """The four services as processes (``tests/e2e/real_stack.py``), yielding what
    ``run_journey`` takes."""
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from real_stack import start_real_stack  # type: ignore[import-not-found]

    manager = start_real_stack(workdir)
    if hasattr(manager, "__aenter__"):
        async with manager as handle:
            yield getattr(handle, "stack", handle)
    else:
        with manager as handle:
            yield getattr(handle, "stack", handle)


async def journey_figures(
    count: int, burst: int, watcher: PeakMemoryWatcher, workdir: Path
) -> tuple[list[dict[str, Any]], list[str]]:
    """Journey latency on the real stack beside the embedded stack, then a burst as load."""
    from ler_cli.journey import EmbeddedStack

    errors: list[str] = []
    figures: list[dict[str, Any]] = []
    watcher.phase = "journey (embedded)"
    print(f"== journey: {count} on the embedded stack", flush=True)
    async with EmbeddedStack() as embedded:
        await _time_journeys(embedded, 1)  # warm-up: imports, contexts, first connections
        base = await _time_journeys(embedded, count)
    try:
        watcher.phase = "journey (real)"
        print(f"== journey: {count} on the real stack, then {burst} at once", flush=True)
        async with real_stack(workdir) as stack:
            await _time_journeys(stack, 1)
            real = await _time_journeys(stack, count)
            watcher.phase = "journey burst (real)"
            started = time.perf_counter()
            await asyncio.gather(*(_time_journeys(stack, 1) for _ in range(burst)))
            burst_seconds = time.perf_counter() - started
    except Exception as err:  # the report goes on with what it has
        errors.append(f"journey on the real stack: {type(err).__name__}: {err}")
        real, burst_seconds = [], 0.0
    base_p50 = statistics.median(base) * 1000
    if real:
        for label, q in (("p50", 0.5), ("p95", 0.95)):
            value = _percentile(real, q) * 1000
            base_q = _percentile(base, q) * 1000
            figures.append(
                {
                    "name": f"journey latency {label} (real stack, {count} runs)",
                    "value": round(value, 1),
                    "unit": "ms",
                    "baseline_name": f"journey latency {label}, embedded stack",
                    "baseline_value": round(base_q, 1),
                    "ratio": round(value / base_q, 3),
                }
            )
        figures.append(
            {
                "name": f"journeys per second, {burst} concurrent (real stack)",
                "value": round(burst / burst_seconds, 2),
                "unit": "journeys/s",
                "baseline_name": "sequential journeys per second (real stack)",
                "baseline_value": round(1 / statistics.median(real), 2),
                "ratio": round((burst / burst_seconds) * statistics.median(real), 3),
            }
        )
    else:
        figures.append(
            {
                "name": f"journey latency p50 (embedded stack, {count} runs)",
                "value": round(base_p50, 1),
                "unit": "ms",
                "baseline_name": "-",
                "baseline_value": None,
                "ratio": None,
            }
        )
    return figures, errors


# --- memory --------------------------------------------------------------------------


def memory_figures(watcher: PeakMemoryWatcher) -> list[dict[str, Any]]:
    """One figure per service: its peak VmHWM across every process of it that ran."""
    figures = []
    for service in SERVICES:
        peak = watcher.peaks[service]
        if not peak.pids:
            continue
        figures.append(
            {
                "name": f"peak RSS ler-{service} (VmHWM, {len(peak.pids)} processes)",
                "value": round(peak.mib, 1),
                "unit": "MiB",
                "baseline_name": "target",
                "baseline_value": MEMORY_TARGET_MIB,
                "ratio": round(peak.mib / MEMORY_TARGET_MIB, 3),
                "target": MEMORY_TARGET_MIB,
                "phase": peak.phase,
            }
        )
        if peak.worker_pids:
            figures.append(
                {
                    "name": f"peak RSS ler-{service} with its workers (summed VmRSS)",
                    "value": round(peak.instance_mib, 1),
                    "unit": "MiB",
                    "baseline_name": "target",
                    "baseline_value": MEMORY_TARGET_MIB,
                    "ratio": round(peak.instance_mib / MEMORY_TARGET_MIB, 3),
                    "target": MEMORY_TARGET_MIB,
                    "phase": peak.phase,
                }
            )
    return figures


# --- the machine and the output ------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU model and count, memory, kernel and Python: what the figures were measured on."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.partition(":")[2].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    with contextlib.suppress(OSError):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown(report: dict[str, Any]) -> str:
    """``report.md``: the machine, one table of every figure, and what failed."""
    m = report["machine"]
    lines = [
        "# Benchmark report",
        "",
        f"Run {report['started']} ({report['seconds']:.0f} s"
        f"{', quick mode: not for figures' if report['quick'] else ''}).",
        "",
        f"Machine: {m.get('cpu', 'unknown CPU')}, {m.get('cpus')} CPUs,"
        f" {m.get('memory_gib', '?')} GiB memory, Linux {m.get('kernel')},"
        f" {m.get('implementation')} {m.get('python')}; load average at the start"
        f" {m.get('load_average', '?')}. The machine is shared: compare ratios (each figure"
        " against its baseline measured in the same run), not absolute rates.",
        "",
        "| benchmark | figure | value | unit | baseline | baseline value | ratio | target | met? |",
        "|---|---|---:|---|---|---:|---:|---:|---|",
    ]
    for figure in report["figures"]:
        met = {True: "yes", False: "**no**", None: ""}[target_met(figure)]
        lines.append(
            f"| {figure['benchmark']} | {figure['name']} | {_fmt(figure['value'])} |"
            f" {figure['unit']} | {figure['baseline_name']} | {_fmt(figure['baseline_value'])} |"
            f" {_fmt(figure['ratio'])} | {target_text(figure)} | {met} |"
        )
    lines += ["", "![ratios and peak memory](report.svg)", ""]
    if report["errors"]:
        lines += ["## Not measured", ""]
        lines += [f"- {error}" for error in report["errors"]]
        lines.append("")
    return "\n".join(lines)


def svg_chart(figures: list[dict[str, Any]]) -> str:
    """A horizontal bar chart: each figure's ratio to its baseline (log-free, capped at 3x),
    and each service's peak memory against the 256 MiB target. Plain SVG, no dependencies."""
    rows = [f for f in figures if isinstance(f.get("ratio"), int | float)]
    width, label_w, bar_w, row_h, top = 900, 430, 400, 22, 40
    height = top + row_h * len(rows) + 40
    cap = 3.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        ' font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="20" font-size="14" font-weight="bold">Each figure / its same-run'
        " baseline (memory: peak / 256 MiB target); bars capped at 3</text>",
    ]
    one = label_w + bar_w / cap
    out.append(
        f'<line x1="{one:.1f}" y1="{top - 8}" x2="{one:.1f}" y2="{height - 30}"'
        ' stroke="#888" stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="{one - 4:.1f}" y="{height - 15}" fill="#555">1.0</text>')
    for i, figure in enumerate(rows):
        y = top + i * row_h
        ratio = float(figure["ratio"])
        length = max(1.0, min(ratio, cap) / cap * bar_w)
        met = target_met(figure)
        colour = {True: "#3a7d44", False: "#c0392b", None: "#4a6fa5"}[met]
        label = html.escape(f"{figure['benchmark']}: {figure['name']}")[:70]
        out.append(f'<text x="10" y="{y + 14}">{label}</text>')
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}"'
            f' fill="{colour}"/>'
        )
        out.append(f'<text x="{label_w + length + 4:.1f}" y="{y + 15}">{_fmt(ratio)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench", help="report directory")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument("--journeys", type=int, default=5, help="journeys timed per stack")
    parser.add_argument("--burst", type=int, default=4, help="concurrent journeys as load")
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="benchmarks to run (crypto events issuance verification journey); default all",
    )
    args = parser.parse_args()
    if args.journeys < 1 or args.burst < 1:
        parser.error("--journeys and --burst must be at least 1")
    args.out.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    info = machine()
    figures: list[dict[str, Any]] = []
    errors: list[str] = []
    runs: list[BenchRun] = []
    wanted = set(args.only) if args.only else None
    with (
        tempfile.TemporaryDirectory(prefix="ler-bench-") as tmp,
        PeakMemoryWatcher() as watcher,
    ):
        for name, command in benchmarks(args.quick):
            if wanted is not None and name not in wanted:
                continue
            run = run_benchmark(name, command, Path(tmp), watcher)
            runs.append(run)
            if run.error:
                errors.append(f"{name}: {run.error}")
                print(f"   {name} failed: {run.error}", flush=True)
            figures += [{"benchmark": name, **with_targets(f)} for f in run.figures]
        if wanted is None or "journey" in wanted:
            try:
                journey, journey_errors = asyncio.run(
                    journey_figures(args.journeys, args.burst, watcher, Path(tmp) / "stack")
                )
            except Exception as err:
                journey, journey_errors = [], [f"journey: {type(err).__name__}: {err}"]
            figures += [{"benchmark": "journey", **f} for f in journey]
            errors += journey_errors
    figures += [{"benchmark": "memory", **f} for f in memory_figures(watcher)]
    if not watcher.available:
        errors.append("memory: /proc is not available on this system")
    report = {
        "started": started_at,
        "seconds": round(time.perf_counter() - started, 1),
        "quick": args.quick,
        "machine": info,
        "figures": figures,
        "runs": [{"name": r.name, "seconds": r.seconds, "error": r.error} for r in runs],
        "errors": errors,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    (args.out / "report.svg").write_text(svg_chart(figures))
    print(markdown(report))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
