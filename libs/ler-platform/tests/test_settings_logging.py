"""Settings from the environment; JSON logs with trace ids and without secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest
from ler_platform.logging import JsonFormatter, SecretRedactingFilter, redact
from ler_platform.settings import ServiceSettings
from ler_platform.tracing import tracer
from pydantic import ValidationError

pytestmark = pytest.mark.timeout(30)


class _Demo(ServiceSettings):
    service_name: str = "demo"


def test_settings_come_from_ler_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LER_GRPC_PORT", "6000")
    monkeypatch.setenv("LER_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("LER_KEK", "super-secret-kek")
    monkeypatch.setenv("LER_CONSUMER_MAX_RETRIES", "2")
    settings = _Demo()
    assert settings.grpc_port == 6000
    assert settings.uses_kafka and settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.consumer_max_retries == 2
    assert settings.kek is not None and settings.kek.get_secret_value() == "super-secret-kek"
    assert "super-secret-kek" not in repr(settings) and "super-secret-kek" not in str(
        settings.model_dump()
    )


def test_database_defaults_to_a_sqlite_file_named_after_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LER_DATABASE_URL", raising=False)
    monkeypatch.delenv("LER_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = _Demo()
    assert settings.database_url == "sqlite+aiosqlite:///./var/demo.db"
    assert not settings.uses_kafka


def test_invalid_settings_are_rejected_with_the_field_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LER_GRPC_PORT", "70000")
    with pytest.raises(ValidationError, match="grpc_port"):
        _Demo()


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("demo"))
    handler.addFilter(SecretRedactingFilter())
    logger = logging.getLogger(f"test.{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_logs_are_json_lines_with_trace_and_span_ids() -> None:
    logger, stream = _capture()
    with tracer().start_as_current_span("op") as span:
        logger.info("issued %s", "c-1", extra={"credential_id": "c-1"})
    logger.info("outside")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (
        first["msg"] == "issued c-1"
        and first["credential_id"] == "c-1"
        and first["service"] == "demo"
    )
    ctx = span.get_span_context()
    if ctx.is_valid:  # a recording SDK provider is installed by other tests; the API no-op has none
        assert first["trace_id"] == format(ctx.trace_id, "032x")
        assert first["span_id"] == format(ctx.span_id, "016x")
    assert "trace_id" not in second


def test_logs_never_carry_secrets() -> None:
    logger, stream = _capture()
    logger.info("connecting to postgresql+asyncpg://ler:hunter2@db:5432/ler")
    logger.info("header was %s", "Bearer abc.def.ghi")
    logger.info("call", extra={"api_key": "k-123", "password": "p", "nested": {"token": "t"}})
    logger.info('jwk {"kty": "OKP", "crv": "Ed25519", "x": "pub", "d": "privatepart"}')
    logger.info("-----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----")
    try:
        raise ValueError("kek=abcdef rejected")
    except ValueError:
        logger.exception("failed")
    output = stream.getvalue()
    for secret in (
        "hunter2",
        "abc.def.ghi",
        "k-123",
        '"p"',
        '"t"',
        "privatepart",
        "MC4CAQ",
        "abcdef",
    ):
        assert secret not in output, secret
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 6
    assert '"x": "pub"' in lines[3]["msg"]  # public key material stays readable
    assert lines[2]["api_key"] == "[REDACTED]" and lines[2]["nested"] == {"token": "[REDACTED]"}


def test_redact_leaves_ordinary_text_alone() -> None:
    assert (
        redact("issued credential urn:uuid:1 to did:key:z6Mk")
        == "issued credential urn:uuid:1 to did:key:z6Mk"
    )
