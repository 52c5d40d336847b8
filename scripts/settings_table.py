"""Print the README's settings tables (Markdown) from the services' settings classes.

Every setting is a ``LER_*`` environment variable; ``tests/test_readme_settings.py`` fails when
the README lacks one, so regenerate with ``uv run python scripts/settings_table.py``.
"""

from __future__ import annotations

from ler_intake.settings import IntakeSettings
from ler_issuance.settings import IssuanceSettings
from ler_platform.settings import ServiceSettings
from ler_verification.settings import VerificationSettings
from ler_wallet.settings import WalletSettings
from pydantic.fields import FieldInfo

SERVICES = {
    "issuance": IssuanceSettings,
    "wallet": WalletSettings,
    "verification": VerificationSettings,
    "intake": IntakeSettings,
}


def env_name(field: str) -> str:
    """The environment variable of a settings field."""
    return f"LER_{field.upper()}"


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is None or value == "":
        return "unset"
    return f"`{value}`"


def table(fields: dict[str, FieldInfo]) -> str:
    """One Markdown table of variables and defaults."""
    rows = ["| variable | default |", "|---|---|"]
    rows += [f"| `{env_name(name)}` | {_default(info)} |" for name, info in fields.items()]
    return "\n".join(rows)


def main() -> None:
    """Print the common table, then each service's own settings."""
    common = ServiceSettings.model_fields
    print("Common to every service (`ler_platform.settings.ServiceSettings`):\n")
    print(table(dict(common)))
    for name, cls in SERVICES.items():
        own = {k: v for k, v in cls.model_fields.items() if k not in common}
        ports = f"gRPC `{cls.model_fields['grpc_port'].default}`, "
        ports += f"HTTP `{cls.model_fields['http_port'].default}`"
        print(f"\n**{name}** (default ports: {ports}):\n")
        print(table(own))


if __name__ == "__main__":
    main()
