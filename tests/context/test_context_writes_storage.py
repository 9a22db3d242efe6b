"""Read-modify-write storage: change events on every write path, batches, and concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from mims.context.service import SPEC
from mims.context.storage import EntityQuery, TenantNotFound
from mims.context.storage.indexing import attribute_values, geo_boxes, geo_rtree, index_entity
from mims.context.storage.sql import EntityNotFound, SqlEntityStore
from mims.context.storage.subscriptions import SqlSubscriptionStore, outbox, record_change
from mims.kit.storage import _alembic_config, create_engine, default_database_url, migrate

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-02T00:00:00.000000Z"
TYPE = "https://example.org/Building"
OTHER = "https://example.org/Depot"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    await migrate(engine, "context", SPEC.migrations)
    yield engine
    await engine.dispose()


def entity(entity_id: str, kind: str = TYPE, **attributes: int) -> dict:
    return {
        "id": entity_id,
        "type": [kind],
        "createdAt": T0,
        "modifiedAt": T0,
        "attributes": {
            f"https://example.org/{name}": [{"type": "Property", "value": value, "createdAt": T0, "modifiedAt": T0}]
            for name, value in attributes.items()
        },
    }


def with_attribute(name: str, value: int, kind: str | None = None):
    """A plan adding one attribute (and optionally changing the type), as an update would."""

    def plan(current):
        new = {**current, "modifiedAt": T1, "attributes": dict(current["attributes"])}
        new["attributes"][f"https://example.org/{name}"] = [
            {"type": "Property", "value": value, "createdAt": T1, "modifiedAt": T1}
        ]
        if kind is not None:
            new["type"] = [kind]
        return new

    return plan


async def test_every_write_path_reports_change_events(engine):
    events = []

    async def listener(connection, batch):
        events.append([(event.kind, event.entity_id, event.before is not None, event.after is not None)
                       for event in batch])

    store = SqlEntityStore(engine, [listener])
    written = await store.write_many("", [("urn:a:1", lambda current: entity("urn:a:1")),
                                          ("urn:a:2", lambda current: entity("urn:a:2"))])
    assert [w.outcome for w in written] == ["created", "created"]
    updated = await store.update("", "urn:a:1", with_attribute("height", 3))
    assert updated["attributes"]["https://example.org/height"][0]["value"] == 3
    assert await store.update("", "urn:a:1", lambda current: None) is None  # unchanged: no event
    assert await store.delete_many("", ["urn:a:1", "urn:a:9"]) == {"urn:a:1"}
    assert await store.purge("", EntityQuery(types=(TYPE,))) == 1
    assert events == [  # one call per transaction, with all of its events
        [("created", "urn:a:1", False, True), ("created", "urn:a:2", False, True)],
        [("updated", "urn:a:1", True, True)],
        [("deleted", "urn:a:1", True, False)],
        [("deleted", "urn:a:2", True, False)],
    ]


async def test_updates_keep_the_type_index_in_step(engine):
    store = SqlEntityStore(engine)
    await store.create("", entity("urn:a:1"))
    await store.update("", "urn:a:1", with_attribute("height", 3, kind=OTHER))
    assert (await store.query("", EntityQuery(types=(TYPE,)), 10, 0, False)).entities == []
    found = await store.query("", EntityQuery(types=(OTHER,)), 10, 0, True)
    assert [e["id"] for e in found.entities] == ["urn:a:1"] and found.count == 1


async def test_plans_for_one_id_in_a_batch_see_each_other(engine):
    store = SqlEntityStore(engine)
    written = await store.write_many("", [("urn:a:1", lambda current: entity("urn:a:1")),
                                          ("urn:a:1", lambda current: with_attribute("height", 1)(current))])
    assert [w.outcome for w in written] == ["created", "created"]
    stored = await store.get("", "urn:a:1")
    assert stored["attributes"]["https://example.org/height"][0]["value"] == 1


async def test_a_failing_plan_rolls_the_whole_transaction_back(engine):
    store = SqlEntityStore(engine)

    def failing(current):
        raise ValueError("refused")

    with pytest.raises(ValueError):
        await store.write_many("", [("urn:a:1", lambda current: entity("urn:a:1")), ("urn:a:2", failing)])
    assert await store.get("", "urn:a:1") is None


async def test_updates_of_missing_entities_and_tenants(engine):
    store = SqlEntityStore(engine)
    with pytest.raises(EntityNotFound):
        await store.update("", "urn:a:1", with_attribute("height", 1))
    with pytest.raises(TenantNotFound):
        await store.update("elsewhere", "urn:a:1", with_attribute("height", 1))


async def test_concurrent_updates_from_two_engines_lose_nothing(database_url, engine):
    """Two broker processes (two engines) appending different attributes to one entity at once."""
    other = create_engine(database_url)
    try:
        first, second = SqlEntityStore(engine), SqlEntityStore(other)
        await first.create("", entity("urn:a:1"))
        writes = [(first if n % 2 else second).update("", "urn:a:1", with_attribute(f"a{n}", n)) for n in range(12)]
        await asyncio.gather(*writes)
        stored = await first.get("", "urn:a:1")
        assert sorted(stored["attributes"]) == sorted(f"https://example.org/a{n}" for n in range(12))
    finally:
        await other.dispose()


async def test_concurrent_batches_creating_the_same_entities_both_succeed(database_url, engine):
    other = create_engine(database_url)
    try:
        stores = [SqlEntityStore(engine), SqlEntityStore(other)]

        def upsert(name):
            def plan(current):
                return entity("urn:a:1") if current is None else with_attribute(name, 1)(current)

            return plan

        await asyncio.gather(*(store.write_many("", [("urn:a:1", upsert(f"by{n}"))]) for n, store in enumerate(stores)))
        stored = await stores[0].get("", "urn:a:1")
        assert len(stored["attributes"]) == 1  # one created it, the other (retried) updated it
    finally:
        await other.dispose()


async def test_changes_enter_the_outbox_only_in_tenants_with_change_subscriptions(engine):
    """A change is queued for notification only when its tenant has an active subscription
    notified on change: periodic and paused subscriptions do not need the outbox."""
    subscriptions = SqlSubscriptionStore(engine)
    store = SqlEntityStore(engine, [record_change])
    now = datetime.now(UTC)

    async def queued() -> list[tuple[str, str]]:
        async with engine.connect() as connection:
            rows = await connection.execute(sa.select(outbox.c.tenant, outbox.c.entity_id).order_by(outbox.c.pk))
            return [tuple(row) for row in rows]

    def subscription(number: int, **members) -> dict:
        return {"id": f"urn:ngsi-ld:Subscription:{number}", "type": "Subscription",
                "entities": [{"type": TYPE}], "notification": {"endpoint": {"uri": "http://127.0.0.1:9/"}}, **members}

    await subscriptions.create("watched", subscription(1, timeInterval=60), [], now)
    await subscriptions.create("watched", subscription(2, isActive=False), [], now)
    await store.create("watched", entity("urn:a:1"))
    await store.create("quiet", entity("urn:a:2"))
    assert await queued() == []
    await subscriptions.create("watched", subscription(3), [], now)
    await store.create("watched", entity("urn:a:3"))
    await store.update("watched", "urn:a:1", with_attribute("height", 2))
    await store.create("quiet", entity("urn:a:4"))
    assert await queued() == [("watched", "urn:a:3"), ("watched", "urn:a:1")]


async def test_the_sqlite_rtree_mirrors_the_geometry_boxes_through_every_write(tmp_path):
    engine = create_engine(default_database_url("context", tmp_path))
    await migrate(engine, "context", SPEC.migrations)
    store = SqlEntityStore(engine, [index_entity])

    def located(entity_id: str, x: float) -> dict:
        placed = entity(entity_id)
        placed["attributes"][LOCATION] = [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [x, 52.0]},
                                           "createdAt": T0, "modifiedAt": T0}]
        return placed

    async def mirrored() -> tuple[list, list]:
        async with engine.connect() as connection:
            boxes = (await connection.execute(sa.select(geo_boxes.c.pk, geo_boxes.c.min_x).order_by(geo_boxes.c.pk))).all()
            rtree = (await connection.execute(sa.select(geo_rtree.c.id, geo_rtree.c.min_x).order_by(geo_rtree.c.id))).all()
            return [tuple(row) for row in boxes], [(row.id, pytest.approx(row.min_x, abs=1e-5)) for row in rtree]

    await store.write_many("", [(f"urn:a:{n}", lambda current, n=n: located(f"urn:a:{n}", 4.0 + n)) for n in range(3)])
    await store.update("", "urn:a:0", lambda current: located("urn:a:0", 5.5))
    assert await store.delete("", "urn:a:1")
    boxes, rtree = await mirrored()
    assert len(boxes) == 2 and rtree == boxes
    await store.purge("", EntityQuery(types=(TYPE,)))
    assert await mirrored() == ([], [])
    await engine.dispose()


async def test_a_long_sqlite_purge_lets_the_event_loop_serve_others_between_chunks(tmp_path):
    """SQLite writers run on the event loop; a purge of 5,000 entities (five chunks) lets the loop
    serve others after every chunk instead of holding it for the whole purge."""
    engine = create_engine(default_database_url("context", tmp_path))
    await migrate(engine, "context", SPEC.migrations)
    store = SqlEntityStore(engine)
    await store.write_many("", [(f"urn:a:{n}", lambda current, n=n: entity(f"urn:a:{n}", height=n)) for n in range(5000)])
    served = 0

    async def other_work() -> None:
        nonlocal served
        while True:
            await asyncio.sleep(0)
            served += 1

    working = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    before = served
    assert await store.purge("", EntityQuery(types=(TYPE,))) == 5000
    during = served - before
    working.cancel()
    assert during >= 4, during
    await engine.dispose()


async def test_the_one_row_per_value_migration_converts_stored_index_rows_both_ways(engine):
    """context_0011 turns the old index rows (an instance row besides element rows) into the rows
    written today, and back."""
    store = SqlEntityStore(engine, [index_entity])
    plain = entity("urn:a:1", height=3)
    plain["attributes"]["https://example.org/tags"] = [
        {"type": "Property", "value": ["x", "y"], "createdAt": T0, "modifiedAt": T0},
        {"type": "Property", "value": [], "datasetId": "urn:d:empty", "createdAt": T0, "modifiedAt": T0}]
    plain["attributes"]["https://example.org/owner"] = [
        {"type": "Relationship", "object": "urn:p:1", "createdAt": T0, "modifiedAt": T0,
         "attributes": {"https://example.org/since": [{"type": "Property", "value": "2020-01-01", "createdAt": T0,
                                                       "modifiedAt": T0}]}}]
    await store.write_many("", [("urn:a:1", lambda current: plain), ("urn:a:2", lambda current: entity("urn:a:2"))])
    columns = [attribute_values.c[name] for name in
               ("entity_pk", "instance", "path", "depth", "kind", "dataset_id", "element", "has_target", "num", "txt")]

    async def stored_rows() -> list[tuple]:
        async with engine.connect() as connection:
            return sorted((await connection.execute(sa.select(*columns))).all(), key=repr)

    written = await stored_rows()
    assert len(written) == 6  # height, tags x and y, the empty tags, owner, owner.since

    def alembic(connection: sa.Connection, action, target: str) -> None:
        config = _alembic_config("context", SPEC.migrations)
        config.attributes["connection"] = connection
        action(config, target)

    async with engine.connect() as connection:
        await connection.run_sync(alembic, command.downgrade, "context_0011-1")
        await connection.commit()
    old = await stored_rows()
    instance_rows = [row for row in old if row.element is None]
    assert len(instance_rows) == 5 and len(old) == 10  # every instance has its row, as before
    assert all(row.has_target is None for row in old if row.element is not None)

    await migrate(engine, "context", SPEC.migrations)
    assert await stored_rows() == written
