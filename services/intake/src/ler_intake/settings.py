"""Settings of the intake service (environment variables with the ``LER_`` prefix)."""

from __future__ import annotations

from ler_platform.settings import ServiceSettings
from ler_proto.events import intake as intake_topics
from ler_proto.events import issuance as issuance_topics
from pydantic import Field, SecretStr


class IntakeSettings(ServiceSettings):
    """``ServiceSettings`` with the intake service's defaults and its own settings."""

    service_name: str = "intake"
    grpc_port: int = Field(default=50054, ge=0, le=65535)
    http_port: int = Field(default=8084, ge=0, le=65535)
    # intake's service identity at the verification service (`ler-verification add-tenant
    # intake "Intake" --service`); LER_VERIFICATION_GRPC_TARGET is the platform's setting
    verification_api_key: SecretStr | None = None
    verification_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    challenge_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    # operator key (RegisterProvider) and the key of applicant-facing clients (wallets,
    # the careers site): the open RPCs need an authenticated caller
    operator_api_key: SecretStr | None = None
    client_api_key: SecretStr | None = None
    # share links: bounded fetch; plain http and private addresses for local clusters/tests only
    share_link_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    share_link_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    share_links_allow_private: bool = False
    # webhooks to providers' ATSs
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_backoff_seconds: float = Field(default=1.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=600.0, gt=0)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # CA bundle for webhook receivers (private ATS CAs, tests); unset = the system CAs
    webhook_ca_file: str | None = None
    # re-verification of applications left SUBMITTED (verification service unavailable)
    reverify_poll_seconds: float = Field(default=5.0, gt=0)
    reverify_max_attempts: int = Field(default=6, ge=1, le=50)
    reverify_backoff_seconds: float = Field(default=5.0, gt=0)
    reverify_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # embedded (SQLite) mode only: where a development KEK is kept when LER_KEK is unset
    dev_kek_file: str = "./var/intake.kek"
    # topics and consumer groups (overridable so that tests run on fresh ones)
    events_topic: str = intake_topics.APPLICATIONS_TOPIC
    status_topic: str = issuance_topics.CREDENTIALS_STATUS_TOPIC
    consumer_group: str = "ler.intake"
