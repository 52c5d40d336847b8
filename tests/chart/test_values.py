"""Bad values fail `helm template` (so `helm install`) with a message naming the problem;
`helm lint --strict` passes for both values files; per-component overrides really override."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import (
    CHART,
    PRODUCTION_VALUES,
    RELEASE,
    HelmFailed,
    Rendering,
    helm_template,
    run_helm,
)

SCHEMA_ERROR = "values don't meet the specifications of the schema(s)"

# (--set items, a values file's contents, expected fragment of helm's error message)
INVALID: dict[str, tuple[list[str], dict[str, Any], str]] = {
    "negative replicas": (
        ["components.issuance.replicas=-1"],
        {},
        "at '/components/issuance/replicas': minimum: got -1, want 0",
    ),
    "fractional replicas": (
        [],
        {"default": {"replicas": 1.5}},
        "at '/default/replicas': got number, want integer",
    ),
    "empty database secret name": (
        ["components.wallet.database.secretName="],
        {},
        "at '/components/wallet/database/secretName': minLength: got 0, want 1",
    ),
    "missing database secret name": (
        ["components.wallet.database.secretName=null"],
        {},
        "at '/components/wallet/database': missing property 'secretName'",
    ),
    "missing KEK secret name": (
        ["secrets.kek.secretName=null"],
        {},
        "at '/secrets/kek': missing property 'secretName'",
    ),
    "unknown key": (
        ["components.issuance.replicaz=2"],
        {},
        "at '/components/issuance': additional properties 'replicaz' not allowed",
    ),
    "unknown component": (
        ["components.billing.enabled=true"],
        {},
        "at '/components': additional properties 'billing' not allowed",
    ),
    "latest tag": (
        ["image.tag=latest"],
        {},
        'image.tag: "latest" is not allowed',
    ),
    "call to an unknown service": (
        [],
        {"components": {"intake": {"networkPolicy": {"egress": {"calls": {"billing": ["grpc"]}}}}}},
        "at '/components/intake/networkPolicy/egress/calls': "
        "additional properties 'billing' not allowed",
    ),
    "call to a disabled service": (
        ["components.verification.enabled=false"],
        {},
        'components.intake.networkPolicy.egress.calls: "verification" is not an enabled component',
    ),
    "secret in plain config": (
        ["config.env.LER_DATABASE_URL=postgresql+asyncpg://u:p@h/db"],
        {},
        "LER_DATABASE_URL looks like a secret; put it in an existing Secret",
    ),
    "both topic mechanisms": (
        ["kafkaTopics.strimzi.enabled=true"],
        {},
        "kafkaTopics: enable either strimzi (KafkaTopic resources) or job",
    ),
    "clients admitted but undefined": (
        [],
        {"networkPolicy": {"enabled": True, "clients": []}},
        "components.intake.networkPolicy.ingress.grpc admits "
        '"clients" but networkPolicy.clients is empty',
    ),
    "empty postgresql peers": (
        [],
        {"networkPolicy": {"egress": {"postgresql": {"peers": []}}}},
        "at '/networkPolicy/egress/postgresql/peers': minItems: got 0, want 1",
    ),
    "min ISR above replication": (
        ["kafkaTopics.defaults.replicationFactor=1"],
        {},
        "minInsyncReplicas (2) exceeds replicationFactor (1)",
    ),
    "missing memory limit": (
        ["default.resources.limits.memory=null"],
        {},
        "at '/default/resources/limits': missing property 'memory'",
    ),
}


@pytest.mark.parametrize(
    ("set_values", "file_values", "message"), INVALID.values(), ids=INVALID.keys()
)
def test_invalid_values_fail_with_a_clear_message(
    tmp_path: Path, set_values: list[str], file_values: dict[str, Any], message: str
) -> None:
    files = []
    if file_values:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(file_values))
        files.append(path)
    with pytest.raises(HelmFailed) as failure:
        helm_template(files, set_values)
    assert message in str(failure.value)
    if message.startswith("at '"):
        assert SCHEMA_ERROR in str(failure.value), "caught by values.schema.json"


@pytest.mark.parametrize("values", [None, PRODUCTION_VALUES], ids=["default", "production"])
def test_helm_lint_strict_passes(values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART), "--kube-version", "1.37.0"]
    if values is not None:
        args += ["--values", str(values)]
    result = run_helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_a_component_can_override_defaults_with_false_and_zero() -> None:
    """Sprig's merge ignores false/0 in the override; the chart's own merge must not."""
    rendering = Rendering(
        "override",
        (),
        {
            "components": {
                "issuance": {
                    "replicas": 0,
                    "autoscaling": {"enabled": False},
                    "podDisruptionBudget": {"enabled": False},
                }
            },
        },
    )
    deployment = rendering.component("Deployment", "issuance")
    assert deployment["spec"]["replicas"] == 0
    hpas = {m["metadata"]["name"] for m in rendering.of_kind("HorizontalPodAutoscaler")}
    pdbs = {m["metadata"]["name"] for m in rendering.of_kind("PodDisruptionBudget")}
    assert f"{RELEASE}-issuance" not in hpas | pdbs
    assert f"{RELEASE}-wallet" in hpas & pdbs, "the other components keep the defaults"


def test_a_disabled_component_renders_nothing_and_is_not_called() -> None:
    rendering = Rendering(
        "no-verification",
        (),
        {
            "components": {
                "verification": {"enabled": False},
                "intake": {"networkPolicy": {"egress": {"calls": {"verification": None}}}},
            },
        },
    )
    names = {m["metadata"]["name"] for m in rendering.manifests}
    assert not {n for n in names if "verification" in n}
    assert "LER_VERIFICATION_GRPC_TARGET" not in rendering.component("ConfigMap", "intake")["data"]


def test_missing_helm_fails_and_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chartkit

    monkeypatch.setattr(chartkit, "HELM", tmp_path / "helm")
    monkeypatch.setattr(chartkit, "REPO", tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"run tools/helm\.sh to install helm"):
        chartkit.run_helm("version")
