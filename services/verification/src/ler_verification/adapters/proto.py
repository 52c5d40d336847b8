"""Domain ↔ protobuf mapping: reports, checks, events and formats (``ler.common.v1``)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from ler.common.v1 import credential_pb2, verification_report_pb2
from ler.verification.v1 import events_pb2

from ler_verification.domain.events import Format, Kind, VerificationCompleted
from ler_verification.domain.report import Outcome, Policy, Report, Verdict

OUTCOMES = {
    Outcome.PASS: verification_report_pb2.CHECK_OUTCOME_PASS,
    Outcome.FAIL: verification_report_pb2.CHECK_OUTCOME_FAIL,
    Outcome.WARNING: verification_report_pb2.CHECK_OUTCOME_WARNING,
    Outcome.SKIPPED: verification_report_pb2.CHECK_OUTCOME_SKIPPED,
}
VERDICTS = {
    Verdict.VERIFIED: verification_report_pb2.VERDICT_VERIFIED,
    Verdict.VERIFIED_WITH_WARNINGS: verification_report_pb2.VERDICT_VERIFIED_WITH_WARNINGS,
    Verdict.FAILED: verification_report_pb2.VERDICT_FAILED,
}
FORMATS = {
    Format.UNKNOWN: credential_pb2.CREDENTIAL_FORMAT_UNSPECIFIED,
    Format.LDP_VC: credential_pb2.CREDENTIAL_FORMAT_LDP_VC,
    Format.SD_JWT_VC: credential_pb2.CREDENTIAL_FORMAT_SD_JWT_VC,
}
FORMATS_FROM_PROTO = {v: k for k, v in FORMATS.items()}
KINDS = {
    Kind.CREDENTIAL: events_pb2.VERIFIED_KIND_CREDENTIAL,
    Kind.PRESENTATION: events_pb2.VERIFIED_KIND_PRESENTATION,
}


def timestamp(moment: datetime) -> Timestamp:
    """A protobuf Timestamp."""
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def report_to_proto(
    report: Report, *, verification_id: str, verified_at: datetime
) -> verification_report_pb2.VerificationReport:
    """``ler.common.v1.VerificationReport``."""
    return verification_report_pb2.VerificationReport(
        verdict=VERDICTS[report.verdict],
        checks=[
            verification_report_pb2.Check(
                id=c.id,
                title=c.title,
                outcome=OUTCOMES[c.outcome],
                reason=c.reason,
                error_code=c.error_code,
                target=c.target,
            )
            for c in report.checks
        ],
        verified_at=timestamp(verified_at),
        verification_id=verification_id,
    )


def policy_from_proto(policy: verification_report_pb2.VerificationPolicy) -> Policy:
    """The domain policy (an unset message is the strictest one)."""
    return Policy(
        allow_untrusted_issuers=policy.allow_untrusted_issuers,
        allow_expired=policy.allow_expired,
        allow_unreachable_status=policy.allow_unreachable_status,
        accept_vc_v1=policy.accept_vc_v1,
        required_accreditations=tuple(policy.required_accreditations),
    )


def event_to_proto(event: VerificationCompleted) -> events_pb2.VerificationCompleted:
    """``ler.verification.v1.VerificationCompleted``."""
    duration = Duration()
    duration.FromTimedelta(event.duration)
    return events_pb2.VerificationCompleted(
        verification_id=event.verification_id,
        verifier_id=event.verifier_id,
        kind=KINDS[event.kind],
        format=FORMATS[event.format],
        verdict=VERDICTS[event.verdict],
        checks=[
            events_pb2.CheckSummary(id=c.id, outcome=OUTCOMES[c.outcome], error_code=c.error_code)
            for c in event.checks
        ],
        issuer_ids=list(event.issuer_ids),
        credential_count=event.credential_count,
        completed_at=timestamp(event.completed_at),
        duration=duration,
    )
