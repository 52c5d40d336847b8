"""Every setting a service reads is documented in the README (DESIGN: 12-factor, LER_ prefix)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _settings_table_module():  # scripts/ is not a package: load the generator by path
    path = ROOT / "scripts" / "settings_table.py"
    spec = importlib.util.spec_from_file_location("settings_table", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_documents_every_setting_of_every_service() -> None:
    gen = _settings_table_module()
    readme = (ROOT / "README.md").read_text()
    missing = [
        gen.env_name(field)
        for cls in (gen.ServiceSettings, *gen.SERVICES.values())
        for field in cls.model_fields
        if f"`{gen.env_name(field)}`" not in readme
    ]
    assert not missing, f"README lacks {missing}: run `uv run python scripts/settings_table.py`"
