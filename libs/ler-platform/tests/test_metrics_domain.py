"""Domain counters through ``Metrics.increment`` (issued, verified, revoked)."""

from __future__ import annotations

import pytest
from ler_platform.errors import ConfigurationError
from ler_platform.metrics import CREDENTIALS_ISSUED, CREDENTIALS_VERIFIED, Metrics


def test_increment_creates_the_shared_counters_and_adds() -> None:
    metrics = Metrics("issuance")
    metrics.increment(CREDENTIALS_ISSUED, 2)
    metrics.increment(CREDENTIALS_ISSUED)
    metrics.increment(CREDENTIALS_ISSUED, 0)  # nothing happened: no-op
    metrics.increment(CREDENTIALS_VERIFIED, verdict="verified")
    text = metrics.exposition().decode()
    assert "ler_credentials_issued_total 3.0" in text
    assert 'ler_credentials_verified_total{verdict="verified"} 1.0' in text


def test_increment_of_an_unknown_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"ler\.nope is not defined"):
        Metrics("x").increment("ler.nope")
