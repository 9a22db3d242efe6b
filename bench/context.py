"""Context broker writes, queries and notifications on SQLite: ``python -m bench.context``.

Printed side by side in one run:
(1) Create Entity, one POST per Building-like entity (10 attributes), through an in-process ASGI
    client and through a real uvicorn server on 127.0.0.1 (a separate process, fed by a bounded
    number of client threads); (2) Batch Upsert, 1,000 entities per request; both again in-process
    on a broker whose writes keep no derived data (query index, temporal history, outbox), which
    shows what that costs; (3) the same rows by plain SQL INSERT into the same engine: the floor the API is compared with; (4) notification
    latency, from the start of an attribute update to receipt by a local HTTP receiver, with 100
    active subscriptions one of which points at a dead (closed) local port, on a broker served by
    uvicorn (updates and receiver in the bench process, as outside parties); (5) Query Entities by
    type and q over ``--rows`` entities (loaded by SQL, index rows included), a page of 20, and
    (6) geo-query ``near;maxDistance`` over as many points: p50/p95. Then peak RSS.
The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy.dialects import sqlite

from bench.serving import free_port, uvicorn_served
from mims.context.service import create_app
from mims.context.storage.indexing import (
    attribute_values,
    geo_boxes,
    index_rows,
)
from mims.context.storage.tables import entities, entity_types, tenants

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
ENTITIES = "/ngsi-ld/v1/entities"
BATCH = 1000
QUERIES = 200
CLIENT_THREADS = 4  # concurrent clients of the uvicorn server
SUBSCRIPTIONS = 100
UPDATES = 200
NOW = "2026-11-21T10:00:00.000000Z"


def building(number: int, rng: random.Random) -> dict[str, Any]:
    """A Building-like entity in request form: ten attributes."""
    return {
        "id": f"urn:ngsi-ld:Building:{number}",
        "type": "Building",
        "name": {"type": "Property", "value": f"Building {number}"},
        "floors": {"type": "Property", "value": rng.randint(1, 40)},
        "height": {"type": "Property", "value": round(rng.uniform(3, 150), 1), "unitCode": "MTR"},
        "category": {"type": "Property", "value": rng.choice(["office", "residential", "depot", "school"])},
        "occupied": {"type": "Property", "value": rng.random() < 0.8},
        "built": {"type": "Property", "value": f"{rng.randint(1900, 2025)}-01-01T00:00:00Z"},
        "owner": {"type": "Relationship", "object": f"urn:ngsi-ld:Person:{rng.randint(1, 500)}"},
        "address": {"type": "Property", "value": {"streetAddress": f"Coolsingel {number}", "addressLocality": "Rotterdam"}},
        "energy": {"type": "Property", "value": rng.uniform(0, 1000), "observedAt": "2026-11-21T09:00:00Z"},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [rng.uniform(4.3, 4.6), rng.uniform(51.85, 52.0)]}},
    }


def stored(body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of ``building`` (core context: default-context IRIs)."""
    attributes = {}
    for name, value in body.items():
        if name in ("id", "type"):
            continue
        iri = LOCATION if name == "location" else DEFAULT + name
        attributes[iri] = [{**value, "createdAt": NOW, "modifiedAt": NOW}]
    return {"id": body["id"], "type": [DEFAULT + body["type"]], "createdAt": NOW, "modifiedAt": NOW,
            "attributes": attributes}


async def timed(operation: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await operation()
    return time.perf_counter() - started


async def run(creates: int, writes: int, rows: int) -> list[tuple[str, str, str]]:
    rng = random.Random(9457)
    results: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(data_dir=Path(folder) / "asgi", jsonld_remote=False, auth="off", log_level="WARNING")
        async with app.router.lifespan_context(app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
            bodies = [building(number, rng) for number in range(creates)]
            created = await timed(lambda: post_each(client, bodies))
            results.append(("create, one POST each (ASGI)", f"{creates / created:,.0f} entities/s", f"{created:.1f} s"))
            serving = await asyncio.to_thread(served_creates, Path(folder) / "uvicorn", bodies)
            results.append((f"create, one POST each (uvicorn, {CLIENT_THREADS} clients)",
                            f"{creates / serving:,.0f} entities/s", f"{serving:.1f} s"))

            upserts = [building(creates + number, rng) for number in range(writes)]
            upserted = await timed(lambda: upsert_batches(client, upserts))
            results.append((f"batch upsert, {BATCH} per request", f"{writes / upserted:,.0f} entities/s", f"{upserted:.1f} s"))

            bare_create, bare_upsert = await without_derived_data(Path(folder) / "bare", bodies, upserts)
            results.append(("the same two without derived data (index, history, outbox)",
                            f"{creates / bare_create:,.0f} / {writes / bare_upsert:,.0f} entities/s",
                            f"{bare_create:.1f} s / {bare_upsert:.1f} s"))

            engine = app.state.engine
            floor_docs = [stored(building(10 * (creates + writes) + number, rng)) for number in range(writes)]

            async def plain_insert() -> None:
                async with engine.begin() as connection:
                    await connection.execute(entities.insert(), [
                        {"tenant": "", "id": doc["id"], "doc": doc, "created_at": _instant(NOW), "modified_at": _instant(NOW)}
                        for doc in floor_docs])

            floor = await timed(plain_insert)
            per_create, per_upsert, per_row = created / creates, upserted / writes, floor / writes
            results.append(("plain SQL INSERT (floor)", f"{writes / floor:,.0f} rows/s", f"{floor:.2f} s"))
            results.append(("create / floor, batch upsert / floor",
                            f"{per_create / per_row:.0f}x, {per_upsert / per_row:.0f}x", ""))

            with served(Path(folder) / "notifications") as base:
                async with httpx.AsyncClient(base_url=base) as outside:
                    latencies = await notification_latencies(outside)
            results.append((f"notification latency, {SUBSCRIPTIONS} subscriptions (1 dead)",
                            *_percentiles(latencies), f"{len(latencies)}/{UPDATES} received"))

            loaded = await timed(lambda: load(engine, rows, rng))
            results.append((f"load {rows:,} entities + indexes by SQL", f"{rows / loaded:,.0f} entities/s", f"{loaded:.1f} s"))

            async def query(params: dict[str, str]) -> float:
                started = time.perf_counter()
                response = await client.get(ENTITIES, params=params)
                assert response.status_code == 200, response.text
                return time.perf_counter() - started

            q_times = [await query({"type": "Building", "q": f"floors>={rng.randint(1, 40)};category==\"depot\"",
                                    "limit": "20"}) for _ in range(QUERIES)]
            results.append((f"query type + q over {rows:,}, page of 20", *_percentiles(q_times)))
            geo_times = [await query({
                "georel": "near;maxDistance==300", "geometry": "Point", "limit": "20",
                "coordinates": f"[{rng.uniform(4.3, 4.6):.5f},{rng.uniform(51.85, 52.0):.5f}]"}) for _ in range(QUERIES)]
            results.append((f"geo near;maxDistance over {rows:,} points", *_percentiles(geo_times)))
            await client.aclose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    served_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    results.append(("peak RSS (bench, uvicorn server)", f"{peak:,.0f} MiB", f"{served_peak:,.0f} MiB"))
    return results


async def without_derived_data(data_dir: Path, bodies: list[dict[str, Any]], upserts: list[dict[str, Any]]) -> tuple[float, float]:
    """Seconds for the in-process creates and batch upserts on a broker whose writes keep no
    derived data (no query index, temporal history or notification outbox): what the request
    pipeline and the entity table cost alone."""
    app = create_app(data_dir=data_dir, jsonld_remote=False, auth="off", log_level="WARNING")
    async with app.router.lifespan_context(app):
        app.state.entity_listeners.clear()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            return await timed(lambda: post_each(client, bodies)), await timed(lambda: upsert_batches(client, upserts))


async def post_each(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> None:
    """Create Entity, one POST per body."""
    for body in bodies:
        await _expect(client.post(ENTITIES, json=body), 201)


async def upsert_batches(client: httpx.AsyncClient, upserts: list[dict[str, Any]]) -> None:
    """Batch Upsert, BATCH entities per request."""
    for start in range(0, len(upserts), BATCH):
        response = await client.post("/ngsi-ld/v1/entityOperations/upsert", json=upserts[start:start + BATCH])
        assert response.status_code in (201, 204), response.text


@contextlib.contextmanager
def served(data_dir: Path) -> Iterator[str]:
    """A broker served by uvicorn in a separate process on 127.0.0.1; its base URL."""
    port = free_port()
    environment = {"OUP_CONTEXT_DATA_DIR": str(data_dir), "OUP_CONTEXT_JSONLD_REMOTE": "false",
                   "OUP_CONTEXT_AUTH": "off", "OUP_CONTEXT_LOG_LEVEL": "ERROR"}
    with uvicorn_served("mims.context.service:create_app", port, environment):
        yield f"http://127.0.0.1:{port}"


def served_creates(data_dir: Path, bodies: list[dict[str, Any]]) -> float:
    """Seconds to POST ``bodies`` (renumbered) to a uvicorn-served broker from CLIENT_THREADS threads."""
    with served(data_dir) as base:
        shares = [bodies[start::CLIENT_THREADS] for start in range(CLIENT_THREADS)]

        def post_share(share: list[dict[str, Any]]) -> None:
            with httpx.Client(base_url=base) as client:
                for body in share:
                    response = client.post(ENTITIES, json={**body, "id": body["id"] + ":served"})
                    assert response.status_code == 201, response.text

        threads = [threading.Thread(target=post_share, args=(share,)) for share in shares]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


async def notification_latencies(client: httpx.AsyncClient) -> list[float]:
    """Seconds from the start of each update to receipt of its notification.

    SUBSCRIPTIONS - 1 subscriptions watch one Meter each and notify the local receiver; one more
    watches every Meter and notifies a closed port, so each update also makes a delivery fail.
    """
    received: dict[int, float] = {}
    connections: dict[asyncio.StreamWriter, asyncio.Task[Any]] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[writer] = asyncio.current_task()  # type: ignore[assignment]
        try:
            while True:  # one request after the other on a kept-alive connection
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                data = orjson.loads(await reader.readexactly(length))["data"][0]
                received.setdefault(int(data["energy"]["value"]), time.perf_counter())
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):  # the connection was closed
            pass
        finally:
            writer.close()

    # Every update also fails at the dead endpoint, as intended: its warnings are not news here.
    logging.getLogger("mims.context.notify.dispatcher").setLevel(logging.ERROR)

    receiver = await asyncio.start_server(handle, "127.0.0.1", 0)
    endpoint = f"http://127.0.0.1:{receiver.sockets[0].getsockname()[1]}/notify"
    meters = [f"urn:ngsi-ld:Meter:{number}" for number in range(SUBSCRIPTIONS - 1)]
    for meter in meters:
        await _expect(client.post(ENTITIES, json={"id": meter, "type": "Meter",
                                                  "energy": {"type": "Property", "value": -1}}), 201)
        await _expect(client.post("/ngsi-ld/v1/subscriptions", json={
            "type": "Subscription", "entities": [{"id": meter, "type": "Meter"}], "watchedAttributes": ["energy"],
            "notification": {"endpoint": {"uri": endpoint}}}), 201)
    dead = await client.post("/ngsi-ld/v1/subscriptions", json={
        "type": "Subscription", "entities": [{"type": "Meter"}], "watchedAttributes": ["energy"],
        "notification": {"endpoint": {"uri": f"http://127.0.0.1:{free_port()}/dead"}}})
    assert dead.status_code == 201, dead.text
    sent: dict[int, float] = {}
    for number in range(UPDATES):
        sent[number] = time.perf_counter()
        await _expect(client.patch(f"{ENTITIES}/{meters[number % len(meters)]}/attrs",
                                   json={"energy": {"type": "Property", "value": number}}), 204)
        await asyncio.sleep(0.01)
    deadline = time.perf_counter() + 10
    while len(received) < UPDATES and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    receiver.close()
    for writer in connections:  # the broker keeps its connections open: end them from here
        writer.transport.abort()
    await asyncio.gather(*connections.values(), return_exceptions=True)
    # Its retries would go on into the next measurements.
    await _expect(client.delete(dead.headers["location"]), 204)
    return [received[number] - sent[number] for number in sent if number in received]


async def _expect(request: Awaitable[httpx.Response], status: int) -> None:
    response = await request
    assert response.status_code == status, response.text


async def load(engine: Any, rows: int, rng: random.Random) -> None:
    """``rows`` Building entities with their type and index rows, in SQL batches."""
    async with engine.begin() as connection:
        await connection.execute(sqlite.insert(tenants).values(name="", created_at=_instant(NOW)).on_conflict_do_nothing())
    for start in range(0, rows, 5000):
        async with engine.begin() as connection:
            docs = [stored(building(1_000_000 + number, rng)) for number in range(start, min(start + 5000, rows))]
            inserted = await connection.execute(entities.insert().returning(entities.c.pk), [
                {"tenant": "", "id": doc["id"], "doc": doc, "created_at": _instant(NOW), "modified_at": _instant(NOW)}
                for doc in docs])
            keys = [row.pk for row in inserted]
            await connection.execute(entity_types.insert(), [
                {"entity_pk": pk, "type": doc["type"][0], "tenant": ""} for pk, doc in zip(keys, docs, strict=True)])
            values, boxes = [], []
            for pk, doc in zip(keys, docs, strict=True):
                index = index_rows(doc)
                values += [{"tenant": "", "entity_pk": pk, **row} for row in index.values]
                boxes += [{"tenant": "", "entity_pk": pk, **box} for box in index.boxes]
            await connection.execute(attribute_values.insert(), values)
            await connection.execute(geo_boxes.insert(), boxes)  # a trigger fills the R*Tree


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _percentiles(times: list[float]) -> tuple[str, str]:
    cuts = statistics.quantiles(times, n=20)
    return f"p50 {statistics.median(times) * 1000:.1f} ms", f"p95 {cuts[18] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=2_000, help="entities created by one POST each (per server)")
    parser.add_argument("--writes", type=int, default=10_000, help="entities written by batch upsert and by plain SQL")
    parser.add_argument("--rows", type=int, default=100_000, help="entities the queries run over")
    args = parser.parse_args()
    results = asyncio.run(run(args.creates, args.writes, args.rows))
    table = Table(title="context broker on SQLite")
    for column in ("what", "figure", "", ""):
        table.add_column(column)
    for row in results:
        table.add_row(*row)
    Console().print(table)
    figures = {what: row for what, *row in results}

    def figure(prefix: str, column: int = 0) -> str:
        return next(row[column] for what, row in figures.items() if what.startswith(prefix))

    print(f"create {figure('create, one POST each (ASGI)')} in-process, {figure('create, one POST each (uvicorn')} "
          f"served; upsert {figure('batch upsert')}; floor {figure('plain SQL')}; notification {figure('notification', 1)}; "
          f"query {figure('query type', 1)}; geo {figure('geo near', 1)}; peak RSS {figure('peak RSS')}")


if __name__ == "__main__":
    main()
