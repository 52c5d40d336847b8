"""SQL spans, the tenant span attribute and the service resource (DESIGN.md "Observability")."""

from __future__ import annotations

from pathlib import Path

import pytest
from ler_platform.auth import Tenant, current_tenant
from ler_platform.db import create_engine
from ler_platform.tracing import (
    TENANT_ATTRIBUTE,
    TENANT_KIND_ATTRIBUTE,
    service_resource,
    tracer,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from platform_helpers import infra
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

SECRET_VALUE = "Ada Lovelace 1815-12-10"


async def _exercise(url: str, spans: InMemorySpanExporter) -> None:
    engine = create_engine(url)
    try:
        reset = current_tenant.set(Tenant("tenant-7"))
        try:
            with tracer().start_as_current_span("request") as parent:
                async with engine.begin() as conn:
                    await conn.execute(text("CREATE TEMP TABLE people (name TEXT)"))
                    await conn.execute(
                        text("INSERT INTO people (name) VALUES (:n)"), {"n": SECRET_VALUE}
                    )
                    rows = (await conn.execute(text("SELECT name FROM people"))).all()
                    assert rows == [(SECRET_VALUE,)]
                with pytest.raises(SQLAlchemyError):
                    async with engine.connect() as conn:
                        await conn.execute(text("SELECT * FROM no_such_table"))
        finally:
            current_tenant.reset(reset)
    finally:
        await engine.dispose()

    trace_id = parent.get_span_context().trace_id
    sql = [
        s
        for s in spans.get_finished_spans()
        if s.kind is SpanKind.CLIENT and "db.operation.name" in (s.attributes or {})
    ]
    names = [s.name for s in sql]
    assert {"CREATE", "INSERT", "SELECT"} <= set(names), names
    for span in sql:
        assert span.context.trace_id == trace_id  # joined to the request's trace
        attrs = dict(span.attributes or {})
        assert attrs["db.system.name"] in ("sqlite", "postgresql")
        assert attrs[TENANT_ATTRIBUTE] == "tenant-7"
        # parameters and statement text never reach the span
        assert all(SECRET_VALUE not in str(v) for v in attrs.values())
    failed = [s for s in sql if s.status.status_code is StatusCode.ERROR]
    assert len(failed) == 1
    assert failed[0].attributes is not None
    assert failed[0].attributes["error.type"] in ("OperationalError", "ProgrammingError")


async def test_sqlite_statements_are_spans_without_parameters(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    await _exercise(f"sqlite+aiosqlite:///{tmp_path / 'sql.db'}", spans)


@pytest.mark.real
async def test_postgres_statements_are_spans_without_parameters(
    spans: InMemorySpanExporter,
) -> None:
    await _exercise(infra().pg_url(), spans)


async def test_no_sql_spans_outside_a_tenant_carry_a_tenant(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'sql.db'}")
    try:
        with tracer().start_as_current_span("consumer"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    sql = [s for s in spans.get_finished_spans() if s.name == "SELECT"]
    assert sql
    assert all(TENANT_ATTRIBUTE not in (s.attributes or {}) for s in sql)


def test_service_resource_names_service_and_version() -> None:
    resource = service_resource("ler-platform").attributes
    assert resource["service.name"] == "ler-platform"
    assert resource["service.version"] == "0.1.0"
    assert service_resource("no-such-distribution").attributes["service.version"] == "unknown"


def test_a_learner_tenant_is_recorded_by_kind_only(spans: InMemorySpanExporter) -> None:
    reset = current_tenant.set(Tenant("acct-1234", kind="holder"))
    try:
        with tracer().start_as_current_span("wallet call"):
            pass
    finally:
        current_tenant.reset(reset)
    (span,) = [s for s in spans.get_finished_spans() if s.name == "wallet call"]
    attrs = dict(span.attributes or {})
    assert attrs[TENANT_KIND_ATTRIBUTE] == "holder"
    assert TENANT_ATTRIBUTE not in attrs


async def test_statements_outside_any_span_start_no_trace(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'sql.db'}")
    try:
        async with engine.connect() as conn:  # e.g. the outbox relay's poll
            await conn.execute(text("SELECT 2"))
    finally:
        await engine.dispose()
    assert [s for s in spans.get_finished_spans() if s.name == "SELECT"] == []
