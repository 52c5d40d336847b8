"""Verifier tenants: registration (API key shown once) and who a call acts for."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from ler_platform.auth import Tenant, hash_api_key
from sqlalchemy.exc import IntegrityError

from ler_verification.domain.errors import InvalidRequest, NotYourVerifier, TenantAlreadyExists
from ler_verification.domain.model import TenantKind, validate_tenant_id
from ler_verification.service_layer.unit_of_work import UnitOfWorkFactory

API_KEY_PREFIX = "lerv_"


async def register_tenant(
    uow_factory: UnitOfWorkFactory,
    tenant_id: str,
    name: str,
    kind: TenantKind = TenantKind.VERIFIER,
) -> str:
    """Register a verifier tenant (or a service identity) and return its new API key.

    The key is returned once and only its hash is stored.
    """
    validate_tenant_id(tenant_id)
    if not name.strip() or len(name) > 200:
        raise InvalidRequest("name", "must be 1-200 characters")
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    try:
        async with uow_factory() as uow:
            if await uow.tenants.exists(tenant_id):
                raise TenantAlreadyExists(tenant_id)
            await uow.tenants.add(tenant_id, name, kind, hash_api_key(api_key), datetime.now(UTC))
    except IntegrityError as err:  # a concurrent registration of the same id
        raise TenantAlreadyExists(tenant_id) from err
    return api_key


async def register_or_rotate(
    uow_factory: UnitOfWorkFactory,
    tenant_id: str,
    name: str,
    kind: TenantKind = TenantKind.VERIFIER,
) -> str:
    """Register the tenant, or, when it exists, give it a new API key (the old one stops
    working) and return that. For deployments that hand a service its key at every start
    without storing it (deploy/local/services.sh and intake): one identity, not one more per
    start. The existing tenant's kind must be ``kind``.
    """
    validate_tenant_id(tenant_id)
    try:
        return await register_tenant(uow_factory, tenant_id, name, kind)
    except TenantAlreadyExists:
        pass
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    async with uow_factory() as uow:
        existing = await uow.tenants.kind_of(tenant_id)
        if existing is None:  # removed meanwhile: nothing to rotate, and no retry loop
            raise InvalidRequest("tenant_id", f"{tenant_id!r} disappeared during registration")
        if existing is not kind:
            raise InvalidRequest(
                "tenant_id", f"{tenant_id!r} exists as a {existing.value} tenant, not {kind.value}"
            )
        await uow.tenants.replace_key(tenant_id, hash_api_key(api_key))
    return api_key


def acting_for(caller: Tenant, requested_id: str) -> str:
    """The verifier tenant a call acts for.

    A verifier's key acts for itself (an empty ``verifier`` means itself, naming another is
    PERMISSION_DENIED); a service identity (intake) must name the verifier it acts for.
    """
    if caller.kind == TenantKind.SERVICE.value:
        if not requested_id:
            raise InvalidRequest("verifier.tenant_id", "is required when a service calls")
        return validate_tenant_id(requested_id, "verifier.tenant_id")
    if requested_id and requested_id != caller.tenant_id:
        raise NotYourVerifier()
    return caller.tenant_id
