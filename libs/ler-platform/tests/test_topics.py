"""``python -m ler_platform.topics create``: the chart's topic file, defaults, real Kafka."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from ler_platform.topics import (
    TopicError,
    TopicSpec,
    default_topics,
    delete_topics_matching,
    load_topics,
)
from ler_proto.events import ALL_TOPICS
from platform_helpers import REPO_ROOT, infra, unique

pytestmark = pytest.mark.timeout(120)

CHART_VALUES = REPO_ROOT / "charts" / "ler" / "values.yaml"


def _write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "topics.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_the_charts_shape_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {
                "name": "ler.a.v1",
                "partitions": 6,
                "replicationFactor": 3,
                "config": {"retention.ms": "604800000", "min.insync.replicas": "2"},
            },
            {"name": "ler.a.v1.dlq", "partitions": 1, "replicationFactor": 3},
        ],
    )
    assert load_topics(path) == [
        TopicSpec("ler.a.v1", 6, 3, {"retention.ms": "604800000", "min.insync.replicas": "2"}),
        TopicSpec("ler.a.v1.dlq", 1, 3, {}),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ({"name": "x"}, "must hold a JSON list"),
        (["x"], r"\[0\] must be an object"),
        ([{"name": "", "partitions": 1, "replicationFactor": 1}], "must be a topic name"),
        ([{"name": "a b", "partitions": 1, "replicationFactor": 1}], "may hold only letters"),
        (
            [{"name": "t", "partitions": 0, "replicationFactor": 1}],
            "partitions of t must be a positive",
        ),
        ([{"name": "t", "partitions": 1, "replicationFactor": "3"}], "replicationFactor of t"),
        ([{"name": "t", "partitions": True, "replicationFactor": 1}], "partitions of t"),
        (
            [{"name": "t", "partitions": 1, "replicationFactor": 1, "config": {"retention.ms": 5}}],
            "string values",
        ),
        ([{"name": "t", "partitions": 1, "replicationFactor": 1, "replicas": 3}], "unknown keys"),
        (
            [
                {"name": "t", "partitions": 1, "replicationFactor": 1},
                {"name": "t", "partitions": 2, "replicationFactor": 1},
            ],
            "names topic t twice",
        ),
    ],
)
def test_a_bad_topic_file_is_refused_with_the_reason(
    tmp_path: Path, content: object, message: str
) -> None:
    with pytest.raises(TopicError, match=message):
        load_topics(_write(tmp_path, content))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TopicError, match=r"cannot read topic file .*nope\.json"):
        load_topics(tmp_path / "nope.json")


def test_defaults_cover_every_topic_and_the_dlq_of_each_consumed_one() -> None:
    specs = {s.name: s for s in default_topics(6, 3)}
    names = {t.name for t in ALL_TOPICS}
    assert names <= specs.keys()
    dlqs = {n for n in specs if n.endswith(".dlq")}
    assert dlqs == {
        "ler.issuance.requests.v1.dlq",
        "ler.credentials.issued.v1.dlq",
        "ler.credentials.status.v1.dlq",
    }
    assert all(specs[d].partitions == 1 for d in dlqs)
    assert specs["ler.credentials.issued.v1"].partitions == 6
    assert specs["ler.credentials.issued.v1"].config["min.insync.replicas"] == "2"
    assert specs["ler.credentials.status.v1"].config["retention.ms"] == "2592000000"
    # a single-broker cluster cannot require two in-sync replicas
    assert default_topics(6, 1)[0].config["min.insync.replicas"] == "1"


def test_defaults_name_the_same_topics_as_the_chart() -> None:
    # the chart's values.yaml lists topics as `    <name>: {...}` under kafkaTopics.topics
    text = CHART_VALUES.read_text()
    block = text.split("\nkafkaTopics:", 1)[1].split("\n  strimzi:", 1)[0]
    section = block.split("\n  topics:\n", 1)[1]
    chart = {
        line.strip().split(":", 1)[0]
        for line in section.splitlines()
        if line.startswith("    ler.")
    }
    assert chart == {s.name for s in default_topics(6, 3)}


# --- the command, against the real broker ------------------------------------------------


async def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ler_platform.topics",
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _describe(kafka: str, names: list[str]) -> dict[str, tuple[int, dict[str, str]]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka, client_id="ler-test-topics")
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        partitions = {t["topic"]: len(t["partitions"]) for t in described}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        )
        configs: dict[str, dict[str, str]] = {}
        for response in responses:
            for _code, _msg, _type, name, entries in response.resources:
                configs[name] = {e[0]: e[1] for e in entries}
        return {n: (partitions[n], configs[n]) for n in names}
    finally:
        await admin.close()


@pytest.mark.real
async def test_create_makes_missing_topics_leaves_existing_ones_and_is_idempotent(
    tmp_path: Path,
) -> None:
    kafka = infra().kafka
    first, second = unique("ler.topics"), unique("ler.topics")
    spec = [
        {
            "name": first,
            "partitions": 3,
            "replicationFactor": 1,
            "config": {"retention.ms": "3600000", "min.insync.replicas": "1"},
        }
    ]
    path = _write(tmp_path, spec)
    code, out, err = await _run("create", "--file", str(path), "--bootstrap-servers", kafka)
    assert code == 0, err
    assert f"created topic {first}" in out
    assert (await _describe(kafka, [first]))[first][0] == 3
    assert (await _describe(kafka, [first]))[first][1]["retention.ms"] == "3600000"

    # again, with the first topic now asking for more partitions and a second topic added:
    # the existing topic is left exactly as it was, the new one is created
    spec[0]["partitions"] = 5
    spec[0]["config"] = {"retention.ms": "7200000"}
    spec.append({"name": second, "partitions": 2, "replicationFactor": 1, "config": {}})
    path = _write(tmp_path, spec)
    # brokers from LER_KAFKA_BOOTSTRAP_SERVERS this time
    code, out, err = await _run(
        "create", "--file", str(path), env={"LER_KAFKA_BOOTSTRAP_SERVERS": kafka}
    )
    assert code == 0, err
    assert f"topic {first} exists; left unchanged" in out and f"created topic {second}" in out
    described = await _describe(kafka, [first, second])
    assert described[first][0] == 3 and described[first][1]["retention.ms"] == "3600000"
    assert described[second][0] == 2

    code, out, err = await _run("create", "--file", str(path), "--bootstrap-servers", kafka)
    assert code == 0, err
    assert "created topic" not in out


@pytest.mark.real
async def test_create_defaults_on_the_real_broker() -> None:
    kafka = infra().kafka
    code, _out, err = await _run(
        "create",
        "--defaults",
        env={
            "LER_KAFKA_BOOTSTRAP_SERVERS": kafka,
            "LER_KAFKA_TOPIC_PARTITIONS": "3",
            "LER_KAFKA_REPLICATION_FACTOR": "1",
        },
    )
    assert code == 0, err
    names = [s.name for s in default_topics(3, 1)]
    described = await _describe(kafka, names)
    assert set(described) == set(names)
    # DLQs created by this command have one partition; topics services made earlier keep theirs
    assert all(partitions >= 1 for partitions, _ in described.values())


async def test_unreachable_brokers_fail_with_one_clear_line(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"name": "t", "partitions": 1, "replicationFactor": 1}])
    code, _out, err = await _run(
        "create", "--file", str(path), "--bootstrap-servers", "127.0.0.1:1"
    )
    assert code == 1
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("ler_platform.topics create failed: Kafka at 127.0.0.1:1")
    )
    assert "Traceback" not in err


async def test_no_brokers_configured_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, [])
    env = {k: v for k, v in os.environ.items() if k != "LER_KAFKA_BOOTSTRAP_SERVERS"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ler_platform.topics",
        "create",
        "--file",
        str(path),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert "pass --bootstrap-servers or set LER_KAFKA_BOOTSTRAP_SERVERS" in err.decode()


async def test_a_bad_file_fails_before_contacting_kafka(tmp_path: Path) -> None:
    path = _write(tmp_path, "[{]")
    code, _out, err = await _run(
        "create", "--file", str(path), "--bootstrap-servers", "127.0.0.1:1"
    )
    assert code == 1
    assert "is not valid JSON" in err and "Traceback" not in err


@pytest.mark.real
async def test_delete_matching_removes_exactly_the_matching_topics() -> None:
    kafka = infra().kafka
    doomed, kept = unique("ler.cleanup"), unique("ler.cleanup.kept")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(n, 1, 1) for n in (doomed, f"{doomed}.dlq", kept)], timeout_ms=30_000
        )
        deleted = await delete_topics_matching(
            kafka, lambda t: t == doomed or t == f"{doomed}.dlq", within=30
        )
        assert sorted(deleted) == sorted([doomed, f"{doomed}.dlq"])
        for _ in range(100):  # deletion is asynchronous on the broker
            remaining = set(await admin.list_topics())
            if doomed not in remaining and f"{doomed}.dlq" not in remaining:
                break
            await asyncio.sleep(0.1)
        assert doomed not in remaining and f"{doomed}.dlq" not in remaining
        assert kept in remaining
    finally:
        await admin.close()


async def test_delete_matching_never_hangs_on_a_broker_that_does_not_answer() -> None:
    # a listener that accepts connections and never says anything, like a wedged broker
    silent: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await delete_topics_matching(f"127.0.0.1:{port}", lambda t: True, within=1.0) == []
        assert loop.time() - started < 3.0
    finally:
        server.close()
        for writer in silent:
            writer.close()
