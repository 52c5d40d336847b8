"""Tenant keys: ``add-tenant --rotate-key`` keeps one identity and replaces its key."""

from __future__ import annotations

import grpc
import pytest
from ler.verification.v1 import verification_service_pb2 as pb
from ler_platform.grpc_server import bearer_metadata
from ler_verification.domain.errors import InvalidRequest, TenantAlreadyExists
from ler_verification.domain.model import TenantKind
from ler_verification.service_layer.tenants import register_or_rotate, register_tenant
from vhelpers import Running


async def _authenticates(running: Running, api_key: str) -> bool:
    try:
        await running.stub.VerifyCredential(
            pb.VerifyCredentialRequest(credential=b"{}"),
            metadata=tuple(bearer_metadata(api_key)),
        )
    except grpc.aio.AioRpcError as err:
        # past authentication a service identity is told to name its verifier
        return err.code() is not grpc.StatusCode.UNAUTHENTICATED
    return True


async def test_rotating_keeps_one_identity_and_retires_the_old_key(service: Running) -> None:
    uow = service.app.uow_factory
    first = await register_or_rotate(uow, "intake-local", "Intake", TenantKind.SERVICE)
    second = await register_or_rotate(uow, "intake-local", "Intake", TenantKind.SERVICE)
    assert first != second
    assert not await _authenticates(service, first)  # the old key stopped working
    assert await _authenticates(service, second)
    with pytest.raises(TenantAlreadyExists):  # still exactly one tenant of that id
        await register_tenant(uow, "intake-local", "Intake", TenantKind.SERVICE)


async def test_rotating_never_changes_a_tenants_kind(service: Running) -> None:
    uow = service.app.uow_factory
    await register_tenant(uow, "acme", "Acme Hiring", TenantKind.VERIFIER)
    with pytest.raises(InvalidRequest, match="exists as a verifier tenant, not service"):
        await register_or_rotate(uow, "acme", "Acme Hiring", TenantKind.SERVICE)


async def test_plain_registration_still_refuses_an_existing_id(service: Running) -> None:
    uow = service.app.uow_factory
    await register_tenant(uow, "acme", "Acme Hiring")
    with pytest.raises(TenantAlreadyExists):
        await register_tenant(uow, "acme", "Acme Hiring")
