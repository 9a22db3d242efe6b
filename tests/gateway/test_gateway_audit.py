"""The gateway's audit log: records queued without cost to the request, stored in batches,
kept on shutdown, and read (never edited) by administrators as JSON pages or a CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from gateway import audit, audit_storage
from gateway.audit import AuditLog, AuditRecord
from gateway.metrics import Metrics
from gateway.metrics import router as metrics_router
from gateway.settings import GatewaySettings
from mims.kit import storage
from mims.kit.auth import TokenVerifier
from mims.kit.problems import PROBLEM_JSON
from mims.kit.service import MimSpec, create_app

ISSUER = "https://identity.rotterdam.example"
AUDIENCE = "https://gateway.rotterdam.example"
KEY = ECKey.generate_key("P-256", {"kid": "ec-1"})
VERSIONS = Path(audit.__file__).with_name("migrations") / "versions"

SPEC = MimSpec(
    name="gateway",
    title="Gateway audit under test",
    description="The audit log of the gateway, alone.",
    version="0.1.0",
    routers=(audit.router,),
    migrations=VERSIONS,
    background=(audit.running,),
    settings_cls=GatewaySettings,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def token(scope: str = "admin") -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "auditor", "client_id": "audit-desk", "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    signed = jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])
    return {"Authorization": f"Bearer {signed}"}


def record(minutes: int = 0, **fields: Any) -> AuditRecord:
    base = AuditRecord(
        at=T0 + timedelta(minutes=minutes), client_id="city-dashboard", subject="alice", issuer=ISSUER,
        method="GET", route="ngsi-ld", path="/ngsi-ld/v1/entities", entity_type="ParkingSpot", dataset=None,
        decision="allow", reason=None, status=200, bytes_in=0, bytes_out=512, duration_ms=3.25,
        request_id=f"req-{minutes}",
    )
    return replace(base, **fields)


Started = Callable[..., Awaitable[tuple[FastAPI, httpx.AsyncClient]]]


@pytest.fixture
async def start(tmp_path: Path, database_url: str) -> AsyncIterator[Started]:
    """Starts the audit app (settings overridable); it runs until the test ends."""
    async with AsyncExitStack() as stack:

        async def started(**overrides: Any) -> tuple[FastAPI, httpx.AsyncClient]:
            settings = GatewaySettings(**{
                "data_dir": tmp_path, "database_url": database_url, "issuers": [ISSUER],
                "jwks_url": f"{ISSUER}/jwks", "audience": AUDIENCE, **overrides})
            app = create_app(SPEC, settings)
            app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=AUDIENCE)
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"))
            return app, http

        yield started


async def stored(app: FastAPI, *records: AuditRecord) -> None:
    for item in records:
        app.state.audit.append(item)
    await app.state.audit.flush()


async def test_records_are_stored_and_read_back_newest_first(start: Started) -> None:
    app, http = await start()
    denied = record(2, client_id=None, subject=None, issuer=None, decision="deny", reason="insufficient_scope",
                    status=403, bytes_out=0, entity_type=None)
    await stored(app, record(0), record(1, at=(T0 + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=2)))), denied)

    response = await http.get("/admin/audit", headers=token())

    assert response.status_code == 200
    body = response.json()
    assert [item["request_id"] for item in body] == ["req-2", "req-1", "req-0"]
    assert datetime.fromisoformat(body[1]["at"]) == T0 + timedelta(minutes=1)
    assert datetime.fromisoformat(body[1]["at"]).utcoffset() == timedelta(0)
    assert body[0] | {"id": None} == {
        "id": None, "at": body[0]["at"], "client_id": None, "subject": None, "issuer": None, "method": "GET",
        "route": "ngsi-ld", "path": "/ngsi-ld/v1/entities", "entity_type": None, "dataset": None,
        "decision": "deny", "reason": "insufficient_scope", "status": 403, "bytes_in": 0, "bytes_out": 0,
        "duration_ms": 3.25, "request_id": "req-2",
    }
    assert "Link" not in response.headers


async def test_filters_and_paging(start: Started) -> None:
    app, http = await start()
    await stored(app, record(0), record(1, client_id="bus-app"), record(2), record(3, decision="deny", status=403),
                 record(4, route="marketplace", subject="bob"))

    async def ids(**params: Any) -> list[str]:
        response = await http.get("/admin/audit", params=params, headers=token())
        assert response.status_code == 200, response.text
        return [item["request_id"] for item in response.json()]

    since = (T0 + timedelta(minutes=2)).isoformat()
    until = (T0 + timedelta(minutes=4)).isoformat()
    assert await ids(since=since) == ["req-4", "req-3", "req-2"]
    assert await ids(since=since, until=until) == ["req-3", "req-2"]
    assert await ids(client="bus-app") == ["req-1"]
    assert await ids(subject="bob") == ["req-4"]
    assert await ids(route="marketplace") == ["req-4"]
    assert await ids(decision="deny") == ["req-3"]
    assert await ids(client="city-dashboard", since=since, decision="allow") == ["req-4", "req-2"]

    first = await http.get("/admin/audit", params={"limit": 2}, headers=token())
    assert [item["request_id"] for item in first.json()] == ["req-4", "req-3"]
    second = await http.get(first.links["next"]["url"], headers=token())
    assert [item["request_id"] for item in second.json()] == ["req-2", "req-1"]
    last = await http.get(second.links["next"]["url"], headers=token())
    assert [item["request_id"] for item in last.json()] == ["req-0"]
    assert "next" not in last.links


async def test_csv_export_parses_back(start: Started) -> None:
    app, http = await start()
    await stored(app, record(0, path='/ngsi-ld/v1/entities?q=name=="a, b"'), record(1, reason=None))

    by_accept = await http.get("/admin/audit", headers={**token(), "Accept": "text/csv"})
    by_param = await http.get("/admin/audit", params={"format": "csv", "client": "city-dashboard"}, headers=token())

    for response in (by_accept, by_param):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == 'attachment; filename="audit.csv"'
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [row["request_id"] for row in rows] == ["req-1", "req-0"]
        assert rows[1]["path"] == '/ngsi-ld/v1/entities?q=name=="a, b"'
        assert datetime.fromisoformat(rows[1]["at"]) == T0
        assert rows[1]["reason"] == "" and rows[1]["dataset"] == ""
        assert rows[1]["status"] == "200" and float(rows[1]["duration_ms"]) == 3.25
    limited = await http.get("/admin/audit", params={"format": "csv", "limit": 1, "offset": 1}, headers=token())
    assert [row["request_id"] for row in csv.DictReader(io.StringIO(limited.text))] == ["req-0"]


async def test_a_long_csv_export_streams_every_record(start: Started) -> None:
    app, http = await start()
    await stored(app, *(record(0, request_id=f"r{i}") for i in range(2500)))  # same instant: ties on id

    response = await http.get("/admin/audit", params={"format": "csv"}, headers=token())

    seen = [row["request_id"] for row in csv.DictReader(io.StringIO(response.text))]
    assert len(seen) == 2500 and len(set(seen)) == 2500
    assert seen[0] == "r2499" and seen[-1] == "r0"


async def test_only_administrators_read_the_log(start: Started) -> None:
    _, http = await start()

    anonymous = await http.get("/admin/audit")
    not_admin = await http.get("/admin/audit", headers=token("context:read"))

    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == PROBLEM_JSON
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert not_admin.status_code == 403
    assert "insufficient_scope" in not_admin.headers["www-authenticate"]


async def test_records_cannot_be_edited_or_deleted(start: Started) -> None:
    app, http = await start()
    await stored(app, record(0))

    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await http.request(method, "/admin/audit", headers=token(), json=[])
        assert response.status_code == 405, method
        assert response.headers["content-type"] == PROBLEM_JSON
    assert len((await http.get("/admin/audit", headers=token())).json()) == 1


BAD_PARAMETERS = [
    ({"since": "yesterday"}, "/since"),
    ({"since": "2026-03-01T12:00:00"}, "/since"),  # no offset: ambiguous
    ({"until": "2026-03-01"}, "/until"),
    ({"limit": "0"}, "/limit"),
    ({"limit": "5000"}, "/limit"),
    ({"offset": "-1"}, "/offset"),
    ({"decision": "maybe"}, "/decision"),
    ({"format": "xml"}, "/format"),
]


async def test_bad_parameters_are_named(start: Started) -> None:
    _, http = await start()

    for params, parameter in BAD_PARAMETERS:
        response = await http.get("/admin/audit", params=params, headers=token())

        assert response.status_code == 400, params
        assert response.headers["content-type"] == PROBLEM_JSON
        errors = response.json()["errors"]
        assert [(error["pointer"], error["location"]) for error in errors] == [(parameter, "query")], params


async def test_the_writer_stores_records_without_being_asked(start: Started) -> None:
    app, http = await start()
    app.state.audit.append(record(0))

    deadline = time.monotonic() + 10
    while not (body := (await http.get("/admin/audit", headers=token())).json()):
        assert time.monotonic() < deadline, "the background writer never stored the record"
        await asyncio.sleep(0.05)

    assert [item["request_id"] for item in body] == ["req-0"]
    assert app.state.audit.pending == 0


async def test_shutdown_stores_what_is_still_queued(tmp_path: Path, database_url: str) -> None:
    settings = GatewaySettings(data_dir=tmp_path, database_url=database_url, issuers=[ISSUER],
                               jwks_url=f"{ISSUER}/jwks")
    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):
        for minute in range(3):
            app.state.audit.append(record(minute))
        assert app.state.audit.pending == 3  # nothing awaited yet: all still queued

    engine = storage.create_engine(database_url)
    try:
        rows = await audit_storage.select(engine, audit_storage.AuditFilter(), limit=10)
    finally:
        await engine.dispose()
    assert [row["request_id"] for row in rows] == ["req-2", "req-1", "req-0"]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[Any]:
    engine = storage.create_engine(database_url)
    await storage.migrate(engine, "gateway", VERSIONS)
    yield engine
    await engine.dispose()


async def test_a_full_queue_drops_records_without_raising(engine: Any, caplog: pytest.LogCaptureFixture) -> None:
    log = AuditLog(engine, max_queued=2)

    for minute in range(5):
        log.append(record(minute))

    assert (log.pending, log.dropped) == (2, 3)
    assert "audit queue full" in caplog.text
    await log.flush()
    rows = await audit_storage.select(engine, audit_storage.AuditFilter(), limit=10)
    assert [row["request_id"] for row in rows] == ["req-1", "req-0"]


async def test_flush_writes_in_batches(engine: Any) -> None:
    log = AuditLog(engine, batch_size=2)
    for minute in range(5):
        log.append(record(minute))

    await log.flush()

    assert log.pending == 0 and log.lost == 0
    assert len(await audit_storage.select(engine, audit_storage.AuditFilter(), limit=10)) == 5


async def test_retention_purges_only_older_records(engine: Any) -> None:
    log = AuditLog(engine)
    for minute in (-2, -1, 0, 1):
        log.append(record(minute))
    await log.flush()

    deleted = await audit_storage.purge(engine, T0)

    assert deleted == 2
    rows = await audit_storage.select(engine, audit_storage.AuditFilter(), limit=10)
    assert [row["request_id"] for row in rows] == ["req-1", "req-0"]


async def test_dropped_records_are_counted_in_the_metrics(tmp_path: Path) -> None:
    def with_metrics(app: FastAPI, _: Any) -> None:
        app.state.metrics = Metrics()

    spec = replace(SPEC, routers=(*SPEC.routers, metrics_router), build=with_metrics)
    settings = GatewaySettings(data_dir=tmp_path, issuers=[ISSUER], jwks_url=f"{ISSUER}/jwks", audit_queue_size=1)
    app = create_app(spec, settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as http:
        app.state.audit.append(record(0))
        app.state.audit.append(record(1))

        exposed = (await http.get("/metrics")).text

    assert "gateway_audit_dropped_total 1.0" in exposed


async def test_an_oversized_value_does_not_cost_its_batch(engine: Any) -> None:
    log = AuditLog(engine)
    log.append(record(0, client_id="c" * 1000, subject="s" * 1000))
    log.append(record(1))

    await log.flush()

    rows = await audit_storage.select(engine, audit_storage.AuditFilter(), limit=10)
    assert log.lost == 0
    assert [row["request_id"] for row in rows] == ["req-1", "req-0"]
    assert rows[1]["client_id"] == "c" * 255


async def test_a_refused_batch_is_retried_then_counted_lost(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    unmigrated = storage.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        log = AuditLog(unmigrated, retry_delays=(0, 0))
        log.append(record(0))
        log.append(record(1))

        await log.flush()
    finally:
        await unmigrated.dispose()

    assert (log.pending, log.lost) == (0, 2)
    assert caplog.text.count("retrying") == 2
    assert "2 records could not be stored" in caplog.text
