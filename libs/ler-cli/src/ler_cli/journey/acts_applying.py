"""Acts around the application: the employer posts a job, the wallet presents for its challenge,
intake verifies and matches, the reviewer reads the redacted view."""

from __future__ import annotations

import json

from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2 as spb
from ler.common.v1 import verification_report_pb2 as vrpb
from ler.intake.v1 import intake_service_pb2 as ipb
from ler.intake.v1 import resources_pb2 as irpb
from ler.wallet.v1 import wallet_service_pb2 as wpb
from ler_platform.grpc_server import bearer_metadata

from ler_cli.journey import story
from ler_cli.journey.base import (
    CALL_TIMEOUT_SECONDS,
    JourneyBase,
    call,
)
from ler_cli.journey.errors import JourneyError


class ApplyingActs(JourneyBase):
    """Steps 6-9."""

    async def post_job(self) -> None:
        name, url = story.EMPLOYER
        self.say(f"6. {name} registers at intake and posts a job asking four skills, no degree.")
        provider = await call(
            "registering the employer",
            self.intake.RegisterProvider(
                ipb.RegisterProviderRequest(
                    name=name, url=url, domain=f"jobs-{self.run}.contoso.example.com"
                ),
                metadata=tuple(bearer_metadata(self.stack.intake_operator_key)),
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        self.employer_md = tuple(bearer_metadata(provider.api_key))
        # the employer trusts the two institutions of the story for this job: their
        # credentials count, and verification checks them against this list (issuer.trust)
        trusted = sorted(r.issuer.did for r in self.issuers.values())
        opportunity = await call(
            "posting the job",
            self.intake.CreateOpportunity(
                ipb.CreateOpportunityRequest(
                    opportunity=irpb.Opportunity(
                        title="Junior data analyst",
                        description="Skills first: no degree required.",
                        kind=irpb.OPPORTUNITY_KIND_JOB,
                        location="Remote",
                        required_skills=[
                            spb.SkillRequirement(skill=story.alignment(code), weight=1.0)
                            for code in story.JOB_SKILLS
                        ],
                        redaction_policy=irpb.RedactionPolicy(
                            hide_education_level=True,
                            hide_institution_names=True,
                            hide_dates=True,
                            hide_applicant_identity=True,
                        ),
                        trusted_issuer_ids=trusted,
                    ),
                    idempotency_key=f"journey-{self.run}",
                ),
                metadata=self.employer_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        self.opportunity = opportunity.opportunity
        minimum = cpb.EducationLevel.Name(self.opportunity.minimum_education_level)
        self.summary["job"] = {
            "required_skills": len(self.opportunity.required_skills),
            "minimum_education_level": minimum,
            "trusted_issuers": len(self.opportunity.trusted_issuer_ids),
        }
        self.check(
            "employer posts a job",
            f"{len(self.opportunity.required_skills)} required skills, minimum {minimum},"
            f" {len(self.opportunity.trusted_issuer_ids)} trusted issuers",
            f"{len(story.JOB_SKILLS)} required skills, minimum EDUCATION_LEVEL_UNSPECIFIED,"
            f" {len(trusted)} trusted issuers",
        )

    async def apply(self) -> None:
        self.say("7. The learner asks for a challenge; the wallet presents the four job badges.")
        client_md = tuple(bearer_metadata(self.stack.intake_client_key))
        challenge = await call(
            "getting the application challenge",
            self.intake.CreateApplicationChallenge(
                ipb.CreateApplicationChallengeRequest(
                    opportunity_id=self.opportunity.opportunity_id
                ),
                metadata=client_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        chosen = [self.badges[code].credential_id for code in story.JOB_SKILLS]
        vp = await call(
            "creating the presentation",
            self.wallet.CreatePresentation(
                wpb.CreatePresentationRequest(
                    account_id=self.account.account_id,
                    credential_ids=chosen,
                    challenge=challenge.challenge,
                    domain=challenge.domain,
                ),
                metadata=self.learner_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        presented = _presented_ids(vp.presentation)
        degree_left_out = self.degree_id not in presented and self.clr_id not in presented
        self.summary["presentation"] = {
            "credentials": len(presented),
            "degree_left_out": degree_left_out,
        }
        self.check(
            "wallet presents, degree left out",
            f"{len(presented)} credentials, degree left out: {degree_left_out}",
            f"{len(story.JOB_SKILLS)} credentials, degree left out: True",
        )
        self.say("8. Intake verifies the presentation (through verification) and matches skills.")
        submitted = await call(
            "submitting the application",
            self.intake.SubmitApplication(
                ipb.SubmitApplicationRequest(
                    opportunity_id=self.opportunity.opportunity_id,
                    presentation=vp.presentation,
                    challenge=challenge.challenge,
                    applicant=irpb.Applicant(
                        name=self.account.display_name,
                        email=self.account.email,
                        statement="I analyse data for a living and would love to do it here.",
                    ),
                    idempotency_key=f"journey-{self.run}",
                ),
                metadata=client_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        app = submitted.application
        self.application_id = app.application_id
        self.score = app.match.score
        evidenced = sum(1 for m in app.match.skills if m.required and m.evidenced)
        self.say(f"   {app.match.explanation}")
        self.summary["application"] = {
            "state": irpb.ApplicationState.Name(app.state),
            "verdict": vrpb.Verdict.Name(app.verification_report.verdict),
            "warnings": sorted(
                {
                    c.id
                    for c in app.verification_report.checks
                    if c.outcome == vrpb.CHECK_OUTCOME_WARNING
                }
            ),
            "failed_checks": sorted(
                c.id for c in app.verification_report.checks if c.outcome == vrpb.CHECK_OUTCOME_FAIL
            ),
            "match_score": round(app.match.score, 4),
            "required_evidenced": evidenced,
            "explanation": app.match.explanation,
        }
        warnings = ", ".join(self.summary["application"]["warnings"]) or "none"
        # the job's trusted issuers are checked by verification: a clean verdict, no warnings
        self.check(
            "intake verifies the application",
            f"{irpb.ApplicationState.Name(app.state)},"
            f" {vrpb.Verdict.Name(app.verification_report.verdict)}, warnings: {warnings}",
            "APPLICATION_STATE_VERIFIED, VERDICT_VERIFIED, warnings: none",
        )
        self.check(
            "skills match",
            f"score {app.match.score:.2f}, {evidenced}/{len(story.JOB_SKILLS)} required evidenced",
            f"score 1.00, {len(story.JOB_SKILLS)}/{len(story.JOB_SKILLS)} required evidenced",
        )

    async def review(self) -> None:
        self.say("9. The reviewer opens the application in the redacted view.")
        app = await self.get_application()
        fields = list(app.redacted_fields)
        identity_hidden = not app.applicant.name and not app.applicant.email
        institutions_hidden = all(not e.issuer_name and not e.issuer_id for e in app.evidence)
        dates_hidden = all(not e.HasField("awarded_at") for e in app.evidence)
        names_seen = story.TRAINING_PROVIDER[0] in str(app) or story.LEARNER[0] in str(app)
        self.summary["redaction"] = {
            "redacted_fields": len(fields),
            "identity_hidden": identity_hidden,
            "institutions_hidden": institutions_hidden,
            "dates_hidden": dates_hidden,
            "names_absent": not names_seen,
            "score_unchanged": app.match.score == self.score,
        }
        self.say(f"   {len(fields)} fields redacted, e.g. {', '.join(fields[:3])}")
        hidden = identity_hidden and institutions_hidden and dates_hidden and not names_seen
        self.check(
            "reviewer sees the redacted view",
            f"identity, institutions, dates hidden: {hidden}; score unchanged:"
            f" {app.match.score == self.score}",
            "identity, institutions, dates hidden: True; score unchanged: True",
        )


def _presented_ids(presentation: bytes) -> list[str]:
    """Ids of the credentials in a JSON VerifiablePresentation."""
    try:
        doc = json.loads(presentation)
    except ValueError as err:
        raise JourneyError("the wallet's presentation is not JSON") from err
    creds = doc.get("verifiableCredential", []) if isinstance(doc, dict) else []
    if isinstance(creds, dict):
        creds = [creds]
    return [c.get("id", "") for c in creds if isinstance(c, dict)]
