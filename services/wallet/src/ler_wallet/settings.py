"""Settings of the wallet service (environment variables with the ``LER_`` prefix)."""

from __future__ import annotations

from ler_platform.settings import ServiceSettings
from ler_proto.events import issuance as issuance_topics
from ler_proto.events import wallet as wallet_topics
from pydantic import Field, SecretStr


class WalletSettings(ServiceSettings):
    """``ServiceSettings`` with the wallet service's defaults and its own settings."""

    service_name: str = "wallet"
    grpc_port: int = Field(default=50052, ge=0, le=65535)
    http_port: int = Field(default=8082, ge=0, le=65535)
    # Public base URL of the HTTP listener (share links are built from it); empty means
    # http://<http_host>:<http_port>.
    public_url: str = ""
    # Holder DIDs of new accounts: "key" (did:key) or "jwk" (did:jwk); both Ed25519.
    holder_did_method: str = Field(default="key", pattern=r"^(key|jwk)$")
    # HMAC key of research pseudonyms; unset means derived from LER_KEK.
    pseudonym_secret: SecretStr | None = None
    # Receipt verification: no network at all (only did:key / did:jwk issuers verify), and
    # whether did:web may resolve to private addresses (local clusters).
    verify_offline: bool = False
    verify_allow_private: bool = False
    # OID4VCI: allow plain http and private addresses for issuers (local clusters, tests only).
    offers_allow_private: bool = False
    # OpenID4VP: allow plain http and private addresses for verifiers' request_uri/response_uri
    # (local clusters, tests only).
    presentations_allow_private: bool = False
    # Career planning: gRPC targets ("host:port") of the intake service (opportunity postings)
    # and the issuance service (achievement catalog); empty means not configured.
    intake_grpc_target: str = ""
    issuance_grpc_target: str = ""
    # Topics and consumer groups (overridable so that tests run on fresh ones).
    issued_topic: str = issuance_topics.CREDENTIALS_ISSUED_TOPIC
    status_topic: str = issuance_topics.CREDENTIALS_STATUS_TOPIC
    events_topic: str = wallet_topics.WALLET_EVENTS_TOPIC
    consumer_group: str = "ler.wallet"
    # Embedded (SQLite) mode only: where a development KEK is kept when LER_KEK is unset.
    dev_kek_file: str = "./var/wallet.kek"

    @property
    def base_url(self) -> str:
        """``public_url`` or the HTTP listener's own address."""
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")
