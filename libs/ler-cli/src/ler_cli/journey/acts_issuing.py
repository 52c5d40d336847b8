"""Acts of the institutions: they register, stream issuance requests onto the topic (single
achievements and the university's CLR 2.0 transcript), and finally revoke a badge."""

from __future__ import annotations

from collections.abc import Sequence

from ler.common.v1 import credential_pb2 as cpb
from ler.intake.v1 import resources_pb2 as irpb
from ler.issuance.v1 import events_pb2 as iepb
from ler.issuance.v1 import issuance_service_pb2 as ispb
from ler.issuance.v1 import resources_pb2 as irspb
from ler.wallet.v1 import resources_pb2 as wrpb
from ler.wallet.v1 import wallet_service_pb2 as wpb
from ler_platform.events.bus import EventBus
from ler_platform.events.envelope import Event
from ler_platform.grpc_server import bearer_metadata
from ler_platform.tracing import producer_span

from ler_cli.journey import story
from ler_cli.journey.base import (
    CALL_TIMEOUT_SECONDS,
    JourneyBase,
    call,
    poll,
)


class IssuingActs(JourneyBase):
    """Steps 1-3 and 10."""

    async def register_institutions(self) -> None:
        self.say("1. A university and a training provider register as issuers.")
        md = tuple(bearer_metadata(self.stack.issuance_operator_token))
        self.issuers: dict[str, ispb.RegisterIssuerResponse] = {}
        for role, (name, url) in (
            ("university", story.UNIVERSITY),
            ("training_provider", story.TRAINING_PROVIDER),
        ):
            self.issuers[role] = await call(
                f"registering {name}",
                self.issuance.RegisterIssuer(
                    ispb.RegisterIssuerRequest(
                        name=name,
                        url=url,
                        # did:key: verifiable offline by the wallet and by verification
                        did_method=irspb.DID_METHOD_KEY,
                    ),
                    metadata=md,
                    timeout=CALL_TIMEOUT_SECONDS,
                ),
            )
            self.say(f"   {name}: {self.issuers[role].issuer.did[:40]}...")
        self.check("institutions register", f"{len(self.issuers)} issuers", "2 issuers")

    async def open_wallet(self) -> None:
        name, email = story.LEARNER
        self.say(f"2. {name} opens a wallet.")
        resp = await call(
            "creating the learner's account",
            self.wallet.CreateAccount(
                wpb.CreateAccountRequest(
                    display_name=name,
                    # one address per journey: an email has one account
                    email=email.replace("@", f"+{self.run}@"),
                    idempotency_key=f"journey-{self.run}",
                ),
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )
        self.account = resp.account
        self.learner_md = tuple(bearer_metadata(resp.api_key))
        self.say(f"   holder DID {self.account.holder_did[:40]}...")
        self.check(
            "learner opens a wallet",
            "holder DID" if self.account.holder_did.startswith("did:") else "no holder DID",
            "holder DID",
        )

    async def issue(self) -> None:
        self.say(
            f"3. The university streams a bachelor's degree; the training provider streams"
            f" {len(story.SKILLS)} skill badges aligned to {story.FRAMEWORK}"
            f" (topic {self.stack.requests_topic}, keyed institution:record id)."
        )
        degree = irspb.CredentialSpec(
            record_id=f"SIS-{self.run}-BSC",
            subject=self.subject(),
            achievement=irspb.Achievement(
                achievement_type=cpb.ACHIEVEMENT_TYPE_BACHELOR_DEGREE,
                name="Bachelor of Science in Data Science",
                description="Four-year undergraduate degree.",
                criteria_narrative="Completed 120 credits including a capstone project.",
                field_of_study="Data Science",
                credits_available=120,
            ),
            credits_earned=120,
        )
        badges = [
            irspb.CredentialSpec(
                record_id=f"LMS-{self.run}-{code}",
                subject=self.subject(),
                achievement=irspb.Achievement(
                    achievement_type=cpb.ACHIEVEMENT_TYPE_COMPETENCY,
                    name=label,
                    description=f"Demonstrated {label}.",
                    criteria_narrative="Passed a proctored, performance-based assessment.",
                    alignments=[story.alignment(code)],
                ),
            )
            for code, label in story.SKILLS
        ]
        async with self.stack.publisher() as bus:
            await self.publish(bus, "university", [degree])
            await self.publish(bus, "training_provider", badges)
            # a streamed CLR references records already issued, so it follows the degree
            degree_id = await self.issued_id("university", degree.record_id)
            self.say("   The university then streams a CLR 2.0 transcript bundling the degree.")
            transcript = iepb.ClrSpec(
                record_id=f"SIS-{self.run}-CLR",
                subject=self.subject(),
                name="Official transcript",
                description="Academic record of the Bachelor of Science in Data Science.",
                credential_record_ids=[degree.record_id],
            )
            await self.publish(bus, "university", [transcript])
        clr_id = await self.issued_id("university", transcript.record_id)
        self.degree_id, self.clr_id = degree_id, clr_id
        self.summary["issued"] = {"university": 2, "training_provider": len(badges)}
        self.check(
            "institutions issue",
            f"{2 + len(badges)} credentials requested",
            "8 credentials requested",
        )

    async def publish(
        self,
        bus: EventBus,
        role: str,
        specs: Sequence[irspb.CredentialSpec | iepb.ClrSpec],
    ) -> None:
        """Put one IssuanceRequested per spec (an achievement, or a CLR transcript) on the
        requests topic, each in its own producer span (its traceparent travels in the
        record's headers)."""
        issuer_id = self.issuers[role].issuer.issuer_id
        topic = self.stack.requests_topic
        for spec in specs:
            key = f"{issuer_id}:{spec.record_id}"
            message = iepb.IssuanceRequested(
                issuer_id=issuer_id, request_id=f"journey-{self.run}:{spec.record_id}"
            )
            if isinstance(spec, iepb.ClrSpec):
                message.clr.CopyFrom(spec)
            else:
                message.spec.CopyFrom(spec)
            headers: list[tuple[str, bytes]] = []
            with producer_span(topic, headers, key=key):
                event = Event(
                    key=key,
                    message=message,
                    source=f"urn:ler:journey:{role}",
                    subject=spec.record_id,
                    trace_headers=tuple(headers),
                )
                await bus.publish_batch([event.to_record(topic)])

    async def issued_id(self, role: str, record_id: str) -> str:
        """The credential id issued for ``record_id`` (asked of issuance until it exists)."""
        issuer_id = self.issuers[role].issuer.issuer_id

        async def probe() -> str | None:
            resp = await call(
                "listing the university's credentials",
                self.issuance.ListCredentials(
                    ispb.ListCredentialsRequest(issuer_id=issuer_id, record_id=record_id),
                    metadata=self.issuer_md(role),
                    timeout=CALL_TIMEOUT_SECONDS,
                ),
            )
            return resp.credentials[0].credential_id if resp.credentials else None

        return await poll(f"issuance of record {record_id}", probe, self.wait)

    async def revoke(self) -> None:
        badge = self.badges[story.REVOKED_SKILL]
        self.say(f"10. The training provider revokes the '{badge.summary.achievement_name}' badge.")
        await call(
            "revoking the badge",
            self.issuance.ChangeCredentialStatus(
                ispb.ChangeCredentialStatusRequest(
                    issuer_id=self.issuers["training_provider"].issuer.issuer_id,
                    credential_id=badge.credential_id,
                    action=ispb.STATUS_ACTION_REVOKE,
                    reason="Assessment found to be compromised.",
                ),
                metadata=self.issuer_md("training_provider"),
                timeout=CALL_TIMEOUT_SECONDS,
            ),
        )

        async def flagged() -> irpb.Application | None:
            app = await self.get_application()
            revoked = any(f.reason == irpb.FLAG_REASON_EVIDENCE_REVOKED for f in app.flags)
            return app if app.state == irpb.APPLICATION_STATE_FLAGGED and revoked else None

        app = await poll("the application flagged", flagged, self.wait)
        flag = next(f for f in app.flags if f.reason == irpb.FLAG_REASON_EVIDENCE_REVOKED)
        self.say(f"   flag: {flag.message}")

        async def wallet_revoked() -> wrpb.StoredCredential | None:
            held = {c.credential_id: c for c in await self.held()}
            c = held.get(badge.credential_id)
            return c if c and c.status == cpb.CREDENTIAL_STATUS_STATE_REVOKED else None

        in_wallet = await poll("the wallet's copy revoked", wallet_revoked, self.wait)
        self.summary["revocation"] = {
            "revoked_skill": badge.summary.achievement_name,
            "application_state": irpb.ApplicationState.Name(app.state),
            "application_flagged": True,
            "flag": flag.message,
            "flagged_credential": flag.credential_id == badge.credential_id,
            "wallet_status": cpb.CredentialStatusState.Name(in_wallet.status),
        }
        self.check(
            "application flagged after revocation",
            f"{irpb.ApplicationState.Name(app.state)}, {irpb.FlagReason.Name(flag.reason)}",
            "APPLICATION_STATE_FLAGGED, FLAG_REASON_EVIDENCE_REVOKED",
        )
