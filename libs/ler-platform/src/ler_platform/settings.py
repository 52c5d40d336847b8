"""12-factor settings shared by every service (DESIGN.md "Configuration and modes").

Every field is read from an environment variable with the ``LER_`` prefix
(``LER_GRPC_PORT``, ``LER_DATABASE_URL`` ...). Services subclass ``ServiceSettings`` to set
their own defaults (name, ports) and add their own fields.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every LER service has.

    ``database_url`` defaults to a SQLite file ``./var/<service_name>.db`` (embedded mode);
    ``kafka_bootstrap_servers`` unset means the in-process event bus is used.
    """

    model_config = SettingsConfigDict(env_prefix="LER_", extra="ignore", frozen=True)

    service_name: str = "service"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    database_url: str = ""
    db_pool_size: int = Field(default=10, ge=1)
    kafka_bootstrap_servers: str | None = None
    log_level: str = "INFO"
    # Key-encryption key for signing keys at rest; SecretStr keeps it out of reprs and logs.
    kek: SecretStr | None = None
    run_migrations: bool = True
    grpc_grace_seconds: float = Field(default=10.0, ge=0)
    grpc_max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    health_check_interval_seconds: float = Field(default=5.0, gt=0)
    # In-process bus only: partitions per topic and records kept per partition.
    bus_partitions: int = Field(default=4, ge=1)
    bus_max_records_per_partition: int = Field(default=10_000, ge=1)
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    consumer_batch_size: int = Field(default=500, ge=1)
    consumer_max_retries: int = Field(default=5, ge=0)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0)
    consumer_retry_backoff_max_seconds: float = Field(default=10.0, ge=0)
    max_message_bytes: int = Field(default=1024 * 1024, ge=1)
    outbox_batch_size: int = Field(default=1000, ge=1)
    outbox_poll_interval_seconds: float = Field(default=0.5, gt=0)

    @model_validator(mode="after")
    def _default_database_url(self) -> Self:
        if not self.database_url:
            # frozen model: bypass __setattr__ once, during validation only
            object.__setattr__(
                self, "database_url", f"sqlite+aiosqlite:///./var/{self.service_name}.db"
            )
        return self

    @property
    def uses_kafka(self) -> bool:
        """True when a Kafka cluster is configured (real mode)."""
        return bool(self.kafka_bootstrap_servers)
