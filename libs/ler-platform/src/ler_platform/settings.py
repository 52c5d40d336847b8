"""12-factor settings shared by every service (DESIGN.md "Configuration and modes").

Every field is read from an environment variable with the ``LER_`` prefix
(``LER_GRPC_PORT``, ``LER_DATABASE_URL`` ...). Services subclass ``ServiceSettings`` to set
their own defaults (name, ports) and add their own fields.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ler_platform.db import normalize_database_url
from ler_platform.events.security import KafkaSecurity

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class ServiceSettings(BaseSettings):
    """Settings every LER service has.

    ``database_url`` defaults to a SQLite file ``./var/<service_name>.db`` (embedded mode);
    ``postgresql://`` and ``postgres://`` URLs (CloudNativePG's generated ``uri``) are read as
    ``postgresql+asyncpg://``. ``kafka_bootstrap_servers`` unset means the in-process event
    bus is used. ``metrics_port`` unset means no Prometheus endpoint (local runs); the Helm
    chart sets it (9464), and 0 binds an ephemeral port (tests).
    """

    model_config = SettingsConfigDict(env_prefix="LER_", extra="ignore", frozen=True)

    service_name: str = "service"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    database_url: str = ""
    db_pool_size: int = Field(default=10, ge=1)
    # PostgreSQL only: the schema holding the service's tables (created if missing); empty
    # means the role's default search_path. Lets several services or instances share one
    # database (see ``ler_platform.db.create_engine``).
    db_schema: str = Field(default="", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    kafka_bootstrap_servers: str | None = None
    # Kafka client security (producer, consumers and admin alike); PLAINTEXT for local runs.
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: KafkaSaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # CA certificate file of the brokers' TLS listener (SSL / SASL_SSL); unset = system CAs.
    kafka_ssl_cafile: str | None = None
    # Prometheus /metrics listener; unset port = disabled.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    # gRPC targets (host:port) of the services this one calls; set by the Helm chart.
    verification_grpc_target: str | None = None
    intake_grpc_target: str | None = None
    issuance_grpc_target: str | None = None
    log_level: str = "INFO"
    # Key-encryption key for signing keys at rest; SecretStr keeps it out of reprs and logs.
    kek: SecretStr | None = None
    run_migrations: bool = True
    grpc_grace_seconds: float = Field(default=10.0, ge=0)
    # Whole shutdown budget after SIGTERM (gRPC grace included): below the chart's 30 s
    # terminationGracePeriodSeconds, so the pod exits before Kubernetes sends SIGKILL.
    shutdown_timeout_seconds: float = Field(default=25.0, gt=0, le=300)
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
    # once caught up, the relay waits this long after a commit wakes it, so that the commits
    # of a burst are claimed and published together (events are delayed by at most this)
    outbox_linger_seconds: float = Field(default=0.02, ge=0, le=1)

    @model_validator(mode="after")
    def _default_database_url(self) -> Self:
        if not self.database_url:
            # frozen model: bypass __setattr__ once, during validation only
            object.__setattr__(
                self, "database_url", f"sqlite+aiosqlite:///./var/{self.service_name}.db"
            )
        else:
            object.__setattr__(self, "database_url", normalize_database_url(self.database_url))
        return self

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_"):
            if not (self.kafka_sasl_mechanism and self.kafka_sasl_username):
                raise ValueError(
                    f"LER_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs"
                    " LER_KAFKA_SASL_MECHANISM and LER_KAFKA_SASL_USERNAME"
                )
            if self.kafka_sasl_password is None:
                raise ValueError(
                    f"LER_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs"
                    " LER_KAFKA_SASL_PASSWORD"
                )
        return self

    @property
    def uses_kafka(self) -> bool:
        """True when a Kafka cluster is configured (real mode)."""
        return bool(self.kafka_bootstrap_servers)

    @property
    def kafka_security(self) -> KafkaSecurity:
        """The Kafka client security settings, for ``KafkaBus`` and the topic admin."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=(
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            ),
            ssl_cafile=self.kafka_ssl_cafile,
        )
