"""Settings of the issuance service (environment variables with the ``LER_`` prefix)."""

from __future__ import annotations

from ler_platform.settings import ServiceSettings
from ler_proto.events import issuance as topics
from pydantic import Field, SecretStr


class IssuanceSettings(ServiceSettings):
    """``ServiceSettings`` with the issuance service's defaults and its own settings."""

    service_name: str = "issuance"
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    http_port: int = Field(default=8081, ge=0, le=65535)
    # Public base URL (scheme://host[:port]) of the HTTP listener as the world reaches it: the
    # did:web ids (did:web:<host%3Aport>:issuers:<id>) and status list URLs are built from it.
    # Empty means http://<http_host>:<http_port>.
    public_url: str = ""
    # Bearer token of the operator (may register issuers); unset means no operator access.
    operator_token: SecretStr | None = None
    # HMAC key of access tokens; unset means derived from LER_KEK.
    token_secret: SecretStr | None = None
    token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    api_key_cache_seconds: float = Field(default=30.0, ge=0)
    # Issuer whose DID document /.well-known/did.json serves (did:web of the bare host).
    default_issuer_id: str = ""
    # Give every new credential a suspension entry too (revocation entries are always given).
    suspension_enabled: bool = True
    batch_max_items: int = Field(default=10_000, ge=1)
    # Processes that check and sign LDP credentials of batches and streamed requests (0: sign
    # in the service process). Signing is CPU-bound: up to the number of cores helps.
    signing_workers: int = Field(default=0, ge=0, le=64)
    # Members of the requests topic's consumer group in this process (see
    # IssuanceRequestConsumer): two overlap one batch's database and signing waits with another
    # batch's work. On SQLite (one writer at a time) there is always one.
    request_consumers: int = Field(default=2, ge=1, le=16)
    # Topics (overridable so that tests run on fresh ones); defaults per ler_proto.
    requests_topic: str = topics.ISSUANCE_REQUESTS_TOPIC
    results_topic: str = topics.ISSUANCE_RESULTS_TOPIC
    issued_topic: str = topics.CREDENTIALS_ISSUED_TOPIC
    status_topic: str = topics.CREDENTIALS_STATUS_TOPIC
    consumer_group: str = "ler.issuance.requests"
    # Cache-Control max-age of served status list credentials (seconds).
    status_list_max_age_seconds: int = Field(default=60, ge=0)
    # PEM certificate chain and key: when both are set the HTTP listener speaks HTTPS
    http_tls_cert: str = ""
    http_tls_key: str = ""
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Embedded (SQLite) mode only: where a development KEK is kept when LER_KEK is unset.
    dev_kek_file: str = "./var/issuance.kek"

    @property
    def base_url(self) -> str:
        """``public_url`` or the HTTP listener's own address."""
        scheme = "https" if self.http_tls_cert and self.http_tls_key else "http"
        return (self.public_url or f"{scheme}://{self.http_host}:{self.http_port}").rstrip("/")
