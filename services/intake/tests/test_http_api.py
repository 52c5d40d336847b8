"""The HTTP API for ATSs, in-process on SQLite with the real verification service: every
endpoint's success, another provider getting 404/403 with nothing leaked, and bad input as
RFC 9457 problem documents."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from intake_helpers import Party, presentation
from ler_intake.tables import providers as providers_table
from scenarios import _trust_issuer
from sqlalchemy import select
from stack import CLIENT_KEY, Stack, start_stack, stop_stack

pytestmark = pytest.mark.timeout(120)
PROBLEM = "application/problem+json"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = await start_stack(tmp_path)
    try:
        yield running
    finally:
        await stop_stack(running)


class Http:
    """A tiny client for the API: one session, a base URL, a bearer per call."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def call(
        self,
        method: str,
        path: str,
        key: str | None,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, bytes]:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        data: Any = io.BytesIO(raw) if raw is not None else None
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        async with self.session.request(method, self.base + path, data=data, headers=sent) as r:
            return r.status, r.content_type, await r.read()

    async def ok(self, method: str, path: str, key: str | None, body: Any = None) -> Any:
        status, ctype, data = await self.call(method, path, key, body)
        assert status in (200, 201), (status, data)
        assert ctype == "application/json"
        return json.loads(data)

    async def problem(
        self, expect: int, method: str, path: str, key: str | None, body: Any = None, **kw: Any
    ) -> dict[str, Any]:
        status, ctype, data = await self.call(method, path, key, body, **kw)
        assert (status, ctype) == (expect, PROBLEM), (status, ctype, data)
        doc: dict[str, Any] = json.loads(data)
        assert doc["status"] == expect and doc["type"].startswith("urn:ler:problem:intake:")
        assert doc["title"] and doc["detail"]
        return doc


def _opportunity_body(title: str = "Junior data analyst", **extra: Any) -> dict[str, Any]:
    def req(label: str, code: str, weight: float = 1.0) -> dict[str, Any]:
        return {
            "skill": {
                "framework": "ESCO",
                "code": code,
                "label": label,
                "url": f"https://skills.example/{code}",
            },
            "weight": weight,
        }

    return {
        "opportunity": {
            "title": title,
            "kind": "OPPORTUNITY_KIND_JOB",
            "requiredSkills": [req("Python", "S1.2.3", 2.0), req("SQL", "S4.5.6")],
            "preferredSkills": [req("Data visualisation", "S7.8.9")],
            "redactionPolicy": {"hideApplicantIdentity": True, "hideInstitutionNames": True},
            **extra,
        },
        "idempotencyKey": uuid.uuid4().hex,
    }


async def test_http_api_for_an_ats(stack: Stack) -> None:
    acme, _ = await stack.provider("Acme")
    other, _ = await stack.provider("Other")
    await _trust_issuer(stack, acme.tenant_id)
    a, o = acme.key, other.key
    port = stack.intake.runtime.http.port  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session:
        http = Http(session, f"http://127.0.0.1:{port}")

        # opportunities: create (idempotent), get, list, posting
        body = _opportunity_body()
        opp = (await http.ok("POST", "/v1/opportunities", a, body))["opportunity"]
        opp_id = opp["opportunityId"]
        assert opp["providerId"] == acme.tenant_id and opp["state"] == "OPPORTUNITY_STATE_OPEN"
        again = (await http.ok("POST", "/v1/opportunities", a, body))["opportunity"]
        assert again["opportunityId"] == opp_id
        got = (await http.ok("GET", f"/v1/opportunities/{opp_id}", a))["opportunity"]
        assert got["title"] == "Junior data analyst"
        listed = await http.ok("GET", f"/v1/opportunities?providerId={acme.tenant_id}", a)
        assert [x["opportunityId"] for x in listed["opportunities"]] == [opp_id]
        posting = (await http.ok("GET", f"/v1/opportunities/{opp_id}/posting", None))["posting"]
        assert posting["providerName"] == "Acme" and "redactionPolicy" not in posting
        later = await http.ok(
            "POST", "/v1/opportunities", a, _opportunity_body(opensAt="2100-01-01T00:00:00Z")
        )
        later_id = later["opportunity"]["opportunityId"]
        # another provider does not see it, open or not: 404, as unknown, and never listed
        await http.problem(404, "GET", f"/v1/opportunities/{opp_id}", o)
        others = await http.ok("GET", "/v1/opportunities", o)
        assert opp_id not in json.dumps(others)
        # (the applicant-facing client does)
        await http.ok("GET", f"/v1/opportunities/{opp_id}", CLIENT_KEY)
        await http.problem(404, "POST", f"/v1/opportunities/{opp_id}/challenges", o)
        hijack = _opportunity_body()
        hijack["opportunity"]["providerId"] = acme.tenant_id
        await http.problem(403, "POST", "/v1/opportunities", o, hijack)
        # paging: one per page, the token leads to the next, bound to its filters
        opp2 = await http.ok("POST", "/v1/opportunities", a, _opportunity_body("Data engineer"))
        first = await http.ok("GET", f"/v1/opportunities?providerId={acme.tenant_id}&pageSize=1", a)
        token = first["page"]["nextPageToken"]
        second = await http.ok(
            "GET", f"/v1/opportunities?providerId={acme.tenant_id}&pageSize=1&pageToken={token}", a
        )
        assert {x["opportunityId"] for x in first["opportunities"] + second["opportunities"]} == {
            opp_id,
            opp2["opportunity"]["opportunityId"],
        }
        doc = await http.problem(
            400, "GET", f"/v1/opportunities?kind=OPPORTUNITY_KIND_JOB&pageToken={token}", a
        )
        assert doc["errors"][0]["field"] == "page.page_token"
        foreign = await http.problem(404, "GET", f"/v1/opportunities/{later_id}", o)
        assert foreign["type"] == "urn:ler:problem:intake:opportunity-not-found"
        assert foreign["title"] == "Opportunity not found"
        closed = await http.ok(
            "GET",
            f"/v1/opportunities?providerId={acme.tenant_id}&state=OPPORTUNITY_STATE_CLOSED",
            o,
        )
        assert closed.get("opportunities", []) == []
        assert b"Junior" not in json.dumps(closed).encode()

        # the applicant side: challenge (client key) and submission (idempotent)
        ch = await http.ok("POST", f"/v1/opportunities/{opp_id}/challenges", CLIENT_KEY)
        holder = Party.new()
        creds = [stack.issuer.badge(holder.did, index=10, skills=("python", "sql"))]
        vp = json.loads(presentation(holder, creds, challenge=ch["challenge"], domain=ch["domain"]))
        submission = {
            "presentation": vp,
            "challenge": ch["challenge"],
            "applicant": {"name": "Ada Lovelace", "email": "ada@example.org"},
        }
        status, _, data = await http.call(
            "POST",
            f"/v1/opportunities/{opp_id}/applications",
            CLIENT_KEY,
            submission,
            headers={"Idempotency-Key": "ats-app-1"},
        )
        assert status == 201, data
        app = json.loads(data)["application"]
        app_id = app["applicationId"]
        assert app["state"] == "APPLICATION_STATE_VERIFIED" and app["match"]["score"] == 0.8
        status, _, data = await http.call(
            "POST",
            f"/v1/opportunities/{opp_id}/applications",
            CLIENT_KEY,
            submission,
            headers={"Idempotency-Key": "ats-app-1"},
        )
        assert status == 200 and json.loads(data)["replayed"] is True

        # the provider's review: list (filter, page), redacted get, reveal, outcome
        page = await http.ok(
            "GET",
            f"/v1/opportunities/{opp_id}/applications"
            "?state=APPLICATION_STATE_VERIFIED&minScore=0.5&pageSize=1",
            a,
        )
        assert [x["applicationId"] for x in page["applications"]] == [app_id]
        assert b"Ada" not in json.dumps(page).encode()
        none = await http.ok("GET", f"/v1/opportunities/{opp_id}/applications?minScore=0.9", a)
        assert none.get("applications", []) == []
        status, _, raw = await http.call("GET", f"/v1/applications/{app_id}", a)
        assert status == 200
        for hidden in (b"Ada Lovelace", b"ada@example.org", b"Example College"):
            assert hidden not in raw, hidden
        redacted = json.loads(raw)["application"]
        assert redacted["match"]["score"] == 0.8 and "applicant.name" in redacted["redactedFields"]
        revealed = await http.ok(
            "POST",
            f"/v1/applications/{app_id}/reveals",
            a,
            {"field": "applicant.name", "reason": "calling back"},
        )
        assert revealed["application"]["applicant"]["name"] == "Ada Lovelace"
        assert revealed["reveal"]["revealedBy"] == acme.tenant_id
        full = await http.ok(
            "GET",
            f"/v1/applications/{app_id}?view=APPLICATION_VIEW_FULL&revealReason=interview",
            a,
        )
        assert full["application"]["applicant"]["email"] == "ada@example.org"
        decided = await http.ok(
            "PUT",
            f"/v1/applications/{app_id}/outcome",
            a,
            {"outcome": "OUTCOME_KIND_INTERVIEW", "note": "strong"},
        )
        assert decided["application"]["state"] == "APPLICATION_STATE_DECIDED"

        # another provider: 404 on every application endpoint, nothing about it in the answer
        for method, path, body in (
            ("GET", f"/v1/applications/{app_id}", None),
            ("GET", f"/v1/applications/{app_id}?view=APPLICATION_VIEW_FULL&revealReason=x", None),
            (
                "POST",
                f"/v1/applications/{app_id}/reveals",
                {"field": "applicant.name", "reason": "x"},
            ),
            ("PUT", f"/v1/applications/{app_id}/outcome", {"outcome": "OUTCOME_KIND_REJECTED"}),
            ("GET", f"/v1/opportunities/{opp_id}/applications", None),
        ):
            doc = await http.problem(404, method, path, o, body)
            assert "Ada" not in json.dumps(doc) and "strong" not in json.dumps(doc), path
        # roles: the applicant client may not create opportunities or read applications
        doc = await http.problem(403, "POST", "/v1/opportunities", CLIENT_KEY, _opportunity_body())
        assert doc["type"] == "urn:ler:problem:intake:not-allowed"
        await http.problem(403, "GET", f"/v1/applications/{app_id}", CLIENT_KEY)

        # bad input: each a specific problem
        doc = await http.problem(401, "GET", f"/v1/applications/{app_id}", None)
        assert doc["code"] == "UNAUTHENTICATED"
        await http.problem(401, "GET", f"/v1/applications/{app_id}", "not-a-key")
        doc = await http.problem(400, "POST", "/v1/opportunities", a, _opportunity_body(title=" "))
        assert doc["type"] == "urn:ler:problem:intake:invalid-request"
        assert doc["errors"] == [{"field": "opportunity.title", "detail": doc["detail"]}]
        doc = await http.problem(
            400, "POST", "/v1/opportunities", a, {"opportunity": {"tittle": 1}}
        )
        assert "tittle" in doc["detail"]
        doc = await http.problem(
            400,
            "POST",
            "/v1/opportunities",
            a,
            raw=b'{"a":1,"a":2}',
            headers={"Content-Type": "application/json"},
        )
        assert "duplicate" in doc["detail"].lower()
        doc = await http.problem(400, "POST", "/v1/opportunities", a, raw=b"{}")
        assert "Content-Type" in doc["detail"]
        doc = await http.problem(
            400, "GET", f"/v1/opportunities/{opp_id}/applications?minScore=lots", a
        )
        assert doc["errors"][0]["field"] == "query"
        doc = await http.problem(
            400, "GET", f"/v1/opportunities/{opp_id}/applications?colour=red", a
        )
        assert doc["errors"][0]["field"] == "colour"
        doc = await http.problem(
            400, "GET", f"/v1/applications/{app_id}?view=APPLICATION_VIEW_FULL", a
        )
        assert doc["errors"][0]["field"] == "reveal_reason"
        doc = await http.problem(
            400,
            "POST",
            f"/v1/applications/{app_id}/reveals",
            a,
            {"field": "match.score", "reason": "x"},
        )
        doc = await http.problem(
            400, "PUT", f"/v1/applications/{app_id}/outcome", a, {"outcome": "HIRED!"}
        )
        assert "outcome" in doc["detail"]
        doc = await http.problem(
            400,
            "POST",
            f"/v1/opportunities/{opp_id}/applications",
            CLIENT_KEY,
            {**submission, "presentation": 42, "idempotencyKey": "x"},
        )
        assert doc["errors"][0]["field"] == "presentation"
        doc = await http.problem(
            409,
            "POST",
            f"/v1/opportunities/{opp_id}/applications",
            CLIENT_KEY,
            {**submission, "challenge": "other"},
            headers={"Idempotency-Key": "ats-app-1"},
        )
        assert doc["code"] == "IDEMPOTENCY_KEY_REUSED"
        await http.problem(404, "GET", "/v1/opportunities/opp_nope/posting", None)
        doc = await http.problem(404, "GET", "/v1/nothing-here", a)
        assert doc["type"] == "urn:ler:problem:intake:no-such-route"
        doc = await http.problem(
            413,
            "POST",
            f"/v1/opportunities/{opp_id}/applications",
            CLIENT_KEY,
            raw=b"x" * (6 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
        )
        assert doc["type"] == "urn:ler:problem:intake:body-too-large"
        # (and the webhook secrets registered above are stored sealed, never in plain text)
        async with stack.intake.runtime.sessions() as session:
            rows = (await session.execute(select(providers_table))).all()
        assert rows and all(r.webhook_secret == "" and r.webhook_secret_sealed for r in rows)
        # the probes are untouched by the API's error mapping
        status, ctype, _ = await http.call("GET", "/healthz", None)
        assert (status, ctype) == (200, "application/json")
