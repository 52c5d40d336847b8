"""The actor commands (``ler institution|learner|provider|ops``) against the four services
started in process (SQLite in tmp_path, one in-process bus).

The services run on the test's event loop; each command runs as the console script would, via
``ler_cli.main.run``, in a worker thread with its own loop — so it reaches the services only over
their gRPC ports (and, for ``bulk-issue``, the bus), never their internals.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from ler.common.v1 import credential_pb2 as cpb
from ler.intake.v1 import intake_service_pb2 as ipb
from ler.intake.v1 import intake_service_pb2_grpc as ipb_grpc
from ler.intake.v1 import resources_pb2 as ires
from ler.issuance.v1 import issuance_service_pb2 as iss_pb
from ler.issuance.v1 import issuance_service_pb2_grpc as iss_grpc
from ler.issuance.v1 import resources_pb2 as iss_rpb
from ler.wallet.v1 import wallet_service_pb2 as wpb
from ler.wallet.v1 import wallet_service_pb2_grpc as wpb_grpc
from ler_cli import connect
from ler_cli.main import run
from ler_intake.bootstrap import bootstrap as intake_bootstrap
from ler_intake.settings import IntakeSettings
from ler_issuance.bootstrap import bootstrap as issuance_bootstrap
from ler_issuance.settings import IssuanceSettings
from ler_platform.events.bus import BusConsumer, EventBus
from ler_platform.events.inprocess import InProcessBus
from ler_platform.events.records import ConsumedRecord, OutgoingRecord, TopicPartition
from ler_platform.kek import new_kek_value
from ler_verification.bootstrap import bootstrap as verification_bootstrap
from ler_verification.domain.model import TenantKind
from ler_verification.service_layer.tenants import register_tenant
from ler_verification.settings import VerificationSettings
from ler_wallet.bootstrap import bootstrap as wallet_bootstrap
from ler_wallet.settings import WalletSettings

T = TypeVar("T")
# a hang fails with a traceback long before the suite's 600 s default
pytestmark = pytest.mark.timeout(180)
ISSUANCE_OPERATOR = "issuance-operator-token-for-cli-tests"
INTAKE_OPERATOR = "intake-operator-key-for-cli-tests"
INTAKE_CLIENT = "intake-client-key-for-cli-tests"
TOKEN_VARS = [connect.token_env(s) for s in connect.SERVICES]


class LoopBus(EventBus):
    """The services' in-process bus, used from the command's thread: every call runs on the
    services' loop. Start/stop are the host's business, so they do nothing here."""

    def __init__(self, bus: InProcessBus, loop: asyncio.AbstractEventLoop) -> None:
        self._bus, self._loop = bus, loop

    async def _on_loop(self, work: Awaitable[T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))  # type: ignore[arg-type]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> None:
        await self._on_loop(self._bus.ping())

    async def publish_batch(self, records: Sequence[OutgoingRecord]) -> None:
        await self._on_loop(self._bus.publish_batch(records))

    def consumer(self, topics: Sequence[str], group_id: str, *, max_records: int) -> BusConsumer:
        return LoopConsumer(self, self._bus.consumer(topics, group_id, max_records=max_records))


class LoopConsumer(BusConsumer):
    """A consumer of the in-process bus driven from another thread (see ``LoopBus``)."""

    def __init__(self, bus: LoopBus, inner: BusConsumer) -> None:
        self._bus, self._inner = bus, inner

    async def start(self) -> None:
        await self._bus._on_loop(self._inner.start())

    async def stop(self) -> None:
        await self._bus._on_loop(self._inner.stop())

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> Mapping[TopicPartition, Sequence[ConsumedRecord]]:
        return await self._bus._on_loop(
            self._inner.getmany(timeout_ms=timeout_ms, max_records=max_records)
        )

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        await self._bus._on_loop(self._inner.commit(offsets))


@dataclass
class Stack:
    """Ports and handles of the four in-process services."""

    bus: InProcessBus
    ports: dict[str, int]
    issuance_settings: IssuanceSettings

    def addr(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    for name in [*TOKEN_VARS, "LER_ISSUER_ID", "LER_ACCOUNT_ID", "LER_KAFKA_BOOTSTRAP_SERVERS"]:
        monkeypatch.delenv(name, raising=False)
    bus = InProcessBus(partitions=3)
    await bus.start()
    common: dict[str, Any] = {
        "grpc_port": 0,
        "http_port": 0,
        "health_check_interval_seconds": 0.2,
        "outbox_poll_interval_seconds": 0.05,
    }
    db = lambda name: f"sqlite+aiosqlite:///{tmp_path / name}.db"  # noqa: E731
    issuance = issuance_bootstrap(
        IssuanceSettings(
            **common,
            database_url=db("issuance"),
            public_url="http://127.0.0.1:8081",
            operator_token=ISSUANCE_OPERATOR,
            kek=new_kek_value(),
        ),
        bus=bus,
    )
    wallet = wallet_bootstrap(
        WalletSettings(
            **common, database_url=db("wallet"), kek=new_kek_value(), verify_offline=True
        ),
        bus=bus,
    )
    verification = verification_bootstrap(
        VerificationSettings(**common, database_url=db("verification")), bus=bus
    )
    started: list[Any] = []
    try:
        for app in (issuance, wallet, verification):
            await app.runtime.start()
            started.append(app)
        service_key = await register_tenant(
            verification.uow_factory, "intake", "Intake", TenantKind.SERVICE
        )
        intake = intake_bootstrap(
            IntakeSettings(
                **common,
                database_url=db("intake"),
                verification_grpc_target=f"127.0.0.1:{verification.runtime.grpc.port}",
                verification_api_key=service_key,
                operator_api_key=INTAKE_OPERATOR,
                client_api_key=INTAKE_CLIENT,
            ),
            bus=bus,
        )
        await intake.runtime.start()
        started.append(intake)
        ports = {
            "issuance": issuance.runtime.grpc.port,
            "wallet": wallet.runtime.grpc.port,
            "verification": verification.runtime.grpc.port,
            "intake": intake.runtime.grpc.port,
        }
        for service, port in ports.items():
            monkeypatch.setenv(connect.address_env(service), f"127.0.0.1:{port}")
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(connect, "make_bus", lambda bootstrap: LoopBus(bus, loop))
        yield Stack(bus, ports, issuance.runtime.settings)  # type: ignore[arg-type]
    finally:
        for app in reversed(started):
            await app.runtime.stop()
        await bus.stop()


async def ler(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``ler *argv`` in a worker thread; (exit code, stdout, stderr)."""
    import os

    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        code = await asyncio.to_thread(run, list(argv))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ler: ") and "Traceback" not in err
    return lines[0]


async def test_institution_and_learner_commands(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    op = {"LER_ISSUANCE_TOKEN": ISSUANCE_OPERATOR}
    key_file = tmp_path / "inst.key"
    code, out, err = await ler(
        capsys, "institution", "register", "--name", "State University",
        "--url", "https://state.example", "--did-key", "--cryptosuite", "eddsa-jcs-2022",
        "--api-key-out", str(key_file), env=op,
    )  # fmt: skip
    assert code == 0, err
    issuer_id = json.loads(out)["issuer_id"]
    api_key = key_file.read_text().strip()
    assert api_key and api_key not in out + err  # the key goes to the 0600 file only
    assert key_file.stat().st_mode & 0o777 == 0o600

    # error: not the operator → one line naming the service, address and status
    code, _, err = await ler(
        capsys, "institution", "register", "--name", "X", "--url", "https://x.example",
        "--did-key", "--api-key-out", str(tmp_path / "x.key"), "--token-file", str(key_file),
    )  # fmt: skip
    line = one_line_error(err)
    assert code == connect.EXIT_SERVICE and "PERMISSION_DENIED" in line
    assert stack.addr("issuance") in line and api_key not in err
    assert not (tmp_path / "x.key").exists()

    inst = {"LER_ISSUANCE_TOKEN": api_key, "LER_ISSUER_ID": issuer_id}
    code, out, err = await ler(
        capsys, "institution", "achievement", "define", "--name", "Data Analysis",
        "--description", "Analyses data.", "--criteria", "Pass the project.", "--type", "Course",
        "--skill", "ESCO|S1.2|analyse data|https://esco.example/s1.2", "--grades", "A,B,C",
        env=inst,
    )  # fmt: skip
    assert code == 0, err
    template_id = json.loads(out)["template_id"]
    # error: a skill without a code is refused before any call
    code, _, err = await ler(
        capsys, "institution", "achievement", "define", "--name", "N", "--description", "D",
        "--criteria", "C", "--skill", "ESCO", env=inst,
    )  # fmt: skip
    assert code == 2 and "FRAMEWORK|CODE" in one_line_error(err)

    # the learner opens a wallet: the key goes to a 0600 file, never to the output
    key_file = tmp_path / "wallet.key"
    code, out, err = await ler(
        capsys, "learner", "create", "--name", "Ada", "--email", "ada@learner.example",
        "--api-key-out", str(key_file), env={},
    )  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    api_key = key_file.read_text().strip()
    assert api_key and api_key not in out + err and key_file.stat().st_mode & 0o777 == 0o600
    holder = created["holder_did"]
    assert holder.startswith("did:")
    learner = {"LER_WALLET_TOKEN": api_key, "LER_ACCOUNT_ID": created["account_id"]}
    # error: the key file exists already — refused before any account is made
    code, _, err = await ler(
        capsys, "learner", "create", "--name", "Ada", "--email", "ada@learner.example",
        "--api-key-out", str(key_file), env={},
    )  # fmt: skip
    assert code == 2 and "already exists" in one_line_error(err)

    code, out, err = await ler(
        capsys, "institution", "issue", "--record-id", "S-1", "--learner-did", holder,
        "--template", template_id, "--grade", "A", "--out", str(tmp_path / "vc.json"), env=inst,
    )  # fmt: skip
    assert code == 0, err
    issued = json.loads(out)
    assert issued["replayed"] is False and issued["achievement"] == "Data Analysis"
    signed = json.loads((tmp_path / "vc.json").read_text())
    assert signed["credentialSubject"]["id"] == holder and signed["proof"]
    code, out, _ = await ler(
        capsys, "institution", "issue", "--record-id", "S-1", "--learner-did", holder,
        "--template", template_id, "--grade", "A", env=inst,
    )  # fmt: skip
    assert code == 0 and json.loads(out)["replayed"] is True
    # error: grade outside the template's allowed values → INVALID_ARGUMENT with the field
    code, _, err = await ler(
        capsys, "institution", "issue", "--record-id", "S-2", "--learner-did", holder,
        "--template", template_id, "--grade", "Z", env=inst,
    )  # fmt: skip
    line = one_line_error(err)
    assert code == connect.EXIT_SERVICE and "INVALID_ARGUMENT" in line and "'Z'" in line

    # learner: the wallet receives the credential over the bus
    credential_id = issued["credential_id"]
    rows: list[dict[str, Any]] = []
    for _ in range(100):
        code, out, err = await ler(capsys, "learner", "list", "--json", env=learner)
        assert code == 0, err
        rows = json.loads(out)
        if rows:
            break
        await asyncio.sleep(0.1)
    assert [r["achievement"] for r in rows] == ["Data Analysis"]
    wallet_credential = rows[0]["credential_id"]

    code, out, err = await ler(
        capsys, "learner", "curate", wallet_credential, "--feature", "--tag", "data", env=learner
    )
    assert code == 0, err
    assert json.loads(out)["featured"] is True and json.loads(out)["tags"] == "data"
    code, _, err = await ler(capsys, "learner", "curate", wallet_credential, env=learner)
    assert code == 2 and "nothing to change" in one_line_error(err)
    code, out, err = await ler(capsys, "learner", "list", env=learner)  # the table
    assert code == 0 and "Data Analysis" in out and "data" in out

    code, out, err = await ler(
        capsys, "learner", "share", wallet_credential, "--label", "for jobs", env=learner
    )
    assert code == 0, err
    link = json.loads(out)
    assert link["url"].startswith("http") and link["share_link_id"]
    code, out, err = await ler(
        capsys, "learner", "revoke-share", link["share_link_id"], env=learner
    )
    assert code == 0 and "REVOKED" in json.loads(out)["state"], err
    code, _, err = await ler(capsys, "learner", "revoke-share", "no-such-link", env=learner)
    assert code == connect.EXIT_SERVICE and "NOT_FOUND" in one_line_error(err)

    code, out, err = await ler(
        capsys, "learner", "export", "--out", str(tmp_path / "resume.json"), env=learner
    )
    assert code == 0, err
    assert "Data Analysis" in (tmp_path / "resume.json").read_text()
    code, _, err = await ler(capsys, "learner", "export", "--format", "zip", env=learner)
    assert code == 2 and "--out" in one_line_error(err)
    # error: no credential at all
    code, _, err = await ler(capsys, "learner", "list", env={"LER_ACCOUNT_ID": "acc"})
    assert code == 2 and "LER_WALLET_TOKEN" in one_line_error(err)
    # error: a wrong key is refused by the service; the key is not echoed
    code, _, err = await ler(
        capsys, "learner", "list", env={**learner, "LER_WALLET_TOKEN": "not-a-key-123"}
    )
    assert code == connect.EXIT_SERVICE and "UNAUTHENTICATED" in one_line_error(err)
    assert "not-a-key-123" not in err

    # suspend and reinstate (suspension is lifted; the credential stays usable)
    code, out, err = await ler(
        capsys, "institution", "suspend", credential_id, "--reason", "under review", env=inst
    )
    assert code == 0, err
    assert json.loads(out)["changed"] is True and "SUSPENDED" in json.loads(out)["status"]
    code, out, err = await ler(
        capsys, "institution", "reinstate", credential_id, "--reason", "cleared", env=inst
    )
    assert code == 0, err
    assert json.loads(out)["changed"] is True and "SUSPENDED" not in json.loads(out)["status"]
    code, _, err = await ler(
        capsys, "institution", "suspend", credential_id, "--reason", " ", env=inst
    )
    assert code == 2 and "--reason" in one_line_error(err)

    # revoke, with its reason; then the wallet shows it revoked
    code, out, err = await ler(
        capsys, "institution", "revoke", credential_id, "--reason", "issued in error", env=inst
    )
    assert code == 0, err
    assert json.loads(out)["changed"] is True and "REVOKED" in json.loads(out)["status"]
    code, _, err = await ler(
        capsys, "institution", "revoke", "cred-unknown", "--reason", "x", env=inst
    )
    assert code == connect.EXIT_SERVICE and "NOT_FOUND" in one_line_error(err)
    for _ in range(100):
        _, out, _ = await ler(capsys, "learner", "list", "--json", env=learner)
        if json.loads(out)[0]["status"] == "revoked":
            break
        await asyncio.sleep(0.1)
    assert json.loads(out)[0]["status"] == "revoked"


async def test_bulk_issue_in_process(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    channel = grpc.aio.insecure_channel(stack.addr("issuance"))
    stub = iss_grpc.IssuanceServiceStub(channel)
    md = (("authorization", f"Bearer {ISSUANCE_OPERATOR}"),)
    reg = await stub.RegisterIssuer(
        iss_pb.RegisterIssuerRequest(
            name="Trade School",
            url="https://trade.example",
            did_method=2,
            default_cryptosuite=cpb.CRYPTOSUITE_EDDSA_JCS_2022,
        ),
        metadata=md,
    )
    issuer_id = reg.issuer.issuer_id
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    header = "record_id,learner_did,learner_email,achievement_name,achievement_description,criteria,achievement_type,result,template_id,awarded_at"  # noqa: E501
    lines = [header]
    for i in range(30):
        lines.append(
            f"R{i},{did},,Welding,Welds steel.,Pass the practical,Certificate,pass,,2026-06-01"
        )
    lines += [
        "R3,did:key:zdup,,Welding,Welds.,Pass,,,,",  # line 32: duplicate record id
        ",did:key:z1,,Welding,Welds.,Pass,,,,",  # 33: no record id
        "B1,,not-an-email,Welding,Welds.,Pass,,,,",  # 34: bad email
        "B2,did:key:z2,,,,,,,,",  # 35: neither template nor inline achievement
        "B3,did:key:z3,,Welding,Welds.,Pass,,,,31/12/2026",  # 36: bad date
        "B4,did:key:z4,,Welding,Welds.,Pass,,,tmpl-unknown,",  # 37: service: unknown template
        "B5,did:BAD:x,,Welding,Welds.,Pass,,,,",  # 38: service: DID method syntax
        "B6,did:key:z6,,Welding",  # 39: too few fields
    ]
    source = tmp_path / "export.csv"
    source.write_text("\n".join(lines) + "\n")
    args = ["institution", "bulk-issue", str(source), "--issuer", issuer_id, "--kafka", "x",
            "--wait", "60", "--requests-topic", stack.issuance_settings.requests_topic,
            "--results-topic", stack.issuance_settings.results_topic]  # fmt: skip

    report_file = tmp_path / "report.csv"
    code, out, err = await ler(capsys, *args, "--report", str(report_file))
    assert code == 1, err  # some rows failed
    assert "sending: 32/32" in err and "results: 32/32" in err  # progress, plain (no TTY)
    report = {r["row"]: r for r in csv.DictReader(io.StringIO(report_file.read_text()))}
    assert sum(r["outcome"] == "issued" for r in report.values()) == 30
    expected = {
        "32": ("invalid", "duplicate of row 5"),
        "33": ("invalid", "record_id: is required"),
        "34": ("invalid", "learner_email"),
        "35": ("invalid", "achievement_name, achievement_description, criteria required"),
        "36": ("invalid", "awarded_at"),
        "37": ("rejected", "TEMPLATE_NOT_FOUND"),
        "38": ("rejected", "must be a DID"),
        "39": ("invalid", "has 4 fields, the header has 10"),
    }
    for row, (outcome, reason) in expected.items():
        assert report[row]["outcome"] == outcome, report[row]
        assert reason in report[row]["reason"], report[row]
        assert f"row {row} " in out
    assert out.splitlines()[0].startswith("38 rows: 30 issued, 0 already issued")

    # re-run: nothing new is issued; every good row is replayed with the same credential
    code, out, err = await ler(capsys, *args, "--report", str(tmp_path / "again.json"))
    assert code == 1, err
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["summary"]["issued"] == 0 and again["summary"]["replayed"] == 30
    first_ids = {r["record_id"]: r["credential_id"] for r in report.values() if r["credential_id"]}
    assert {
        r["record_id"]: r["credential_id"] for r in again["rows"] if r["outcome"] == "replayed"
    } == first_ids
    listed = await stub.ListCredentials(
        iss_pb.ListCredentialsRequest(issuer_id=issuer_id, page={"page_size": 100}),
        metadata=(("authorization", f"Bearer {reg.api_key}"),),
    )
    assert len(listed.credentials) == 30
    await channel.close()

    # --check sends nothing; error: an unknown column is refused as a whole
    code, out, _ = await ler(capsys, *args, "--check")
    assert code == 1 and out.startswith("38 rows: 32 valid, 6 invalid (nothing sent)\nrow 32 ")
    assert "row 34 (B1): invalid: learner_email" in out and "row 37" not in out
    bad = tmp_path / "bad.csv"
    bad.write_text("record_id,learner,grade\nR1,did:key:z,A\n")
    code, _, err = await ler(capsys, "institution", "bulk-issue", str(bad), "--issuer", issuer_id)
    assert code == 2 and "unknown CSV column(s) 'learner', 'grade'" in one_line_error(err)
    code, _, err = await ler(capsys, "institution", "bulk-issue", str(source))
    assert code == 2 and "LER_ISSUER_ID" in one_line_error(err)


async def test_provider_and_ops_commands(
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel = grpc.aio.insecure_channel(stack.addr("intake"))
    stub = ipb_grpc.IntakeServiceStub(channel)
    provider = await stub.RegisterProvider(
        ipb.RegisterProviderRequest(name="Acme", url="https://acme.example", domain="acme.example"),
        metadata=(("authorization", f"Bearer {INTAKE_OPERATOR}"),),
    )
    await channel.close()
    env = {"LER_INTAKE_TOKEN": provider.api_key}
    monkeypatch.setenv("LER_INTAKE_TOKEN", provider.api_key)
    posting = tmp_path / "job.txt"
    posting.write_text(
        "# a job\ntitle: Junior data analyst\ndescription: Analyse learning data.\n"
        "kind: job\nlocation: Remote\n"
        "required_skill: ESCO|S1.2|analyse data|1\nrequired_skill: ESCO|S5.1|use spreadsheets\n"
        "preferred_skill: ESCO|S2.0|communicate\n"
    )
    code, out, err = await ler(capsys, "provider", "post", "--file", str(posting), env=env)
    assert code == 0, err
    opportunity_id = json.loads(out)["opportunity_id"]
    code, out, err = await ler(
        capsys, "provider", "post", "--title", "Welder", "--description", "Welds.",
        "--require-skill", "ESCO|W1", "--kind", "apprenticeship", env=env,
    )  # fmt: skip
    assert code == 0 and json.loads(out)["title"] == "Welder", err
    # error: a malformed posting file line names the file and line
    posting.write_text("title: X\nsalary: lots\n")
    code, _, err = await ler(capsys, "provider", "post", "--file", str(posting), env=env)
    assert code == 2 and f"{posting}:2:" in one_line_error(err)

    code, out, err = await ler(capsys, "provider", "list", opportunity_id, env=env)
    assert code == 0 and out.strip() == "no applications", err
    code, _, err = await ler(capsys, "provider", "list", "opp-unknown", env=env)
    assert code == connect.EXIT_SERVICE and "NOT_FOUND" in one_line_error(err)
    code, _, err = await ler(capsys, "provider", "watch", "opp-unknown", "--for", "5", env=env)
    assert code == connect.EXIT_SERVICE and "NOT_FOUND" in one_line_error(err)

    # a learner applies while the provider watches: the change appears on the stream
    watching = asyncio.create_task(
        asyncio.to_thread(
            run, ["provider", "watch", opportunity_id, "--max-events", "1", "--for", "60"]
        )
    )
    presentation, challenge = await _presentation_for(stack, opportunity_id)
    channel = grpc.aio.insecure_channel(stack.addr("intake"))
    stub = ipb_grpc.IntakeServiceStub(channel)
    applied = 0
    try:
        while not watching.done() and applied < 40:  # until the watcher has seen a change
            await stub.SubmitApplication(
                ipb.SubmitApplicationRequest(
                    opportunity_id=opportunity_id,
                    presentation=presentation,
                    challenge=challenge,
                    applicant=ires.Applicant(name="Ada", email="ada@learner.example"),
                    idempotency_key=f"apply-{applied}",
                ),
                metadata=(("authorization", f"Bearer {INTAKE_CLIENT}"),),
            )
            applied += 1
            await asyncio.wait({watching}, timeout=0.5)
    finally:
        await channel.close()
    assert await watching == 0
    out, err = capsys.readouterr()
    change = json.loads(out.splitlines()[0])
    assert change["change"] in ("submitted", "verified", "flagged") and change["resume_token"]
    assert "1 change(s)" in err
    code, out, err = await ler(capsys, "provider", "list", opportunity_id, "--json", env=env)
    assert code == 0 and len(json.loads(out)) == applied, err

    code, out, err = await ler(capsys, "ops", "health", "--json")
    assert code == 0, out + err
    health = json.loads(out)
    assert {s: h["status"] for s, h in health.items()} == dict.fromkeys(connect.SERVICES, "SERVING")
    # error: one service unreachable → named with its address, exit 1
    dead = f"127.0.0.1:{_closed_port()}"
    code, out, _ = await ler(capsys, "ops", "health", "--wallet-addr", dead, "--timeout", "1")
    assert code == 1
    wallet_line = next(line for line in out.splitlines() if line.startswith("wallet"))
    assert dead in wallet_line and "UNREACHABLE" in wallet_line
    assert out.count("SERVING") == 3
    # a command against the dead address: one line naming it
    code, _, err = await ler(
        capsys, "learner", "list", "--addr", dead, "--timeout", "2",
        env={"LER_WALLET_TOKEN": "t", "LER_ACCOUNT_ID": "a"},
    )  # fmt: skip
    line = one_line_error(err)
    assert code == connect.EXIT_SERVICE and dead in line and uuid is not None


async def _presentation_for(stack: Stack, opportunity_id: str) -> tuple[bytes, str]:
    """A learner with one credential (issued over gRPC, delivered over the bus) presents it
    for ``opportunity_id``: (presentation bytes, challenge)."""
    op = (("authorization", f"Bearer {ISSUANCE_OPERATOR}"),)
    async with grpc.aio.insecure_channel(stack.addr("issuance")) as channel:
        issuance = iss_grpc.IssuanceServiceStub(channel)
        reg = await issuance.RegisterIssuer(
            iss_pb.RegisterIssuerRequest(name="Uni", url="https://uni.example", did_method=2),
            metadata=op,
        )
        async with grpc.aio.insecure_channel(stack.addr("wallet")) as wchannel:
            wallet = wpb_grpc.WalletServiceStub(wchannel)
            account = await wallet.CreateAccount(
                wpb.CreateAccountRequest(display_name="Ada", email="ada@learner.example")
            )
            md = (("authorization", f"Bearer {account.api_key}"),)
            await issuance.IssueCredential(
                iss_pb.IssueCredentialRequest(
                    issuer_id=reg.issuer.issuer_id,
                    spec=iss_rpb.CredentialSpec(
                        record_id="W-1",
                        subject=iss_rpb.Subject(did=account.account.holder_did),
                        achievement=iss_rpb.Achievement(
                            name="Data Analysis",
                            description="Analyses data.",
                            criteria_narrative="Pass.",
                        ),
                    ),
                ),
                metadata=(("authorization", f"Bearer {reg.api_key}"),),
            )
            account_id = account.account.account_id
            stored: list[str] = []
            for _ in range(100):
                listed = await wallet.ListCredentials(
                    wpb.ListCredentialsRequest(account_id=account_id), metadata=md
                )
                stored = [c.credential_id for c in listed.credentials]
                if stored:
                    break
                await asyncio.sleep(0.1)
            assert stored, "the wallet never received the credential"
            async with grpc.aio.insecure_channel(stack.addr("intake")) as ichannel:
                challenge = await ipb_grpc.IntakeServiceStub(ichannel).CreateApplicationChallenge(
                    ipb.CreateApplicationChallengeRequest(opportunity_id=opportunity_id),
                    metadata=(("authorization", f"Bearer {INTAKE_CLIENT}"),),
                )
            presented = await wallet.CreatePresentation(
                wpb.CreatePresentationRequest(
                    account_id=account_id,
                    credential_ids=stored,
                    challenge=challenge.challenge,
                    domain=challenge.domain,
                ),
                metadata=md,
            )
    return presented.presentation, challenge.challenge


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_progress_bar_redraws_on_a_terminal_and_prints_lines_otherwise() -> None:
    from ler_cli.bulk import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    bar = Progress("sending", 4, tty)
    for _ in range(4):
        bar.advance(1)
    bar.close()
    assert tty.getvalue().startswith("\rsending [") and tty.getvalue().endswith("] 4/4\n")
    assert "\n" not in tty.getvalue()[:-1]  # one line, redrawn in place
    plain = io.StringIO()
    bar = Progress("results", 1000, plain)
    for _ in range(1000):
        bar.advance(1)
    lines = plain.getvalue().splitlines()
    assert lines[0] == "results: 1/1000" and lines[-1] == "results: 1000/1000"
    assert len(lines) == 11 and "\r" not in plain.getvalue()  # every 10%, no control chars


def test_bulk_issue_kafka_settings_errors_are_one_line_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "one.csv"
    source.write_text("record_id,learner_did,template_id\nR1,did:key:z6Mk1,tmpl\n")
    monkeypatch.delenv("LER_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    argv = ["institution", "bulk-issue", str(source), "--issuer", "iss_1"]
    assert run(argv) == 2
    assert "no Kafka bootstrap servers" in one_line_error(capsys.readouterr().err)
    monkeypatch.setenv("LER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LER_KAFKA_SASL_PASSWORD", "kafka-secret-password")
    assert run([*argv, "--kafka", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "SASL mechanism, user name and password" in one_line_error(err)
    assert "kafka-secret-password" not in err
