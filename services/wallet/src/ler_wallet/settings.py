"""Settings of the wallet service (environment variables with the ``LER_`` prefix)."""

from __future__ import annotations

from ler_platform.settings import ServiceSettings
from pydantic import Field


class WalletSettings(ServiceSettings):
    """``ServiceSettings`` with the wallet service's defaults."""

    service_name: str = "wallet"
    grpc_port: int = Field(default=50052, ge=0, le=65535)
    http_port: int = Field(default=8082, ge=0, le=65535)
