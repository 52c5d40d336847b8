"""The two phases of credential verification: ``prepare_credential`` (offline) then
``complete_credential`` (online) give the same report as ``verify_credential``, also when the
prepared credential went through pickle (as it does to and from a worker process), and also
when the offline phase checked the proofs and issuer key too (every DID resolves offline)."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest
from ler_crypto import dataintegrity, obv3, status_list
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.report import Outcome
from ler_crypto.sdjwt import Sd, issue_sd_jwt_vc
from ler_crypto.vc_model import Policy
from ler_crypto.verifier import (
    PreparedCredential,
    Stage,
    complete_credential,
    prepare_credential,
    verify_credential,
)

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
LIST_URL = "https://college.example.edu/status/7"
OFFLINE_CHECKS = ["parse", "data-model", "jsonld", "profile"]
ONLINE_CHECKS = ["proof", "issuer", "trust", "validity", "status"]


class MemoryLists:
    """Serves status list credentials from a dict and records what was asked."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.requested: list[str] = []

    async def fetch(self, url: str) -> Any:
        self.requested.append(url)
        return self.documents[url]


@pytest.fixture(scope="module")
def key() -> KeyPair:
    return KeyPair.generate("Ed25519")


@pytest.fixture(scope="module")
def did(key: KeyPair) -> tuple[str, str]:
    return did_key_from_public_key(key.public_key)


@pytest.fixture(scope="module")
def lists(key: KeyPair, did: tuple[str, str]) -> MemoryLists:
    unsigned = status_list.build_status_list_credential(
        list_url=LIST_URL,
        issuer=did[0],
        status_list=status_list.StatusList(),
        valid_from="2024-01-01T00:00:00Z",
    )
    signed = dataintegrity.sign(
        unsigned, key, cryptosuite="eddsa-jcs-2022", verification_method=did[1]
    )
    return MemoryLists({LIST_URL: signed})


def _badge(issuer: str, **extra: Any) -> dict[str, Any]:
    return obv3.build_achievement_credential(
        issuer=obv3.build_profile(issuer, "Example College"),
        subject_id="did:example:learner",
        achievement=obv3.build_achievement(
            achievement_id="https://college.example.edu/achievements/9",
            name="Statistics",
            description="Summarises and tests data.",
            criteria_narrative="Passed the exam.",
        ),
        valid_from="2024-09-01T00:00:00Z",
        credential_id="urn:uuid:0f9e6f4e-2c55-4a0b-9d6e-3b8f4c1d2a77",
        **extra,
    )


@pytest.fixture(scope="module")
def signed(key: KeyPair, did: tuple[str, str]) -> dict[str, Any]:
    entry = status_list.build_status_list_entry(status_list_credential=LIST_URL, index=77)
    return dataintegrity.sign(
        _badge(did[0], credential_status=entry),
        key,
        cryptosuite="eddsa-rdfc-2022",
        verification_method=did[1],
    )


def _tampered(signed: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(signed)
    doc["credentialSubject"]["achievement"]["name"] = "Advanced Statistics"
    return doc


def _bad_profile(key: KeyPair, did: tuple[str, str]) -> dict[str, Any]:
    doc = _badge(did[0])
    del doc["credentialSubject"]["achievement"]["criteria"]
    return dataintegrity.sign(doc, key, cryptosuite="eddsa-jcs-2022", verification_method=did[1])


def _sd_jwt(key: KeyPair, did: tuple[str, str]) -> str:
    return issue_sd_jwt_vc(
        issuer=did[0],
        vct="urn:ler:badge",
        signer=key,
        holder_key=None,
        kid=did[1],
        iat=int(NOW.timestamp()) - 60,
        claims={"achievement": Sd("Statistics")},
    )


def _inputs(signed: dict[str, Any], key: KeyPair, did: tuple[str, str]) -> dict[str, Any]:
    text = json.dumps(signed)
    return {
        "valid-dict": signed,
        "valid-bytes": text.encode(),
        "valid-text": text,
        "tampered": json.dumps(_tampered(signed)).encode(),
        "bad-profile": _bad_profile(key, did),
        "unsigned": _badge(did[0]),
        "sd-jwt": _sd_jwt(key, did),
        "garbage-bytes": b"\xff\xfe not text",
        "garbage-json": b'{"a": 1}',
        "truncated": text[: len(text) // 2],
        "duplicate-keys": '{"@context": 1, "@context": 2}',
        "not-an-object": ["list"],
        "number": 42,
    }


NAMES = [
    "valid-dict",
    "valid-bytes",
    "valid-text",
    "tampered",
    "bad-profile",
    "unsigned",
    "sd-jwt",
    "garbage-bytes",
    "garbage-json",
    "truncated",
    "duplicate-keys",
    "not-an-object",
    "number",
]


async def _both(
    raw: Any, lists: MemoryLists, did: tuple[str, str], *, pickled: bool, keys: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(whole report, split report) as dicts, with the same options; ``keys``: the offline
    phase is given the time, so that it may check the proofs and issuer key too."""
    online: dict[str, Any] = {
        "resolver": DidResolver(offline=True),
        "status_fetcher": lists,
        "now": NOW,
        "trusted_issuers": {did[0]},
        "policy": Policy(allow_v1=True),
    }
    whole = await verify_credential(copy.deepcopy(raw), **online)
    prepared = prepare_credential(
        copy.deepcopy(raw), policy=online["policy"], proofs_as_of=NOW if keys else None
    )
    if pickled:
        prepared = pickle.loads(pickle.dumps(prepared))
    split = await complete_credential(prepared, **online)
    return whole.to_dict(), split.to_dict()


@pytest.mark.parametrize("keys", [False, True], ids=["keys-online", "keys-offline"])
@pytest.mark.parametrize("pickled", [False, True], ids=["in-process", "pickled"])
@pytest.mark.parametrize("name", NAMES)
async def test_split_equals_whole(
    name: str,
    pickled: bool,
    keys: bool,
    signed: dict[str, Any],
    key: KeyPair,
    did: tuple[str, str],
    lists: MemoryLists,
) -> None:
    raw = _inputs(signed, key, did)[name]
    whole, split = await _both(raw, lists, did, pickled=pickled, keys=keys)
    assert split == whole


async def test_verdicts_of_the_inputs(
    signed: dict[str, Any], key: KeyPair, did: tuple[str, str], lists: MemoryLists
) -> None:
    """The inputs above cover each way a run can go (so equality is not of trivial reports)."""
    inputs = _inputs(signed, key, did)
    assert list(inputs) == NAMES
    reports = {}
    for name, raw in inputs.items():
        whole, _ = await _both(raw, lists, did, pickled=True)
        reports[name] = whole
    assert reports["valid-bytes"]["verified"], reports["valid-bytes"]
    assert [c["id"] for c in reports["valid-bytes"]["checks"]] == OFFLINE_CHECKS + ONLINE_CHECKS
    assert not reports["tampered"]["verified"]
    assert _outcome(reports["tampered"], "proof") == "fail"
    assert _outcome(reports["bad-profile"], "profile") == "fail"
    assert _outcome(reports["unsigned"], "proof") == "fail"
    assert reports["sd-jwt"]["kind"] == "sd-jwt-vc" and reports["sd-jwt"]["verified"]
    for name in ("garbage-bytes", "garbage-json", "truncated", "duplicate-keys", "number"):
        assert reports[name]["malformed"], name
        assert [c["id"] for c in reports[name]["checks"]] == ["parse"], name


def _outcome(report: dict[str, Any], check_id: str) -> str:
    return next(str(c["outcome"]) for c in report["checks"] if c["id"] == check_id)


def test_offline_phase_runs_only_the_offline_checks(signed: dict[str, Any]) -> None:
    prepared = prepare_credential(json.dumps(signed).encode())
    assert prepared.stage is Stage.DOCUMENT
    assert prepared.document == signed
    assert [c.id for c in prepared.report.checks] == OFFLINE_CHECKS
    assert all(c.outcome is Outcome.PASS for c in prepared.report.checks)
    assert prepared.report.issuer == signed["issuer"]["id"]
    assert prepared.report.subject == signed["id"]


def test_offline_phase_checks_the_keys_when_every_did_resolves_offline(
    signed: dict[str, Any], did: tuple[str, str]
) -> None:
    prepared = prepare_credential(json.dumps(signed).encode(), proofs_as_of=NOW)
    assert prepared.stage is Stage.KEYS
    assert [c.id for c in prepared.report.checks] == [*OFFLINE_CHECKS, "proof", "issuer"]
    assert all(c.outcome is Outcome.PASS for c in prepared.report.checks)
    tampered = prepare_credential(_tampered(signed), proofs_as_of=NOW)
    assert tampered.stage is Stage.KEYS
    proof = tampered.report.check("proof")
    assert proof is not None and proof.outcome is Outcome.FAIL


async def test_online_phase_after_offline_keys_runs_trust_onwards_only(
    signed: dict[str, Any], did: tuple[str, str], lists: MemoryLists
) -> None:
    prepared = prepare_credential(json.dumps(signed).encode(), proofs_as_of=NOW)
    report = await complete_credential(
        prepared, resolver=DidResolver(offline=True), status_fetcher=lists, now=NOW
    )
    assert [c.id for c in report.checks] == OFFLINE_CHECKS + ONLINE_CHECKS
    assert report.verified


def test_offline_keys_are_checked_as_of_the_time_given(key: KeyPair, did: tuple[str, str]) -> None:
    doc = dataintegrity.sign(
        _badge(did[0]),
        key,
        cryptosuite="eddsa-jcs-2022",
        verification_method=did[1],
        expires="2025-01-01T00:00:00Z",
    )
    before = prepare_credential(doc, proofs_as_of=datetime(2024, 12, 1, tzinfo=UTC))
    after = prepare_credential(doc, proofs_as_of=NOW)  # 2025-01-15: the proof has expired
    assert before.report.check("proof").outcome is Outcome.PASS  # type: ignore[union-attr]
    assert after.report.check("proof").outcome is Outcome.FAIL  # type: ignore[union-attr]


@pytest.mark.parametrize("where", ["issuer", "signer"])
def test_a_did_web_leaves_the_keys_to_the_online_phase(where: str, signed: dict[str, Any]) -> None:
    """did:web needs the network (and the service's cache): the offline phase stops before
    the proofs, exactly as without a time."""
    doc = copy.deepcopy(signed)
    if where == "issuer":
        doc["issuer"]["id"] = "did:web:college.example.edu"
    else:
        doc["proof"]["verificationMethod"] = "did:web:college.example.edu#key-1"
    prepared = prepare_credential(doc, proofs_as_of=NOW)
    assert prepared.stage is Stage.DOCUMENT
    assert [c.id for c in prepared.report.checks] == OFFLINE_CHECKS


def test_offline_phase_of_an_sd_jwt_only_recognises_it(key: KeyPair, did: tuple[str, str]) -> None:
    compact = _sd_jwt(key, did)
    prepared = prepare_credential(compact)
    assert prepared.stage is Stage.SD_JWT and prepared.jwt == compact
    assert [c.id for c in prepared.report.checks] == ["parse"]
    assert prepared.document is None


def test_malformed_input_is_final_after_the_offline_phase() -> None:
    prepared = prepare_credential(b"{not json")
    assert prepared.stage is Stage.DONE and prepared.report.malformed
    assert "PARSING_ERROR" in prepared.report.checks[0].reason


async def test_online_phase_of_a_finished_report_adds_nothing() -> None:
    prepared = prepare_credential(b"[1, 2]")
    report = await complete_credential(prepared, resolver=DidResolver(offline=True), now=NOW)
    assert report is prepared.report
    assert [c.id for c in report.checks] == ["parse"] and not report.verified


def test_prepared_credential_pickles_to_plain_data(signed: dict[str, Any]) -> None:
    prepared = prepare_credential(json.dumps(signed).encode())
    copied = pickle.loads(pickle.dumps(prepared))
    assert isinstance(copied, PreparedCredential)
    assert copied.stage is Stage.DOCUMENT
    assert copied.document == prepared.document
    assert copied.report.to_dict() == prepared.report.to_dict()
    # nothing but plain data travels: the pickle stays small next to the JSON it came from
    assert len(pickle.dumps(prepared)) < 3 * len(json.dumps(signed))


def test_offline_phase_honours_the_policy(did: tuple[str, str]) -> None:
    v1 = _badge(did[0])
    v1["@context"] = ["https://www.w3.org/2018/credentials/v1", *v1["@context"][1:]]
    strict = prepare_credential(v1, policy=Policy(allow_v1=False))
    lenient = prepare_credential(v1, policy=Policy(allow_v1=True))
    model = strict.report.check("data-model")
    assert model is not None and model.outcome is Outcome.FAIL
    assert lenient.report.check("data-model") != model


async def test_online_phase_leaves_the_prepared_document_as_parsed(
    signed: dict[str, Any], did: tuple[str, str], lists: MemoryLists
) -> None:
    """Callers may reuse ``prepared.document`` after the online phase (the verification
    service does, instead of parsing the input again)."""
    prepared = prepare_credential(json.dumps(signed).encode())
    report = await complete_credential(
        prepared, resolver=DidResolver(offline=True), status_fetcher=lists, now=NOW
    )
    assert report.check("proof") is not None and report.check("status") is not None
    assert prepared.document == signed


def test_offline_keys_that_would_wait_are_left_to_the_online_phase(
    signed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should checking the keys ever wait for something (it never does with did:key/did:jwk
    alone), the offline phase takes back what it added and leaves them to the online one."""
    import asyncio

    from ler_crypto.verifier import phases

    async def waits(doc: dict[str, Any], report: Any, opts: Any) -> None:
        report.add("proof", "Data Integrity proof", Outcome.PASS, "half done")
        await asyncio.sleep(0)  # suspends
        raise AssertionError("never resumed")

    monkeypatch.setattr(phases, "check_keys", waits)
    prepared = prepare_credential(json.dumps(signed).encode(), proofs_as_of=NOW)
    assert prepared.stage is Stage.DOCUMENT
    assert [c.id for c in prepared.report.checks] == OFFLINE_CHECKS
