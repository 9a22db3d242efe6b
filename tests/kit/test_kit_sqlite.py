"""The embedded SQLite backend: writers that never stall the event loop, bulk inserts that store
exactly what SQLAlchemy stores, and WAL checkpoints in the background."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mims.kit import storage
from mims.kit.sqlite import checkpointer

metadata = sa.MetaData()
samples = sa.Table(
    "samples",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("doc", sa.JSON().with_variant(postgresql.JSONB, "postgresql")),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("flag", sa.Boolean),
    sa.Column("num", sa.Float),
)
ROWS = [
    {"name": "a", "doc": {"x": [1, 2.5, "é"], "n": None}, "at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
     "flag": True, "num": 1.5},
    {"name": "b", "doc": [2**70, {"deep": {"er": True}}], "at": None, "flag": False, "num": None},
    {"name": "c", "doc": None, "at": datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), "flag": None, "num": -0.0},
]


@pytest.fixture
async def engine(database_url: str):
    engine = storage.create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def test_insert_rows_stores_exactly_what_an_ordinary_insert_stores(engine) -> None:
    async with storage.begin_write(engine) as connection:
        await connection.execute(samples.insert(), [{**row, "name": f"ordinary {row['name']}"} for row in ROWS])
        await storage.insert_rows(connection, samples, [{**row, "name": f"bulk {row['name']}"} for row in ROWS])
    async with engine.connect() as connection:
        raw = sa.select(samples.c.name, sa.cast(samples.c.doc, sa.Text), sa.cast(samples.c.at, sa.Text),
                        samples.c.flag, samples.c.num).order_by(samples.c.name)
        rows = (await connection.execute(raw)).all()
        typed = (await connection.execute(sa.select(samples).order_by(samples.c.pk))).all()
    bulk = [row[1:] for row in rows if row[0].startswith("bulk")]
    ordinary = [row[1:] for row in rows if row[0].startswith("ordinary")]
    assert bulk == ordinary  # the same text in the database, column by column
    assert [row.doc for row in typed[3:]] == [row["doc"] for row in ROWS]
    assert typed[3].at.replace(tzinfo=UTC) == ROWS[0]["at"]


async def test_insert_rows_of_nothing_is_a_no_op(engine) -> None:
    async with storage.begin_write(engine) as connection:
        await storage.insert_rows(connection, samples, [])
        assert (await connection.execute(sa.select(sa.func.count()).select_from(samples))).scalar_one() == 0


async def test_a_writer_waiting_for_another_writer_does_not_stall_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = storage.create_engine(f"sqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    other = sqlite3.connect(path, isolation_level=None)  # another process's writer, say
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with storage.begin_write(engine) as connection:
            await storage.insert_rows(connection, samples, [ROWS[0]])

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done()  # it waits for the lock...
    assert ticks >= 10  # ...while the loop keeps serving everything else
    other.execute("COMMIT")
    await asyncio.wait_for(writing, 5)
    ticking.cancel()
    other.close()
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(samples.c.name))).scalars().all() == ["a"]
    await engine.dispose()


async def test_writers_of_one_process_take_the_lock_in_the_order_they_asked(tmp_path: Path) -> None:
    """Queued in the process, not left to SQLite's busy handler, whose sleeping waiters retry in
    no particular order."""
    engine = storage.create_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    release = asyncio.Event()
    order: list[int] = []

    async def write(number: int) -> None:
        async with storage.begin_write(engine) as connection:
            if number == 0:
                await release.wait()
            order.append(number)
            await storage.insert_rows(connection, samples, [{**ROWS[2], "name": str(number)}])

    writers = []
    for number in range(8):
        writers.append(asyncio.create_task(write(number)))
        await asyncio.sleep(0.02)  # each asks after the one before
    release.set()
    await asyncio.wait_for(asyncio.gather(*writers), 10)
    assert order == list(range(8))
    await engine.dispose()


async def test_write_transactions_roll_back_and_leave_the_connection_usable(tmp_path: Path) -> None:
    engine = storage.create_engine(f"sqlite:///{tmp_path / 'rollback.db'}", pool_size=1, max_overflow=0)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    with pytest.raises(sa.exc.IntegrityError):
        async with storage.begin_write(engine) as connection:
            await storage.insert_rows(connection, samples, [ROWS[0]])
            await connection.execute(samples.insert(), {"pk": 1, "name": "duplicate key"})
    async with engine.connect() as connection:  # the same pooled connection, now a reader again
        assert (await connection.execute(sa.select(sa.func.count()).select_from(samples))).scalar_one() == 0
    async with storage.begin_write(engine) as connection:
        await storage.insert_rows(connection, samples, ROWS)
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(sa.func.count()).select_from(samples))).scalar_one() == 3
    await engine.dispose()


async def test_the_background_checkpointer_moves_the_wal_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    engine = storage.create_engine(f"sqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    before = path.stat().st_size
    async with storage.begin_write(engine) as connection:
        await storage.insert_rows(connection, samples, [{**ROWS[0], "name": "x" * 2000} for _ in range(500)])
    assert path.stat().st_size == before  # committed pages wait in the WAL...
    async with checkpointer(engine, interval=0.05):
        for _ in range(100):
            await asyncio.sleep(0.05)
            if path.stat().st_size > before + 500 * 2000:
                break
    assert path.stat().st_size > before + 500 * 2000  # ...until the checkpointer copies them over
    await engine.dispose()
