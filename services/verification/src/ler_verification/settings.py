"""Settings of the verification service (environment variables with the ``LER_`` prefix)."""

from __future__ import annotations

import socket
from typing import Self

from ler_platform.settings import ServiceSettings
from ler_proto.events import issuance as issuance_topics
from pydantic import Field, model_validator


class VerificationSettings(ServiceSettings):
    """``ServiceSettings`` with the verification service's defaults and its own knobs."""

    service_name: str = "verification"
    grpc_port: int = Field(default=50053, ge=0, le=65535)
    http_port: int = Field(default=8083, ge=0, le=65535)
    # a presentation may be 4 MiB (contract), plus the request's other fields
    grpc_max_message_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    http_max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # VC-API over HTTPS when both are set (PEM files)
    http_tls_cert: str | None = None
    http_tls_key: str | None = None
    # small tolerance for clocks of issuers and verifiers when judging validFrom/validUntil
    clock_skew_seconds: float = Field(default=60.0, ge=0, le=3600)
    # outbound fetches (did:web documents, status lists): HTTPS only, bounded
    fetch_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    fetch_max_bytes: int = Field(default=512 * 1024, ge=1024)
    # private/loopback addresses are refused unless this is set (tests, intranets)
    fetch_allow_private: bool = False
    # extra CA bundle (PEM) trusted for outbound HTTPS, e.g. a test or intranet CA
    fetch_ca_file: str | None = None
    did_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    status_cache_default_ttl_seconds: float = Field(default=300.0, ge=0)
    status_cache_max_ttl_seconds: float = Field(default=3600.0, ge=0)
    cache_max_entries: int = Field(default=1024, ge=1)
    trust_cache_seconds: float = Field(default=5.0, ge=0)
    auth_cache_seconds: float = Field(default=30.0, ge=0)
    # VerifyStream: items verified at once per stream, and items read ahead of responses
    # (many in flight let the service batch their work: the worker pool's batches, one event
    # commit for many items; read-ahead is also bounded in bytes)
    stream_concurrency: int = Field(default=128, ge=1, le=512)
    stream_max_pending: int = Field(default=256, ge=1, le=4096)
    stream_max_pending_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # worker processes for the offline phase of credential verification (parse, data model,
    # JSON-LD, profile; proofs and issuer key when their DIDs resolve offline: ~70-90% of its
    # CPU), so that the service uses more than one core;
    # 0 = all of it in the service process
    verify_workers: int = Field(default=1, ge=0, le=16)
    # where CredentialStatusChanged events arrive (to drop cached status lists and DIDs)
    status_topic: str = Field(default=issuance_topics.CREDENTIALS_STATUS_TOPIC, min_length=1)
    # every replica must see every status event to drop its own caches, so each instance
    # has its own consumer group; a stable id (the pod name) lets it resume after restarts
    instance_id: str = Field(default_factory=socket.gethostname)

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        # half a TLS configuration would silently serve plain HTTP: refuse it at start-up
        if bool(self.http_tls_cert) != bool(self.http_tls_key):
            raise ValueError("set both LER_HTTP_TLS_CERT and LER_HTTP_TLS_KEY, or neither")
        return self
