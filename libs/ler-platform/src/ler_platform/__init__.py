"""ler_platform: the plumbing every LER service shares; no domain logic lives here.

Modules, by concern:

* ``settings`` — ``ServiceSettings`` (``LER_*`` environment variables);
* ``errors`` — ``LerError`` and the ``DomainError`` family services raise;
* ``db``, ``tables``, ``migrations`` — async SQLAlchemy engines, the outbox/inbox tables,
  programmatic Alembic;
* ``events`` — the event bus (``InProcessBus``, ``KafkaBus``), envelopes, the consumer runner
  with retries and dead-lettering;
* ``outbox``, ``inbox`` — transactional outbox and relay, idempotent consumers;
* ``tracing``, ``logging`` — OpenTelemetry with Kafka propagation, JSON logs without secrets;
* ``grpc_server``, ``grpc_errors``, ``auth``, ``http_server`` — transports;
* ``metrics`` — Prometheus instruments (gRPC, HTTP, consumers, outbox, domain counters)
  and the ``/metrics`` listener;
* ``runtime``, ``lifecycle``, ``cli`` — a service's assembled runtime, its process lifecycle
  and its command line (``serve`` / ``migrate``);
* ``topics`` — ``python -m ler_platform.topics create``: the deployment's Kafka topics.
"""
