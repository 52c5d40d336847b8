"""LER_KEK: parsing (never echoing the value), and the embedded-mode development KEK file."""

from __future__ import annotations

import stat

import pytest
from ler_platform.errors import ConfigurationError
from ler_platform.kek import kek_value, new_kek_value, parse_kek
from ler_platform.settings import ServiceSettings
from pydantic import SecretStr


def test_a_new_value_parses_to_a_kek_with_its_kid() -> None:
    assert parse_kek(new_kek_value("kek-7")).kid == "kek-7"


@pytest.mark.parametrize("bad", ["kek-1:not*base64", "kek-1:c2hvcnQ"])
def test_bad_values_are_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_kek(bad)
    assert bad.split(":")[1] not in str(err.value)


def test_postgres_without_kek_is_refused() -> None:
    settings = ServiceSettings(database_url="postgresql+asyncpg://u:p@127.0.0.1/db")
    with pytest.raises(ConfigurationError, match="LER_KEK is required"):
        kek_value(settings, "unused")


def test_embedded_mode_keeps_one_private_development_kek(tmp_path) -> None:
    settings = ServiceSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/s.db")
    path = tmp_path / "dev.kek"
    first = kek_value(settings, str(path))
    assert kek_value(settings, str(path)) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parse_kek(first)


def test_configured_kek_wins() -> None:
    value = new_kek_value()
    settings = ServiceSettings(database_url="postgresql+asyncpg://u:p@h/db", kek=SecretStr(value))
    assert kek_value(settings, "unused") == value
