"""Providers: registration (API key and webhook secret shown once) and authentication."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from ler_platform.auth import hash_api_key

from ler_intake.domain.errors import InvalidRequest, NotAuthenticated, ProviderNotFound
from ler_intake.domain.model import Provider
from ler_intake.service_layer.context import Context, new_id

API_KEY_PREFIX = "leri_"
MAX_KEY_LENGTH = 256


def _https(url: str, field: str) -> str:
    if url and urlsplit(url).scheme != "https":
        raise InvalidRequest(field, "must be an https URL")
    return url


async def register_provider(
    ctx: Context, *, name: str, url: str, domain: str, webhook_url: str
) -> tuple[Provider, str, str]:
    """Register a provider; returns it with its API key and webhook secret (only now)."""
    if not name.strip() or len(name) > 200:
        raise InvalidRequest("name", "must be 1-200 characters")
    if not domain.strip() or "/" in domain or len(domain) > 253:
        raise InvalidRequest("domain", "must be a host name, e.g. jobs.acme.example")
    _https(webhook_url, "webhook_url")
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    secret = secrets.token_urlsafe(32) if webhook_url else ""
    provider = Provider(
        provider_id=new_id("prv"),
        name=name.strip(),
        url=url,
        domain=domain.strip().lower(),
        webhook_url=webhook_url,
        created_at=ctx.clock(),
        api_key_hash=hash_api_key(api_key),
        webhook_secret=secret,
    )
    async with ctx.uow() as uow:
        await uow.providers.add(provider)
    return provider, api_key, secret


async def get_provider(ctx: Context, provider_id: str) -> Provider:
    """The provider, or ``ProviderNotFound``."""
    async with ctx.uow() as uow:
        found = await uow.providers.get(provider_id)
    if found is None:
        raise ProviderNotFound(provider_id)
    return found


async def authenticate(ctx: Context, api_key: str) -> Provider:
    """The provider holding ``api_key`` (same message for every failure)."""
    if len(api_key) > MAX_KEY_LENGTH:
        raise NotAuthenticated("the API key is not valid")
    async with ctx.uow() as uow:
        found = await uow.providers.by_api_key_hash(hash_api_key(api_key))
    if found is None:
        raise NotAuthenticated("the API key is not valid")
    return found
