"""``ler demo [--json]``: the learner's story, told with the crypto library in one process.

Today the story runs on ``ler-crypto`` alone (keys, Open Badges 3.0 / CLR 2.0 credentials,
Data Integrity proofs, presentations, Bitstring Status List, verification reports). As the
services land, the same steps move onto them (issue 9: ``make demo`` in embedded mode).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ler_crypto import dataintegrity
from ler_crypto.did import DidResolver, did_key_from_public_key
from ler_crypto.keys import KeyPair
from ler_crypto.obv3 import (
    build_achievement,
    build_achievement_credential,
    build_alignment,
    build_clr_credential,
    build_profile,
)
from ler_crypto.report import VerificationReport
from ler_crypto.status_list import StatusList, build_status_list_credential, build_status_list_entry
from ler_crypto.verifier import verify_credential, verify_presentation

from ler_cli.errors import EXIT_INVALID, EXIT_OK

RDFC = "eddsa-rdfc-2022"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
#: A public skills framework the training provider aligns its badges to (O*NET-style codes).
FRAMEWORK = "O*NET OnLine"
SKILLS = (
    ("2.A.2.a", "Critical Thinking"),
    ("2.B.3.e", "Programming"),
    ("2.A.1.e", "Mathematics"),
    ("2.B.1.a", "Social Perceptiveness"),
    ("2.B.3.a", "Operations Analysis"),
    ("2.A.2.d", "Monitoring"),
)
#: The four skills the employer's job asks for (and no degree).
JOB_SKILLS = ("2.A.2.a", "2.B.3.e", "2.A.1.e", "2.B.3.a")


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    demo = subparsers.add_parser("demo", help="run the learner's journey and print a summary")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON only")
    demo.set_defaults(handler=_demo)


@dataclass
class _Institution:
    name: str
    url: str
    key: KeyPair = field(default_factory=lambda: KeyPair.generate("Ed25519"))
    status: StatusList = field(default_factory=StatusList)
    taken: set[int] = field(default_factory=set)

    @property
    def did(self) -> str:
        return did_key_from_public_key(self.key.public_key)[0]

    @property
    def vm(self) -> str:
        return did_key_from_public_key(self.key.public_key)[1]

    @property
    def list_url(self) -> str:
        return f"{self.url}/status/1"

    def profile(self) -> dict[str, Any]:
        return build_profile(self.did, self.name, url=self.url)

    def status_entry(self) -> tuple[int, dict[str, Any]]:
        index = self.status.random_free_index(self.taken)
        self.taken.add(index)
        return index, build_status_list_entry(status_list_credential=self.list_url, index=index)

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        return dataintegrity.sign(document, self.key, cryptosuite=RDFC, verification_method=self.vm)

    def status_list_credential(self) -> dict[str, Any]:
        unsigned = build_status_list_credential(
            list_url=self.list_url, issuer=self.did, status_list=self.status
        )
        return self.sign(unsigned)


class _Publisher:
    """Serves each institution's current signed status list (what issuance does over HTTPS)."""

    def __init__(self, institutions: list[_Institution]) -> None:
        self._by_url = {i.list_url: i for i in institutions}

    async def fetch(self, url: str) -> Any:
        return self._by_url[url].status_list_credential()


class _Story:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.steps: list[dict[str, Any]] = []

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text)

    def step(self, name: str, outcome: str, expected: str) -> None:
        self.steps.append(
            {"step": name, "outcome": outcome, "expected": expected, "ok": outcome == expected}
        )
        self.say(f"    -> {outcome}")


def _failed(report: VerificationReport) -> list[str]:
    """Ids of the failing checks, nested credential reports included."""
    ids = [c.id for c in report.checks if c.outcome.value == "fail"]
    for nested in report.credentials:
        ids.extend(_failed(nested))
    return sorted(set(ids))


async def _run(story: _Story) -> dict[str, Any]:
    started = time.perf_counter()
    university = _Institution("Riverside State University", "https://riverside.example.edu")
    academy = _Institution("Northwind Skills Academy", "https://northwind.example.org")
    learner = KeyPair.generate("Ed25519")
    learner_did, learner_vm = did_key_from_public_key(learner.public_key)
    resolver = DidResolver(offline=True)
    fetcher = _Publisher([university, academy])

    story.say(f"1. Two institutions hold signing keys: {university.name}, {academy.name}.")
    story.say(f"   The learner's wallet holds {learner_did[:32]}...")

    story.say("2. The university issues a bachelor's degree and a CLR transcript.")
    _, degree_status = university.status_entry()
    degree = university.sign(
        build_achievement_credential(
            issuer=university.profile(),
            subject_id=learner_did,
            credential_status=degree_status,
            achievement=build_achievement(
                achievement_id=f"{university.url}/achievements/bsc-data-science",
                name="Bachelor of Science in Data Science",
                achievement_type="BachelorDegree",
                description="Four-year undergraduate degree.",
                criteria_narrative="Completed 120 credits including a capstone project.",
            ),
        )
    )
    courses = [
        university.sign(
            build_achievement_credential(
                issuer=university.profile(),
                subject_id=learner_did,
                achievement=build_achievement(
                    achievement_id=f"{university.url}/courses/{code}",
                    name=title,
                    achievement_type="Course",
                    description=f"{title}, 4 credits.",
                    criteria_narrative="Passed with a grade of B or better.",
                ),
            )
        )
        for code, title in (("DS101", "Foundations of Data Science"), ("CS201", "Algorithms"))
    ]
    _, clr_status = university.status_entry()
    transcript = university.sign(
        build_clr_credential(
            issuer=university.profile(),
            subject_id=learner_did,
            credentials=courses,
            name="Official transcript",
            credential_status=clr_status,
        )
    )

    story.say(f"3. The training provider issues {len(SKILLS)} skill badges aligned to {FRAMEWORK}.")
    badges: dict[str, dict[str, Any]] = {}
    badge_index: dict[str, int] = {}
    for code, label in SKILLS:
        index, entry = academy.status_entry()
        badge_index[code] = index
        badges[code] = academy.sign(
            build_achievement_credential(
                issuer=academy.profile(),
                subject_id=learner_did,
                credential_status=entry,
                achievement=build_achievement(
                    achievement_id=f"{academy.url}/badges/{code}",
                    name=label,
                    achievement_type="Competency",
                    description=f"Demonstrated {label}.",
                    criteria_narrative="Passed a proctored, performance-based assessment.",
                    alignments=[
                        build_alignment(
                            target_name=label,
                            target_code=code,
                            target_framework=FRAMEWORK,
                            target_url=f"https://www.onetonline.org/find/descriptor/result/{code}",
                            target_type="ceasn:Competency",
                        )
                    ],
                ),
            )
        )

    story.say("4. The wallet verifies every credential on receipt.")
    held = [degree, transcript, *badges.values()]
    reports = [await verify_credential(c, resolver=resolver, status_fetcher=fetcher) for c in held]
    verified = sum(r.verified for r in reports)
    story.step(
        "wallet verifies received credentials",
        f"{verified}/{len(held)} verified",
        f"{len(held)}/{len(held)} verified",
    )

    story.say(
        "5. An employer posts a job asking for four skills and no degree; it sends a "
        "challenge. The learner presents the four badges and leaves the degree out."
    )
    challenge, domain = secrets.token_urlsafe(16), "https://jobs.example.com"
    chosen = [badges[code] for code in JOB_SKILLS]
    presentation = dataintegrity.sign(
        {
            "@context": [VC_V2],
            "type": ["VerifiablePresentation"],
            "holder": learner_did,
            "verifiableCredential": chosen,
        },
        learner,
        cryptosuite=RDFC,
        verification_method=learner_vm,
        proof_purpose="authentication",
        challenge=challenge,
        domain=domain,
    )
    degree_left_out = "Bachelor" not in json.dumps(presentation)
    story.step("presentation leaves the degree out", str(degree_left_out), "True")

    story.say("6. The employer verifies the presentation and matches skills.")
    report = await verify_presentation(
        presentation, challenge=challenge, domain=domain, resolver=resolver, status_fetcher=fetcher
    )
    story.step(
        "employer verifies the presentation",
        "verified" if report.verified else f"not verified: {_failed(report)}",
        "verified",
    )
    evidenced = sorted(
        {
            a["targetCode"]
            for vc in chosen
            for a in vc["credentialSubject"]["achievement"].get("alignment", [])
        }
        & set(JOB_SKILLS)
    )
    story.step(
        "skills match",
        f"{len(evidenced)}/{len(JOB_SKILLS)} required skills evidenced",
        f"{len(JOB_SKILLS)}/{len(JOB_SKILLS)} required skills evidenced",
    )

    story.say("7. Someone tampers with a badge (claims another skill) and replays it elsewhere.")
    tampered = json.loads(json.dumps(presentation))
    tampered["verifiableCredential"][0]["credentialSubject"]["achievement"]["name"] = "Surgery"
    report = await verify_presentation(
        tampered, challenge=challenge, domain=domain, resolver=resolver, status_fetcher=fetcher
    )
    story.step(
        "tampered presentation",
        "verified" if report.verified else f"rejected: {', '.join(_failed(report))}",
        "rejected: proof",
    )
    report = await verify_presentation(
        presentation,
        challenge="another-challenge",
        domain=domain,
        resolver=resolver,
        status_fetcher=fetcher,
    )
    story.step(
        "presentation for another challenge",
        "verified" if report.verified else f"rejected: {', '.join(_failed(report))}",
        "rejected: challenge, proof",
    )

    revoked_code = JOB_SKILLS[1]
    story.say(f"8. The training provider revokes the '{dict(SKILLS)[revoked_code]}' badge.")
    academy.status.set(badge_index[revoked_code], 1)
    report = await verify_presentation(
        presentation, challenge=challenge, domain=domain, resolver=resolver, status_fetcher=fetcher
    )
    story.step(
        "the same presentation after revocation",
        "verified" if report.verified else f"flagged: {', '.join(_failed(report))}",
        "flagged: status",
    )

    return {
        "issued": {"university": 2 + len(courses), "training_provider": len(badges)},
        "steps": story.steps,
        "ok": all(s["ok"] for s in story.steps),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _table(summary: dict[str, Any]) -> str:
    width = max(len(s["step"]) for s in summary["steps"])
    lines = [f"{'step':<{width}}  {'ok':<3} outcome", f"{'-' * width}  --- -------"]
    for s in summary["steps"]:
        lines.append(f"{s['step']:<{width}}  {'yes' if s['ok'] else 'NO':<3} {s['outcome']}")
    lines.append(
        f"\nall steps as expected: {'yes' if summary['ok'] else 'NO'} ({summary['seconds']} s)"
    )
    return "\n".join(lines)


def _demo(args: argparse.Namespace) -> int:
    summary = asyncio.run(_run(_Story(quiet=args.json)))
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        print()
        print(_table(summary))
    return EXIT_OK if summary["ok"] else EXIT_INVALID
