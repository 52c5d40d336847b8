"""Token Status Lists for SD-JWT VCs: the status claim, aligned entries, the signed view of the
revocation and suspension lists, its cache, and the status events (fake unit of work)."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from issuance_fakes import FakeStore
from issuance_helpers import StoreWebFetcher, spec, verify_from_store
from ler_crypto.did import DidResolver
from ler_crypto.report import Outcome as CheckOutcome
from ler_crypto.sdjwt import parse_sd_jwt
from ler_crypto.status_list import MIN_LIST_LENGTH
from ler_crypto.token_status_list import (
    TokenStatus,
    TokenStatusList,
    decode_status_list,
    verify_status_list_token,
)
from ler_issuance.domain.errors import StatusListNotFound
from ler_issuance.domain.events import CredentialStatusChanged
from ler_issuance.domain.model import (
    CredentialFormat,
    CredentialRecord,
    StatusAction,
    StatusPurpose,
)
from ler_issuance.domain.status_lists import (
    LIST_BYTES,
    StatusListState,
    allocate_aligned,
    token_status_bytes,
)
from ler_issuance.service_layer.context import Context
from ler_issuance.service_layer.issuers import NewIssuer, register_issuer
from ler_issuance.service_layer.issuing import issue_batch, issue_credential
from ler_issuance.service_layer.status import change_status
from ler_issuance.service_layer.status_tokens import REISSUE_AFTER, TOKEN_LIFETIME, StatusListTokens

SD_JWT = CredentialFormat.SD_JWT_VC
T0 = datetime(2026, 3, 2, 10, 17, 5, tzinfo=UTC)


def _list(purpose: StatusPurpose, seq: int = 1) -> StatusListState:
    return StatusListState.new(
        list_id=f"{purpose.value}-{seq}",
        issuer_id="iss_x",
        purpose=purpose,
        seq=seq,
        url=f"https://issuer.example/issuers/iss_x/status-lists/{purpose.value}-{seq}",
    )


def _decoded(statuses: bytes, bits: int) -> TokenStatusList:
    return TokenStatusList(statuses, bits)


def _jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert isinstance(payload, dict)
    return payload


# --- the view (pure domain) ------------------------------------------------------------------


def test_one_bit_view_packs_from_the_least_significant_bit() -> None:
    revocation = _list(StatusPurpose.REVOCATION)
    # draft-ietf-oauth-status-list §4.1 example: statuses 1,0,0,1,1,1,0,1 | 1,1,0,0,0,1,0,1
    for index in (0, 3, 4, 5, 7, 8, 9, 13, 15):
        revocation.set(index, True)
    statuses, bits = token_status_bytes(revocation, None)
    assert bits == 1 and len(statuses) == LIST_BYTES
    assert statuses[:2] == bytes([0xB9, 0xA3])
    assert not any(statuses[2:])


def test_two_bit_view_revocation_wins_over_suspension() -> None:
    revocation, suspension = _list(StatusPurpose.REVOCATION), _list(StatusPurpose.SUSPENSION)
    revocation.set(0, True)
    suspension.set(1, True)
    revocation.set(3, True)
    suspension.set(3, True)  # revoked while suspended: INVALID
    last = MIN_LIST_LENGTH - 1
    suspension.set(last, True)
    statuses, bits = token_status_bytes(revocation, suspension)
    assert bits == 2 and len(statuses) == 2 * LIST_BYTES
    assert statuses[0] == 0b01_00_10_01  # index 3,2,1,0 = INVALID, VALID, SUSPENDED, INVALID
    view = _decoded(statuses, bits)
    assert [view.get(i) for i in range(5)] == [1, 2, 0, 1, 0]
    assert view.get(last) == TokenStatus.SUSPENDED and view.size == MIN_LIST_LENGTH


@pytest.mark.parametrize("with_suspension", [False, True])
def test_view_matches_the_bitstring_lists_at_every_index(with_suspension: bool) -> None:
    rng = random.Random(7)  # seeded: reproducible, yet no hand-picked pattern
    revocation, suspension = _list(StatusPurpose.REVOCATION), _list(StatusPurpose.SUSPENSION)
    for index in rng.sample(range(MIN_LIST_LENGTH), 3000):
        revocation.set(index, True)
    for index in rng.sample(range(MIN_LIST_LENGTH), 3000):
        suspension.set(index, True)
    statuses, bits = token_status_bytes(revocation, suspension if with_suspension else None)
    view = _decoded(statuses, bits)
    assert view.size == MIN_LIST_LENGTH
    for index in range(MIN_LIST_LENGTH):
        expected = (
            TokenStatus.INVALID
            if revocation.get(index)
            else TokenStatus.SUSPENDED
            if with_suspension and suspension.get(index)
            else TokenStatus.VALID
        )
        assert view.get(index) == expected, index


def test_aligned_allocation_takes_one_index_free_in_both_lists() -> None:
    revocation, suspension = _list(StatusPurpose.REVOCATION), _list(StatusPurpose.SUSPENSION)
    everything = bytearray(b"\xff" * LIST_BYTES)
    revocation.allocated, suspension.allocated = bytearray(everything), bytearray(everything)
    revocation.allocated_count = suspension.allocated_count = MIN_LIST_LENGTH - 2
    revocation.allocated[1] = 0b1101_1111  # index 10 free in revocation only
    suspension.allocated[2] = 0b1101_1111  # index 18 free in suspension only
    assert allocate_aligned(revocation, suspension) is None
    revocation.allocated[3] = suspension.allocated[3] = 0b1111_1110  # index 31 free in both
    assert allocate_aligned(revocation, suspension) == 31
    assert revocation.allocated[3] == suspension.allocated[3] == 0xFF
    assert revocation.allocated_count == suspension.allocated_count == MIN_LIST_LENGTH - 1
    assert allocate_aligned(revocation, suspension) is None  # and now nothing is left


def test_aligned_allocation_of_fresh_lists_is_random_and_never_reuses() -> None:
    revocation, suspension = _list(StatusPurpose.REVOCATION), _list(StatusPurpose.SUSPENSION)
    drawn = [allocate_aligned(revocation, suspension) for _ in range(200)]
    assert len(set(drawn)) == 200 and None not in drawn
    assert drawn != sorted(drawn)  # not sequential (BSL §6.3 / TSL §12.5: order not revealed)
    assert all(revocation.get(i) is False for i in drawn if i is not None)  # status untouched


# --- issuing -----------------------------------------------------------------------------------


async def _issuer(ctx: Context) -> str:
    issuer, _ = await register_issuer(ctx, NewIssuer(name="ESU", url="https://esu.example.edu"))
    return issuer.issuer_id


def _status_claim(record: CredentialRecord) -> dict[str, object]:
    payload = parse_sd_jwt(record.signed_credential.decode()).jws.payload
    claim = payload["status"]["status_list"]
    assert isinstance(claim, dict)
    return claim


async def test_sd_jwt_vc_names_its_token_and_one_index_for_both_purposes(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    record, _ = await issue_credential(ctx, iid, spec("SD-1", format=SD_JWT))
    revocation = record.entry(StatusPurpose.REVOCATION)
    suspension = record.entry(StatusPurpose.SUSPENSION)
    assert revocation is not None and suspension is not None
    assert suspension.index == revocation.index and suspension.list_id == "suspension-1"
    claim = _status_claim(record)
    assert claim == {"idx": revocation.index, "uri": f"{revocation.list_url}/token"}
    # in the issuer-signed payload, never a disclosure (SD-JWT VC §3.2.2.2)
    parsed = parse_sd_jwt(record.signed_credential.decode())
    assert all(d.name != "status" for d in parsed.disclosures)


async def test_mixed_batch_aligns_only_sd_jwt_entries(ctx: Context, store: FakeStore) -> None:
    iid = await _issuer(ctx)
    results = await issue_batch(
        ctx, iid, [spec(f"M-{i}", format=SD_JWT if i % 2 else None) for i in range(6)]
    )
    records = [r.credential for r in results if r.credential is not None]
    assert len(records) == 6
    for record in records:
        revocation = record.entry(StatusPurpose.REVOCATION)
        suspension = record.entry(StatusPurpose.SUSPENSION)
        assert revocation is not None and suspension is not None
        if record.format is SD_JWT:
            assert suspension.index == revocation.index
            assert _status_claim(record)["idx"] == revocation.index
    for purpose in ("revocation-1", "suspension-1"):
        assert store.status_lists[(iid, purpose)].allocated_count == 6
    indices = {e.index for r in records for e in r.status_entries if e.list_id == "revocation-1"}
    assert len(indices) == 6  # distinct: aligned and independent entries never collide


async def test_no_common_free_index_opens_a_fresh_pair_of_lists(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    await issue_credential(ctx, iid, spec("warm-up"))
    full = bytearray(b"\xff" * LIST_BYTES)
    for lid, free_byte in (("revocation-1", 1), ("suspension-1", 2)):
        state = store.status_lists[(iid, lid)]
        state.allocated = bytearray(full)
        state.allocated[free_byte] = 0xFE  # one free index, a different one in each list
        state.allocated_count = MIN_LIST_LENGTH - 1
    record, _ = await issue_credential(ctx, iid, spec("SD-new-pair", format=SD_JWT))
    assert {e.list_id for e in record.status_entries} == {"revocation-2", "suspension-2"}
    assert len({e.index for e in record.status_entries}) == 1
    assert _status_claim(record)["uri"].endswith("/status-lists/revocation-2/token")  # type: ignore[union-attr]
    # Data Integrity credentials still use the old lists' last free indices
    ldp, _ = await issue_credential(ctx, iid, spec("LDP-after"))
    assert {e.list_id for e in ldp.status_entries} == {"revocation-2", "suspension-2"}


# --- the served token --------------------------------------------------------------------------


def _at(ctx: Context, clock: list[datetime]) -> Context:
    return replace(ctx, now=lambda: clock[0])


async def _value(tokens: StatusListTokens, iid: str, record: CredentialRecord) -> int:
    claim = _status_claim(record)
    lid = str(claim["uri"]).split("/")[-2]
    signed = await tokens.get(iid, lid)
    payload = _jwt_payload(signed.token)
    lst = decode_status_list(payload["status_list"]["lst"], payload["status_list"]["bits"])
    return lst.get(int(str(claim["idx"])))


async def test_token_follows_revoke_suspend_reinstate_and_verifies(
    ctx: Context, store: FakeStore
) -> None:
    clock = [T0]
    ctx = _at(ctx, clock)
    iid = await _issuer(ctx)
    tokens = StatusListTokens(ctx, ttl=60)
    kept, _ = await issue_credential(ctx, iid, spec("SD-kept", format=SD_JWT))
    record, _ = await issue_credential(ctx, iid, spec("SD-changed", format=SD_JWT))
    assert await _value(tokens, iid, record) == TokenStatus.VALID
    steps = [
        (StatusAction.SUSPEND, TokenStatus.SUSPENDED),
        (StatusAction.REINSTATE, TokenStatus.VALID),
        (StatusAction.SUSPEND, TokenStatus.SUSPENDED),
        (StatusAction.REVOKE, TokenStatus.INVALID),
    ]
    for action, expected in steps:
        await change_status(ctx, iid, record.credential_id, action, "r")
        assert await _value(tokens, iid, record) == expected, action
        assert await _value(tokens, iid, kept) == TokenStatus.VALID
    # the token itself: typ, sub = the URI the credential names, iss, iat/exp/ttl, signature
    claim = _status_claim(record)
    signed = await tokens.get(iid, "revocation-1")
    issuer = store.issuers[iid]
    status_list = await verify_status_list_token(
        signed.token,
        expected_uri=str(claim["uri"]),
        issuer=issuer.did,
        resolver=DidResolver(StoreWebFetcher(store)),
        now=T0.timestamp(),
    )
    assert status_list.bits == 2 and status_list.get(int(str(claim["idx"]))) == 1
    assert signed.expires_at - signed.issued_at == TOKEN_LIFETIME
    assert signed.issued_at <= int(T0.timestamp())


async def test_sd_jwt_verifies_until_revoked_through_the_served_token(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    record, _ = await issue_credential(ctx, iid, spec("SD-v", format=SD_JWT))
    report = await verify_from_store(store, record.signed_credential, ctx)
    assert report.verified, report.to_dict()
    await change_status(ctx, iid, record.credential_id, StatusAction.SUSPEND, "check")
    report = await verify_from_store(store, record.signed_credential, ctx)
    failed = [c for c in report.checks if c.id == "status"]
    assert not report.verified and failed[0].outcome is CheckOutcome.FAIL
    assert "suspended" in failed[0].reason
    await change_status(ctx, iid, record.credential_id, StatusAction.REINSTATE, "ok")
    assert (await verify_from_store(store, record.signed_credential, ctx)).verified
    await change_status(ctx, iid, record.credential_id, StatusAction.REVOKE, "fraud")
    report = await verify_from_store(store, record.signed_credential, ctx)
    assert not report.verified
    assert any("revoked" in c.reason for c in report.failures())


async def test_token_is_signed_once_per_state_and_reissued_hourly(
    ctx: Context, store: FakeStore
) -> None:
    clock = [T0]
    ctx = _at(ctx, clock)
    iid = await _issuer(ctx)
    record, _ = await issue_credential(ctx, iid, spec("SD-c", format=SD_JWT))
    tokens = StatusListTokens(ctx, ttl=60)
    first = await tokens.get(iid, "revocation-1")
    clock[0] = T0 + timedelta(seconds=30)
    assert await tokens.get(iid, "revocation-1") is first  # cached: nothing signed
    # another replica (a fresh cache) signs byte-identical tokens for the same state
    assert (await StatusListTokens(ctx, ttl=60).get(iid, "revocation-1")).token == first.token
    await change_status(ctx, iid, record.credential_id, StatusAction.SUSPEND, "r")
    changed = await tokens.get(iid, "revocation-1")
    assert changed.token != first.token and changed.issued_at == int(clock[0].timestamp())
    clock[0] = T0 + timedelta(seconds=REISSUE_AFTER + 5)
    later = await tokens.get(iid, "revocation-1")
    assert later.issued_at > changed.issued_at and later.expires_at > changed.expires_at


async def test_an_issuer_without_suspension_gets_a_one_bit_token(
    ctx: Context, store: FakeStore
) -> None:
    ctx = replace(ctx, suspension_enabled=False)
    iid = await _issuer(ctx)
    record, _ = await issue_credential(ctx, iid, spec("SD-1bit", format=SD_JWT))
    assert [e.purpose for e in record.status_entries] == [StatusPurpose.REVOCATION]
    tokens = StatusListTokens(ctx, ttl=60)
    assert await _value(tokens, iid, record) == TokenStatus.VALID
    await change_status(ctx, iid, record.credential_id, StatusAction.REVOKE, "r")
    assert await _value(tokens, iid, record) == TokenStatus.INVALID
    payload = _jwt_payload((await tokens.get(iid, "revocation-1")).token)
    assert payload["status_list"]["bits"] == 1 and payload["ttl"] == 60


async def test_only_revocation_lists_of_known_issuers_have_tokens(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    await issue_credential(ctx, iid, spec("SD-x", format=SD_JWT))
    tokens = StatusListTokens(ctx, ttl=60)
    for issuer_id, lid in (
        (iid, "suspension-1"),
        (iid, "revocation-9"),
        ("iss_nope", "revocation-1"),
    ):
        with pytest.raises(StatusListNotFound, match=lid):
            await tokens.get(issuer_id, lid)


# --- events ------------------------------------------------------------------------------------


async def test_status_events_name_the_url_each_credential_names(
    ctx: Context, store: FakeStore
) -> None:
    iid = await _issuer(ctx)
    sd, _ = await issue_credential(ctx, iid, spec("SD-e", format=SD_JWT))
    ldp, _ = await issue_credential(ctx, iid, spec("LDP-e"))
    await change_status(ctx, iid, sd.credential_id, StatusAction.SUSPEND, "r")
    await change_status(ctx, iid, sd.credential_id, StatusAction.REVOKE, "r")
    await change_status(ctx, iid, ldp.credential_id, StatusAction.REVOKE, "r")
    events = [e for e in store.events if isinstance(e, CredentialStatusChanged)]
    claim = _status_claim(sd)
    assert [(e.entry.list_url, e.entry.index) for e in events[:2]] == [
        (claim["uri"], claim["idx"])
    ] * 2
    assert [e.entry.purpose for e in events[:2]] == [
        StatusPurpose.SUSPENSION,
        StatusPurpose.REVOCATION,
    ]
    ldp_entry = ldp.entry(StatusPurpose.REVOCATION)
    assert events[2].entry == ldp_entry  # Data Integrity: the Bitstring list, unchanged
