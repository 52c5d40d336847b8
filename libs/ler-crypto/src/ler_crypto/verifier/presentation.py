"""Presentation-only checks: challenge/domain (checklist 11) and holder binding."""

from __future__ import annotations

from typing import Any

from ler_crypto import vc_model
from ler_crypto.report import Outcome, VerificationReport
from ler_crypto.verifier.options import short


def check_challenge_domain(
    vp: dict[str, Any], report: VerificationReport, challenge: str | None, domain: str | None
) -> None:
    """Checklist 11: the presentation proof carries the verifier's challenge and domain."""
    proofs = [p for p in vc_model.as_list(vp.get("proof", [])) if isinstance(p, dict)]
    problems = []
    for proof in proofs:
        if challenge is not None and proof.get("challenge") != challenge:
            problems.append(
                f"INVALID_CHALLENGE_ERROR: proof challenge {proof.get('challenge')!r}"
                " is not the expected one"
            )
        if domain is not None:
            got = proof.get("domain")
            if got != domain and not (isinstance(got, list) and domain in got):
                problems.append(f"INVALID_DOMAIN_ERROR: proof domain {got!r} is not {domain!r}")
    if not proofs:
        report.add(
            "challenge",
            "Challenge and domain",
            Outcome.SKIPPED,
            "no presentation proof to carry a challenge",
        )
    elif problems:
        report.add("challenge", "Challenge and domain", Outcome.FAIL, "; ".join(problems))
    elif challenge is None and domain is None:
        report.add(
            "challenge",
            "Challenge and domain",
            Outcome.WARNING,
            "no challenge or domain expected: replay of this presentation is possible",
        )
    else:
        report.add(
            "challenge",
            "Challenge and domain",
            Outcome.PASS,
            "the proof carries the expected challenge and domain",
        )


def check_holder_binding(
    vp: dict[str, Any], report: VerificationReport, signers: list[str]
) -> None:
    """The presentation signer is the holder and the subject of every embedded credential."""
    if len(set(signers)) != 1:
        report.add(
            "holder-binding",
            "Presenter is the holder and subject",
            Outcome.FAIL,
            "the presentation proof's signer could not be determined",
        )
        return
    signer = signers[0]
    problems, bearer = [], []
    holder = vc_model.holder_id(vp)
    if holder is not None and holder != signer:
        problems.append(f"holder {holder} did not sign the presentation (signed by {signer})")
    for issue in vc_model.self_asserted_issues(vp, signer):
        problems.append(str(issue))
    for i, vc in enumerate(vc_model.embedded_credentials(vp)):
        if vc_model.issuer_id(vc) == signer and "proof" not in vc:
            continue  # self-asserted: checked above
        subjects = [
            s.get("id")
            for s in vc_model.as_list(vc.get("credentialSubject", []))
            if isinstance(s, dict)
        ]
        if signer in subjects:
            continue
        if not any(isinstance(s, str) for s in subjects):
            bearer.append(f"/verifiableCredential/{i} has no subject id (bearer credential)")
        else:
            problems.append(
                f"/verifiableCredential/{i} is about {subjects}, not the presenter {signer}"
            )
    if problems:
        report.add(
            "holder-binding",
            "Presenter is the holder and subject",
            Outcome.FAIL,
            short("; ".join(problems)),
        )
    elif bearer:
        report.add(
            "holder-binding",
            "Presenter is the holder and subject",
            Outcome.WARNING,
            short("; ".join(bearer)),
        )
    else:
        report.add(
            "holder-binding",
            "Presenter is the holder and subject",
            Outcome.PASS,
            f"signed by {signer}, the holder and subject of every credential",
        )
