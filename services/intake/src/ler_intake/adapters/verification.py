"""VerificationService over gRPC, acting for a provider (its verifier tenant and trust list).

Intake calls with its own service identity (``LER_VERIFICATION_API_KEY``) and names the
provider in ``verifier.tenant_id`` (the verification service's service-identity rule), so
each provider's trust list and challenges apply. Every call has a deadline; an unreachable or
slow service is ``VerificationUnavailable`` (the application then stays SUBMITTED).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime

import grpc
from google.protobuf.duration_pb2 import Duration
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import tenant_pb2 as tpb
from ler.verification.v1 import verification_service_pb2 as pb
from ler.verification.v1 import verification_service_pb2_grpc as pb_grpc
from ler_platform.grpc_server import bearer_metadata

from ler_intake.adapters.proto import evidence_from, from_ts, policy_to, report_from
from ler_intake.domain.application import CheckOutcome, Report
from ler_intake.domain.errors import VerificationUnavailable
from ler_intake.domain.model import VerificationPolicy
from ler_intake.service_layer.ports import IssuedChallenge, Verified

_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def _verified_flags(report: Report, count: int) -> list[bool]:
    """Per credential: no FAIL about it (``$.verifiableCredential[i]...``) nor about the whole
    presentation (``$`` — challenge, domain, replay, holder binding)."""
    whole = any(c.outcome is CheckOutcome.FAIL and c.target in ("$", "") for c in report.checks)
    flags = []
    for i in range(count):
        prefix = f"$.verifiableCredential[{i}]"
        own = any(
            c.outcome is CheckOutcome.FAIL and c.target.startswith(prefix) for c in report.checks
        )
        flags.append(not (whole or own))
    return flags


_COMPACT = re.compile(rb"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+~")


def format_of(data: bytes) -> int:
    """The format to declare to VerificationService: a JSON object is a Data Integrity
    document (``ldp_vc``); ``<jwt>~<disclosures>~[<kb-jwt>]`` is an SD-JWT VC (SD-JWT §4, with
    a Key Binding JWT for a presentation); anything else UNSPECIFIED, so that the service
    reports the syntax failure itself."""
    head = data.lstrip()
    if head.startswith(b"{"):
        return cpb.CREDENTIAL_FORMAT_LDP_VC
    if _COMPACT.match(head):
        return cpb.CREDENTIAL_FORMAT_SD_JWT_VC
    return cpb.CREDENTIAL_FORMAT_UNSPECIFIED


def embedded_credentials(presentation: bytes) -> list[str]:
    """The credentials of a JSON-LD presentation as JSON text, in order. An embedded
    credential is a JSON object inside the presentation; its Data Integrity proof covers its
    canonical form (JCS / RDFC), so this serialisation re-verifies alike."""
    try:
        doc = json.loads(presentation)
    except (ValueError, UnicodeDecodeError):
        return []
    items = doc.get("verifiableCredential", []) if isinstance(doc, dict) else []
    items = items if isinstance(items, list) else [items]
    return [item if isinstance(item, str) else json.dumps(item) for item in items]


class GrpcVerificationClient:
    """``VerificationClient`` on a gRPC channel (created and closed by the composition root)."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        api_key: str,
        *,
        timeout: float,
        challenge_ttl_seconds: int = 900,
    ) -> None:
        self._stub = pb_grpc.VerificationServiceStub(channel)
        self._metadata = tuple(bearer_metadata(api_key))
        self._timeout = timeout
        self._ttl = challenge_ttl_seconds

    def __repr__(self) -> str:  # the API key never appears in a repr
        return f"GrpcVerificationClient(timeout={self._timeout})"

    async def _call(self, method, request):  # type: ignore[no-untyped-def]
        try:
            return await method(request, metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as err:
            if err.code() in _RETRYABLE:
                raise VerificationUnavailable(
                    f"verification service unavailable: {err.code().name}"
                ) from err
            raise VerificationUnavailable(
                f"verification service refused the call: {err.code().name}: {err.details()}"
            ) from err

    @staticmethod
    def _verifier(verifier_id: str) -> tpb.TenantRef:
        return tpb.TenantRef(tenant_id=verifier_id, kind=tpb.TENANT_KIND_VERIFIER)

    async def create_challenge(self, verifier_id: str, domain: str) -> IssuedChallenge:
        """A challenge for the provider's domain."""
        resp = await self._call(
            self._stub.CreateChallenge,
            pb.CreateChallengeRequest(
                verifier=self._verifier(verifier_id), domain=domain, ttl=Duration(seconds=self._ttl)
            ),
        )
        expires = from_ts(resp, "expires_at")
        if expires is None:  # pragma: no cover - the service always sets it
            raise VerificationUnavailable("the challenge came without an expiry")
        return IssuedChallenge(resp.challenge, resp.domain, expires)

    async def verify_presentation(
        self,
        verifier_id: str,
        presentation: bytes,
        *,
        challenge: str,
        domain: str,
        policy: VerificationPolicy,
        trusted_issuer_ids: Sequence[str] = (),
    ) -> Verified:
        """Verify a presentation bound to ``challenge`` and ``domain``."""
        resp = await self._call(
            self._stub.VerifyPresentation,
            pb.VerifyPresentationRequest(
                verifier=self._verifier(verifier_id),
                presentation=presentation,
                format=format_of(presentation),  # type: ignore[arg-type]
                expected_challenge=challenge,
                expected_domain=domain,
                policy=policy_to(policy),
                trusted_issuer_ids=list(trusted_issuer_ids),
            ),
        )
        report = report_from(resp.report)
        texts = embedded_credentials(presentation)
        flags = _verified_flags(report, len(resp.credentials))
        evidence = tuple(
            evidence_from(s, verified=flags[i], signed=texts[i] if i < len(texts) else "")
            for i, s in enumerate(resp.credentials)
        )
        return Verified(report, evidence)

    async def verify_credential(
        self,
        verifier_id: str,
        credential: bytes,
        *,
        policy: VerificationPolicy,
        status_fresh_after: datetime | None = None,
        trusted_issuer_ids: Sequence[str] = (),
    ) -> Verified:
        """Verify one credential (share links, and re-verification after a status change)."""
        request = pb.VerifyCredentialRequest(
            verifier=self._verifier(verifier_id),
            credential=credential,
            format=format_of(credential),  # type: ignore[arg-type]
            policy=policy_to(policy),
            trusted_issuer_ids=list(trusted_issuer_ids),
        )
        if status_fresh_after is not None:
            request.status_fresh_after.FromDatetime(status_fresh_after)
        resp = await self._call(self._stub.VerifyCredential, request)
        report = report_from(resp.report)
        ok = not report.failures()
        evidence = (
            evidence_from(
                resp.credential, verified=ok, signed=credential.decode("utf-8", "replace")
            ),
        )
        return Verified(report, evidence)
