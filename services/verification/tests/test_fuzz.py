"""Fuzzing (issue 6): at least 50,000 random and mutated inputs through gRPC and HTTP, with a
fixed seed, produce no INTERNAL / 5xx and no crash; the service still answers afterwards.

Inputs start from real signed credentials and presentations (so mutations reach deep into
the proof, status and holder-binding code) and from random bytes; requests also get random
formats, policies, challenges and correlation ids.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
from collections import Counter
from typing import Any

import aiohttp
import grpc
import pytest
from ler.common.v1 import verification_report_pb2 as rpb
from ler.verification.v1 import verification_service_pb2 as pb
from vhelpers import Issuer, Party, Running, presentation, to_bytes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SEED = 20261128
GRPC_STREAM_INPUTS = 36_000
GRPC_UNARY_INPUTS = 4_000
HTTP_INPUTS = 10_000
DOMAIN = "jobs.acme.example"
ALLOWED_UNARY = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}

_WEIRD_STRINGS = [
    "",
    " ",
    "\u0000",
    "\ud7ff",
    "é",
    "👩‍🎓",
    "a" * 3000,
    "did:key:z6Mk",
    "did:web:",
    "did:jwk:e30",
    "urn:uuid:",
    "z",
    "u",
    "2024-13-45T99:99:99Z",
    "2024-01-01",
    "0x1",
    "-1",
    "NaN",
    "https://",
    "VerifiableCredential",
    "DataIntegrityProof",
    "eddsa-rdfc-2022",
    "eddsa-jcs-2022",
    "@context",
]


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 1, 2**53, -(2**63), 10**30, rng.randrange(-1000, 1000)])
    if choice == 3:
        return rng.choice([0.5, -0.0, 1e308, 1e-308, rng.random()])
    if choice in (4, 5):
        return rng.choice(_WEIRD_STRINGS)
    if choice == 6:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 7:
        return {
            rng.choice([*_WEIRD_STRINGS, "id", "type", "proof"]): _random_json(rng, depth + 1)
            for _ in range(rng.randrange(4))
        }
    return "x" * rng.randrange(1, 50)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, (*prefix, i))
    return found


def _mutate_tree(rng: random.Random, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randrange(1, 4)):
        paths = _paths(doc)
        path = rng.choice(paths[1:] or paths)
        if not path:
            return _random_json(rng)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        op = rng.randrange(4)
        if op == 0 and isinstance(parent, dict):
            del parent[key]
        elif op == 1 and isinstance(parent[key], str) and parent[key]:
            value = parent[key]
            i = rng.randrange(len(value))
            parent[key] = value[:i] + rng.choice("azZ09:/#.-_ é") + value[i + 1 :]
        elif op == 2:
            parent[key] = [parent[key], _random_json(rng)]
        else:
            parent[key] = _random_json(rng)
    return doc


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    op = rng.randrange(5)
    if op == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if op == 1:
        return data[: rng.randrange(len(data))] or b"{"
    if op == 2:
        buf = bytearray(data)
        for _ in range(rng.randrange(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf)
    if op == 3:
        i = rng.randrange(len(data))
        return (
            data[:i]
            + rng.choice([b"{", b"}", b"[", b'"', b"\\u0000", b",,", b"NaN", b"1e999999"])
            + data[i:]
        )
    return rng.choice(
        [
            b"a.b.c",
            b"e30.e30.",
            b"e30.e30.x~WyJhIl0~",
            b"[]",
            b"null",
            b"{}",
            b'"str"',
            b"1",
            b"\xef\xbb\xbf{}",
        ]
    )


class Corpus:
    """Seeds (real signed documents) and a fixed-seed generator of inputs from them."""

    def __init__(self, rng: random.Random, seeds: list[dict[str, Any]]) -> None:
        self.rng = rng
        self.seeds = seeds
        self.seed_bytes = [to_bytes(s) for s in seeds]

    def document(self) -> Any:
        return _mutate_tree(self.rng, self.rng.choice(self.seeds))

    def payload(self) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return to_bytes(self.document())
        if roll < 0.9:
            return _mutate_bytes(rng, rng.choice(self.seed_bytes))
        return rng.choice(self.seed_bytes)  # unmutated: the happy path stays in the mix

    def policy(self) -> rpb.VerificationPolicy:
        rng = self.rng
        return rpb.VerificationPolicy(
            allow_untrusted_issuers=rng.random() < 0.5,
            allow_expired=rng.random() < 0.5,
            allow_unreachable_status=rng.random() < 0.5,
            accept_vc_v1=rng.random() < 0.5,
            required_accreditations=rng.choice([[], ["x"], ["", "é" * 10]]),
        )

    def text(self) -> str:
        return self.rng.choice([*_WEIRD_STRINGS, "c-1", DOMAIN])

    def stream_item(self, i: int) -> pb.VerifyStreamRequest:
        rng = self.rng
        cid = str(i) if rng.random() < 0.97 else rng.choice(["", "dup", "x" * 300])
        fmt = rng.choice([0, 0, 0, 1, 2, 7])
        if rng.random() < 0.75:
            return pb.VerifyStreamRequest(
                correlation_id=cid,
                credential=pb.VerifyCredentialRequest(
                    credential=self.payload(), format=fmt, policy=self.policy()
                ),
            )  # type: ignore[arg-type]
        if rng.random() < 0.95:
            return pb.VerifyStreamRequest(
                correlation_id=cid,
                presentation=pb.VerifyPresentationRequest(
                    presentation=self.payload(),
                    format=fmt,
                    expected_challenge=self.text(),  # type: ignore[arg-type]
                    expected_domain=self.text(),
                    policy=self.policy(),
                ),
            )
        return pb.VerifyStreamRequest(correlation_id=cid)


async def _stream(service: Running, corpus: Corpus, count: int, tally: Counter[str]) -> None:
    batch = 2000
    for start in range(0, count, batch):
        items = [corpus.stream_item(i) for i in range(start, min(start + batch, count))]

        async def requests(items: list[pb.VerifyStreamRequest] = items):  # type: ignore[no-untyped-def]
            for item in items:
                yield item

        answered = 0
        async for response in service.stub.VerifyStream(requests(), metadata=service.metadata):
            answered += 1
            which = response.WhichOneof("result")
            tally[f"stream.{which}"] += 1
            if which == "error":
                assert response.error.reason != "INTERNAL", response
        assert answered == len(items)


async def _unary(service: Running, corpus: Corpus, count: int, tally: Counter[str]) -> None:
    sem = asyncio.Semaphore(16)

    async def one(request: Any, call: Any) -> None:
        async with sem:
            try:
                await call(request, metadata=service.metadata)
                code = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as err:
                code = err.code()
            assert code in ALLOWED_UNARY, (code, request)
            tally[f"unary.{code.name}"] += 1

    calls = []
    for _ in range(count):
        item = corpus.stream_item(0)
        if item.WhichOneof("item") == "presentation":
            calls.append(one(item.presentation, service.stub.VerifyPresentation))
        else:
            calls.append(one(item.credential, service.stub.VerifyCredential))
    await asyncio.gather(*calls)


def _http_body(corpus: Corpus) -> tuple[str, bytes]:
    rng = corpus.rng
    path = rng.choice(
        ["/credentials/verify", "/credentials/verify", "/presentations/verify", "/challenges"]
    )
    roll = rng.random()
    if roll < 0.08:  # the happy path stays in the mix
        return "/credentials/verify", json.dumps(
            {"verifiableCredential": rng.choice(corpus.seeds[:2])}
        ).encode()
    if roll < 0.5:
        key = (
            "verifiablePresentation" if path == "/presentations/verify" else "verifiableCredential"
        )
        body: Any = {
            key: corpus.document(),
            "options": {"challenge": corpus.text(), "domain": corpus.text()},
        }
        if rng.random() < 0.3:
            body = _mutate_tree(rng, body)
        return path, json.dumps(body).encode()
    if roll < 0.8:
        return path, _mutate_bytes(
            rng, json.dumps({"verifiableCredential": rng.choice(corpus.seeds)}).encode()
        )
    return path, json.dumps(_random_json(rng)).encode()


async def _http(service: Running, corpus: Corpus, count: int, tally: Counter[str]) -> None:
    sem = asyncio.Semaphore(16)
    headers = {"Authorization": f"Bearer {service.api_key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(path: str, body: bytes) -> None:
            async with (
                sem,
                session.post(service.http_base + path, data=body, headers=headers) as response,
            ):
                text = await response.text()
                assert response.status < 500, (response.status, path, text[:300])
                if response.status >= 400:
                    assert response.content_type == "application/problem+json"
                tally[f"http.{response.status}"] += 1

        await asyncio.gather(*(one(*_http_body(corpus)) for _ in range(count)))


async def test_fuzz_grpc_and_http(service: Running, issuer: Issuer) -> None:
    rng = random.Random(SEED)
    holder = Party.new()
    nonce = (
        await service.stub.CreateChallenge(
            pb.CreateChallengeRequest(domain=DOMAIN), metadata=service.metadata
        )
    ).challenge
    badge = issuer.badge(holder.did, index=60)
    rdfc = issuer.badge(holder.did, index=61, cryptosuite="eddsa-rdfc-2022")
    vp = presentation(holder, [badge], challenge=nonce, domain=DOMAIN)
    corpus = Corpus(rng, [badge, rdfc, vp])
    tally: Counter[str] = Counter()
    started = time.monotonic()
    await _stream(service, corpus, GRPC_STREAM_INPUTS, tally)
    await _unary(service, corpus, GRPC_UNARY_INPUTS, tally)
    await _http(service, corpus, HTTP_INPUTS, tally)
    elapsed = time.monotonic() - started
    total = sum(tally.values())
    print(f"fuzz: {total} inputs in {elapsed:.0f}s: {dict(sorted(tally.items()))}")
    assert total == GRPC_STREAM_INPUTS + GRPC_UNARY_INPUTS + HTTP_INPUTS >= 50_000
    # the mix really exercised both outcomes
    assert (
        tally["stream.credential"] > 1000 and tally["stream.error"] > 100 and tally["http.200"] > 10
    )
    # still healthy and still right after the storm
    report = (
        await service.stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential=to_bytes(badge)), metadata=service.metadata
        )
    ).report
    assert report.verdict == rpb.VERDICT_VERIFIED_WITH_WARNINGS
