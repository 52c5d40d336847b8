"""Real PostgreSQL and Kafka: an SD-JWT VC's Token Status List follows its status changes, and
the status events name the token URL the credential names."""

from __future__ import annotations

import base64
import json

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
from ler_crypto.sdjwt import parse_sd_jwt
from ler_crypto.token_status_list import TokenStatus, decode_status_list
from ler_issuance.bootstrap import IssuanceApp
from ler_platform.events.kafka import KafkaBus

pytestmark = pytest.mark.real
LEARNER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


async def _served_status(uri: str, idx: int) -> int:
    """The status at ``idx`` in the token served at ``uri``."""
    async with aiohttp.ClientSession() as http, http.get(uri) as response:
        assert response.status == 200
        assert response.content_type == "application/statuslist+jwt"
        assert response.headers["ETag"] and "max-age=" in response.headers["Cache-Control"]
        body = await response.read()
    payload = json.loads(base64.urlsafe_b64decode(body.split(b".")[1] + b"=="))
    assert payload["sub"] == uri
    lst = decode_status_list(payload["status_list"]["lst"], payload["status_list"]["bits"])
    return lst.get(idx)


async def test_sd_jwt_token_status_on_real_servers(
    real_app: tuple[IssuanceApp, pb_grpc.IssuanceServiceStub, dict],
) -> None:
    _app, stub, names = real_app
    registered = await stub.RegisterIssuer(
        pb.RegisterIssuerRequest(name="Real University", url="https://real.example"),
        metadata=metadata_for(OPERATOR_TOKEN),
    )
    iid, md = registered.issuer.issuer_id, metadata_for(registered.api_key)
    spec = rpb.CredentialSpec(
        record_id="SD-REAL-1",
        subject=rpb.Subject(did=LEARNER),
        format=cpb.CREDENTIAL_FORMAT_SD_JWT_VC,
        achievement=rpb.Achievement(
            name="Data Analysis",
            description="A course.",
            criteria_narrative="Pass.",
            achievement_type=cpb.ACHIEVEMENT_TYPE_COURSE,
        ),
    )
    issued = (
        await stub.IssueCredential(pb.IssueCredentialRequest(issuer_id=iid, spec=spec), metadata=md)
    ).credential
    claim = parse_sd_jwt(issued.signed_credential.decode()).jws.payload["status"]["status_list"]
    uri, idx = claim["uri"], claim["idx"]
    assert uri.endswith(f"/issuers/{iid}/status-lists/revocation-1/token")
    assert {e.status_list_index for e in issued.status_entries} == {idx}
    assert await _served_status(uri, idx) == TokenStatus.VALID
    assert (await verify_over_http(issued.signed_credential)).verified
    steps = [
        (pb.STATUS_ACTION_SUSPEND, TokenStatus.SUSPENDED),
        (pb.STATUS_ACTION_REINSTATE, TokenStatus.VALID),
        (pb.STATUS_ACTION_REVOKE, TokenStatus.INVALID),
    ]
    for action, expected in steps:
        await stub.ChangeCredentialStatus(
            pb.ChangeCredentialStatusRequest(
                issuer_id=iid, credential_id=issued.credential_id, action=action, reason="r"
            ),
            metadata=md,
        )
        assert await _served_status(uri, idx) == expected, action
    report = await verify_over_http(issued.signed_credential)
    assert not report.verified and any("revoked" in c.reason for c in report.failures())
    bus = KafkaBus(real_infra()[1], client_id="ler-test")
    await bus.start()
    try:
        changes = await read_topic(bus, names["status_topic"], 3)
    finally:
        await bus.stop()
    events = [epb.CredentialStatusChanged.FromString(r.value) for r in changes]
    assert [(e.status_list_url, e.status_list_index) for e in events] == [(uri, idx)] * 3
    assert [e.new_state for e in events] == [
        cpb.CREDENTIAL_STATUS_STATE_SUSPENDED,
        cpb.CREDENTIAL_STATUS_STATE_ACTIVE,
        cpb.CREDENTIAL_STATUS_STATE_REVOKED,
    ]
