"""Echo's store and migration on both engines: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mims.echo.domain import Message, Page
from mims.echo.service import SPEC
from mims.echo.storage import SqlMessageStore
from mims.kit import storage


@pytest.fixture
async def engine(database_url):
    engine = storage.create_engine(database_url)
    await storage.migrate(engine, SPEC.name, SPEC.migrations)
    yield engine
    await engine.dispose()


def _message(n: int) -> Message:
    entity = {"id": f"urn:ngsi-ld:Thing:{n}", "type": "Thing", "n": {"type": "Property", "value": n}}
    received_at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
    return Message(id=f"{n:032x}", entity_id=entity["id"], received_at=received_at, entity=entity)


async def test_round_trip_keeps_entity_and_time(engine):
    store = SqlMessageStore(engine)
    await store.add(_message(1))
    assert await store.get(_message(1).id) == _message(1)
    assert await store.get("0" * 31 + "9") is None


async def test_pages_follow_arrival_order(engine):
    store = SqlMessageStore(engine)
    for n in (3, 1, 2):
        await store.add(_message(n))
    items, total = await store.page(Page(limit=2, offset=1))
    assert ([m.entity_id for m in items], total) == (["urn:ngsi-ld:Thing:1", "urn:ngsi-ld:Thing:2"], 3)


async def test_migration_is_idempotent(engine):
    await storage.migrate(engine, SPEC.name, SPEC.migrations)
    await SqlMessageStore(engine).add(_message(1))
