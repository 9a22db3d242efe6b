"""Temporal domain pieces: ISO 8601 durations, aggregation methods, and history from entity changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from mims.context.ngsild.errors import BadRequestData
from mims.context.ngsild.temporal import aggregate, parse_duration
from mims.context.service import SPEC
from mims.context.storage.base import EntityQuery
from mims.context.storage.events import ChangeEvent
from mims.context.storage.temporal import (
    InstanceFilter,
    TemporalStore,
    backfill,
    record_history,
)
from mims.kit.storage import create_engine, migrate

SPEED = "https://uri.etsi.org/ngsi-ld/default-context/speed"
NAME = "https://uri.etsi.org/ngsi-ld/default-context/name"


@pytest.mark.parametrize(
    ("text", "months", "span"),
    [
        ("P1D", 0, timedelta(days=1)),
        ("PT1H30M", 0, timedelta(hours=1, minutes=30)),
        ("P2W", 0, timedelta(weeks=2)),
        ("P1Y2M3DT4H5M6.5S", 14, timedelta(days=3, hours=4, minutes=5, seconds=6.5)),
        ("PT0S", 0, timedelta()),
    ],
)
def test_durations_parse(text, months, span):
    duration = parse_duration(text)
    assert (duration.months, duration.span) == (months, span)


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "1D", "P1H", "PT1D", "P1W1D", "P-1D", "P1.5D"])
def test_bad_durations_are_refused(text):
    with pytest.raises(BadRequestData):
        parse_duration(text)


def test_calendar_months_clamp_the_day():
    end_of_january = datetime(2028, 1, 31, 12, tzinfo=UTC)
    assert parse_duration("P1M").after(end_of_january) == datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert parse_duration("P1Y").after(end_of_january) == datetime(2029, 1, 31, 12, tzinfo=UTC)
    assert parse_duration("P11M").after(datetime(2028, 3, 1, tzinfo=UTC)) == datetime(2029, 2, 1, tzinfo=UTC)


def test_aggregation_methods_with_known_figures():
    numbers = [2, 4, 4, 4, 5, 5, 7, 9]
    assert aggregate("totalCount", numbers) == 8
    assert aggregate("distinctCount", numbers) == 5
    assert aggregate("sum", numbers) == 40
    assert aggregate("avg", numbers) == 5
    assert aggregate("min", numbers) == 2 and aggregate("max", numbers) == 9
    assert aggregate("sumsq", numbers) == 232
    assert aggregate("stddev", numbers) == pytest.approx((32 / 7) ** 0.5)
    assert aggregate("stddev", [3]) == 0.0
    assert aggregate("min", ["b", "a"]) == "a"
    assert aggregate("sum", ["text", True]) is None
    assert aggregate("distinctCount", [{"a": 1, "b": 2}, {"b": 2, "a": 1}]) == 1


def instance(value, at: str, **extra):
    return {"type": "Property", "value": value, "createdAt": at, "modifiedAt": at, **extra}


def entity(at: str, attributes: dict) -> dict:
    return {"id": "urn:ngsi-ld:Car:1", "type": ["https://uri.etsi.org/ngsi-ld/default-context/Car"],
            "createdAt": "2026-01-01T00:00:00Z", "modifiedAt": at, "attributes": attributes}


@pytest.fixture
async def engine(database_url: str):
    engine = create_engine(database_url)
    await migrate(engine, "context", SPEC.migrations)
    yield engine
    await engine.dispose()


async def test_updates_record_only_new_changed_and_removed_instances(engine):
    t0, t1, t2 = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"
    first = entity(t0, {SPEED: [instance(10, t0)], NAME: [instance("car", t0)]})
    second = entity(t1, {SPEED: [instance(12, t1)], NAME: [instance("car", t0)]})
    third = entity(t2, {SPEED: [instance(12, t1)]})
    events = [
        ChangeEvent("", "created", first["id"], 1, None, first, t0),
        ChangeEvent("", "updated", first["id"], 1, first, second, t1),
        ChangeEvent("", "updated", first["id"], 1, second, third, t2),
    ]
    for event in events:
        async with engine.begin() as connection:
            await record_history(connection, [event])
    found = await TemporalStore(engine).get("", first["id"], InstanceFilter(time_member="modifiedAt"))
    assert found is not None
    assert [item["value"] for item in found.instances[SPEED]] == [10, 12]
    assert [item["value"] for item in found.instances[NAME]] == ["car", "urn:ngsi-ld:null"]
    assert found.instances[NAME][1]["deletedAt"] == t2
    assert found.doc["attributes"] == third["attributes"]


async def test_backfill_starts_the_history_of_stored_entities(engine):
    t0 = "2026-01-01T00:00:00Z"
    stored = entity(t0, {SPEED: [instance(10, t0), instance(11, t0, datasetId="urn:ngsi-ld:Dataset:b")]})
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: backfill(sync, [SimpleNamespace(tenant="", doc=stored)]))
    found = await TemporalStore(engine).get("", stored["id"], InstanceFilter())
    assert found is not None and found.doc == stored
    assert [(item["value"], item.get("datasetId")) for item in found.instances[SPEED]] == [
        (10, None), (11, "urn:ngsi-ld:Dataset:b")]


async def test_the_types_of_a_temporal_entity_follow_its_latest_state(engine):
    """Types are looked up in their own table: recreated with another type, or its history deleted
    and started again by a later write, a temporal entity is found by the type it has now."""
    car, bus = entity("2026-01-01T00:00:00Z", {})["type"][0], "https://uri.etsi.org/ngsi-ld/default-context/Bus"
    first = entity("2026-01-01T00:00:00Z", {SPEED: [instance(10, "2026-01-01T00:00:00Z")]})
    again = {**entity("2026-01-02T00:00:00Z", {SPEED: [instance(20, "2026-01-02T00:00:00Z")]}), "type": [bus]}
    later = {**again, "modifiedAt": "2026-01-03T00:00:00Z",
             "attributes": {SPEED: [instance(30, "2026-01-03T00:00:00Z")]}}
    store = TemporalStore(engine)

    async def ids_of(kind: str) -> list[str]:
        found, _ = await store.query("", EntityQuery(types=(kind,)), InstanceFilter(), 10, 0, False)
        return [item.doc["id"] for item in found]

    for event in (ChangeEvent("", "created", first["id"], 1, None, first, first["modifiedAt"]),
                  ChangeEvent("", "deleted", first["id"], 1, first, None, "2026-01-01T12:00:00Z"),
                  ChangeEvent("", "created", first["id"], 2, None, again, again["modifiedAt"])):
        async with engine.begin() as connection:
            await record_history(connection, [event])
    assert await ids_of(car) == [] and await ids_of(bus) == [first["id"]]
    assert await store.delete("", first["id"])
    async with engine.begin() as connection:
        await record_history(connection, [ChangeEvent("", "updated", first["id"], 2, again, later, later["modifiedAt"])])
    assert await ids_of(bus) == [first["id"]]
    found = await store.get("", first["id"], InstanceFilter())
    assert [item["value"] for item in found.instances[SPEED]] == [30]
