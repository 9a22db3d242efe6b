"""Context broker writes and queries on SQLite: ``python -m bench.context [--writes N] [--rows N]``.

(1) Create Entity, one POST per Building-like entity (10 attributes), through an in-process ASGI
    client; (2) Batch Upsert, 1,000 entities per request; (3) the same rows by plain SQL INSERT
    into the same engine: the floor the API is compared with; (4) Query Entities by type and q
    over ``--rows`` entities (loaded by SQL, index rows included), a page of 20: p50/p95;
    (5) geo-query ``near;maxDistance`` over as many points: p50/p95. Then peak RSS.
The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.dialects import sqlite

from mims.context.service import create_app
from mims.context.storage.indexing import (
    attribute_values,
    geo_boxes,
    geo_rtree,
    index_rows,
)
from mims.context.storage.tables import entities, entity_types, tenants

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
ENTITIES = "/ngsi-ld/v1/entities"
BATCH = 1000
QUERIES = 200
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


async def run(writes: int, rows: int) -> list[tuple[str, str, str]]:
    rng = random.Random(9457)
    results: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(data_dir=Path(folder), jsonld_remote=False, auth="off", log_level="WARNING")
        async with app.router.lifespan_context(app):
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
            bodies = [building(number, rng) for number in range(writes)]

            async def post_each() -> None:
                for body in bodies:
                    response = await client.post(ENTITIES, json=body)
                    assert response.status_code == 201, response.text

            created = await timed(post_each)
            results.append(("create, one POST each (ASGI)", f"{writes / created:,.0f} entities/s", f"{created:.1f} s"))

            upserts = [building(writes + number, rng) for number in range(writes)]

            async def upsert_batches() -> None:
                for start in range(0, len(upserts), BATCH):
                    response = await client.post("/ngsi-ld/v1/entityOperations/upsert", json=upserts[start:start + BATCH])
                    assert response.status_code in (201, 204), response.text

            upserted = await timed(upsert_batches)
            results.append((f"batch upsert, {BATCH} per request", f"{writes / upserted:,.0f} entities/s", f"{upserted:.1f} s"))

            engine = app.state.engine
            floor_docs = [stored(building(10 * writes + number, rng)) for number in range(writes)]

            async def plain_insert() -> None:
                async with engine.begin() as connection:
                    await connection.execute(entities.insert(), [
                        {"tenant": "", "id": doc["id"], "doc": doc, "created_at": _instant(NOW), "modified_at": _instant(NOW)}
                        for doc in floor_docs])

            floor = await timed(plain_insert)
            results.append(("plain SQL INSERT (floor)", f"{writes / floor:,.0f} rows/s", f"{floor:.2f} s"))
            results.append(("create / floor, batch upsert / floor", f"{created / floor:.0f}x, {upserted / floor:.0f}x", ""))

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
    results.append(("peak RSS", f"{peak:,.0f} MiB", ""))
    return results


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
            box_keys = await connection.execute(geo_boxes.insert().returning(geo_boxes.c.pk), boxes)
            await connection.execute(geo_rtree.insert(), [
                {"id": row.pk, "min_x": box["min_x"], "max_x": box["max_x"], "min_y": box["min_y"], "max_y": box["max_y"]}
                for row, box in zip(box_keys, boxes, strict=True)])


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _percentiles(times: list[float]) -> tuple[str, str]:
    cuts = statistics.quantiles(times, n=20)
    return f"p50 {statistics.median(times) * 1000:.1f} ms", f"p95 {cuts[18] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=10_000, help="entities created by POST and by upsert")
    parser.add_argument("--rows", type=int, default=100_000, help="entities the queries run over")
    args = parser.parse_args()
    results = asyncio.run(run(args.writes, args.rows))
    table = Table(title="context broker on SQLite")
    for column in ("what", "figure", ""):
        table.add_column(column)
    for row in results:
        table.add_row(*row)
    Console().print(table)
    figures = {what: figure for what, figure, _ in results}
    query_p95 = next(extra for what, _, extra in results if what.startswith("query type"))
    geo_p95 = next(extra for what, _, extra in results if what.startswith("geo near"))
    print(f"create {figures['create, one POST each (ASGI)']}, upsert {figures[f'batch upsert, {BATCH} per request']}, "
          f"query {query_p95}, geo {geo_p95}, peak RSS {figures['peak RSS']}")


if __name__ == "__main__":
    main()
