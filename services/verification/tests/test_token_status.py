"""SD-JWT VC status (IETF Token Status List) in the verification service: the status list
fetcher's JWT path, and a revoked SD-JWT VC failing on status through gRPC, over local HTTPS."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2
from ler.common.v1 import verification_report_pb2 as rpb
from ler.issuance.v1.events_pb2 import CredentialStatusChanged
from ler.verification.v1 import verification_service_pb2 as pb
from ler_crypto.sdjwt import Sd, issue_sd_jwt_vc
from ler_crypto.token_status_list import build_status_list_token
from ler_platform.events.envelope import Event
from ler_proto.events.issuance import CREDENTIALS_STATUS
from ler_verification.adapters.fetching import CachedStatusListFetcher, InvalidatingCache
from vhelpers import DocumentServer, Party, Running, poll_until

TOKEN_PATH = "/issuers/iss_1/status-lists/l-1/token"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Web:
    """Returns one body, counting fetches (the HTTPS fetcher's place)."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.calls = 0

    async def fetch(self, url: str) -> bytes:
        self.calls += 1
        return self.body


def _token(party: Party, uri: str, statuses: list[int], **kw: Any) -> bytes:
    now = int(time.time())
    args: dict[str, Any] = {
        "uri": uri,
        "issuer": party.did,
        "statuses": statuses,
        "bits": 2,
        "iat": now - 10,
        "exp": now + 3600,
        "ttl": 600,
        "signer": party.key,
        "kid": party.vm,
    }
    args.update(kw)
    return build_status_list_token(**args).encode()


async def test_jwt_status_body_is_returned_as_text_with_its_own_ttl() -> None:
    party = Party.new()
    clock = _Clock()
    web = _Web(b"\n" + _token(party, "https://x.example/t", [0, 1], ttl=20) + b"\n")
    fetcher = CachedStatusListFetcher(
        web, InvalidatingCache(max_entries=4, clock=clock), default_ttl=300, max_ttl=3600
    )
    body = await fetcher.fetch("u")
    assert isinstance(body, str) and body == web.body.decode().strip()
    clock.now = 19.0
    await fetcher.fetch("u")
    assert web.calls == 1  # still within the token's ttl (20 s)
    clock.now = 21.0
    await fetcher.fetch("u")
    assert web.calls == 2
    # the token's (unverified) iss keys invalidation by issuer, as a list credential's does
    fetcher.cache.invalidate(issuer=party.did)
    await fetcher.fetch("u")
    assert web.calls == 3


@pytest.mark.parametrize(("ttl", "expected"), [(10**8, 3600.0), (None, 300.0)])
async def test_jwt_ttl_is_capped_and_defaults(ttl: int | None, expected: float) -> None:
    clock = _Clock()
    web = _Web(_token(Party.new(), "https://x.example/t", [0], ttl=ttl))
    fetcher = CachedStatusListFetcher(
        web, InvalidatingCache(max_entries=4, clock=clock), default_ttl=300, max_ttl=3600
    )
    await fetcher.fetch("u")
    clock.now = expected - 1
    await fetcher.fetch("u")
    assert web.calls == 1
    clock.now = expected + 1
    await fetcher.fetch("u")
    assert web.calls == 2


async def test_a_body_neither_json_nor_jwt_is_still_refused() -> None:
    for body in (b"nope", b"a.b", b"[1, 2]"):
        with pytest.raises(Exception, match=r"not JSON|not a JSON object"):
            await CachedStatusListFetcher(
                _Web(body), InvalidatingCache(max_entries=1), default_ttl=1, max_ttl=1
            ).fetch("v")


def _sd_jwt_vc(party: Party, uri: str, idx: int) -> bytes:
    return issue_sd_jwt_vc(
        issuer=party.did,
        vct="urn:ler:badge",
        signer=party.key,
        holder_key=None,
        kid=party.vm,
        status={"status_list": {"idx": idx, "uri": uri}},
        claims={"achievement": Sd("Data Literacy")},
    ).encode()


async def _revocation_event(service: Running, party: Party, uri: str, idx: int) -> None:
    changed_at = Timestamp()
    changed_at.GetCurrentTime()
    message = CredentialStatusChanged(
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        issuer_id="iss_1",
        issuer_did=party.did,
        status_list_url=uri,  # an SD-JWT credential's event names the URI the credential names
        status_list_index=idx,
        status_purpose=credential_pb2.STATUS_PURPOSE_REVOCATION,
        new_state=credential_pb2.CREDENTIAL_STATUS_STATE_REVOKED,
        changed_at=changed_at,
    )
    event = Event(
        key=CREDENTIALS_STATUS.key_for(message), message=message, source="urn:ler:issuance"
    )
    await service.app.runtime.bus.publish_batch([event.to_record(CREDENTIALS_STATUS.name)])


async def test_revoked_sd_jwt_vc_fails_on_status(service: Running, docs: DocumentServer) -> None:
    party = Party.new()
    uri = docs.url(TOKEN_PATH)
    docs.documents[TOKEN_PATH] = _token(party, uri, [0, 1, 2, 0])

    async def report(idx: int) -> Any:
        response = await service.stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential=_sd_jwt_vc(party, uri, idx)),
            metadata=service.metadata,
        )
        return response.report

    def status_checks(found: Any) -> list[Any]:
        return [c for c in found.checks if c.id.startswith("status")]

    valid = await report(0)
    assert valid.verdict != rpb.VERDICT_FAILED, [(c.id, c.reason) for c in valid.checks]
    assert [c.outcome for c in status_checks(valid)] == [rpb.CHECK_OUTCOME_PASS]
    for idx, state, check_id, code in (
        (1, "revoked", "status.revocation", "CREDENTIAL_REVOKED"),
        (2, "suspended", "status.suspension", "CREDENTIAL_SUSPENDED"),
    ):
        found = await report(idx)
        assert found.verdict == rpb.VERDICT_FAILED
        failed = [c for c in found.checks if c.outcome == rpb.CHECK_OUTCOME_FAIL]
        assert [c.id for c in failed] == [c.id for c in status_checks(found)], failed
        assert len(failed) == 1 and f"the credential is {state}" in failed[0].reason
        # named like a Bitstring status failure, so intake flags it the same way
        assert (failed[0].id, failed[0].error_code) == (check_id, code)
    assert docs.requests.count(TOKEN_PATH) == 1  # one fetch, then the token's ttl cache

    # index 3 is revoked later; the status event naming the token URI drops the cached token
    docs.documents[TOKEN_PATH] = _token(party, uri, [0, 1, 2, 1])
    assert (await report(3)).verdict != rpb.VERDICT_FAILED  # cached: not seen yet
    await _revocation_event(service, party, uri, 3)

    async def verdict() -> int:
        return int((await report(3)).verdict)

    await poll_until(verdict, lambda v: v == rpb.VERDICT_FAILED, within=2.0, what="revocation")
