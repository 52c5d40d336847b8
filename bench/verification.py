"""Benchmark: verification throughput through gRPC, beside ler_crypto's bare verify rate.

    uv run python bench/verification.py [--seconds 5] [--runs 3] [--workers N] [--real]
                                        [--json PATH] [--ghz PATH]

In one run, on this machine:

* **bare** — ``ler_crypto.verifier.verify_credential`` called in a loop in this process, with
  the same credential, the same status list (from memory) and no trust list: the ceiling;
  measured before and after the service figures, and the mean of the two taken;
* **unary** — ``VerifyCredential`` one call at a time, then with 32 calls in flight
  (p50/p99 latency at concurrency 32); the load comes from ghz (``tools/ghz.sh``), a Go gRPC
  load generator limited to one core, so the client's own cost stays small and is not this
  process's;
* **streamed** — ``VerifyStream`` with every item of the run on one stream (from this process);
* **no-op floor** — the gRPC health ``Check`` (no work at all) with 32 calls in flight, also
  from ghz: the latency the service's gRPC server reaches on this machine before any
  verification. The p99 target (< 20 ms at concurrency 32) needs the whole verification to
  fit under it.

The service runs as its own process (embedded mode: SQLite, in-process bus), as it is
deployed; this process (and ghz) the client. Each service-side verification pays everything a
real one does: the offline phase (parse, data model with the JSON-LD check, OB 3.0 profile,
and the proof and issuer key, this credential's DID being a did:key) on the service's worker
process(es) (``--workers``, ``LER_VERIFY_WORKERS``; default the service's own, 1; 0 = in the
service process), micro-batched under load; then in the service process the trust list, the
status list (fetched through the service's cache; its proof verified once per list content,
as in the bare loop), the report mapping and a
``VerificationCompleted`` event committed to the outbox before the answer (group commit).
The credential is a realistic ~3 KB Open Badges 3.0 credential signed with eddsa-jcs-2022.
Targets (issue 6): streamed ≥ 70% of bare; p99 < 20 ms at concurrency 32.

The machine may be shared, so every figure is compared with the bare rate *of the same run*
(``ratio``); with ``--runs N`` each figure is the median of N runs and the spread (min-max)
is printed. ``--json PATH`` also writes one entry per figure: ``name``, ``value``, ``unit``,
``baseline_name``, ``baseline_value``, ``ratio`` (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ler.common.v1 import verification_report_pb2
from ler.verification.v1 import verification_service_pb2 as pb
from ler.verification.v1 import verification_service_pb2_grpc as pb_grpc
from ler_crypto import dataintegrity, status_list
from ler_crypto.bench import realistic_ob3_credential
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.verifier import verify_credential
from ler_platform.local_infra import LocalInfraMissing, find_local_infra
from ler_platform.local_tls import write_loopback_certificate
from ler_verification.settings import VerificationSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
GHZ = REPO_ROOT / "tools" / "bin" / "ghz"  # tools/ghz.sh
CONCURRENCY = 32
TARGET_STREAM_RATIO = 0.70
TARGET_P99_MS = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _credential(port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    key = KeyPair.generate("Ed25519")
    did, vm = did_key_from_public_key(key.public_key)
    url = f"https://127.0.0.1:{port}/status/1"
    unsigned_list = status_list.build_status_list_credential(
        list_url=url,
        issuer=did,
        status_list=status_list.StatusList(),
        valid_from="2026-01-01T00:00:00Z",
    )
    list_doc = dataintegrity.sign(
        unsigned_list, key, cryptosuite="eddsa-jcs-2022", verification_method=vm
    )
    credential = realistic_ob3_credential(did)
    credential["credentialStatus"] = status_list.build_status_list_entry(
        status_list_credential=url, index=1234
    )
    signed = dataintegrity.sign(
        credential, key, cryptosuite="eddsa-jcs-2022", verification_method=vm
    )
    return signed, list_doc


class _MemoryLists:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    async def fetch(self, url: str) -> Any:
        return self.doc


async def _bare_rate(doc: dict[str, Any], list_doc: dict[str, Any], seconds: float) -> float:
    resolver, fetcher = DidResolver(offline=True), _MemoryLists(list_doc)
    data = json.dumps(doc).encode()  # the service also starts from bytes
    report = await verify_credential(data, resolver=resolver, status_fetcher=fetcher)
    if not report.verified:
        sys.exit(f"bare verification failed: {report.to_dict()}")
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(50):
            await verify_credential(data, resolver=resolver, status_fetcher=fetcher)
        count += 50
    return count / (time.perf_counter() - started)


def _real_infra() -> dict[str, str]:
    try:
        found = find_local_infra(REPO_ROOT / "var" / "infra.env")
    except LocalInfraMissing as err:
        sys.exit(f"--real: {err}")
    return {
        "LER_DATABASE_URL": found.pg_url("ler_verification"),
        "LER_KAFKA_BOOTSTRAP_SERVERS": found.kafka,
    }


def _start_service(
    workdir: Path, cert: Path, *, real: bool, workers: int | None
) -> tuple[subprocess.Popen[bytes], int, str]:
    env = {
        **os.environ,
        "LER_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'verification.db'}",
        "LER_GRPC_PORT": str(_free_port()),
        "LER_HTTP_PORT": str(_free_port()),
        "LER_FETCH_ALLOW_PRIVATE": "true",  # the bench's status list server is on loopback
        "LER_FETCH_CA_FILE": str(cert),
        "LER_LOG_LEVEL": "WARNING",
        "LER_KAFKA_BOOTSTRAP_SERVERS": "",
        **(_real_infra() if real else {}),
        **({"LER_VERIFY_WORKERS": str(workers)} if workers is not None else {}),
    }
    tenant = f"ver_bench_{uuid.uuid4().hex[:8]}"
    api_key = (
        subprocess.run(
            [sys.executable, "-m", "ler_verification", "add-tenant", tenant, "Bench Verifier"],
            env=env,
            check=True,
            capture_output=True,
            cwd=workdir,
        )
        .stdout.decode()
        .strip()
        .splitlines()[-1]
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ler_verification"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, int(env["LER_GRPC_PORT"]), api_key


async def _wait_serving(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if response.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.2)
    sys.exit("the service did not report SERVING within 60 s")


class _Ghz:
    """Closed-loop unary load from ghz (``tools/ghz.sh``), a Go load generator: the load's
    own cost is then a Go client's on one core (``--cpus 1``), not a second Python process's.
    Each of ``concurrency`` workers calls again as soon as its call returns; calls in flight
    when the time is up are waited for (``--duration-stop wait``), so every call counts."""

    def __init__(self, binary: Path, target: str, workdir: Path, api_key: str) -> None:
        self._binary, self._target, self._workdir = binary, target, workdir
        self._protoset = workdir / "services.protoset"
        self._protoset.write_bytes(_protoset(health_pb2.DESCRIPTOR, pb.DESCRIPTOR))
        # in a file, not on the command line, where every process listing would show it
        self._metadata = workdir / "metadata.json"
        self._metadata.write_text(json.dumps({"authorization": f"Bearer {api_key}"}))

    async def load(
        self, call: str, request: bytes, seconds: float, concurrency: int
    ) -> dict[str, float]:
        body = self._workdir / "request.bin"
        body.write_bytes(request)
        # ghz takes an empty binary file for "no data": an empty message goes as JSON
        data = ["--binary-file", str(body)] if request else ["--data", "{}"]
        args = [
            str(self._binary), "--insecure", "--protoset", str(self._protoset),
            "--call", call, *data, "--metadata-file", str(self._metadata),
            "--concurrency", str(concurrency), "--duration", f"{seconds}s",
            "--duration-stop", "wait", "--cpus", "1", "--format", "json", self._target,
        ]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            sys.exit(f"ghz {call} failed: {err.decode(errors='replace')[-2000:]}")
        result = json.loads(out)
        codes = result.get("statusCodeDistribution") or {}
        if set(codes) != {"OK"}:
            sys.exit(
                f"ghz {call}: not every call succeeded: {codes} {result.get('errorDistribution')}"
            )
        latency = {d["percentage"]: d["latency"] / 1e9 for d in result["latencyDistribution"]}
        return {
            "rate": float(result["rps"]),
            "p50_ms": latency[50] * 1000,
            "p99_ms": latency[99] * 1000,
        }


def _protoset(*files: Any) -> bytes:
    """A ``FileDescriptorSet`` of ``files`` and what they import, for ghz."""
    found = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(file: Any) -> None:
        if file.name in seen:
            return
        seen.add(file.name)
        for dependency in file.dependencies:
            add(dependency)
        file.CopyToProto(found.file.add())

    for file in files:
        add(file)
    return found.SerializeToString()


VERIFY_CALL = "ler.verification.v1.VerificationService.VerifyCredential"
NOOP_CALL = "grpc.health.v1.Health.Check"


async def _verify_once(stub: Any, md: Any, data: bytes) -> None:
    response = await stub.VerifyCredential(pb.VerifyCredentialRequest(credential=data), metadata=md)
    if response.report.verdict == verification_report_pb2.VERDICT_FAILED:
        sys.exit(f"the service did not verify the bench's credential: {response.report}")


async def _streamed(stub: Any, md: Any, data: bytes, items: int) -> float:
    async def requests():  # type: ignore[no-untyped-def]
        for i in range(items):
            yield pb.VerifyStreamRequest(
                correlation_id=str(i), credential=pb.VerifyCredentialRequest(credential=data)
            )

    started, answered = time.perf_counter(), 0
    async for response in stub.VerifyStream(requests(), metadata=md):
        if response.WhichOneof("result") != "credential":
            sys.exit(f"stream item failed: {response}")
        answered += 1
    return answered / (time.perf_counter() - started)


def _service_workers(workers: int | None) -> int:
    """The worker count the service runs with (ours, else its environment's or default)."""
    if workers is not None:
        return workers
    default = VerificationSettings.model_fields["verify_workers"].default
    return int(os.environ.get("LER_VERIFY_WORKERS", default))


async def run(
    seconds: float, *, real: bool = False, workers: int | None = None, ghz: Path = GHZ
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        cert, key = write_loopback_certificate(workdir)
        port = _free_port()
        doc, list_doc = _credential(port)
        # the list server must be up at `port` (the credential names it); rebind exactly there
        runner = await _serve_list_at(list_doc, cert, key, port)
        process, grpc_port, api_key = _start_service(workdir, cert, real=real, workers=workers)
        try:
            md = (("authorization", f"Bearer {api_key}"),)
            data = json.dumps(doc).encode()
            load = _Ghz(ghz, f"127.0.0.1:{grpc_port}", workdir, api_key)
            request = pb.VerifyCredentialRequest(credential=data).SerializeToString()
            noop_request = health_pb2.HealthCheckRequest().SerializeToString()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                await _wait_serving(channel)
                stub = pb_grpc.VerificationServiceStub(channel)
                # ghz does not read the answers: the service must verify this credential
                await _verify_once(stub, md, data)
                # measured once the service has started, so its start-up does not compete;
                # and again at the end: the host's speed drifts (up to 2x within minutes on a
                # shared machine), so the baseline is the mean of the two
                bare_before = await _bare_rate(doc, list_doc, seconds / 2)
                await load.load(VERIFY_CALL, request, 1.0, 4)  # warm-up: caches, connections
                single = await load.load(VERIFY_CALL, request, seconds, 1)
                concurrent = await load.load(VERIFY_CALL, request, seconds, CONCURRENCY)
                items = max(500, int(bare_before * seconds))
                streamed = await _streamed(stub, md, data, items)
                noop = await load.load(NOOP_CALL, noop_request, seconds / 2, CONCURRENCY)
                bare_after = await _bare_rate(doc, list_doc, seconds / 2)
                bare = (bare_before + bare_after) / 2
        finally:
            process.terminate()
            process.wait(timeout=30)
            await runner.cleanup()
    return {
        "cryptosuite": "eddsa-jcs-2022",
        "mode": "real (PostgreSQL + Kafka)" if real else "embedded (SQLite + in-process bus)",
        "verify_workers": _service_workers(workers),
        "bare_verify_per_s": round(bare, 1),
        "bare_verify_before_after": (round(bare_before, 1), round(bare_after, 1)),
        "grpc_unary_per_s": round(single["rate"], 1),
        "grpc_unary_c32_per_s": round(concurrent["rate"], 1),
        "grpc_c32_p50_ms": round(concurrent["p50_ms"], 2),
        "grpc_c32_p99_ms": round(concurrent["p99_ms"], 2),
        "grpc_streamed_per_s": round(streamed, 1),
        "grpc_noop_c32_per_s": round(noop["rate"], 1),
        "grpc_noop_c32_p99_ms": round(noop["p99_ms"], 2),
        "streamed_over_bare": round(streamed / bare, 3),
        "targets": {"streamed_over_bare": TARGET_STREAM_RATIO, "p99_ms": TARGET_P99_MS},
    }


async def _serve_list_at(
    list_doc: dict[str, Any], cert: Path, key: Path, port: int
) -> web.AppRunner:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    body = json.dumps(list_doc).encode()

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/status/1", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    return runner


#: (key in a run's result, unit, how the figure compares with the bare rate of its run)
_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("bare_verify_per_s", "/s", "rate"),
    ("grpc_unary_per_s", "/s", "rate"),
    ("grpc_unary_c32_per_s", "/s", "rate"),
    ("grpc_c32_p50_ms", "ms", "latency"),
    ("grpc_c32_p99_ms", "ms", "latency"),
    ("grpc_streamed_per_s", "/s", "rate"),
    ("grpc_noop_c32_per_s", "/s", "rate"),
    ("grpc_noop_c32_p99_ms", "ms", "latency"),
)
BASELINE = "verification.bare_verify_per_s"


def _ratio(result: dict[str, Any], key: str, kind: str) -> float:
    """A figure over the same run's baseline: rates over the bare rate; latencies over the
    bare per-call time (1 / bare rate), so both read as "how many bare verifications"."""
    bare = float(result["bare_verify_per_s"])
    value = float(result[key])
    return value / bare if kind == "rate" else value / (1000.0 / bare)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def json_entries(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per figure (medians over ``results``), each beside its same-run baseline."""
    bare = _median([float(r["bare_verify_per_s"]) for r in results])
    entries = []
    for key, unit, kind in _FIGURES:
        baseline_value = bare if kind == "rate" else 1000.0 / bare
        entries.append(
            {
                "name": f"verification.{key}",
                "value": round(_median([float(r[key]) for r in results]), 3),
                "unit": unit,
                "baseline_name": BASELINE if kind == "rate" else "verification.bare_verify_ms",
                "baseline_value": round(baseline_value, 3),
                # the median of per-run ratios: each ratio is taken within one run
                "ratio": round(_median([_ratio(r, key, kind) for r in results]), 3),
            }
        )
    return entries


def _spread(results: list[dict[str, Any]], key: str, fmt: str) -> str:
    if len(results) < 2:
        return ""
    values = [float(r[key]) for r in results]
    return f" [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def report(results: list[dict[str, Any]]) -> None:
    """Print the medians (and min-max over the runs when there are several)."""
    first = results[0]
    med = {key: _median([float(r[key]) for r in results]) for key, _, _ in _FIGURES}
    ratio = _median([float(r["streamed_over_bare"]) for r in results])
    runs = f", median of {len(results)} runs [min-max]" if len(results) > 1 else ""
    print(
        f"verification, {first['mode']} ({first['cryptosuite']},"
        f" one ~3 KB OB 3.0 credential with a status list{runs})"
    )
    workers = int(first["verify_workers"])
    where = f"on {workers} worker process(es)" if workers else "in the service process"
    print(
        f"  service: LER_VERIFY_WORKERS={workers} (offline phase {where});"
        f" {os.cpu_count()} CPU(s) shared with this client"
    )
    print(
        f"  ler_crypto bare verify         {med['bare_verify_per_s']:>9.1f} /s  (baseline)"
        + _spread(results, "bare_verify_per_s", ".0f")
    )
    print(
        f"  gRPC unary, 1 in flight        {med['grpc_unary_per_s']:>9.1f} /s"
        + _spread(results, "grpc_unary_per_s", ".0f")
    )
    print(
        f"  gRPC unary, {CONCURRENCY} in flight       {med['grpc_unary_c32_per_s']:>9.1f} /s"
        f"  p50 {med['grpc_c32_p50_ms']:.1f} ms  p99 {med['grpc_c32_p99_ms']:.1f} ms"
        + _spread(results, "grpc_c32_p99_ms", ".1f")
        + f"  (target p99 < {TARGET_P99_MS:.0f} ms)"
    )
    print(
        f"  gRPC VerifyStream              {med['grpc_streamed_per_s']:>9.1f} /s"
        f"  = {ratio:.0%} of bare"
        + _spread(results, "streamed_over_bare", ".0%")
        + f" (target >= {TARGET_STREAM_RATIO:.0%})"
    )
    print(
        f"  gRPC no-op (health Check), {CONCURRENCY} in flight"
        f" {med['grpc_noop_c32_per_s']:>9.1f} /s  p99 {med['grpc_noop_c32_p99_ms']:.1f} ms"
        + _spread(results, "grpc_noop_c32_p99_ms", ".1f")
        + "  (the transport's floor)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--runs", type=int, default=1, help="repeat; figures are medians")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the figures here")
    parser.add_argument("--real", action="store_true", help="PostgreSQL + Kafka (make infra)")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="the service's LER_VERIFY_WORKERS (default: the service's default)",
    )
    parser.add_argument(
        "--ghz", type=Path, default=GHZ, help=f"the load generator (default {GHZ}; tools/ghz.sh)"
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.workers is not None and not 0 <= args.workers <= 16:
        parser.error("--workers must be between 0 and 16")
    if not os.access(args.ghz, os.X_OK):
        parser.error(f"no ghz at {args.ghz}: run tools/ghz.sh (make bench does)")
    results = [
        asyncio.run(run(args.seconds, real=args.real, workers=args.workers, ghz=args.ghz))
        for _ in range(args.runs)
    ]
    report(results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(json_entries(results), indent=2) + "\n")


if __name__ == "__main__":
    main()
