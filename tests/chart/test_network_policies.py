"""The rendered NetworkPolicies admit exactly the flows of the design, no more, no fewer.

Each policy is read back into flows, (source, destination, port) triples: peers are named by
what they match (another component's pods, or one of the values' peer lists: clients,
monitoring, dns, postgresql, kafka, otlp, internet), ports by the destination container's port
name or, for destinations outside the chart, "<number>/<protocol>". The set computed from the
rendered objects must equal the set written below from DESIGN.md and the deployment brief.
"""

from __future__ import annotations

from typing import Any

import pytest
from chartkit import COMPONENTS, RELEASE, Manifest, Rendering

Flow = tuple[str, str, str]

# Ingress to the services' gRPC and HTTP ports (metrics are added for every component below).
DESIGNED_INGRESS: set[Flow] = {
    # issuance: did:web and status lists are public; gRPC for tenants and the wallet
    ("public", "issuance", "http"),
    ("clients", "issuance", "grpc"),
    ("wallet", "issuance", "grpc"),
    ("wallet", "issuance", "http"),
    # wallet: share links are public; gRPC for clients
    ("public", "wallet", "http"),
    ("clients", "wallet", "grpc"),
    # verification: gRPC from intake and clients, VC-API over HTTP for clients
    ("clients", "verification", "grpc"),
    ("intake", "verification", "grpc"),
    ("clients", "verification", "http"),
    # intake: gRPC and the ATS HTTP API for clients; gRPC for the wallet's career planning
    ("clients", "intake", "grpc"),
    ("wallet", "intake", "grpc"),
    ("clients", "intake", "http"),
} | {("monitoring", c, "metrics") for c in COMPONENTS}

# Egress between components; every component also reaches DNS, PostgreSQL, Kafka and the OTLP
# collector; verification, wallet and intake also reach the internet over HTTPS.
DESIGNED_CALLS: set[Flow] = {
    ("intake", "verification", "grpc"),
    ("wallet", "intake", "grpc"),
    ("wallet", "issuance", "grpc"),
    ("wallet", "issuance", "http"),
}
EXTERNAL_DESTINATIONS = ("dns", "postgresql", "kafka", "otlp")
INTERNET_USERS = {"verification", "wallet", "intake"}
# The hook Jobs: migrations reach PostgreSQL (and export traces), the topic Job reaches Kafka.
DESIGNED_HOOK_EGRESS = {
    "migrations": ("dns", "postgresql", "otlp"),
    "kafka-topics": ("dns", "kafka"),
}


def _port_label(port: dict[str, Any]) -> str:
    return f"{port['port']}/{port.get('protocol', 'TCP')}"


class FlowReader:
    """Turns rendered NetworkPolicies back into flows, naming peers by what they select."""

    def __init__(self, rendering: Rendering) -> None:
        self.rendering = rendering
        values = rendering.values["networkPolicy"]
        self.peer_lists: dict[str, list[dict[str, Any]]] = {
            "clients": values["clients"],
            "monitoring": values["monitoring"],
            **{name: values["egress"][name]["peers"] for name in EXTERNAL_DESTINATIONS},
        }
        self.container_ports = {
            c: {p["containerPort"]: p["name"] for p in self._container(c)["ports"]}
            for c in COMPONENTS
        }

    def _container(self, component: str) -> dict[str, Any]:
        deployment = self.rendering.component("Deployment", component)
        return deployment["spec"]["template"]["spec"]["containers"][0]

    def component_of(self, peer: dict[str, Any]) -> str | None:
        """The component whose pods this peer selects (same namespace, release's labels)."""
        if set(peer) != {"podSelector"}:
            return None
        labels = peer["podSelector"].get("matchLabels", {})
        if labels.get("app.kubernetes.io/instance") != RELEASE:
            return None
        return labels.get("app.kubernetes.io/component")

    def name_peers(self, peers: list[dict[str, Any]] | None, where: str) -> list[str]:
        """Names of a rule's peers: one name per peer list matched as a whole."""
        if not peers:
            return ["public"]
        for name, configured in self.peer_lists.items():
            if peers == configured:
                return [name]
        if all("ipBlock" in p and len(p) == 1 for p in peers):
            return ["internet"]
        names = []
        for peer in peers:
            component = self.component_of(peer)
            if component is None:
                pytest.fail(f"{where}: peer {peer} is neither a component nor a configured list")
            names.append(component)
        return names

    def ports(self, rule: dict[str, Any], component: str | None, where: str) -> list[str]:
        if not rule.get("ports"):
            pytest.fail(f"{where}: a rule without ports admits every port")
        if component is None:
            return [_port_label(p) for p in rule["ports"]]
        names = []
        for port in rule["ports"]:
            assert port.get("protocol", "TCP") == "TCP", where
            if port["port"] not in self.container_ports[component]:
                pytest.fail(f"{where}: port {port['port']} is not a port of {component}")
            names.append(self.container_ports[component][port["port"]])
        return names

    def flows(self, policy: Manifest) -> tuple[set[Flow], set[Flow]]:
        """(ingress flows, egress flows) of one policy."""
        spec = policy["spec"]
        selected = spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"], selected
        own = selected if selected in COMPONENTS else None
        ingress: set[Flow] = set()
        for i, rule in enumerate(spec.get("ingress") or []):
            where = f"{policy['metadata']['name']} ingress[{i}]"
            for source in self.name_peers(rule.get("from"), where):
                for port in self.ports(rule, own, where):
                    ingress.add((source, selected, port))
        egress: set[Flow] = set()
        for i, rule in enumerate(spec.get("egress") or []):
            where = f"{policy['metadata']['name']} egress[{i}]"
            destinations = self.name_peers(rule.get("to"), where)
            assert destinations != ["public"], f"{where}: egress to anywhere"
            for destination in destinations:
                target = destination if destination in COMPONENTS else None
                for port in self.ports(rule, target, where):
                    egress.add((selected, destination, port))
        return ingress, egress


def _external_flows(rendering: Rendering, source: str, destinations: tuple[str, ...]) -> set[Flow]:
    egress_values = rendering.values["networkPolicy"]["egress"]
    return {
        (source, dest, _port_label(port))
        for dest in destinations
        for port in egress_values[dest]["ports"]
    }


def _designed_egress(rendering: Rendering) -> set[Flow]:
    flows = set(DESIGNED_CALLS)
    for component in COMPONENTS:
        flows |= _external_flows(rendering, component, EXTERNAL_DESTINATIONS)
        if component in INTERNET_USERS:
            flows |= _external_flows(rendering, component, ("internet",))
    return flows


@pytest.fixture
def reader(production: Rendering) -> FlowReader:
    return FlowReader(production)


def _policies(rendering: Rendering) -> dict[str, Manifest]:
    return {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: p
        for p in rendering.of_kind("NetworkPolicy")
    }


def test_component_policies_admit_exactly_the_designed_flows(
    production: Rendering, reader: FlowReader
) -> None:
    ingress: set[Flow] = set()
    egress: set[Flow] = set()
    for component in COMPONENTS:
        got_in, got_out = reader.flows(_policies(production)[component])
        ingress |= got_in
        egress |= got_out
    extra, missing = ingress - DESIGNED_INGRESS, DESIGNED_INGRESS - ingress
    assert ingress == DESIGNED_INGRESS, f"extra: {sorted(extra)}; missing: {sorted(missing)}"
    designed_egress = _designed_egress(production)
    assert egress == designed_egress, (
        f"extra: {sorted(egress - designed_egress)}; missing: {sorted(designed_egress - egress)}"
    )


@pytest.fixture(scope="module")
def default_with_policies() -> Rendering:
    """Default values (topic Job instead of Strimzi) with the policies turned on."""
    return Rendering("default+policies", (), {"networkPolicy": {"enabled": True}})


@pytest.mark.parametrize("job", sorted(DESIGNED_HOOK_EGRESS))
def test_hook_jobs_reach_only_what_they_need(default_with_policies: Rendering, job: str) -> None:
    rendering = default_with_policies
    policy = _policies(rendering)[job]
    assert rendering.is_hook(policy), "must exist before the hook Jobs run"
    ingress, egress = FlowReader(rendering).flows(policy)
    assert ingress == set()
    assert egress == _external_flows(rendering, job, DESIGNED_HOOK_EGRESS[job])


@pytest.mark.parametrize("name", ["production", "default+policies"])
def test_every_pod_the_chart_runs_is_selected_by_a_policy(
    name: str, production: Rendering, default_with_policies: Rendering
) -> None:
    rendering = production if name == "production" else default_with_policies
    selected = set(_policies(rendering))
    pods = {
        m["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for m in rendering.manifests
        if m["kind"] in ("Deployment", "Job")
    }
    assert pods == selected


def test_policies_are_opt_in(renderings: dict[str, Rendering]) -> None:
    assert renderings["default"].of_kind("NetworkPolicy") == []


def test_the_flow_reader_notices_an_extra_flow(production: Rendering, reader: FlowReader) -> None:
    """The comparison can fail: opening intake's metrics to the public shows up as a flow."""
    import copy

    policy = copy.deepcopy(_policies(production)["intake"])
    policy["spec"]["ingress"].append({"ports": [{"port": 9464, "protocol": "TCP"}]})
    ingress, _ = reader.flows(policy)
    assert ("public", "intake", "metrics") in ingress
