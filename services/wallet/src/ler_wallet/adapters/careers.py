"""gRPC clients of career planning: intake's public opportunity postings and issuance's public
achievement catalog. Both RPCs are open (no token); the wallet sends none."""

from __future__ import annotations

from dataclasses import replace

import grpc
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2 as spb
from ler.intake.v1 import intake_service_pb2 as ipb
from ler.intake.v1 import intake_service_pb2_grpc as ipb_grpc
from ler.issuance.v1 import issuance_service_pb2 as spb_svc
from ler.issuance.v1 import issuance_service_pb2_grpc as spb_grpc

from ler_wallet.adapters import proto
from ler_wallet.domain.errors import DependencyUnreachable, InvalidRequest, OpportunityNotFound
from ler_wallet.domain.model import Skill
from ler_wallet.domain.planning import Offer, Requirement

TIMEOUT = 5.0
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _skill(msg: spb.SkillAlignment) -> Skill:
    # postings may name a skill by code only: its code stands in for a missing label
    skill = proto.skill_of(msg)
    return skill if skill.label else replace(skill, label=skill.code or skill.url)


class IntakePostings:
    """``OpportunityLookup`` over ``IntakeService.GetOpportunityPosting``."""

    def __init__(self, target: str) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = ipb_grpc.IntakeServiceStub(self._channel)

    async def requirements(self, opportunity_id: str) -> list[Requirement]:
        """The posting's required and preferred skills, with their declared equivalents."""
        if not opportunity_id:
            raise InvalidRequest("opportunity_id is empty")
        try:
            got = await self._stub.GetOpportunityPosting(
                ipb.GetOpportunityPostingRequest(opportunity_id=opportunity_id), timeout=TIMEOUT
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise OpportunityNotFound(opportunity_id) from err
            if err.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidRequest(f"intake refused the opportunity id: {err.details()}") from err
            raise DependencyUnreachable(
                f"the intake service cannot be reached ({err.code().name})"
            ) from err
        posting = got.posting
        equivalents = {
            _skill(e.skill).key: tuple(_skill(x) for x in e.equivalents)
            for e in posting.skill_equivalents
        }
        return [
            Requirement(
                _skill(r.skill), r.weight, required, equivalents.get(_skill(r.skill).key, ())
            )
            for required, group in (
                (True, posting.required_skills),
                (False, posting.preferred_skills),
            )
            for r in group
        ]

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()


class IssuanceCatalog:
    """``AchievementCatalog`` over ``IssuanceService.SearchAchievementTemplates``."""

    def __init__(self, target: str) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = spb_grpc.IssuanceServiceStub(self._channel)

    async def search(self, skills: list[Skill]) -> list[Offer]:
        """Achievements aligned to any of ``skills``."""
        if not skills:
            return []
        try:
            got = await self._stub.SearchAchievementTemplates(
                spb_svc.SearchAchievementTemplatesRequest(
                    skills=[proto.skill_msg(s) for s in skills[:100]], max_results=200
                ),
                timeout=TIMEOUT,
            )
        except grpc.aio.AioRpcError as err:
            raise DependencyUnreachable(
                f"the issuance catalog cannot be reached ({err.code().name})"
            ) from err
        return [
            Offer(
                template_id=a.template_id,
                issuer_id=a.issuer_id,
                issuer_name=a.issuer_name,
                name=a.name,
                achievement_type=cpb.AchievementType.Name(a.achievement_type),
                url=a.url,
                skills=tuple(_skill(s) for s in a.alignments),
            )
            for a in got.achievements
        ]

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()
