"""Settings of the intake service (environment variables with the ``LER_`` prefix)."""

from __future__ import annotations

from ler_platform.settings import ServiceSettings
from pydantic import Field


class IntakeSettings(ServiceSettings):
    """``ServiceSettings`` with the intake service's defaults."""

    service_name: str = "intake"
    grpc_port: int = Field(default=50054, ge=0, le=65535)
    http_port: int = Field(default=8084, ge=0, le=65535)
