"""Policy checks over the rendered objects, table-driven: every pod the chart runs is hardened,
probed, sized and pinned, takes secrets only by reference, and each service has its full set of
objects (Deployment, Service, ServiceAccount, HPA, PDB, ConfigMap, migration Job)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chartkit import COMPONENTS, RELEASE, Manifest, Rendering

PodCheck = Callable[[Rendering, Manifest, dict[str, Any]], list[str]]
SECRET_LIKE = re.compile(
    r"DATABASE_URL|KEK|PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS", re.I
)


def _pods(rendering: Rendering) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for manifest in rendering.manifests:
        if manifest["kind"] in ("Deployment", "Job"):
            yield manifest, manifest["spec"]["template"]["spec"]


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def check_probes(rendering: Rendering, manifest: Manifest, pod: dict[str, Any]) -> list[str]:
    """Services have native gRPC startup, liveness and readiness probes on their gRPC port."""
    if manifest["kind"] != "Deployment":
        return []
    problems = []
    for container in pod["containers"]:
        grpc_port = {p["name"]: p["containerPort"] for p in container["ports"]}.get("grpc")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            spec = container.get(probe)
            if not spec or "grpc" not in spec:
                problems.append(f"{container['name']}: no gRPC {probe}")
            elif spec["grpc"]["port"] != grpc_port:
                problems.append(f"{container['name']}: {probe} not on the gRPC port")
        liveness = container.get("livenessProbe", {}).get("grpc", {}).get("service")
        readiness = container.get("readinessProbe", {}).get("grpc", {}).get("service")
        if liveness == readiness:
            problems.append(
                "liveness must not follow readiness (a database outage would restart pods)"
            )
    return problems


def check_resources(rendering: Rendering, manifest: Manifest, pod: dict[str, Any]) -> list[str]:
    """Every container requests CPU and memory and has CPU and memory limits, memory <= 512Mi."""
    problems = []
    for container in _containers(pod):
        resources = container.get("resources", {})
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(section, {}):
                    problems.append(f"{container['name']}: no {section}.{resource}")
        limit = resources.get("limits", {}).get("memory", "")
        match = re.fullmatch(r"(\d+)Mi", str(limit))
        if not match or int(match.group(1)) > 512:
            problems.append(f"{container['name']}: memory limit {limit!r} not in Mi or above 512Mi")
    return problems


def check_security_context(
    rendering: Rendering, manifest: Manifest, pod: dict[str, Any]
) -> list[str]:
    """Non-root 10001, no privilege escalation, read-only root, no capabilities, RuntimeDefault."""
    problems = []
    pod_ctx = pod.get("securityContext", {})
    if pod_ctx.get("runAsNonRoot") is not True or pod_ctx.get("runAsUser") != 10001:
        problems.append("pod: not runAsNonRoot with runAsUser 10001")
    if pod_ctx.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append("pod: seccompProfile is not RuntimeDefault")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append("pod: mounts a service account token")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        problems.append("pod: shares a host namespace")
    for container in _containers(pod):
        ctx = container.get("securityContext", {})
        expected = {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
        }
        for key, value in expected.items():
            if ctx.get(key) is not value:
                problems.append(f"{container['name']}: {key} is not {value}")
        if ctx.get("privileged"):
            problems.append(f"{container['name']}: privileged")
        if ctx.get("capabilities", {}).get("drop") != ["ALL"] or ctx["capabilities"].get("add"):
            problems.append(f"{container['name']}: capabilities are not exactly drop [ALL]")
    return problems


def check_writable_tmp(rendering: Rendering, manifest: Manifest, pod: dict[str, Any]) -> list[str]:
    """With a read-only root, /tmp is an emptyDir (bounded in size)."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    problems = []
    for container in _containers(pod):
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volume = volumes.get(mounts.get("/tmp", ""), {})
        if "sizeLimit" not in volume.get("emptyDir", {}):
            problems.append(f"{container['name']}: /tmp is not a size-limited emptyDir")
    return problems


def check_image_pinned(rendering: Rendering, manifest: Manifest, pod: dict[str, Any]) -> list[str]:
    """Images carry an explicit tag (the chart's appVersion by default), never `latest`."""
    problems = []
    expected_tag = rendering.values["image"]["tag"] or rendering.chart["appVersion"]
    for container in _containers(pod):
        image = container["image"]
        name, _, digest = image.partition("@")
        repository, _, tag = name.rpartition(":")
        if not repository or "/" in tag:
            problems.append(f"{container['name']}: image {image!r} has no tag")
        elif tag == "latest":
            problems.append(f"{container['name']}: image {image!r} uses latest")
        elif tag != expected_tag:
            problems.append(f"{container['name']}: tag {tag!r} is not {expected_tag!r}")
        if digest and not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            problems.append(f"{container['name']}: malformed digest {digest!r}")
    return problems


def check_secrets_by_reference(
    rendering: Rendering, manifest: Manifest, pod: dict[str, Any]
) -> list[str]:
    """Secret-like settings come only from existing Secrets through secretKeyRef."""
    problems = []
    for container in _containers(pod):
        for env in container.get("env", []):
            if SECRET_LIKE.search(env["name"]):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if "value" in env or not ref or not ref.get("name") or not ref.get("key"):
                    problems.append(f"{container['name']}: {env['name']} not from a secretKeyRef")
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                problems.append(f"{container['name']}: envFrom a whole Secret")
    return problems


POD_CHECKS: list[PodCheck] = [
    check_probes,
    check_resources,
    check_security_context,
    check_writable_tmp,
    check_image_pinned,
    check_secrets_by_reference,
]


@pytest.mark.parametrize("check", POD_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_pod_policy(rendering: Rendering, check: PodCheck) -> None:
    pods = list(_pods(rendering))
    assert len(pods) >= 5, "the four services and their migration Jobs"
    problems = [
        f"{manifest['kind']}/{manifest['metadata']['name']}: {problem}"
        for manifest, pod in pods
        for problem in check(rendering, manifest, pod)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("check", "broken"),
    [
        (check_probes, lambda c: c.pop("readinessProbe")),
        (check_resources, lambda c: c["resources"]["limits"].pop("memory")),
        (
            check_security_context,
            lambda c: c["securityContext"].update(readOnlyRootFilesystem=False),
        ),
        (check_image_pinned, lambda c: c.update(image="ler-services:latest")),
        (check_secrets_by_reference, lambda c: c["env"].append({"name": "LER_KEK", "value": "x"})),
    ],
    ids=["probe", "resources", "security", "image", "secret"],
)
def test_each_policy_check_catches_its_violation(
    production: Rendering, check: PodCheck, broken: Callable[[dict[str, Any]], Any]
) -> None:
    import copy

    manifest = copy.deepcopy(production.component("Deployment", "wallet"))
    pod = manifest["spec"]["template"]["spec"]
    assert check(production, manifest, pod) == []
    broken(pod["containers"][0])
    assert check(production, manifest, pod) != []


def test_no_secret_is_rendered_or_put_in_a_configmap(rendering: Rendering) -> None:
    assert rendering.of_kind("Secret") == []
    for configmap in rendering.of_kind("ConfigMap"):
        for key in configmap.get("data", {}):
            assert not SECRET_LIKE.search(key), f"{configmap['metadata']['name']}: {key}"


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_service_has_its_objects(rendering: Rendering, component: str) -> None:
    deployment = rendering.component("Deployment", component)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == [f"ler-{component}"]
    container_ports = {p["name"] for p in container["ports"]}
    assert container_ports == {"grpc", "http", "metrics"}

    service = rendering.component("Service", component)
    assert service["spec"]["selector"] == selector
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {
        "grpc": "grpc",
        "http": "http",
        "metrics": "metrics",
    }

    account = rendering.component("ServiceAccount", component)
    assert (
        deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    )
    assert account["automountServiceAccountToken"] is False

    hpa = rendering.component("HorizontalPodAutoscaler", component)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"

    pdb = rendering.component("PodDisruptionBudget", component)
    assert pdb["spec"]["selector"]["matchLabels"] == selector

    configmap = rendering.component("ConfigMap", component)
    assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]
    assert configmap["data"]["LER_RUN_MIGRATIONS"] == "false"
    assert configmap["data"]["LER_GRPC_PORT"] == str(
        next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
    )


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_service_gets_its_database_url_and_only_key_holders_the_kek(
    rendering: Rendering, component: str
) -> None:
    container = rendering.component("Deployment", component)["spec"]["template"]["spec"][
        "containers"
    ][0]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    database = rendering.values["components"][component]["database"]
    assert refs["LER_DATABASE_URL"] == {"name": database["secretName"], "key": database["key"]}
    # signing keys (issuance), holder keys (wallet), webhook secrets (intake)
    assert ("LER_KEK" in refs) == (component in ("issuance", "wallet", "intake"))
    sasl = rendering.values["secrets"]["kafkaSasl"]
    assert ("LER_KAFKA_SASL_PASSWORD" in refs) == sasl["enabled"]


@pytest.mark.parametrize(
    ("component", "targets"),
    [
        ("intake", {"LER_VERIFICATION_GRPC_TARGET": "verification"}),
        ("wallet", {"LER_INTAKE_GRPC_TARGET": "intake", "LER_ISSUANCE_GRPC_TARGET": "issuance"}),
        ("issuance", {}),
        ("verification", {}),
    ],
)
def test_grpc_targets_name_the_called_services(
    rendering: Rendering, component: str, targets: dict[str, str]
) -> None:
    data = rendering.component("ConfigMap", component)["data"]
    got = {k: v for k, v in data.items() if k.endswith("_GRPC_TARGET")}
    expected = {}
    for key, target in targets.items():
        service = rendering.component("Service", target)
        port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc")
        expected[key] = f"{service['metadata']['name']}:{port}"
    assert got == expected


@pytest.mark.parametrize("component", COMPONENTS)
def test_migration_job_runs_before_install_and_upgrade(
    rendering: Rendering, component: str
) -> None:
    job = rendering.named("Job", f"{RELEASE}-{component}-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] + container["args"] == [f"ler-{component}", "migrate"]
    assert [e["name"] for e in container["env"] if "valueFrom" in e] == ["LER_DATABASE_URL"]
    assert "envFrom" not in container, "hooks run before the release's ConfigMaps exist"
    account = job["spec"]["template"]["spec"]["serviceAccountName"]
    hook_account = rendering.named("ServiceAccount", account)
    assert int(hook_account["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        annotations["helm.sh/hook-weight"]
    ), "the hooks' ServiceAccount is created before the Jobs"


def test_every_object_carries_the_recommended_labels(rendering: Rendering) -> None:
    for manifest in rendering.manifests:
        labels = manifest["metadata"]["labels"]
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        ):
            assert key in labels, f"{manifest['kind']}/{manifest['metadata']['name']}: {key}"


EXPECTED_TOPICS = {
    "ler.issuance.requests.v1",
    "ler.issuance.requests.v1.dlq",
    "ler.issuance.results.v1",
    "ler.credentials.issued.v1",
    "ler.credentials.issued.v1.dlq",
    "ler.credentials.status.v1",
    "ler.credentials.status.v1.dlq",
    "ler.wallet.events.v1",
    "ler.verifications.v1",
    "ler.applications.v1",
}


def test_production_topics_are_strimzi_kafkatopics(production: Rendering) -> None:
    topics = {t["spec"]["topicName"]: t for t in production.of_kind("KafkaTopic")}
    assert set(topics) == EXPECTED_TOPICS
    assert not [j for j in production.of_kind("Job") if "kafka-topics" in j["metadata"]["name"]]
    for name, topic in topics.items():
        assert topic["metadata"]["namespace"] == "kafka"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "ler-kafka"
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == "2"
        assert topic["spec"]["partitions"] == (1 if name.endswith(".dlq") else 12)


def test_default_topics_are_created_by_a_hook_job(renderings: dict[str, Rendering]) -> None:
    rendering = renderings["default"]
    assert rendering.of_kind("KafkaTopic") == []
    configmap = rendering.named("ConfigMap", f"{RELEASE}-kafka-topics")
    topics = {t["name"]: t for t in json.loads(configmap["data"]["topics.json"])}
    assert set(topics) == EXPECTED_TOPICS
    assert topics["ler.credentials.status.v1"]["config"]["retention.ms"] == "2592000000"
    assert topics["ler.wallet.events.v1"] == {
        "name": "ler.wallet.events.v1",
        "partitions": 6,
        "replicationFactor": 3,
        "config": {"retention.ms": "604800000", "min.insync.replicas": "2"},
    }
    job = rendering.named("Job", f"{RELEASE}-kafka-topics")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] + container["args"] == [
        "python",
        "-m",
        "ler_platform.topics",
        "create",
        "--file",
        "/etc/ler/topics/topics.json",
    ]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    [topics_volume] = [n for n, v in volumes.items() if "configMap" in v]
    assert volumes[topics_volume]["configMap"]["name"] == configmap["metadata"]["name"]
    assert f"{mounts[topics_volume]}/topics.json" == container["args"][-1]


def test_service_monitor_scrapes_every_component(production: Rendering) -> None:
    [monitor] = production.of_kind("ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    [expression] = monitor["spec"]["selector"]["matchExpressions"]
    assert sorted(expression["values"]) == sorted(COMPONENTS)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_production_kafka_client_uses_sasl_over_tls_with_the_cluster_ca(
    production: Rendering,
) -> None:
    deployment = production.component("Deployment", "wallet")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    data = production.component("ConfigMap", "wallet")["data"]
    assert data["LER_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["LER_KAFKA_SASL_USERNAME"] == "ler"
    ca_file = Path(data["LER_KAFKA_SSL_CAFILE"])
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    mount = mounts[str(ca_file.parent)]
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "ler-kafka-cluster-ca-cert"
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": ca_file.name}]
