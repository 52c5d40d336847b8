"""Create the Kafka topics a deployment needs: ``python -m ler_platform.topics create``.

The Helm chart's kafka-topics Job runs ``create --file /etc/ler/topics/topics.json``, a JSON
list rendered from ``kafkaTopics`` (charts/ler/templates/_topics.tpl)::

    [{"name": "ler.credentials.issued.v1", "partitions": 6, "replicationFactor": 3,
      "config": {"retention.ms": "604800000", "min.insync.replicas": "2"}}, ...]

``create --defaults`` creates our own topics instead (``ler_proto.events.ALL_TOPICS`` plus the
``.dlq`` of every consumed topic), sized by ``LER_KAFKA_TOPIC_PARTITIONS`` and
``LER_KAFKA_REPLICATION_FACTOR``.

Missing topics are created with the AdminClient; existing ones are left exactly as they are
(their partitions and configs are never changed: that is an operator's decision), so the
command is idempotent and exits 0 when every topic exists afterwards. Brokers come from
``--bootstrap-servers`` or ``LER_KAFKA_BOOTSTRAP_SERVERS``; TLS/SASL from the
``LER_KAFKA_SECURITY_PROTOCOL``/``SASL_*``/``SSL_CAFILE`` settings, as for the services.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError, TopicAlreadyExistsError  # type: ignore[import-untyped]
from ler_proto.events import ALL_TOPICS
from ler_proto.events import issuance as issuance_topics
from ler_proto.topics import dead_letter_topic
from pydantic import ValidationError

from ler_platform.errors import ConfigurationError, LerError
from ler_platform.events.security import PLAINTEXT, KafkaSecurity
from ler_platform.logging import configure_logging, redact

# named explicitly: under `python -m` this module is __main__
log = logging.getLogger("ler_platform.topics")

# Topics some service consumes (DESIGN.md "Services"): each gets a dead-letter topic.
CONSUMED_TOPICS: tuple[str, ...] = (
    issuance_topics.ISSUANCE_REQUESTS_TOPIC,  # issuance
    issuance_topics.CREDENTIALS_ISSUED_TOPIC,  # wallet
    issuance_topics.CREDENTIALS_STATUS_TOPIC,  # wallet, verification, intake
)
# Retention as in the chart's values.yaml: 7 days; status changes and DLQs 30 days.
_WEEK_MS = 7 * 24 * 3600 * 1000
_MONTH_MS = 30 * 24 * 3600 * 1000
_LONG_RETENTION = frozenset({issuance_topics.CREDENTIALS_STATUS_TOPIC})
_MAX_NAME = 249  # Kafka's limit on topic names
_ADMIN_TIMEOUT_MS = 30_000


class TopicError(LerError):
    """A topic file is invalid, or the brokers refused to create a topic."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic to create (Kafka topic configs are strings, as the AdminClient takes them)."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class CreateResult:
    """What ``create_topics`` did."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def default_topics(partitions: int, replication_factor: int) -> list[TopicSpec]:
    """Our topics: every ``ler_proto`` topic and a single-partition ``.dlq`` per consumed one."""
    min_insync = str(min(2, replication_factor))
    specs: dict[str, TopicSpec] = {}
    for topic in ALL_TOPICS:
        if topic.name.endswith(".dlq"):
            continue  # added below, uniformly
        retention = _MONTH_MS if topic.name in _LONG_RETENTION else _WEEK_MS
        specs[topic.name] = TopicSpec(
            topic.name,
            partitions,
            replication_factor,
            {"retention.ms": str(retention), "min.insync.replicas": min_insync},
        )
    for name in CONSUMED_TOPICS:
        dlq = dead_letter_topic(name)
        # one partition: dead letters are rare, and read in order when replayed
        specs[dlq] = TopicSpec(
            dlq,
            1,
            replication_factor,
            {"retention.ms": str(_MONTH_MS), "min.insync.replicas": min_insync},
        )
    return sorted(specs.values(), key=lambda s: s.name)


def load_topics(path: Path) -> list[TopicSpec]:
    """Read and validate a topic file (the shape of the chart's ``ler.topics``)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise TopicError(f"cannot read topic file {path}: {err.strerror or err}") from err
    except json.JSONDecodeError as err:
        raise TopicError(f"topic file {path} is not valid JSON: {err}") from err
    if not isinstance(raw, list):
        raise TopicError(f"topic file {path} must hold a JSON list of topics")
    specs = [_spec(item, f"{path}[{i}]") for i, item in enumerate(raw)]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise TopicError(f"topic file {path} names topic {spec.name} twice")
        seen.add(spec.name)
    return specs


def _spec(item: Any, where: str) -> TopicSpec:
    if not isinstance(item, dict):
        raise TopicError(f"{where} must be an object")
    unknown = set(item) - {"name", "partitions", "replicationFactor", "config"}
    if unknown:
        raise TopicError(f"{where} has unknown keys {sorted(unknown)}")
    name = item.get("name")
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME:
        raise TopicError(f"{where}.name must be a topic name of 1-{_MAX_NAME} characters")
    if name in (".", "..") or not all(c.isalnum() or c in "._-" for c in name):
        raise TopicError(f"{where}.name {name!r} may hold only letters, digits, '.', '_', '-'")
    partitions = item.get("partitions")
    replication = item.get("replicationFactor")
    for key, value in (("partitions", partitions), ("replicationFactor", replication)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TopicError(f"{where}.{key} of {name} must be a positive integer")
    config = item.get("config", {})
    if not isinstance(config, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config.items()
    ):
        raise TopicError(f"{where}.config of {name} must map names to string values")
    return TopicSpec(name, int(partitions), int(replication), dict(config))  # type: ignore[arg-type]


async def create_topics(
    bootstrap_servers: str,
    specs: Sequence[TopicSpec],
    *,
    security: KafkaSecurity = PLAINTEXT,
    client_id: str = "ler-topics",
) -> CreateResult:
    """Create the topics of ``specs`` that do not exist; leave the others alone."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        request_timeout_ms=_ADMIN_TIMEOUT_MS,
        **security.client_kwargs(),
    )
    result = CreateResult()
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        result.existing = [s.name for s in specs if s.name in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=s.config)
                    for s in missing
                ],
                timeout_ms=_ADMIN_TIMEOUT_MS,
            )
            failures = []
            for name, code, *rest in getattr(response, "topic_errors", ()):
                if code == TopicAlreadyExistsError.errno:
                    result.existing.append(name)  # another process won the race
                elif code != 0:
                    message = rest[0] if rest and rest[0] else f"Kafka error code {code}"
                    failures.append(f"{name}: {message}")
                else:
                    result.created.append(name)
            if failures:
                raise TopicError("creating topics failed: " + "; ".join(failures))
    except KafkaError as err:
        raise TopicError(f"Kafka at {bootstrap_servers}: {type(err).__name__}: {err}") from err
    finally:
        await admin.close()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ler_platform.topics create (--file PATH | --defaults)``; exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m ler_platform.topics",
        description="Create missing Kafka topics; existing topics are left unchanged.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = sub.add_parser("create", help="create the topics that do not exist yet")
    source = create.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="JSON list of topics (the chart's shape)")
    source.add_argument("--defaults", action="store_true", help="the LER topics and their DLQs")
    create.add_argument(
        "--bootstrap-servers", help="host:port[,...] (default: LER_KAFKA_BOOTSTRAP_SERVERS)"
    )
    args = parser.parse_args(argv)
    try:
        # imported here: settings reads the environment, which --help must not need
        from ler_platform.settings import ServiceSettings

        settings = ServiceSettings(service_name="topics")
        configure_logging(settings.log_level, service_name="topics")
        bootstrap = args.bootstrap_servers or settings.kafka_bootstrap_servers
        if not bootstrap:
            raise ConfigurationError(
                "no Kafka brokers: pass --bootstrap-servers or set LER_KAFKA_BOOTSTRAP_SERVERS"
            )
        specs = (
            load_topics(args.file)
            if args.file is not None
            else default_topics(settings.kafka_topic_partitions, settings.kafka_replication_factor)
        )
        result = asyncio.run(create_topics(bootstrap, specs, security=settings.kafka_security))
    except (LerError, ValidationError) as err:
        print(f"ler_platform.topics create failed: {_one_line(err)}", file=sys.stderr)
        return 1
    for name in result.created:
        log.info("created topic %s", name)
    for name in result.existing:
        log.info("topic %s exists; left unchanged", name)
    log.info(
        "topics ready",
        extra={"topics_created": len(result.created), "topics_existing": len(result.existing)},
    )
    return 0


def _one_line(err: BaseException) -> str:
    return redact(" ".join(str(err).split()))[:1000]


async def delete_topics_matching(
    bootstrap_servers: str,
    match: Callable[[str], bool],
    *,
    within: float = 20.0,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Delete every topic whose name ``match``es; returns the names asked to be deleted.

    For tests and operators cleaning up per-run topics. The admin client runs on its own event
    loop in a daemon thread, waited for at most ``within`` seconds: a broker that stops
    answering (or a client that ignores cancellation) can delay the caller by that much and
    never hang it. Nothing is returned (``[]``) when the time runs out.
    """
    outcome: list[str] = []
    failure: list[BaseException] = []

    async def run() -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="ler-topics-cleanup",
            request_timeout_ms=_ADMIN_TIMEOUT_MS,
            **security.client_kwargs(),
        )
        try:
            await admin.start()
            doomed = [t for t in await admin.list_topics() if match(t)]
            if doomed:
                await admin.delete_topics(doomed, timeout_ms=_ADMIN_TIMEOUT_MS)
            outcome.extend(doomed)
        finally:
            await admin.close()

    loop = asyncio.get_running_loop()
    finished = asyncio.Event()

    def work() -> None:
        try:
            asyncio.run(run())
        except Exception as err:  # reported to the caller below, never lost in the thread
            failure.append(err)
        finally:
            with contextlib.suppress(RuntimeError):  # the caller's loop may be closed by now
                loop.call_soon_threadsafe(finished.set)

    threading.Thread(target=work, name="ler-topics-cleanup", daemon=True).start()
    try:
        await asyncio.wait_for(finished.wait(), within)
    except TimeoutError:
        log.warning("topic clean-up still running after %.0f s; left to finish alone", within)
        return []
    if failure:
        raise TopicError(f"Kafka at {bootstrap_servers}: {_one_line(failure[0])}") from failure[0]
    return outcome


async def delete_topics_named(
    bootstrap_servers: str, names: Sequence[str], *, within: float = 20.0
) -> list[str]:
    """Delete the topics ``names`` and those derived from them (``<name>.dlq``, made by
    consumers); see :func:`delete_topics_matching`. For tests removing their per-run topics,
    which would otherwise pile up as partitions on a shared broker and slow every later run.
    """
    return await delete_topics_matching(
        bootstrap_servers,
        lambda t: any(t == n or t.startswith(f"{n}.") for n in names),
        within=within,
    )


if __name__ == "__main__":
    raise SystemExit(main())
