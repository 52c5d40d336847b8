"""The verifier's performance shortcuts give the same verdicts as the long way.

* a status list credential that verified before (same content, same resolved keys) is not
  re-verified, but a changed, tampered, expired or re-keyed list is judged afresh;
* for eddsa-jcs-2022 documents, data loss is detected without RDFC canonical labelling
  (``canon.rdfc.check_lossless``), with the same verdict and message as ``canonize``;
* a status list's bitstring is decoded once per ``encodedList`` value, errors never cached.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ler_crypto import dataintegrity, obv3, status_list, vc_model
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.errors import StatusListError
from ler_crypto.keys import KeyPair
from ler_crypto.report import Outcome
from ler_crypto.verifier import status as status_module
from ler_crypto.verifier import verify_credential

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
LIST_URL = "https://college.example.edu/status/caches"


class ListServer:
    """Serves whatever list credential the test currently publishes (as HTTPS would)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    async def fetch(self, url: str) -> Any:
        return json.dumps(self.document).encode()


class Issuer:
    """A did:key issuer that signs badges and status lists with eddsa-jcs-2022."""

    def __init__(self) -> None:
        self.key = KeyPair.generate("Ed25519")
        self.did, self.vm = did_key_from_public_key(self.key.public_key)

    def sign(self, doc: dict[str, Any], **kw: Any) -> dict[str, Any]:
        kw.setdefault("created", "2025-01-01T00:00:00Z")
        return dataintegrity.sign(
            doc, self.key, cryptosuite="eddsa-jcs-2022", verification_method=self.vm, **kw
        )

    def badge(self, index: int, **extra: Any) -> dict[str, Any]:
        entry = status_list.build_status_list_entry(status_list_credential=LIST_URL, index=index)
        credential = obv3.build_achievement_credential(
            issuer=obv3.build_profile(self.did, "Example College"),
            subject_id="did:example:learner",
            achievement=obv3.build_achievement(
                achievement_id="https://college.example.edu/achievements/1",
                name="Data Literacy",
                description="Reads and questions data.",
                criteria_narrative="Completed the course.",
            ),
            valid_from="2024-09-01T00:00:00Z",
            credential_id="urn:uuid:6e1c3f58-7d8f-4a3e-9a51-0f6f2c5d8b21",
            credential_status=entry,
        )
        credential.update(extra)
        return self.sign(credential)

    def status_list(self, revoked: set[int], **kw: Any) -> dict[str, Any]:
        lst = status_list.StatusList()
        for index in revoked:
            lst.set(index, 1)
        unsigned = status_list.build_status_list_credential(
            list_url=LIST_URL, issuer=self.did, status_list=lst, valid_from="2024-01-01T00:00:00Z"
        )
        return self.sign(unsigned, **kw)


@pytest.fixture(autouse=True)
def empty_list_cache() -> None:
    status_module.VERIFIED_LISTS.clear()


@pytest.fixture
def count_list_verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts full verifications of a list credential (the slow path the cache skips)."""
    calls: list[int] = []
    original = status_module._verify_list_credential

    async def counting(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        await original(*args, **kwargs)

    monkeypatch.setattr(status_module, "_verify_list_credential", counting)
    return calls


async def _status(doc: dict[str, Any], server: ListServer, now: datetime = NOW) -> Any:
    report = await verify_credential(
        doc, resolver=DidResolver(offline=True), status_fetcher=server, now=now
    )
    return report.check("status")


async def test_a_verified_list_is_not_verified_again_until_it_changes(
    count_list_verifications: list[int],
) -> None:
    issuer = Issuer()
    badge = issuer.badge(7)
    server = ListServer(issuer.status_list(set()))

    for _ in range(3):
        check = await _status(badge, server)
        assert check.outcome is Outcome.PASS, check.reason
    assert len(count_list_verifications) == 1  # verified once, then taken from the cache
    assert len(status_module.VERIFIED_LISTS) == 1

    # the issuer revokes: a new list (new content, new proof) is verified and read afresh
    server.document = issuer.status_list({7})
    check = await _status(badge, server)
    assert check.outcome is Outcome.FAIL and "revoked" in check.reason
    assert len(count_list_verifications) == 2


async def test_a_tampered_list_fails_even_after_the_genuine_one_was_cached(
    count_list_verifications: list[int],
) -> None:
    issuer = Issuer()
    badge = issuer.badge(7)
    revoked = issuer.status_list({7})
    server = ListServer(revoked)
    assert (await _status(badge, server)).outcome is Outcome.FAIL  # revoked, list cached

    # someone "un-revokes" by swapping in an empty bitstring without re-signing
    forged = copy.deepcopy(revoked)
    forged["credentialSubject"]["encodedList"] = status_list.StatusList().encode()
    server.document = forged
    check = await _status(badge, server)
    assert check.outcome is Outcome.FAIL
    assert "STATUS_VERIFICATION_ERROR" in check.reason and "proof" in check.reason
    assert len(count_list_verifications) == 2
    # failures are never cached: the forged list is judged in full again
    assert (await _status(badge, server)).outcome is Outcome.FAIL
    assert len(count_list_verifications) == 3


async def test_a_list_whose_proof_expired_since_it_was_cached_fails() -> None:
    issuer = Issuer()
    badge = issuer.badge(7)
    server = ListServer(issuer.status_list(set(), expires="2025-02-01T00:00:00Z"))
    assert (await _status(badge, server)).outcome is Outcome.PASS
    later = datetime(2025, 3, 1, tzinfo=UTC)
    check = await _status(badge, server, now=later)
    assert check.outcome is Outcome.FAIL and "expired" in check.reason


async def test_the_same_list_content_signed_by_another_issuer_is_not_a_cache_hit() -> None:
    genuine, other = Issuer(), Issuer()
    server = ListServer(genuine.status_list(set()))
    assert (await _status(genuine.badge(7), server)).outcome is Outcome.PASS
    # another issuer's credential pointing at the same (cached) list: not its list
    check = await _status(other.badge(7), server)
    assert check.outcome is Outcome.FAIL and "STATUS_VERIFICATION_ERROR" in check.reason


def test_the_cache_is_bounded() -> None:
    cache = status_module.VerifiedListCache(max_entries=2)
    keys = [
        status_module._ListKey(bytes([i]) * 32, "did:example:i", vc_model.Policy(), None, ())
        for i in range(3)
    ]
    for key in keys:
        cache.put(key, None)
    assert len(cache) == 2
    assert not cache.get(keys[0], NOW)  # the least recently used went first
    assert cache.get(keys[1], NOW) and cache.get(keys[2], NOW)


# --- data loss for JCS documents -------------------------------------------------------------

_CTX = ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"]


def _documents() -> list[dict[str, Any]]:
    issuer = Issuer()
    good = issuer.badge(1)
    undefined_term = copy.deepcopy(good)
    undefined_term["credentialSubject"]["favouriteColour"] = "green"
    relative_iri = copy.deepcopy(good)
    relative_iri["credentialSubject"]["achievement"]["id"] = "achievements/1"
    unknown_context = copy.deepcopy(good)
    unknown_context["@context"].append("https://unknown.example/context.jsonld")
    undefined_type = copy.deepcopy(good)
    undefined_type["type"] = ["VerifiableCredential", "NotAType"]
    plain = {
        "@context": _CTX,
        "type": ["VerifiableCredential"],
        "issuer": "did:example:issuer",
        "credentialSubject": {"id": "did:example:s", "name": "A"},
    }
    return [good, undefined_term, relative_iri, unknown_context, undefined_type, plain]


@pytest.mark.parametrize("index", range(6))
def test_lossless_check_agrees_with_canonicalization(index: int) -> None:
    doc = _documents()[index]
    full = vc_model.check_jsonld(doc)
    cheap = vc_model.check_jsonld(doc, canonicalize=False)
    assert (full is None) == (cheap is None)
    if full is not None and cheap is not None:
        assert cheap.message == full.message
    assert (full is None) == (index in (0, 5))  # the two well-formed documents


async def test_undefined_term_in_a_jcs_credential_is_still_data_loss() -> None:
    issuer = Issuer()
    credential = obv3.build_achievement_credential(
        issuer=obv3.build_profile(issuer.did, "Example College"),
        subject_id="did:example:learner",
        achievement=obv3.build_achievement(
            achievement_id="https://college.example.edu/achievements/1",
            name="Data Literacy",
            description="Reads and questions data.",
            criteria_narrative="Completed the course.",
        ),
        valid_from="2024-09-01T00:00:00Z",
    )
    credential["credentialSubject"]["favouriteColour"] = "green"
    signed = issuer.sign(credential)  # a valid JCS signature over an undefined term
    report = await verify_credential(signed, resolver=DidResolver(offline=True), now=NOW)
    assert report.check("proof").outcome is Outcome.PASS
    jsonld = report.check("jsonld")
    assert jsonld.outcome is Outcome.FAIL
    assert "DATA_LOSS_DETECTION_ERROR" in jsonld.reason and "favouriteColour" in jsonld.reason
    assert not report.verified


# --- decoded bitstrings ----------------------------------------------------------------------


def test_decoded_lists_are_cached_and_errors_are_not() -> None:
    lst = status_list.StatusList()
    lst.set(99, 1)
    encoded = lst.encode()
    first = status_list.StatusList.decode(encoded)
    second = status_list.StatusList.decode(encoded)
    assert first.get(99) == second.get(99) == 1 and first.get(98) == 0
    second.set(98, 1)  # instances do not share the cached bytes
    assert status_list.StatusList.decode(encoded).get(98) == 0
    for _ in range(2):
        with pytest.raises(StatusListError, match="not valid GZIP"):
            status_list.StatusList.decode("u!!!not-base64")


def test_list_content_digest_tells_contents_apart_whatever_the_key_order() -> None:
    digest = status_module._content_digest
    a = {"id": "https://x.example/1", "credentialSubject": {"encodedList": "uH4sI", "b": [1, 2]}}
    reordered = {"credentialSubject": {"b": [1, 2], "encodedList": "uH4sI"}, "id": a["id"]}
    assert digest(a) == digest(reordered)
    changed = copy.deepcopy(a)
    changed["credentialSubject"]["b"] = [2, 1]
    assert digest(changed) != digest(a)
    # what orjson refuses still gets a digest (the standard encoder's), distinct from others
    odd = [{"v": "\ud800"}, {"v": 2**70}, {"v": 2**70 + 1}]
    digests = {digest(d) for d in odd}
    assert len(digests) == 3 and digest(a) not in digests
