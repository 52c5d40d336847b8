"""Finding the local real servers: environment first, then the file ``make infra`` writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from ler_platform.local_infra import LocalInfraMissing, find_local_infra, read_env_file


def test_the_environment_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "infra.env"
    env_file.write_text("LER_TEST_PG_DSN=postgresql+asyncpg://f@h:1\nLER_TEST_KAFKA=h:2\n")
    monkeypatch.setenv("LER_TEST_PG_DSN", "postgresql+asyncpg://e@h:3/")
    monkeypatch.setenv("LER_TEST_KAFKA", "h:4")
    found = find_local_infra(env_file)
    assert (found.pg_dsn, found.kafka) == ("postgresql+asyncpg://e@h:3", "h:4")
    assert found.pg_url("ler_test") == "postgresql+asyncpg://e@h:3/ler_test"


def test_the_file_fills_what_the_environment_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "infra.env"
    env_file.write_text(
        "# written by deploy/local/infra.sh\n"
        "LER_TEST_PG_DSN = postgresql+asyncpg://f@h:1\n"
        "not a setting\n"
        "LER_TEST_KAFKA=h:2\n"
    )
    monkeypatch.delenv("LER_TEST_PG_DSN", raising=False)
    monkeypatch.setenv("LER_TEST_KAFKA", "h:9")
    found = find_local_infra(env_file)
    assert (found.pg_dsn, found.kafka) == ("postgresql+asyncpg://f@h:1", "h:9")
    assert read_env_file(tmp_path / "absent.env") == {}


def test_missing_coordinates_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LER_TEST_PG_DSN", raising=False)
    monkeypatch.setenv("LER_TEST_KAFKA", "")
    with pytest.raises(LocalInfraMissing, match=r"LER_TEST_PG_DSN and LER_TEST_KAFKA.*make infra"):
        find_local_infra(tmp_path / "absent.env")
