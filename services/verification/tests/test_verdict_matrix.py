"""The verdict matrix (issue 6), through gRPC against the service started in-process (SQLite).

Credentials are signed with ler_crypto by did:key issuers; status lists are served over
HTTPS by a local document server the verifier is allowed to reach (loopback, tests only).
Each row names the check that must fail and the error code it must carry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from ler.common.v1 import credential_pb2, tenant_pb2
from ler.common.v1 import verification_report_pb2 as rpb
from ler.verification.v1 import verification_service_pb2 as pb
from ler_crypto.sdjwt import Sd, create_presentation, issue_sd_jwt_vc
from ler_verification.domain.model import TenantKind
from vhelpers import DocumentServer, Issuer, Party, Running, presentation, to_bytes

VERIFIED, WARNINGS, FAILED = (
    rpb.VERDICT_VERIFIED,
    rpb.VERDICT_VERIFIED_WITH_WARNINGS,
    rpb.VERDICT_FAILED,
)
FAIL, PASS, WARNING = rpb.CHECK_OUTCOME_FAIL, rpb.CHECK_OUTCOME_PASS, rpb.CHECK_OUTCOME_WARNING
DOMAIN = "jobs.acme.example"


def failed(report: rpb.VerificationReport) -> dict[str, str]:
    return {c.id: c.error_code for c in report.checks if c.outcome == FAIL}


def outcome(report: rpb.VerificationReport, check_id: str) -> int:
    found = [c.outcome for c in report.checks if c.id == check_id]
    assert found, f"no {check_id} check in {[c.id for c in report.checks]}"
    return found[0]


async def trust(service: Running, issuer_id: str) -> None:
    await service.stub.PutTrustedIssuer(
        pb.PutTrustedIssuerRequest(
            issuer=pb.TrustedIssuer(issuer_id=issuer_id, name="Example College")
        ),
        metadata=service.metadata,
    )


async def verify_vc(service: Running, doc: Any, **policy: Any) -> pb.VerifyCredentialResponse:
    return await service.stub.VerifyCredential(
        pb.VerifyCredentialRequest(
            credential=to_bytes(doc), policy=rpb.VerificationPolicy(**policy)
        ),
        metadata=service.metadata,
    )


async def challenge(service: Running, domain: str = DOMAIN) -> str:
    response = await service.stub.CreateChallenge(
        pb.CreateChallengeRequest(domain=domain), metadata=service.metadata
    )
    return response.challenge


async def verify_vp(
    service: Running, vp: Any, nonce: str, domain: str = DOMAIN
) -> pb.VerifyPresentationResponse:
    return await service.stub.VerifyPresentation(
        pb.VerifyPresentationRequest(
            presentation=to_bytes(vp), expected_challenge=nonce, expected_domain=domain
        ),
        metadata=service.metadata,
    )


# --- credential rows ---------------------------------------------------------------------------


def _tampered_claim(issuer: Issuer, holder: Party) -> dict[str, Any]:
    doc = issuer.badge(holder.did, index=11)
    doc["credentialSubject"]["achievement"]["name"] = "Brain Surgery"
    return doc


def _tampered_proof(issuer: Issuer, holder: Party) -> dict[str, Any]:
    doc = issuer.badge(holder.did, index=12)
    value = doc["proof"]["proofValue"]
    doc["proof"]["proofValue"] = value[:-4] + ("2222" if value[-4:] != "2222" else "3333")
    return doc


def _wrong_key(issuer: Issuer, holder: Party) -> dict[str, Any]:
    # signed by another key while claiming the issuer's verification method
    impostor = Party.new()
    return issuer.badge(
        holder.did, index=13, signer=Party(impostor.key, issuer.party.did, issuer.party.vm)
    )


def _signed_by_other_did(issuer: Issuer, holder: Party) -> dict[str, Any]:
    return issuer.badge(holder.did, index=14, signer=Party.new())


def _unknown_did(issuer: Issuer, holder: Party) -> dict[str, Any]:
    # did:web on the document server, which has no did.json for it (404)
    host = f"127.0.0.1%3A{issuer.server.port}"
    ghost = Party(Party.new().key, f"did:web:{host}:nobody", f"did:web:{host}:nobody#key-1")
    return Issuer(ghost, issuer.server).badge(holder.did, index=15)


def _expired(issuer: Issuer, holder: Party) -> dict[str, Any]:
    return issuer.badge(
        holder.did, index=16, valid_from="2020-01-01T00:00:00Z", valid_until="2021-01-01T00:00:00Z"
    )


def _not_yet_valid(issuer: Issuer, holder: Party) -> dict[str, Any]:
    return issuer.badge(holder.did, index=17, valid_from="2099-01-01T00:00:00Z")


def _revoked(issuer: Issuer, holder: Party) -> dict[str, Any]:
    issuer.revoked.add(18)
    issuer.publish_lists()
    return issuer.badge(holder.did, index=18)


def _suspended(issuer: Issuer, holder: Party) -> dict[str, Any]:
    issuer.suspended.add(19)
    issuer.publish_lists()
    return issuer.badge(holder.did, index=19)


def _bad_status_list_signature(issuer: Issuer, holder: Party) -> dict[str, Any]:
    issuer.publish_lists(tamper=True)
    return issuer.badge(holder.did, index=20)


@dataclass(frozen=True)
class Row:
    name: str
    build: Callable[[Issuer, Party], dict[str, Any]]
    failing_check: str
    error_code: str


CREDENTIAL_ROWS = [
    Row("tampered claim", _tampered_claim, "proof", "PROOF_VERIFICATION_ERROR"),
    Row("tampered proof", _tampered_proof, "proof", "PROOF_VERIFICATION_ERROR"),
    Row("wrong key", _wrong_key, "proof", "PROOF_VERIFICATION_ERROR"),
    Row(
        "signed by a DID other than the issuer",
        _signed_by_other_did,
        "issuer.resolution",
        "ISSUER_RESOLUTION_ERROR",
    ),
    Row("unknown DID", _unknown_did, "issuer.resolution", "ISSUER_RESOLUTION_ERROR"),
    Row("expired", _expired, "validity.window", "CREDENTIAL_EXPIRED"),
    Row("not yet valid", _not_yet_valid, "validity.window", "CREDENTIAL_NOT_YET_VALID"),
    Row("revoked", _revoked, "status.revocation", "CREDENTIAL_REVOKED"),
    Row("suspended", _suspended, "status.suspension", "CREDENTIAL_SUSPENDED"),
    Row(
        "bad status list signature",
        _bad_status_list_signature,
        "status.revocation",
        "STATUS_VERIFICATION_ERROR",
    ),
]


async def test_valid_credential_from_a_trusted_issuer_is_verified(
    service: Running, issuer: Issuer
) -> None:
    await trust(service, issuer.party.did)
    holder = Party.new()
    response = await verify_vc(service, issuer.badge(holder.did, index=10))
    report = response.report
    assert report.verdict == VERIFIED, [(c.id, c.outcome, c.reason) for c in report.checks]
    for check_id in (
        "syntax",
        "schema",
        "proof",
        "issuer.resolution",
        "issuer.trust",
        "validity.window",
        "status.revocation",
        "status.suspension",
    ):
        assert outcome(report, check_id) == PASS, check_id
    assert report.verification_id and report.verified_at.seconds > 0
    assert response.credential.issuer_id == issuer.party.did
    assert response.credential.subject_id == holder.did
    assert response.credential.achievement_name == "Data Literacy"


@pytest.mark.parametrize("row", CREDENTIAL_ROWS, ids=lambda r: r.name)
async def test_credential_matrix(service: Running, issuer: Issuer, row: Row) -> None:
    await trust(service, issuer.party.did)
    response = await verify_vc(service, row.build(issuer, Party.new()))
    report = response.report
    failures = failed(report)
    assert report.verdict == FAILED, [(c.id, c.outcome, c.reason) for c in report.checks]
    assert row.failing_check in failures, failures
    assert failures[row.failing_check] == row.error_code, failures
    reason = next(c.reason for c in report.checks if c.id == row.failing_check)
    assert reason  # a person can read why


async def test_untrusted_issuer_fails_against_a_list_and_warns_without_one(
    service: Running, issuer: Issuer
) -> None:
    doc = issuer.badge(Party.new().did, index=21)
    no_list = (await verify_vc(service, doc)).report
    assert no_list.verdict == WARNINGS and outcome(no_list, "issuer.trust") == WARNING

    await trust(service, "did:web:another-college.example")
    listed = (await verify_vc(service, doc)).report
    assert listed.verdict == FAILED and failed(listed) == {"issuer.trust": "UNTRUSTED_ISSUER"}

    tolerated = (await verify_vc(service, doc, allow_untrusted_issuers=True)).report
    assert tolerated.verdict == WARNINGS and outcome(tolerated, "issuer.trust") == WARNING


async def test_issuers_trusted_for_one_call_add_to_the_list(
    service: Running, issuer: Issuer
) -> None:
    doc = issuer.badge(Party.new().did, index=22)

    async def verify(extra: list[str], **policy: Any) -> rpb.VerificationReport:
        response = await service.stub.VerifyCredential(
            pb.VerifyCredentialRequest(
                credential=to_bytes(doc),
                policy=rpb.VerificationPolicy(**policy),
                trusted_issuer_ids=extra,
            ),
            metadata=service.metadata,
        )
        return response.report

    # no list: the call's own trusted issuers are the list, so trust passes (a clean verdict)
    named = await verify([issuer.party.did])
    assert outcome(named, "issuer.trust") == PASS and named.verdict == rpb.VERDICT_VERIFIED
    other = await verify(["did:web:another-college.example"])
    assert failed(other) == {"issuer.trust": "UNTRUSTED_ISSUER"}
    # with a list, they add to it
    await trust(service, "did:web:another-college.example")
    assert outcome(await verify([issuer.party.did]), "issuer.trust") == PASS
    assert outcome(await verify([]), "issuer.trust") == FAIL
    # accreditation policies need the list's labels: names given per call do not carry any
    accredited = await verify([issuer.party.did], required_accreditations=["state-licensed"])
    assert outcome(accredited, "issuer.trust") == FAIL
    for bad, field in (
        (["x" * 1025], "trusted_issuer_ids[0]"),
        ([""], "trusted_issuer_ids[0]"),
        ([f"did:web:{i}.example" for i in range(101)], "trusted_issuer_ids"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await verify(bad)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (caught.value.details() or "")


async def test_required_accreditation_is_enforced(service: Running, issuer: Issuer) -> None:
    await service.stub.PutTrustedIssuer(
        pb.PutTrustedIssuerRequest(
            issuer=pb.TrustedIssuer(
                issuer_id=issuer.party.did, accreditations=["regionally-accredited"]
            )
        ),
        metadata=service.metadata,
    )
    doc = issuer.badge(Party.new().did, index=22)
    ok = (await verify_vc(service, doc, required_accreditations=["regionally-accredited"])).report
    assert ok.verdict == VERIFIED
    missing = (await verify_vc(service, doc, required_accreditations=["state-licensed"])).report
    assert "issuer.trust" in failed(missing)


async def test_expired_is_a_warning_when_the_policy_allows_it(
    service: Running, issuer: Issuer
) -> None:
    await trust(service, issuer.party.did)
    report = (await verify_vc(service, _expired(issuer, Party.new()), allow_expired=True)).report
    assert report.verdict == WARNINGS and outcome(report, "validity.window") == WARNING


async def test_revoked_stays_failed_whatever_the_policy(service: Running, issuer: Issuer) -> None:
    await trust(service, issuer.party.did)
    report = (
        await verify_vc(
            service,
            _revoked(issuer, Party.new()),
            allow_untrusted_issuers=True,
            allow_expired=True,
            allow_unreachable_status=True,
        )
    ).report
    assert failed(report) == {"status.revocation": "CREDENTIAL_REVOKED"}


async def test_unreachable_status_list(
    service: Running, issuer: Issuer, docs: DocumentServer
) -> None:
    await trust(service, issuer.party.did)
    doc = issuer.badge(Party.new().did, index=23)
    docs.documents.clear()  # the issuer's lists are gone (404)
    strict = (await verify_vc(service, doc)).report
    assert failed(strict).get("status.revocation") == "STATUS_RETRIEVAL_ERROR"
    lenient = (await verify_vc(service, doc, allow_unreachable_status=True)).report
    assert lenient.verdict == WARNINGS


# --- presentation rows -------------------------------------------------------------------------


async def test_valid_presentation_then_its_replay(service: Running, issuer: Issuer) -> None:
    await trust(service, issuer.party.did)
    holder = Party.new()
    nonce = await challenge(service)
    vp = presentation(holder, [issuer.badge(holder.did, index=30)], challenge=nonce, domain=DOMAIN)

    first = await verify_vp(service, vp, nonce)
    assert first.report.verdict == VERIFIED, [
        (c.id, c.outcome, c.reason) for c in first.report.checks
    ]
    assert outcome(first.report, "holder.binding") == PASS
    assert outcome(first.report, "presentation.replay") == PASS
    assert first.holder_id == holder.did and len(first.credentials) == 1
    nested = [c for c in first.report.checks if c.target == "$.verifiableCredential[0]"]
    assert {"proof", "status.revocation"} <= {c.id for c in nested}

    replay = await verify_vp(service, vp, nonce)
    assert replay.report.verdict == FAILED
    assert failed(replay.report) == {"presentation.replay": "CHALLENGE_REPLAYED"}


async def test_wrong_domain(service: Running, issuer: Issuer) -> None:
    await trust(service, issuer.party.did)
    holder = Party.new()
    nonce = await challenge(service)
    vp = presentation(
        holder, [issuer.badge(holder.did, index=31)], challenge=nonce, domain="evil.example"
    )
    report = (await verify_vp(service, vp, nonce)).report
    assert report.verdict == FAILED
    assert failed(report).get("presentation.domain") == "INVALID_DOMAIN_ERROR"
    assert outcome(report, "presentation.challenge") == PASS


async def test_challenge_not_issued_here_or_for_another_domain(
    service: Running, issuer: Issuer
) -> None:
    holder = Party.new()
    vp = presentation(
        holder, [issuer.badge(holder.did, index=32)], challenge="made-up", domain=DOMAIN
    )
    assert (
        failed((await verify_vp(service, vp, "made-up")).report)["presentation.replay"]
        == "UNKNOWN_CHALLENGE"
    )

    nonce = await challenge(service, "other.example")
    vp = presentation(holder, [issuer.badge(holder.did, index=33)], challenge=nonce, domain=DOMAIN)
    assert (
        failed((await verify_vp(service, vp, nonce)).report)["presentation.replay"]
        == "CHALLENGE_DOMAIN_MISMATCH"
    )


async def test_wrong_challenge_in_the_proof(service: Running, issuer: Issuer) -> None:
    holder = Party.new()
    nonce = await challenge(service)
    vp = presentation(
        holder, [issuer.badge(holder.did, index=34)], challenge="something-else", domain=DOMAIN
    )
    report = (await verify_vp(service, vp, nonce)).report
    assert failed(report).get("presentation.challenge") == "INVALID_CHALLENGE_ERROR"


async def test_holder_not_subject(service: Running, issuer: Issuer) -> None:
    await trust(service, issuer.party.did)
    subject, presenter = Party.new(), Party.new()
    nonce = await challenge(service)
    vp = presentation(
        presenter, [issuer.badge(subject.did, index=35)], challenge=nonce, domain=DOMAIN
    )
    report = (await verify_vp(service, vp, nonce)).report
    assert report.verdict == FAILED
    assert failed(report) == {"holder.binding": "HOLDER_BINDING_ERROR"}


async def test_challenge_of_another_verifier_is_unknown(service: Running, issuer: Issuer) -> None:
    _, other_key = await service.new_verifier()
    theirs = await service.stub.CreateChallenge(
        pb.CreateChallengeRequest(domain=DOMAIN),
        metadata=(("authorization", f"Bearer {other_key}"),),
    )
    holder = Party.new()
    vp = presentation(
        holder, [issuer.badge(holder.did, index=36)], challenge=theirs.challenge, domain=DOMAIN
    )
    report = (await verify_vp(service, vp, theirs.challenge)).report
    assert failed(report)["presentation.replay"] == "UNKNOWN_CHALLENGE"


# --- RPC errors the contract names ------------------------------------------------------------


async def _code(call: Awaitable[Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code()


async def test_rpc_errors(service: Running) -> None:
    md = service.metadata
    stub = service.stub
    assert (
        await _code(stub.VerifyCredential(pb.VerifyCredentialRequest(), metadata=md))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    big = pb.VerifyCredentialRequest(credential=b"{" + b" " * (1024 * 1024 + 1))
    assert await _code(stub.VerifyCredential(big, metadata=md)) == grpc.StatusCode.INVALID_ARGUMENT
    no_challenge = pb.VerifyPresentationRequest(presentation=b"{}", expected_domain=DOMAIN)
    assert (
        await _code(stub.VerifyPresentation(no_challenge, metadata=md))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        await _code(stub.CreateChallenge(pb.CreateChallengeRequest(), metadata=md))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    assert (
        await _code(stub.VerifyCredential(pb.VerifyCredentialRequest(credential=b"{}")))
        == grpc.StatusCode.UNAUTHENTICATED
    )
    bad_key = (("authorization", "Bearer nope"),)
    assert (
        await _code(
            stub.VerifyCredential(pb.VerifyCredentialRequest(credential=b"{}"), metadata=bad_key)
        )
        == grpc.StatusCode.UNAUTHENTICATED
    )
    other = pb.VerifyCredentialRequest(
        credential=b"{}", verifier=tenant_pb2.TenantRef(tenant_id="someone-else")
    )
    assert (
        await _code(stub.VerifyCredential(other, metadata=md)) == grpc.StatusCode.PERMISSION_DENIED
    )
    remove = pb.RemoveTrustedIssuerRequest(issuer_id="did:web:nowhere.example")
    assert await _code(stub.RemoveTrustedIssuer(remove, metadata=md)) == grpc.StatusCode.NOT_FOUND
    bad_issuer = pb.PutTrustedIssuerRequest(issuer=pb.TrustedIssuer(issuer_id="not a did"))
    assert (
        await _code(stub.PutTrustedIssuer(bad_issuer, metadata=md))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_garbage_is_a_failed_report_not_an_error(service: Running) -> None:
    for garbage in (b"not json", b'{"a": NaN}', b"\xff\xfe", b"[1,2]", b"a.b.c", b"{" * 5000):
        report = (
            await service.stub.VerifyCredential(
                pb.VerifyCredentialRequest(credential=garbage), metadata=service.metadata
            )
        ).report
        assert report.verdict == FAILED and "syntax" in failed(report), garbage[:20]


async def test_trust_list_crud_and_paging(service: Running) -> None:
    md = service.metadata
    for i in range(5):
        labels = ["regionally-accredited"] if i % 2 == 0 else []
        put = await service.stub.PutTrustedIssuer(
            pb.PutTrustedIssuerRequest(
                issuer=pb.TrustedIssuer(
                    issuer_id=f"did:web:college{i}.example", accreditations=labels
                )
            ),
            metadata=md,
        )
        assert put.created and put.issuer.updated_at.seconds > 0
    again = await service.stub.PutTrustedIssuer(
        pb.PutTrustedIssuerRequest(
            issuer=pb.TrustedIssuer(issuer_id="did:web:college1.example", name="Renamed")
        ),
        metadata=md,
    )
    assert not again.created
    seen, token = [], ""
    while True:
        page = await service.stub.ListTrustedIssuers(
            pb.ListTrustedIssuersRequest(page={"page_size": 2, "page_token": token}), metadata=md
        )
        seen += [i.issuer_id for i in page.issuers]
        token = page.page.next_page_token
        if not token:
            break
    assert seen == [f"did:web:college{i}.example" for i in range(5)]
    accredited = await service.stub.ListTrustedIssuers(
        pb.ListTrustedIssuersRequest(accreditation="regionally-accredited"), metadata=md
    )
    assert [i.issuer_id for i in accredited.issuers] == [
        f"did:web:college{i}.example" for i in (0, 2, 4)
    ]
    await service.stub.RemoveTrustedIssuer(
        pb.RemoveTrustedIssuerRequest(issuer_id="did:web:college0.example"), metadata=md
    )
    rest = await service.stub.ListTrustedIssuers(pb.ListTrustedIssuersRequest(), metadata=md)
    assert len(rest.issuers) == 4
    # another verifier's list is its own
    _, other_key = await service.new_verifier()
    theirs = await service.stub.ListTrustedIssuers(
        pb.ListTrustedIssuersRequest(), metadata=(("authorization", f"Bearer {other_key}"),)
    )
    assert list(theirs.issuers) == []
    bad_token = pb.ListTrustedIssuersRequest(page={"page_token": "!!"})
    assert (
        await _code(service.stub.ListTrustedIssuers(bad_token, metadata=md))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


async def test_concurrent_uses_of_one_challenge_admit_exactly_one(
    service: Running, issuer: Issuer
) -> None:
    holder = Party.new()
    nonce = await challenge(service)
    vp = presentation(holder, [issuer.badge(holder.did, index=37)], challenge=nonce, domain=DOMAIN)
    results = await asyncio.gather(*(verify_vp(service, vp, nonce) for _ in range(8)))
    replay = [outcome(r.report, "presentation.replay") for r in results]
    assert replay.count(PASS) == 1 and replay.count(FAIL) == 7


async def test_sd_jwt_vc_credential_and_key_bound_presentation(service: Running) -> None:
    issuer, holder = Party.new(), Party.new()
    issued = issue_sd_jwt_vc(
        issuer=issuer.did,
        vct="urn:ler:badge",
        signer=issuer.key,
        holder_key=holder.key.public_key,
        kid=issuer.vm,
        claims={
            "sub": holder.did,
            "issuer_name": "Example College",
            "achievement": Sd(
                {
                    "type": ["Achievement"],
                    "name": "Data Literacy",
                    "achievementType": "Certificate",
                    "alignment": [
                        {
                            "type": ["Alignment"],
                            "targetName": "SQL",
                            "targetCode": "S4.5.6",
                            "targetFramework": "Example Skills",
                            "targetUrl": "https://skills.example/S4.5.6",
                        }
                    ],
                }
            ),
            "grade": Sd("A"),
        },
        nbf=1_700_000_000,
    )
    response = await service.stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=issued.encode()), metadata=service.metadata
    )
    assert response.report.verdict != FAILED, [(c.id, c.reason) for c in response.report.checks]
    assert outcome(response.report, "proof") == PASS
    # the summary of an SD-JWT VC is read from its disclosed claims
    summary = response.credential
    assert summary.format == credential_pb2.CREDENTIAL_FORMAT_SD_JWT_VC
    assert summary.kind == credential_pb2.CREDENTIAL_KIND_ACHIEVEMENT
    assert (summary.issuer_id, summary.issuer_name, summary.subject_id) == (
        issuer.did,
        "Example College",
        holder.did,
    )
    assert list(summary.types) == ["urn:ler:badge"]
    assert summary.achievement_name == "Data Literacy"
    assert summary.achievement_type == credential_pb2.ACHIEVEMENT_TYPE_CERTIFICATE
    assert [(k.label, k.code, k.framework) for k in summary.skills] == [
        ("SQL", "S4.5.6", "Example Skills")
    ]
    assert summary.valid_from.seconds == 1_700_000_000
    assert summary.credential_id.startswith("urn:sd-jwt:sha-256:")

    # what the holder does not disclose is not in the summary
    nonce = await challenge(service)
    hidden = create_presentation(
        issued, disclose=[], holder=holder.key, audience=DOMAIN, nonce=nonce
    )
    bare = await service.stub.VerifyPresentation(
        pb.VerifyPresentationRequest(
            presentation=hidden.encode(), expected_challenge=nonce, expected_domain=DOMAIN
        ),
        metadata=service.metadata,
    )
    assert bare.report.verdict != FAILED, [(c.id, c.reason) for c in bare.report.checks]
    [shown_summary] = bare.credentials
    assert shown_summary.issuer_id == issuer.did
    assert shown_summary.kind == credential_pb2.CREDENTIAL_KIND_OTHER
    assert shown_summary.achievement_name == "" and list(shown_summary.skills) == []
    assert shown_summary.credential_id == summary.credential_id  # same token, same id

    nonce = await challenge(service)
    shown = create_presentation(
        issued, disclose=["achievement"], holder=holder.key, audience=DOMAIN, nonce=nonce
    )
    request = pb.VerifyPresentationRequest(
        presentation=shown.encode(),
        expected_challenge=nonce,
        expected_domain=DOMAIN,
        format=credential_pb2.CREDENTIAL_FORMAT_SD_JWT_VC,
    )
    first = await service.stub.VerifyPresentation(request, metadata=service.metadata)
    assert first.report.verdict != FAILED, [(c.id, c.reason) for c in first.report.checks]
    assert outcome(first.report, "holder.binding") == PASS
    [disclosed] = first.credentials
    assert disclosed.achievement_name == "Data Literacy"
    assert [k.code for k in disclosed.skills] == ["S4.5.6"]
    # a forged signature: no summary of claims nobody vouches for
    head, payload, sig = issued.split("~")[0].split(".")
    forged = ".".join([head, payload, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")])
    bad = await service.stub.VerifyCredential(
        pb.VerifyCredentialRequest(credential=(forged + "~" + issued.split("~", 1)[1]).encode()),
        metadata=service.metadata,
    )
    assert outcome(bad.report, "proof") != PASS and not bad.HasField("credential")
    replay = await service.stub.VerifyPresentation(request, metadata=service.metadata)
    assert failed(replay.report) == {"presentation.replay": "CHALLENGE_REPLAYED"}


async def test_declared_format_must_match_the_input(service: Running, issuer: Issuer) -> None:
    request = pb.VerifyCredentialRequest(
        credential=to_bytes(issuer.badge(Party.new().did, index=38)),
        format=credential_pb2.CREDENTIAL_FORMAT_SD_JWT_VC,
    )
    report = (await service.stub.VerifyCredential(request, metadata=service.metadata)).report
    assert failed(report) == {"syntax": "PARSING_ERROR"}


async def test_a_service_identity_acts_for_the_verifier_it_names(
    service: Running, issuer: Issuer
) -> None:
    await trust(service, issuer.party.did)  # the verifier's own list
    _, intake_key = await service.new_verifier(TenantKind.SERVICE)
    intake = (("authorization", f"Bearer {intake_key}"),)
    doc = to_bytes(issuer.badge(Party.new().did, index=39))
    for_verifier = pb.VerifyCredentialRequest(
        credential=doc, verifier=tenant_pb2.TenantRef(tenant_id=service.verifier_id)
    )
    report = (await service.stub.VerifyCredential(for_verifier, metadata=intake)).report
    assert report.verdict == VERIFIED  # the named verifier's trust list applied
    anonymous = pb.VerifyCredentialRequest(credential=doc)
    code = await _code(service.stub.VerifyCredential(anonymous, metadata=intake))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
