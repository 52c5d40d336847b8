"""Settings the Helm chart sets: database URL forms, Kafka security, targets, metrics, shutdown."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from ler_platform.db import create_engine, normalize_database_url
from ler_platform.errors import ConfigurationError
from ler_platform.events.kafka import KafkaBus
from ler_platform.events.security import KafkaSecurity
from ler_platform.lifecycle import DEFAULT_SHUTDOWN_DEADLINE_SECONDS
from ler_platform.local_tls import write_loopback_certificate
from ler_platform.runtime import make_bus
from ler_platform.settings import ServiceSettings
from pydantic import ValidationError

pytestmark = pytest.mark.timeout(30)

CHART_TERMINATION_GRACE_SECONDS = 30  # charts/ler/values.yaml default.terminationGracePeriodSeconds


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # CloudNativePG's generated `uri` key
        (
            "postgresql://app:pw@cluster-rw.db.svc:5432/app",
            "postgresql+asyncpg://app:pw@cluster-rw.db.svc:5432/app",
        ),
        ("postgres://app:pw@h/app", "postgresql+asyncpg://app:pw@h/app"),
        ("POSTGRESQL://app:pw@h/app", "postgresql+asyncpg://app:pw@h/app"),
        # libpq's sslmode is asyncpg's ssl; other parameters stay
        (
            "postgresql://a:b@h/db?sslmode=require&application_name=x",
            "postgresql+asyncpg://a:b@h/db?ssl=require&application_name=x",
        ),
        ("postgresql+asyncpg://a:b@h/db", "postgresql+asyncpg://a:b@h/db"),
        ("sqlite+aiosqlite:///./var/x.db", "sqlite+aiosqlite:///./var/x.db"),
        ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
    ],
)
def test_database_urls_are_normalised_to_asyncpg(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected
    assert ServiceSettings(database_url=given).database_url == expected


async def test_a_plain_postgresql_url_makes_an_asyncpg_engine() -> None:
    engine = create_engine("postgres://u:p@127.0.0.1:5432/db")
    try:
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"
    finally:
        await engine.dispose()


def test_a_foreign_driver_is_still_refused() -> None:
    with pytest.raises(ConfigurationError, match="not supported"):
        create_engine("postgresql+psycopg2://u:p@h/db")


def test_service_targets_and_metrics_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LER_VERIFICATION_GRPC_TARGET", "ler-verification:50051")
    monkeypatch.setenv("LER_INTAKE_GRPC_TARGET", "ler-intake:50051")
    monkeypatch.setenv("LER_ISSUANCE_GRPC_TARGET", "ler-issuance:50051")
    monkeypatch.setenv("LER_METRICS_HOST", "0.0.0.0")
    monkeypatch.setenv("LER_METRICS_PORT", "9464")
    s = ServiceSettings()
    assert s.verification_grpc_target == "ler-verification:50051"
    assert s.intake_grpc_target == "ler-intake:50051"
    assert s.issuance_grpc_target == "ler-issuance:50051"
    assert (s.metrics_host, s.metrics_port) == ("0.0.0.0", 9464)


def test_metrics_are_off_and_targets_unset_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LER_METRICS_PORT", "LER_VERIFICATION_GRPC_TARGET"):
        monkeypatch.delenv(name, raising=False)
    s = ServiceSettings()
    assert s.metrics_port is None and s.verification_grpc_target is None
    with pytest.raises(ValidationError):
        ServiceSettings(metrics_port=70000)


def test_shutdown_fits_in_the_charts_termination_grace_period() -> None:
    s = ServiceSettings()
    assert s.shutdown_timeout_seconds < DEFAULT_SHUTDOWN_DEADLINE_SECONDS
    assert DEFAULT_SHUTDOWN_DEADLINE_SECONDS < CHART_TERMINATION_GRACE_SECONDS


async def test_kafka_sasl_ssl_settings_reach_the_clients(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_bytes(write_loopback_certificate(tmp_path / "tls")[0].read_bytes())
    monkeypatch.setenv("LER_KAFKA_BOOTSTRAP_SERVERS", "broker:9093")
    monkeypatch.setenv("LER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LER_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("LER_KAFKA_SASL_USERNAME", "ler-issuance")
    monkeypatch.setenv("LER_KAFKA_SASL_PASSWORD", "kafka-pw-do-not-log")
    monkeypatch.setenv("LER_KAFKA_SSL_CAFILE", str(ca))
    s = ServiceSettings()
    assert "kafka-pw-do-not-log" not in repr(s) and "kafka-pw-do-not-log" not in repr(
        s.kafka_security
    )
    kwargs = s.kafka_security.client_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "ler-issuance"
    assert kwargs["sasl_plain_password"] == "kafka-pw-do-not-log"
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # our CA file, not the system store
    bus = make_bus(s)
    assert isinstance(bus, KafkaBus)
    consumer = bus.consumer(["t"], "g", max_records=10)
    config = consumer._consumer._client  # aiokafka keeps the settings on its client
    assert config._security_protocol == "SASL_SSL"
    assert config._sasl_mechanism == "SCRAM-SHA-512"


def test_sasl_without_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LER_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.delenv("LER_KAFKA_SASL_USERNAME", raising=False)
    with pytest.raises(ValidationError, match="needs LER_KAFKA_SASL_MECHANISM"):
        ServiceSettings()
    with pytest.raises(ValidationError):
        ServiceSettings(kafka_security_protocol="TLS")  # type: ignore[arg-type]


def test_a_missing_ca_file_is_named() -> None:
    security = KafkaSecurity(protocol="SSL", ssl_cafile="/nonexistent/ca.crt")
    with pytest.raises(ConfigurationError, match=r"/nonexistent/ca\.crt"):
        security.client_kwargs()
    with pytest.raises(ConfigurationError, match="nonexistent"):
        KafkaBus("broker:9093", security=security)


def test_plaintext_is_the_default() -> None:
    assert ServiceSettings().kafka_security.client_kwargs() == {"security_protocol": "PLAINTEXT"}
