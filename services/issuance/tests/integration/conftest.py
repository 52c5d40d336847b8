"""The issuance service in-process on the real PostgreSQL and Kafka, one schema and topic set
per test, both removed afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from issuance_helpers import delete_run_topics, drop_schema, real_infra, run_names, service_settings
from ler.issuance.v1 import issuance_service_pb2_grpc as pb_grpc
from ler_issuance.bootstrap import IssuanceApp, bootstrap


@pytest.fixture
async def real_app() -> AsyncIterator[tuple[IssuanceApp, pb_grpc.IssuanceServiceStub, dict]]:
    pg_url, kafka = real_infra()
    names = run_names()
    settings = service_settings(
        pg_url, kafka_bootstrap_servers=kafka, kafka_topic_partitions=2, **names
    )
    app = bootstrap(settings)
    await app.runtime.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.runtime.grpc.port}")
    try:
        yield app, pb_grpc.IssuanceServiceStub(channel), names
    finally:
        await channel.close()
        await app.runtime.stop()
        await drop_schema(pg_url, names["db_schema"])
        await delete_run_topics(kafka, names)
