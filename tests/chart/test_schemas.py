"""Every rendered manifest is valid for the Kubernetes API of a current release.

Built-in kinds are checked by kubernetes-validate against the strict OpenAPI-derived schemas
of Kubernetes 1.37 and of 1.29, the oldest release Chart.yaml admits (unknown fields are
errors). The two custom resources have no schema there: ServiceMonitor (monitoring.coreos.com/v1)
and KafkaTopic (kafka.strimzi.io/v1beta2) are checked against the structural schemas below,
written from the fields their CRDs define for what the chart sets (additional properties
refused, so a misspelt field fails).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from chartkit import KUBE_VERSION, MIN_KUBE_VERSION, Rendering

_LABEL_SELECTOR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
# monitoring.coreos.com/v1 ServiceMonitor: spec.selector, spec.endpoints[] (port, path, interval,
# scrapeTimeout; durations match the CRD's Duration pattern).
_DURATION = (
    "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
SERVICE_MONITOR: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": _LABEL_SELECTOR,
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                        },
                    },
                },
            },
        },
    },
}
# kafka.strimzi.io/v1beta2 KafkaTopic: spec.{topicName, partitions >= 1, replicas 1..32767, config}.
KAFKA_TOPIC: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaTopic"},
        "metadata": {
            **_METADATA,
            "properties": {
                **_METADATA["properties"],
                "labels": {
                    "type": "object",
                    "required": ["strimzi.io/cluster"],
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "topicName": {"type": "string", "pattern": "^[a-zA-Z0-9._-]{1,249}$"},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "integer"]},
                },
            },
        },
    },
}
CUSTOM_RESOURCES = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): KAFKA_TOPIC,
}


@pytest.mark.parametrize("kube_version", [KUBE_VERSION, MIN_KUBE_VERSION])
def test_every_builtin_manifest_validates_against_the_kubernetes_api(
    rendering: Rendering, kube_version: str
) -> None:
    builtin = [
        m for m in rendering.manifests if (m["apiVersion"], m["kind"]) not in CUSTOM_RESOURCES
    ]
    assert len(builtin) >= 25, f"{rendering.name}: suspiciously few manifests rendered"
    errors = []
    for manifest in builtin:
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as err:
            errors.append(
                f"{manifest['kind']}/{manifest['metadata']['name']}: {err.message} "
                f"at {'.'.join(map(str, err.path))}"
            )
    assert not errors, "\n".join(errors)


def test_custom_resources_validate_structurally(production: Rendering) -> None:
    customs = [m for m in production.manifests if (m["apiVersion"], m["kind"]) in CUSTOM_RESOURCES]
    kinds = {m["kind"] for m in customs}
    assert kinds == {"ServiceMonitor", "KafkaTopic"}, "production renders both custom resources"
    for manifest in customs:
        jsonschema.validate(manifest, CUSTOM_RESOURCES[(manifest["apiVersion"], manifest["kind"])])


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda d: d["spec"].update(replicas="two"), "'two' is not of type 'integer'"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(livenessProbee={}),
            "Additional properties are not allowed",
        ),
    ],
    ids=["wrong-type", "unknown-field"],
)
def test_the_validator_rejects_a_broken_deployment(
    production: Rendering, mutation: Any, message: str
) -> None:
    """The validation above can fail: a broken copy of a rendered Deployment is refused."""
    import copy

    broken = copy.deepcopy(production.component("Deployment", "issuance"))
    mutation(broken)
    with pytest.raises(kubernetes_validate.ValidationError, match=message):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)


def test_chart_admits_the_versions_it_is_validated_against(production: Rendering) -> None:
    assert production.chart["kubeVersion"] == f">={MIN_KUBE_VERSION}-0"
