"""Acts of the learner's wallet: receiving and verifying the credentials, curating them, and the
skills profile."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import verification_report_pb2 as vrpb
from ler.wallet.v1 import resources_pb2 as wrpb
from ler.wallet.v1 import wallet_service_pb2 as wpb

from ler_cli.journey import story
from ler_cli.journey.base import (
    CALL_TIMEOUT_SECONDS,
    EXPECTED_CREDENTIALS,
    JourneyBase,
    call,
    poll,
)


class HoldingActs(JourneyBase):
    """Steps 4-5."""

    async def receive(self) -> None:
        self.say(f"4. The wallet receives and verifies them (waiting for {EXPECTED_CREDENTIALS}).")

        async def probe() -> list[wrpb.StoredCredential] | None:
            creds = await self.held()
            return creds if len(creds) >= EXPECTED_CREDENTIALS else None

        creds = await poll(f"{EXPECTED_CREDENTIALS} credentials in the wallet", probe, self.wait)
        good = (vrpb.VERDICT_VERIFIED, vrpb.VERDICT_VERIFIED_WITH_WARNINGS)
        verified = [c for c in creds if c.receipt_report.verdict in good]
        self.badges = {
            c.summary.skills[0].code: c
            for c in creds
            if c.summary.achievement_type == cpb.ACHIEVEMENT_TYPE_COMPETENCY and c.summary.skills
        }
        warnings = sorted(
            {
                check.id
                for c in creds
                for check in c.receipt_report.checks
                if check.outcome == vrpb.CHECK_OUTCOME_WARNING
            }
        )
        self.summary["wallet"] = {
            "held": len(creds),
            "verified_on_receipt": len(verified),
            "receipt_warnings": warnings,
            "kinds": sorted({cpb.CredentialKind.Name(c.summary.kind) for c in creds}),
        }
        for c in creds:
            self.say(f"   {c.summary.achievement_name or c.summary.types[-1]}")
        self.check(
            "wallet receives and verifies",
            f"{len(verified)}/{len(creds)} verified",
            f"{EXPECTED_CREDENTIALS}/{EXPECTED_CREDENTIALS} verified",
        )

    async def curate(self) -> None:
        featured = self.badges[story.FEATURED_SKILL]
        self.say(
            f"5. The learner features '{featured.summary.achievement_name}', tags the job's"
            f" badges '{story.JOB_TAG}', hides the transcript, and looks at the skills profile."
        )

        async def curate(cred_id: str, curation: wrpb.Curation, paths: list[str]) -> None:
            await call(
                "curating",
                self.wallet.CurateCredential(
                    wpb.CurateCredentialRequest(
                        account_id=self.account.account_id,
                        credential_id=cred_id,
                        curation=curation,
                        update_mask=FieldMask(paths=paths),
                    ),
                    metadata=self.learner_md,
                    timeout=CALL_TIMEOUT_SECONDS,
                ),
            )

        await curate(featured.credential_id, wrpb.Curation(featured=True), ["featured"])
        for code in story.JOB_SKILLS:
            await curate(
                self.badges[code].credential_id, wrpb.Curation(tags=[story.JOB_TAG]), ["tags"]
            )
        await curate(self.clr_id, wrpb.Curation(hidden=True), ["hidden"])
        visible = await call(
            "listing the wallet",
            self.wallet.ListCredentials(
                wpb.ListCredentialsRequest(account_id=self.account.account_id),
                metadata=self.learner_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        tagged = await call(
            "listing by tag",
            self.wallet.ListCredentials(
                wpb.ListCredentialsRequest(account_id=self.account.account_id, tag=story.JOB_TAG),
                metadata=self.learner_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        first = visible.credentials[0].credential_id if visible.credentials else ""
        profile = await call(
            "reading the skills profile",
            self.wallet.GetSkillsProfile(
                wpb.GetSkillsProfileRequest(account_id=self.account.account_id),
                metadata=self.learner_md,
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        skills = sorted(
            s.skill.code
            for s in profile.profile.skills
            if s.source == wrpb.SKILL_SOURCE_CREDENTIAL and s.skill.framework == story.FRAMEWORK
        )
        self.say(f"   skills profile: {', '.join(dict(story.SKILLS)[c] for c in skills)}")
        self.summary["curation"] = {
            "visible": len(visible.credentials),
            "featured_first": first == featured.credential_id,
            "tagged": len(tagged.credentials),
            "transcript_hidden": self.clr_id not in {c.credential_id for c in visible.credentials},
        }
        self.summary["skills_profile"] = skills
        self.check(
            "learner curates",
            f"{len(visible.credentials)} visible, {len(tagged.credentials)} tagged,"
            f" featured first: {first == featured.credential_id}",
            f"{EXPECTED_CREDENTIALS - 1} visible, {len(story.JOB_SKILLS)} tagged,"
            " featured first: True",
        )
        self.check(
            "skills profile",
            f"{len(skills)} framework skills from credentials",
            f"{len(story.SKILLS)} framework skills from credentials",
        )
