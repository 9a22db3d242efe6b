"""Geo-queries (clause 4.10) prefiltered by PostGIS on PostgreSQL (revision ``context_0007``).

On PostgreSQL with PostGIS, ``context_geo_box`` carries ``box``, the envelope of each stored
geometry, under a GiST index, and the prefilter is ``box && envelope(query box)``; the exact
relation is still decided in Python. The answers must be those of the reference (and of SQLite)
for every georel and geometry type, points and axis-parallel lines (degenerate boxes) included.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from starlette.testclient import TestClient

from mims.context import geo
from mims.context.service import SPEC, create_app
from mims.context.storage import EntityQuery, SqlEntityStore
from mims.context.storage.filters import GeoFilter
from mims.context.storage.indexing import index_entity
from mims.context.storage.sqlfilters import compile_filter, has_postgis_boxes
from mims.context.storage.tables import entities
from mims.kit import storage

LOCATION = "https://uri.etsi.org/ngsi-ld/location"
# Shapes around Rotterdam and Amsterdam, never closer to a query box edge than 0.005 degrees
# unless exactly on it, far beyond the float4 rounding of PostGIS boxes.
SHAPES = {
    "point": {"type": "Point", "coordinates": [4.47, 51.92]},
    "point-far": {"type": "Point", "coordinates": [5.5, 53.0]},
    "line": {"type": "LineString", "coordinates": [[4.40, 51.90], [4.50, 51.95]]},
    "line-vertical": {"type": "LineString", "coordinates": [[4.45, 51.80], [4.45, 51.99]]},
    "line-horizontal": {"type": "LineString", "coordinates": [[4.30, 51.97], [4.60, 51.97]]},
    "polygon": {"type": "Polygon", "coordinates": [
        [[4.46, 51.91], [4.48, 51.91], [4.48, 51.93], [4.46, 51.93], [4.46, 51.91]]]},
    "polygon-far": {"type": "Polygon", "coordinates": [
        [[4.88, 52.36], [4.92, 52.36], [4.92, 52.38], [4.88, 52.38], [4.88, 52.36]]]},
    "multipoint": {"type": "MultiPoint", "coordinates": [[4.47, 51.92], [4.90, 52.37]]},
    "multiline": {"type": "MultiLineString", "coordinates": [
        [[4.41, 51.91], [4.42, 51.92]], [[4.89, 52.37], [4.91, 52.37]]]},
    "multipolygon": {"type": "MultiPolygon", "coordinates": [
        [[[4.52, 51.91], [4.54, 51.91], [4.54, 51.93], [4.52, 51.93], [4.52, 51.91]]],
        [[[4.89, 52.365], [4.91, 52.365], [4.91, 52.375], [4.89, 52.375], [4.89, 52.365]]]]},
}
ROTTERDAM = [[[4.3, 51.8], [4.7, 51.8], [4.7, 52.1], [4.3, 52.1], [4.3, 51.8]]]
AMSTERDAM = [[[4.8, 52.3], [5.0, 52.3], [5.0, 52.4], [4.8, 52.4], [4.8, 52.3]]]
SQUARE = [[[4.47, 51.92], [4.53, 51.92], [4.53, 51.98], [4.47, 51.98], [4.47, 51.92]]]
CROSSING = [[4.44, 51.96], [4.46, 51.96]]
QUERIES = [
    ("near;maxDistance==2000", "Point", [4.47, 51.92], ["point", "line", "line-vertical", "polygon", "multipoint"]),
    ("near;maxDistance==100", "Point", [4.45, 51.85], ["line-vertical"]),
    ("near;minDistance==2000", "Point", [4.47, 51.92],
     ["point-far", "line-horizontal", "polygon-far", "multiline", "multipolygon"]),
    ("within", "Polygon", ROTTERDAM, ["point", "line", "line-vertical", "line-horizontal", "polygon"]),
    ("within", "MultiPolygon", [ROTTERDAM, AMSTERDAM],
     ["point", "line", "line-vertical", "line-horizontal", "polygon", "polygon-far", "multipoint", "multiline",
      "multipolygon"]),
    ("contains", "Point", [4.47, 51.92], ["point", "polygon", "multipoint"]),
    ("contains", "LineString", [[4.465, 51.915], [4.475, 51.925]], ["polygon"]),
    ("contains", "MultiPoint", [[4.465, 51.915], [4.475, 51.925]], ["polygon"]),
    ("intersects", "Point", [4.45, 51.85], ["line-vertical"]),
    ("intersects", "LineString", CROSSING, ["line-vertical"]),
    ("intersects", "MultiLineString", [CROSSING, [[4.90, 52.30], [4.90, 52.40]]],
     ["line-vertical", "polygon-far", "multipoint", "multiline", "multipolygon"]),
    ("intersects", "Polygon", SQUARE, ["point", "line", "line-horizontal", "polygon", "multipoint", "multipolygon"]),
    ("disjoint", "Polygon", ROTTERDAM, ["point-far", "polygon-far"]),
    ("equals", "Point", [4.47, 51.92], ["point"]),
    ("equals", "LineString", [[4.45, 51.80], [4.45, 51.99]], ["line-vertical"]),
    ("equals", "Polygon", SHAPES["polygon"]["coordinates"], ["polygon"]),
    ("overlaps", "Polygon", SQUARE, ["polygon", "multipolygon"]),
    ("overlaps", "MultiPoint", [[4.47, 51.92], [4.0, 51.0]], ["multipoint"]),
    ("overlaps", "LineString", [[4.35, 51.97], [4.65, 51.97]], ["line-horizontal"]),
]
QUERY_IDS = [f"{georel}-{geometry}-{number}" for number, (georel, geometry, _, _) in enumerate(QUERIES)]


def place(name: str) -> str:
    return f"urn:ngsi-ld:Place:{name}"


def stored(name: str, shape: dict) -> dict:
    return {
        "id": place(name),
        "type": ["https://example.org/Place"],
        "createdAt": "2026-11-21T10:00:00.000000Z",
        "modifiedAt": "2026-11-21T10:00:00.000000Z",
        "attributes": {LOCATION: [{"type": "GeoProperty", "value": shape}]},
    }


CORPUS = [stored(name, shape) for name, shape in SHAPES.items()]


def geo_filter(georel: str, geometry: str, coordinates: list) -> GeoFilter:
    return GeoFilter(geo.parse_geo_query(georel, geometry, json.dumps(coordinates), None), LOCATION)


class Database:
    """A context database driven from its own event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.engine = storage.create_engine(url)
        self.store = SqlEntityStore(self.engine, [index_entity])

    def run(self, awaitable):
        return self.loop.run_until_complete(awaitable)

    def load(self, documents: list[dict]) -> None:
        self.run(storage.migrate(self.engine, "context", SPEC.migrations))
        for document in documents:
            self.run(self.store.create("", document))

    def ids(self, item: GeoFilter) -> list[str]:
        """Query Entities as the API runs it."""
        page = self.run(self.store.query("", EntityQuery(filters=(item,)), 1000, 0, False))
        return [entity["id"] for entity in page.entities]

    def candidates(self, item: GeoFilter, *, postgis: bool) -> list[dict]:
        """The entities the SQL prefilter alone selects, in creation order."""
        condition = compile_filter(item, "", False, postgis=postgis).condition
        return self.rows(sa.select(entities.c.doc).where(entities.c.tenant == "", condition).order_by(entities.c.pk))

    def rows(self, statement, *setup: str) -> list:
        async def fetch():
            async with self.engine.connect() as connection:
                for each in setup:
                    await connection.execute(sa.text(each))
                return [row[0] for row in await connection.execute(statement)]
        return self.run(fetch())

    def has_postgis_boxes(self) -> bool:
        async def ask():
            async with self.engine.connect() as connection:
                return await has_postgis_boxes(connection)
        return self.run(ask())

    def close(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()


@pytest.fixture
def postgis_url(postgres_url: str) -> str:
    """A fresh PostgreSQL database on a server with PostGIS; without it these tests are skipped,
    unless ``OUP_REQUIRE_POSTGRES=1`` (CI, which installs PostGIS), where that is a failure."""

    async def available() -> bool:
        engine = storage.create_engine(postgres_url)
        try:
            async with engine.connect() as connection:
                found = await connection.execute(sa.text(
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"))
                return found.first() is not None
        finally:
            await engine.dispose()

    if not asyncio.run(available()):
        message = "the PostgreSQL server has no PostGIS extension (Debian: postgresql-15-postgis-3)"
        if os.environ.get("OUP_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return postgres_url


@pytest.fixture
def postgres(postgis_url: str) -> Iterator[Database]:
    database = Database(postgis_url)
    database.load(CORPUS)
    yield database
    database.close()


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'context.db'}")
    database.load(CORPUS)
    yield database
    database.close()


def box_schema(database: Database) -> tuple[list, list]:
    """The ``box`` column's type and the definitions of the indexes on it."""
    column = database.rows(sa.text(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = 'context_geo_box'::regclass AND attname = 'box' AND NOT attisdropped"))
    indexes = database.rows(sa.text(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'context_geo_box' AND indexdef LIKE '%(box)%'"))
    return column, indexes


def test_the_app_starts_with_a_gist_indexed_box_column(postgis_url: str, tmp_path: Path) -> None:
    app = create_app(data_dir=tmp_path, database_url=postgis_url, jsonld_remote=False)
    with TestClient(app) as client:
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Place"}).status_code == 200
    database = Database(postgis_url)
    try:
        column, indexes = box_schema(database)
        assert column == ["geometry(Polygon,4326)"]
        assert len(indexes) == 1 and "USING gist (box)" in indexes[0]
        assert database.has_postgis_boxes()
    finally:
        database.close()


def test_sqlite_has_no_postgis_boxes(sqlite: Database) -> None:
    assert not sqlite.has_postgis_boxes()
    assert sqlite.ids(geo_filter("equals", "Point", [4.47, 51.92])) == [place("point")]


def test_boxes_are_the_stored_envelopes_degenerate_ones_included(postgres: Database) -> None:
    boxes = dict(postgres.rows(sa.text(
        "SELECT json_build_array(e.id, ST_AsText(b.box)) FROM context_geo_box b"
        " JOIN context_entity e ON e.pk = b.entity_pk")))
    assert boxes[place("point")] == "POLYGON((4.47 51.92,4.47 51.92,4.47 51.92,4.47 51.92,4.47 51.92))"
    assert boxes[place("line-vertical")] == "POLYGON((4.45 51.8,4.45 51.99,4.45 51.99,4.45 51.8,4.45 51.8))"
    assert boxes[place("multipoint")] == "POLYGON((4.47 51.92,4.47 52.37,4.9 52.37,4.9 51.92,4.47 51.92))"


@pytest.mark.parametrize(("georel", "geometry", "coordinates", "expected"), QUERIES, ids=QUERY_IDS)
def test_postgis_prefilter_gives_the_reference_answers(
    postgres: Database, sqlite: Database, georel: str, geometry: str, coordinates: list, expected: list[str]
) -> None:
    item = geo_filter(georel, geometry, coordinates)
    answer = [place(name) for name in expected]
    assert [entity["id"] for entity in CORPUS if item.matches(entity)] == answer
    candidates = postgres.candidates(item, postgis=True)
    assert [entity["id"] for entity in candidates if item.matches(entity)] == answer
    # As selective as the plain box columns (the corpus keeps clear of float4 rounding).
    assert [entity["id"] for entity in candidates] == [
        entity["id"] for entity in postgres.candidates(item, postgis=False)]
    assert postgres.ids(item) == answer
    assert sqlite.ids(item) == answer


def test_degenerate_boxes_meet_under_the_bbox_operator(postgres: Database) -> None:
    """A point query box finds a point and a vertical line, both boxes without area."""
    on_point = postgres.candidates(geo_filter("intersects", "Point", [4.47, 51.92]), postgis=True)
    assert [entity["id"] for entity in on_point] == [
        place("point"), place("line"), place("polygon"), place("multipoint"), place("multiline")]
    on_line = postgres.candidates(geo_filter("intersects", "Point", [4.45, 51.85]), postgis=True)
    assert [entity["id"] for entity in on_line] == [place("line-vertical")]


def test_the_prefilter_uses_the_gist_index(postgres: Database) -> None:
    item = geo_filter("within", "Polygon", ROTTERDAM)
    condition = compile_filter(item, "", False, postgis=True).condition
    query = sa.select(entities.c.pk).where(entities.c.tenant == "", condition)
    sql = str(query.compile(postgres.engine))
    assert "&&" in sql and "ST_MakeEnvelope" in sql
    assert "4.3" not in sql  # the query box is bound, not pasted into the SQL
    literal = query.compile(postgres.engine, compile_kwargs={"literal_binds": True})
    plan = "\n".join(postgres.rows(sa.text(f"EXPLAIN {literal}"), "SET enable_seqscan = off"))
    assert "ix_context_geo_box_box" in plan and "&&" in plan


def test_disjoint_and_min_distance_keep_every_box(postgres: Database) -> None:
    for item in (geo_filter("disjoint", "Polygon", ROTTERDAM), geo_filter("near;minDistance==1", "Point", [4.5, 52])):
        assert len(postgres.candidates(item, postgis=True)) == len(CORPUS)


def test_downgrade_and_upgrade_round_trip(postgres: Database) -> None:
    def alembic(connection: sa.Connection, action, target: str) -> None:
        config = storage._alembic_config("context", SPEC.migrations)
        config.attributes["connection"] = connection
        action(config, target)

    async def downgrade() -> None:
        async with postgres.engine.connect() as connection:
            await connection.run_sync(alembic, command.downgrade, "context_0007-1")
            await connection.commit()

    postgres.run(downgrade())
    postgres.run(postgres.engine.dispose())  # connections remember the schema they saw
    assert box_schema(postgres) == ([], [])
    assert not postgres.has_postgis_boxes()
    item = geo_filter("within", "Polygon", ROTTERDAM)
    expected = [entity["id"] for entity in CORPUS if item.matches(entity)]
    assert postgres.ids(item) == expected

    postgres.run(storage.migrate(postgres.engine, "context", SPEC.migrations))
    postgres.run(postgres.engine.dispose())
    assert box_schema(postgres)[0] == ["geometry(Polygon,4326)"]
    assert postgres.has_postgis_boxes()
    candidates = postgres.candidates(item, postgis=True)
    assert [entity["id"] for entity in candidates if item.matches(entity)] == expected
