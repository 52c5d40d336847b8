"""Real PostgreSQL and Kafka: status changes flip served bits and events; key rotation."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from issuance_helpers import (
    OPERATOR_TOKEN,
    metadata_for,
    read_topic,
    real_infra,
    verify_over_http,
)
from ler.common.v1 import credential_pb2 as cpb
from ler.issuance.v1 import events_pb2 as epb
from ler.issuance.v1 import issuance_service_pb2 as pb
from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc
from ler.issuance.v1 import resources_pb2 as rpb
from ler_issuance.bootstrap import IssuanceApp
from ler_platform.events.kafka import KafkaBus

pytestmark = pytest.mark.real
LEARNER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
LER_CLI = str(Path(sys.executable).parent / "ler")


def spec(record_id: str) -> rpb.CredentialSpec:
    return rpb.CredentialSpec(
        record_id=record_id,
        subject=rpb.Subject(did=LEARNER),
        achievement=rpb.Achievement(
            name="Data Analysis",
            description="A course.",
            criteria_narrative="Pass.",
            achievement_type=cpb.ACHIEVEMENT_TYPE_COURSE,
        ),
    )


async def _register(stub: pb_grpc.IssuanceServiceStub, **kw: object) -> tuple[str, str, str]:
    response = await stub.RegisterIssuer(
        pb.RegisterIssuerRequest(name="Real University", url="https://real.example", **kw),
        metadata=metadata_for(OPERATOR_TOKEN),
    )
    return response.issuer.issuer_id, response.api_key, response.issuer.did


def _cli_verify(tmp: Path, credential: bytes, status_lists: list[bytes]) -> tuple[int, dict]:
    (tmp / "vc.json").write_bytes(credential)
    args = [LER_CLI, "vc", "verify", str(tmp / "vc.json"), "--offline"]
    for i, listed in enumerate(status_lists):
        (tmp / f"list{i}.json").write_bytes(listed)
        args += ["--status-list", str(tmp / f"list{i}.json")]
    done = subprocess.run(args, capture_output=True, timeout=120, check=False)
    return done.returncode, json.loads(done.stdout)


async def _lists(record: rpb.Credential) -> list[bytes]:
    bodies = []
    async with aiohttp.ClientSession() as http:
        for entry in record.status_entries:
            async with http.get(entry.status_list_url) as response:
                assert response.status == 200
                bodies.append(await response.read())
    return bodies


async def test_revoke_suspend_reinstate_on_real_servers(
    real_app: tuple[IssuanceApp, pb_grpc.IssuanceServiceStub, dict], tmp_path: Path
) -> None:
    _app, stub, names = real_app
    # a did:key issuer, so that `ler vc verify --offline` can check everything locally
    iid, key, _ = await _register(stub, did_method=rpb.DID_METHOD_KEY)
    md = metadata_for(key)
    issued = (
        await stub.IssueCredential(
            pb.IssueCredentialRequest(issuer_id=iid, spec=spec("A1")), metadata=md
        )
    ).credential
    code, report = _cli_verify(tmp_path, issued.signed_credential, await _lists(issued))
    assert code == 0, report
    steps = [
        (pb.STATUS_ACTION_SUSPEND, 1, "suspended"),
        (pb.STATUS_ACTION_REINSTATE, 0, None),
        (pb.STATUS_ACTION_REVOKE, 1, "revoked"),
    ]
    for action, exit_code, word in steps:
        await stub.ChangeCredentialStatus(
            pb.ChangeCredentialStatusRequest(
                issuer_id=iid, credential_id=issued.credential_id, action=action, reason="r"
            ),
            metadata=md,
        )
        code, report = _cli_verify(tmp_path, issued.signed_credential, await _lists(issued))
        assert code == exit_code, report
        status_checks = [c for c in report["checks"] if c["id"] == "status"]
        if word:
            assert any(c["outcome"] == "fail" and word in c["reason"] for c in status_checks)
        else:
            assert all(c["outcome"] == "pass" for c in status_checks)
    bus = KafkaBus(real_infra()[1], client_id="ler-test")
    await bus.start()
    try:
        changes = await read_topic(bus, names["status_topic"], 3)
        issued_events = await read_topic(bus, names["issued_topic"], 1)
    finally:
        await bus.stop()
    states = [epb.CredentialStatusChanged.FromString(r.value).new_state for r in changes]
    assert states == [
        cpb.CREDENTIAL_STATUS_STATE_SUSPENDED,
        cpb.CREDENTIAL_STATUS_STATE_ACTIVE,
        cpb.CREDENTIAL_STATUS_STATE_REVOKED,
    ]
    assert all(r.key.decode() == issued.credential_id for r in changes)
    event = epb.CredentialIssued.FromString(issued_events[0].value)
    assert event.signed_credential == issued.signed_credential  # the signed bytes, as issued


async def test_key_rotation_on_real_servers(
    real_app: tuple[IssuanceApp, pb_grpc.IssuanceServiceStub, dict],
) -> None:
    _, stub, _ = real_app
    iid, key, did = await _register(stub)  # did:web served by this service
    md = metadata_for(key)
    before = (
        await stub.IssueCredential(
            pb.IssueCredentialRequest(issuer_id=iid, spec=spec("K1")), metadata=md
        )
    ).credential
    await stub.RotateSigningKey(pb.RotateSigningKeyRequest(issuer_id=iid), metadata=md)
    after = (
        await stub.IssueCredential(
            pb.IssueCredentialRequest(issuer_id=iid, spec=spec("K2")), metadata=md
        )
    ).credential
    assert json.loads(before.signed_credential)["proof"]["verificationMethod"] == did + "#key-1"
    assert json.loads(after.signed_credential)["proof"]["verificationMethod"] == did + "#key-2"
    for record in (before, after):
        report = await verify_over_http(record.signed_credential)
        assert report.verified, report.to_dict()
    # revoking the old credential re-signs its list with the new key; it then fails on status
    await stub.ChangeCredentialStatus(
        pb.ChangeCredentialStatusRequest(
            issuer_id=iid, credential_id=before.credential_id, action=pb.STATUS_ACTION_REVOKE
        ),
        metadata=md,
    )
    report = await verify_over_http(before.signed_credential)
    assert not report.verified and any("revoked" in c.reason for c in report.failures())
    assert (await verify_over_http(after.signed_credential)).verified
    await asyncio.sleep(0)
