"""Benchmark: issuance through the real pipeline, beside ler_crypto's bare sign rate.

Run against the real PostgreSQL and Kafka (``make infra``)::

    uv run python bench/issuance.py [--credentials 5000] [--rounds 3] [--signing-workers 2]
                                    [--request-consumers 2] [--processes 1] [--json PATH]

In one run, on this machine:

* **bare sign** — ``ler_crypto.dataintegrity.sign`` in a loop in this process on the very
  credential the service issues (proof removed), per cryptosuite: the ceiling; measured just
  before and just after each pipeline run, and the mean of the two taken (the host's speed
  drifts);
* **pipeline** — the issuance service as its own process(es) (``python -m ler_issuance``,
  PostgreSQL + Kafka): ``IssuanceRequested`` records are produced onto the request topic and
  the clock stops when this process has read the ``CredentialIssued`` event of every one of
  them from the issued topic. Each credential pays everything a real one does: decoding, inbox
  deduplication, idempotency lookup, random status-list indices under a row lock, the OB 3.0
  build and checks, the Data Integrity proof, the insert, the ``CredentialIssued`` and
  ``IssuanceRequestResult`` events in the outbox in the same transaction, the relay to Kafka.

Each round measures, per suite, the bare sign rate, the pipeline and the bare sign rate again;
the medians over the rounds are reported with their spread, and the CPU each party (service,
its signing workers, Kafka, PostgreSQL, this process) spent per credential. Each round also
measures what a second busy core adds on this host (two processes signing at once against
one): on a shared machine one busy core may run much faster than two, and the 1-core
baseline then asks more of a 2-core pipeline. ``--json PATH``
writes one entry per figure: ``{"name", "value", "unit", "baseline_name", "baseline_value",
"ratio"}``.

Targets (issue 4): ≥ 1,000 credentials/s end to end with eddsa-jcs-2022; eddsa-rdfc-2022 end to
end within 30% of the library's bare rdfc sign rate (ratio ≥ 0.7).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import issuance_service_pb2 as pb
from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc
from ler.issuance.v1 import resources_pb2 as rpb
from ler_crypto import dataintegrity
from ler_crypto.keys import KeyPair
from ler_platform.events.envelope import Event
from ler_platform.events.kafka import KafkaBus
from ler_platform.events.records import OutgoingRecord
from ler_platform.kek import new_kek_value
from ler_platform.local_infra import LocalInfraMissing, find_local_infra
from ler_platform.topics import delete_topics_named
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

REPO_ROOT = Path(__file__).resolve().parents[1]
OPERATOR = "bench-operator-token-0123456789abcdef"
SUITES = {
    "eddsa-jcs-2022": cpb.CRYPTOSUITE_EDDSA_JCS_2022,
    "eddsa-rdfc-2022": cpb.CRYPTOSUITE_EDDSA_RDFC_2022,
}
LEARNER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


def _infra() -> tuple[str, str]:
    try:
        found = find_local_infra(REPO_ROOT / "var" / "infra.env")
    except LocalInfraMissing as err:
        sys.exit(f"bench: {err}")
    return found.pg_url("ler_test"), found.kafka


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spec(record_id: str) -> rpb.CredentialSpec:
    """A realistic course credential: type, criteria, two skill alignments, a graded result."""
    return rpb.CredentialSpec(
        record_id=record_id,
        subject=rpb.Subject(did=LEARNER),
        achievement=rpb.Achievement(
            id="https://college.example/achievements/data-analysis-101",
            achievement_type=cpb.ACHIEVEMENT_TYPE_COURSE,
            name="Data Analysis with Python",
            description="Cleaning, exploring and visualising data with pandas.",
            criteria_narrative="Complete every lab and pass the final project.",
            alignments=[
                {
                    "framework": "ESCO",
                    "code": "S5.6.1",
                    "url": "https://esco.example/skill/S5.6.1",
                    "label": "Python (programming)",
                },
                {
                    "framework": "O*NET-SOC",
                    "code": "15-2051.00",
                    "url": "https://onet.example/15-2051.00",
                    "label": "Data Scientists",
                },
            ],
            result_descriptions=[
                rpb.ResultDescription(
                    id="grade",
                    name="Final grade",
                    result_type=rpb.RESULT_TYPE_LETTER_GRADE,
                    allowed_values=["A", "B", "C", "D", "F"],
                )
            ],
        ),
        results=[rpb.Result(result_description_id="grade", value="A")],
    )


class Service:
    """The issuance service as its own process(es), on a fresh schema and fresh topics."""

    def __init__(
        self,
        pg_url: str,
        kafka: str,
        processes: int,
        log: Path,
        signing_workers: int,
        request_consumers: int,
    ) -> None:
        run = uuid.uuid4().hex[:10]
        self.schema = f"bench_{run}"
        self.names = {
            "LER_DB_SCHEMA": self.schema,
            "LER_REQUESTS_TOPIC": f"bench.issuance.requests.{run}",
            "LER_RESULTS_TOPIC": f"bench.issuance.results.{run}",
            "LER_ISSUED_TOPIC": f"bench.credentials.issued.{run}",
            "LER_STATUS_TOPIC": f"bench.credentials.status.{run}",
            "LER_CONSUMER_GROUP": f"bench.issuance.{run}",
        }
        self.pg_url = pg_url
        self.kafka = kafka
        self.kek = new_kek_value()
        self.processes = processes
        self.signing_workers = signing_workers
        self.request_consumers = request_consumers
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[tuple[int, int]] = []

    def start(self) -> None:
        base_port = None
        for _ in range(self.processes):
            http, grpc_port = _free_port(), _free_port()
            base_port = base_port or http
            env = {
                **os.environ,
                **self.names,
                "LER_DATABASE_URL": self.pg_url,
                "LER_KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                "LER_KAFKA_TOPIC_PARTITIONS": "6",
                "LER_HTTP_PORT": str(http),
                "LER_GRPC_PORT": str(grpc_port),
                "LER_PUBLIC_URL": f"http://127.0.0.1:{base_port}",
                "LER_OPERATOR_TOKEN": OPERATOR,
                "LER_KEK": self.kek,
                "LER_LOG_LEVEL": "WARNING",
                "LER_SIGNING_WORKERS": str(self.signing_workers),
                "LER_REQUEST_CONSUMERS": str(self.request_consumers),
            }
            with open(self.log, "ab") as log:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "ler_issuance"],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            self.ports.append((http, grpc_port))

    async def ready(self, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as http:
            for port, _ in self.ports:
                while True:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    if time.monotonic() > deadline:
                        sys.exit(f"the service did not become ready; see {self.log}")
                    await asyncio.sleep(0.2)

    async def register(self, suite: int) -> str:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{self.ports[0][1]}") as channel:
            response = await pb_grpc.IssuanceServiceStub(channel).RegisterIssuer(
                pb.RegisterIssuerRequest(
                    name="Bench College",
                    url="https://college.example",
                    did_method=rpb.DID_METHOD_KEY,
                    default_cryptosuite=suite,  # type: ignore[arg-type]
                ),
                metadata=(("authorization", f"Bearer {OPERATOR}"),),
            )
        return response.issuer.issuer_id

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()

    async def drop(self) -> None:
        """Remove this run's schema and topics (left on a shared broker, every run's topics
        would slow the next: clients decode metadata of every topic in pure Python)."""
        engine = create_async_engine(self.pg_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        finally:
            await engine.dispose()
        topics = [v for k, v in self.names.items() if k.endswith("_TOPIC")]
        await delete_topics_named(self.kafka, topics)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _infra_pids() -> dict[str, list[int]]:
    """PIDs of the Kafka broker and of the PostgreSQL server's processes on this machine."""
    found: dict[str, list[int]] = {"kafka": [], "postgres": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"kafka.Kafka" in command:
            found["kafka"].append(int(entry.name))
        elif command.startswith(b"postgres"):
            found["postgres"].append(int(entry.name))
    return found


def machine_cpu(service: Service) -> dict[str, float]:
    """CPU seconds so far, per party: the service processes, their children (signing
    workers), the Kafka broker, PostgreSQL and this process (which produces the requests and
    reads the events). Per credential, a load-independent cost next to the wall-clock rate;
    PostgreSQL backends that exit in between take their CPU with them (an underestimate)."""
    infra = _infra_pids()
    return {
        "service": sum(_cpu_seconds(p.pid) for p in service.procs),
        "workers": sum(_cpu_seconds(c) for p in service.procs for c in _children(p.pid)),
        "kafka": sum(_cpu_seconds(pid) for pid in infra["kafka"]),
        "postgres": sum(_cpu_seconds(pid) for pid in infra["postgres"]),
        "bench": time.process_time(),
    }


def _records(topic: str, issuer_id: str, n: int, prefix: str) -> list[OutgoingRecord]:
    out = []
    for i in range(n):
        spec = _spec(f"{prefix}{i:06d}")
        message = epb.IssuanceRequested(issuer_id=issuer_id, spec=spec)
        event = Event(key=f"{issuer_id}:{spec.record_id}", message=message, source="urn:bench")
        out.append(event.to_record(topic))
    return out


async def pipeline(service: Service, bus: KafkaBus, issuer_id: str, n: int, prefix: str) -> dict:
    """Produce ``n`` requests; seconds until all ``n`` CredentialIssued events were read."""
    records = _records(service.names["LER_REQUESTS_TOPIC"], issuer_id, n, prefix)
    consumer = bus.consumer(
        [service.names["LER_ISSUED_TOPIC"]],
        f"bench-reader-{uuid.uuid4().hex[:8]}",
        max_records=2000,
    )
    await consumer.start()
    seen: set[str] = set()
    sample: bytes = b""
    try:
        # the reader joins the group before the clock starts (and skips earlier rounds' events)
        await consumer.getmany(timeout_ms=1000, max_records=1)
        cpu_before = machine_cpu(service)
        started = time.perf_counter()
        for start in range(0, n, 1000):
            await bus.publish_batch(records[start : start + 1000])
        produced = time.perf_counter()
        deadline = started + 900
        while len(seen) < n:
            if time.perf_counter() > deadline:
                sys.exit(f"only {len(seen)} of {n} credentials within 900 s")
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for batch in batches.values():
                for record in batch:
                    event = epb.CredentialIssued.FromString(record.value)
                    if event.issuer_id == issuer_id and event.record_id.startswith(prefix):
                        seen.add(event.record_id)
                        sample = sample or event.signed_credential
        done = time.perf_counter()
        cpu_after = machine_cpu(service)
    finally:
        await consumer.stop()
    return {
        "credentials": n,
        "cpu_ms_per_credential": {
            party: round(1000 * (cpu_after[party] - cpu_before[party]) / n, 4)
            for party in cpu_after
        },
        "seconds": done - started,
        "produce_seconds": produced - started,
        "credentials_per_s": n / (done - started),
        "sample": sample,
    }


def bare_sign_rate(credential: dict[str, Any], suite: str, seconds: float = 3.0) -> float:
    """Signatures per second of ``ler_crypto`` on ``credential`` (median of short batches)."""
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    key = KeyPair.generate()
    vm = "did:key:z6Mk#bench"
    rates = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        batch_start = time.perf_counter()
        count = 0
        while time.perf_counter() - batch_start < 0.1:
            dataintegrity.sign(unsigned, key, cryptosuite=suite, verification_method=vm)
            count += 1
        rates.append(count / (time.perf_counter() - batch_start))
    return statistics.median(rates)


def two_core_scaling(credential: dict[str, Any], suite: str, seconds: float = 1.5) -> float:
    """The bare sign rate of two processes signing at once (summed) over one process's rate,
    measured back to back. It says how much a second busy core adds on this host: a shared
    machine may run one busy core much faster than two (the 1-core baseline then overstates
    what a 2-core pipeline can reach)."""
    spawn = multiprocessing.get_context("spawn")  # this process runs threads and a loop
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        list(pool.map(bare_sign_rate, [credential] * 2, [suite] * 2, [0.2] * 2))  # warm
        alone = bare_sign_rate(credential, suite, seconds)
        together = sum(pool.map(bare_sign_rate, [credential] * 2, [suite] * 2, [seconds] * 2))
    return together / alone


def _spread(values: list[float]) -> str:
    return " to ".join(f"{v:,.0f}" if v >= 10 else f"{v:.2f}" for v in (min(values), max(values)))


def figures(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per figure for the report (``--json``)."""
    out: list[dict[str, Any]] = []
    for name, run in results["suites"].items():
        out.append(
            {
                "name": f"issuance end to end {name}",
                "value": round(run["credentials_per_s"], 1),
                "unit": "credentials/s",
                "baseline_name": f"ler_crypto bare sign {name} (1 core, same run)",
                "baseline_value": round(run["bare_sign_per_s"], 1),
                "ratio": round(run["ratio_to_bare_sign"], 3),
            }
        )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", type=int, default=5000, help="per cryptosuite")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--processes", type=int, default=1, help="service processes")
    parser.add_argument(
        "--signing-workers",
        type=int,
        default=2,
        help="LER_SIGNING_WORKERS of each service process (0: sign in the service process)",
    )
    parser.add_argument(
        "--request-consumers",
        type=int,
        default=2,
        help="LER_REQUEST_CONSUMERS of each service process (request-topic group members)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args()
    pg_url, kafka = _infra()
    log = REPO_ROOT / "var" / "bench-issuance.log"
    log.parent.mkdir(exist_ok=True)
    service = Service(
        pg_url, kafka, args.processes, log, args.signing_workers, args.request_consumers
    )
    bus = KafkaBus(kafka, client_id="bench-issuance", topic_partitions=6)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in SUITES}
    try:
        service.start()
        await bus.start()
        await service.ready()
        issuers = {name: await service.register(suite) for name, suite in SUITES.items()}
        samples = {}
        for name, issuer_id in issuers.items():  # warms pools and caches; a credential to sign
            warm = await pipeline(service, bus, issuer_id, 300, f"warm-{name}-")
            samples[name] = json.loads(warm["sample"])
        for r in range(args.rounds):
            # suites alternate within a round so that a burst of load hits both alike
            for name, issuer_id in issuers.items():
                # the host's speed drifts (up to 2x within minutes on a shared machine): the
                # baseline is the mean of the bare rate just before and just after the pipeline
                before = bare_sign_rate(samples[name], name, seconds=1.5)
                run = await pipeline(service, bus, issuer_id, args.credentials, f"r{r}-")
                samples[name] = json.loads(run.pop("sample"))
                after = bare_sign_rate(samples[name], name, seconds=1.5)
                run["bare_sign_per_s"] = (before + after) / 2
                run["bare_sign_before_after"] = (round(before, 1), round(after, 1))
                run["ratio_to_bare_sign"] = run["credentials_per_s"] / run["bare_sign_per_s"]
                run["two_core_scaling"] = two_core_scaling(samples[name], name)
                rounds[name].append(run)
    finally:
        await bus.stop()
        service.stop()
        await service.drop()
    results: dict[str, Any] = {
        "processes": args.processes,
        "signing_workers": args.signing_workers,
        "request_consumers": args.request_consumers,
        "rounds": args.rounds,
        "suites": {},
    }
    for name, runs in rounds.items():
        median_rate = statistics.median(r["credentials_per_s"] for r in runs)
        median_bare = statistics.median(r["bare_sign_per_s"] for r in runs)
        results["suites"][name] = {
            "credentials_per_s": median_rate,
            "bare_sign_per_s": median_bare,
            # median of the same-round ratios (each pairs a pipeline run with its own baseline)
            "ratio_to_bare_sign": statistics.median(r["ratio_to_bare_sign"] for r in runs),
            "two_core_scaling": statistics.median(r["two_core_scaling"] for r in runs),
            "all_rounds": runs,
        }
    jcs = results["suites"]["eddsa-jcs-2022"]
    rdfc = results["suites"]["eddsa-rdfc-2022"]
    results["targets"] = {
        "jcs_end_to_end_at_least_1000_per_s": jcs["credentials_per_s"] >= 1000,
        "rdfc_within_30pct_of_bare_sign": rdfc["ratio_to_bare_sign"] >= 0.7,
    }
    if args.json:
        args.json.write_text(json.dumps(figures(results), indent=2) + "\n")
    print(
        f"issuance pipeline (request topic -> signed credential stored -> issued event), "
        f"{args.credentials} credentials per suite and round, median of {args.rounds} rounds, "
        f"{args.processes} service process(es), {args.signing_workers} signing worker(s) and"
        f" {args.request_consumers} request-consumer member(s) each"
    )
    print(f"{'suite':<17}{'end to end/s':>14}{'bare sign/s':>13}{'ratio':>8}   spread (e2e; ratio)")
    for name, run in results["suites"].items():
        runs = run["all_rounds"]
        print(
            f"{name:<17}{run['credentials_per_s']:>14,.0f}{run['bare_sign_per_s']:>13,.0f}"
            f"{run['ratio_to_bare_sign']:>8.2f}   "
            f"{_spread([r['credentials_per_s'] for r in runs])}; "
            f"{_spread([r['ratio_to_bare_sign'] for r in runs])}"
        )
    for name, run in results["suites"].items():
        runs = run["all_rounds"]
        cpu = {
            party: statistics.median(r["cpu_ms_per_credential"][party] for r in runs)
            for party in runs[0]["cpu_ms_per_credential"]
        }
        print(
            f"{name}: CPU ms per credential: "
            + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())
            + f"; total {sum(cpu.values()):.3f} (bare sign: {1000 / run['bare_sign_per_s']:.3f})"
        )
        print(
            f"{name}: two processes signing at once sign {run['two_core_scaling']:.2f}x"
            f" as much as one ({_spread([r['two_core_scaling'] for r in runs])}): what the"
            " second core adds on this host"
        )
    print(
        "targets:", ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in results["targets"].items())
    )


if __name__ == "__main__":
    asyncio.run(main())
