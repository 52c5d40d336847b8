"""PlanCareer against real issuance and intake services, in-process on SQLite: evidenced,
missing and suggested skills, for target skills and for an intake opportunity's posting."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from ler.common.v1 import credential_pb2 as cpb
from ler.common.v1 import skills_pb2 as spb
from ler.intake.v1 import intake_service_pb2 as ipb
from ler.intake.v1 import intake_service_pb2_grpc as ipb_grpc
from ler.intake.v1 import resources_pb2 as irpb
from ler.issuance.v1 import issuance_service_pb2 as spb_svc
from ler.issuance.v1 import issuance_service_pb2_grpc as spb_grpc
from ler.issuance.v1 import resources_pb2 as srpb
from ler.wallet.v1 import wallet_service_pb2 as pb
from ler.wallet.v1 import wallet_service_pb2_grpc as pb_grpc
from ler_intake.bootstrap import bootstrap as intake_bootstrap
from ler_intake.settings import IntakeSettings
from ler_issuance.bootstrap import bootstrap as issuance_bootstrap
from ler_issuance.settings import IssuanceSettings
from ler_platform.kek import new_kek_value
from ler_wallet.bootstrap import bootstrap
from wallet_helpers import PYTHON, Issuer, bearer, free_port, wallet_settings

OPERATOR = "operator-for-wallet-tests"


def _skill(label: str, code: str) -> spb.SkillAlignment:
    return spb.SkillAlignment(
        framework="ESCO", code=code, label=label, url=f"https://example.org/skills/{code}"
    )


PY = _skill("Python", PYTHON["target_code"])
SQL = _skill("SQL", "SQL1")
VIZ = _skill("Data visualisation", "VIZ1")


@dataclass
class Services:
    wallet: pb_grpc.WalletServiceStub
    issuance: spb_grpc.IssuanceServiceStub
    intake: ipb_grpc.IntakeServiceStub


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    port = free_port()
    issuance = issuance_bootstrap(
        IssuanceSettings(  # type: ignore[call-arg]
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'iss.db'}",
            grpc_port=0,
            http_port=port,
            public_url=f"http://127.0.0.1:{port}",
            operator_token=OPERATOR,
            kek=new_kek_value(),
            health_check_interval_seconds=0.2,
        )
    )
    intake = intake_bootstrap(
        IntakeSettings(  # type: ignore[call-arg]
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'int.db'}",
            grpc_port=0,
            http_port=0,
            verification_grpc_target="127.0.0.1:9",  # not used by postings
            verification_api_key="unused",
            operator_api_key=OPERATOR,
            client_api_key="client-key",
            kek=new_kek_value(),  # webhook secrets are sealed; no development KEK file
            health_check_interval_seconds=0.2,
            grpc_grace_seconds=1,
        )
    )
    await issuance.runtime.start()
    await intake.runtime.start()
    wallet = bootstrap(
        wallet_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'wallet.db'}",
            intake_grpc_target=f"127.0.0.1:{intake.runtime.grpc.port}",
            issuance_grpc_target=f"127.0.0.1:{issuance.runtime.grpc.port}",
        )
    )
    await wallet.runtime.start()
    channels = [
        grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
        for app in (wallet, issuance, intake)
    ]
    try:
        yield Services(
            pb_grpc.WalletServiceStub(channels[0]),
            spb_grpc.IssuanceServiceStub(channels[1]),
            ipb_grpc.IntakeServiceStub(channels[2]),
        )
    finally:
        for channel in channels:
            await channel.close()
        await wallet.runtime.stop()
        await intake.runtime.stop()
        await issuance.runtime.stop()


async def _institution(stub: spb_grpc.IssuanceServiceStub, name: str) -> tuple[str, str]:
    got = await stub.RegisterIssuer(
        spb_svc.RegisterIssuerRequest(
            name=name, url="https://uni.example", did_method=srpb.DID_METHOD_KEY
        ),
        metadata=bearer(OPERATOR),
    )
    return got.issuer.issuer_id, got.api_key


async def _template(
    stub: spb_grpc.IssuanceServiceStub,
    issuer: tuple[str, str],
    name: str,
    *skills: spb.SkillAlignment,
) -> str:
    got = await stub.CreateAchievementTemplate(
        spb_svc.CreateAchievementTemplateRequest(
            issuer_id=issuer[0],
            achievement=srpb.Achievement(
                achievement_type=cpb.ACHIEVEMENT_TYPE_COURSE,
                name=name,
                description=f"{name}.",
                criteria_narrative="Pass.",
                criteria_url=f"https://uni.example/{uuid.uuid4().hex[:6]}",
                alignments=list(skills),
            ),
        ),
        metadata=bearer(issuer[1]),
    )
    return got.template.template_id


async def test_plan_for_targets_and_for_an_intake_opportunity(services: Services) -> None:
    s = services
    uni = await _institution(s.issuance, "North University")
    college = await _institution(s.issuance, "South College")
    sql_course = await _template(s.issuance, uni, "Databases", SQL)
    combo = await _template(s.issuance, college, "Data Science Bootcamp", SQL, VIZ)
    await _template(s.issuance, uni, "Python 101", PY)  # evidenced already: never suggested

    # the public catalog answers without a token, and only for aligned templates
    catalog = await s.issuance.SearchAchievementTemplates(
        spb_svc.SearchAchievementTemplatesRequest(skills=[VIZ])
    )
    assert [(a.template_id, a.issuer_name) for a in catalog.achievements] == [
        (combo, "South College")
    ]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.issuance.SearchAchievementTemplates(spb_svc.SearchAchievementTemplatesRequest())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    ada = await s.wallet.CreateAccount(pb.CreateAccountRequest(display_name="Ada", email="a@x.org"))
    acc, md = ada.account.account_id, bearer(ada.api_key)
    vc = (
        await s.wallet.ImportCredential(
            pb.ImportCredentialRequest(
                account_id=acc, credential=Issuer().badge(ada.account.holder_did)
            ),
            metadata=md,
        )
    ).credential.credential_id

    planned = await s.wallet.PlanCareer(
        pb.PlanCareerRequest(
            account_id=acc,
            target_skills=pb.TargetSkills(
                required_skills=[{"skill": PY}, {"skill": SQL}], preferred_skills=[{"skill": VIZ}]
            ),
        ),
        metadata=md,
    )
    assert [(e.requirement.skill.code, list(e.credential_ids)) for e in planned.evidenced] == [
        ("PY1", [vc])
    ]
    assert [(m.requirement.skill.code, m.required) for m in planned.missing] == [
        ("SQL1", True),
        ("VIZ1", False),
    ]
    assert planned.required_coverage == pytest.approx(0.5)
    # SQL first (required), the bootcamp first as it covers both gaps; then visualisation
    assert [(x.skill.code, x.template_id, x.issuer_name) for x in planned.suggestions] == [
        ("SQL1", combo, "South College"),
        ("SQL1", sql_course, "North University"),
        ("VIZ1", combo, "South College"),
    ]
    assert planned.suggestions[1].achievement_name == "Databases"
    assert planned.suggestions[1].achievement_type == cpb.ACHIEVEMENT_TYPE_COURSE
    assert planned.suggestions[1].url.startswith("https://uni.example/")

    # an opportunity posted at intake, read over gRPC (its public posting, no credentials)
    provider = await s.intake.RegisterProvider(
        ipb.RegisterProviderRequest(name="ACME", domain="acme.example"), metadata=bearer(OPERATOR)
    )
    opportunity = (
        await s.intake.CreateOpportunity(
            ipb.CreateOpportunityRequest(
                opportunity=irpb.Opportunity(
                    title="Data analyst",
                    kind=irpb.OPPORTUNITY_KIND_JOB,
                    required_skills=[{"skill": PY, "weight": 2.0}, {"skill": SQL}],
                    preferred_skills=[{"skill": VIZ}],
                ),
                idempotency_key=uuid.uuid4().hex,
            ),
            metadata=bearer(provider.api_key),
        )
    ).opportunity
    for_job = await s.wallet.PlanCareer(
        pb.PlanCareerRequest(account_id=acc, opportunity_id=opportunity.opportunity_id),
        metadata=md,
    )
    assert [(e.requirement.skill.code, list(e.credential_ids)) for e in for_job.evidenced] == [
        ("PY1", [vc])
    ]
    assert [m.requirement.skill.code for m in for_job.missing] == ["SQL1", "VIZ1"]
    assert for_job.required_coverage == pytest.approx(2 / 3)
    assert [x.template_id for x in for_job.suggestions] == [combo, sql_course, combo]

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await s.wallet.PlanCareer(
            pb.PlanCareerRequest(account_id=acc, opportunity_id="opp_missing"), metadata=md
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "opp_missing" in (err.value.details() or "")
