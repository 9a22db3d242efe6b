"""The embedded SQLite backend: connection settings, real transactions, and writers that do not hop.

aiosqlite runs every call of a connection on that connection's own thread and hands the result
back to the event loop: about 0.4 ms per statement, which dominates a write of a dozen small
statements. SQLite lets only one writer hold the database at a time, and a writer that holds the
lock never waits for anybody again (WAL readers do not block it). So a write transaction tries
to take the lock directly on the event loop's thread without waiting; when another writer holds
it, it waits on the connection's thread instead (``BEGIN IMMEDIATE``, up to the busy timeout),
never blocking the loop. From then on, until it ends, its statements run directly on the loop's
thread: microseconds each instead of a thread hop. Reads outside write transactions keep their
thread, so a long query never stalls the loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from operator import itemgetter
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mims.kit.periodic import every

#: How long a SQLite writer waits for another writer's lock before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 5000

logger = logging.getLogger(__name__)

WRITE_OPTION = "oup_write"  # execution option: begin the transaction as a writer

#: Seconds between WAL checkpoints of the background checkpointer.
CHECKPOINT_INTERVAL = 1.0
#: WAL pages after which a committing writer checkpoints by itself (SQLite's default is 1,000):
#: a safety net only, as long as the background checkpointer runs.
_AUTOCHECKPOINT_PAGES = 20_000


class _WriterConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs calls inline while it holds the write lock."""

    inline = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.inline and self._connection is not None:
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)


def create_sqlite_engine(url: URL, **kw: Any) -> AsyncEngine:
    """An aiosqlite engine whose write transactions run inline once they hold the lock."""
    database = url.database or ":memory:"
    uri = database.startswith("file:")

    async def connect() -> aiosqlite.Connection:
        # The sqlite3 connection is opened on the worker thread but also used from the loop's
        # thread (never both at once: every call is awaited before the next is made).
        connection = _WriterConnection(
            partial(sqlite3.connect, database, uri=uri, check_same_thread=False), iter_chunk_size=64)
        connection._thread.daemon = True
        return await connection

    engine = create_async_engine(url, async_creator=connect, **kw)
    _configure(engine)
    return engine


def _configure(engine: AsyncEngine) -> None:
    """Per-connection settings SQLite does not persist, and real transactions.

    The stdlib driver neither begins a transaction before SELECT nor before DDL, so a failed
    migration would leave half a schema behind. Following SQLAlchemy's documented recipe, the
    driver's own BEGIN handling is switched off and SQLAlchemy emits BEGIN. WAL lets readers
    proceed while one writer commits; with WAL, ``synchronous=NORMAL`` is crash-safe for the
    application and only an OS crash can lose the last commits.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writer = _writer(connection)
        writer.inline = False
        if not connection.get_execution_options().get(WRITE_OPTION, False):
            connection.exec_driver_sql("BEGIN")
        elif not _try_begin_immediate(writer):
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # waits on the thread, up to the busy timeout
        writer.inline = True

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection._connection.inline = False


# Per engine and event loop (an asyncio lock belongs to one loop); both go when they are gone.
_TURNS: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary())


@asynccontextmanager
async def write_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """Writers of one engine in this process take the write lock in turn, first come first served.

    A writer that finds the SQLite lock taken waits in SQLite's busy handler, which sleeps in
    growing steps (up to 100 ms) and so can wait long after the lock is free. Queued here, the
    next writer starts as soon as the previous one ends; other processes' writers still meet
    the busy handler. A writer waiting longer than the busy timeout stops queuing and leaves it
    to SQLite, as before.
    """
    loop = asyncio.get_running_loop()
    lock = _TURNS.setdefault(engine.sync_engine, weakref.WeakKeyDictionary()).setdefault(loop, asyncio.Lock())
    try:
        async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
            await lock.acquire()
    except TimeoutError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


@asynccontextmanager
async def checkpointer(engine: AsyncEngine, interval: float = CHECKPOINT_INTERVAL) -> AsyncIterator[None]:
    """Checkpoint the WAL in the background while the context is open.

    SQLite checkpoints by default in the commit that crosses 1,000 WAL pages: that commit then
    copies the pages into the database and syncs it, milliseconds spent by one unlucky request
    (on the event loop, for an inline writer). A PASSIVE checkpoint on a connection's own thread
    instead runs beside readers and writers and blocks nobody.
    """

    async def checkpoint() -> None:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # A failed checkpoint is retried next time; at worst a commit checkpoints by itself.
    async with every(interval, checkpoint, logger, "SQLite WAL checkpoint failed"):
        yield


async def insert_rows(connection: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT ``rows`` (mappings with the same keys) into ``table`` with one executemany.

    On SQLite the statement is compiled once and the rows go to the driver as tuples, each value
    through its column type's own bind processor: SQLAlchemy's generic per-row parameter handling
    costs more than SQLite's insert itself. Other backends take the ordinary path.
    """
    if not rows:
        return
    if connection.dialect.name != "sqlite":
        await connection.execute(table.insert(), rows)
        return
    sql, values, processors = _compiled_insert(connection.dialect, table, tuple(rows[0]))
    if processors:
        await connection.exec_driver_sql(sql, [_processed(values(row), processors) for row in rows])
    else:
        await connection.exec_driver_sql(sql, [values(row) for row in rows])


def _processed(values: tuple[Any, ...], processors: list[tuple[int, Callable[[Any], Any]]]) -> tuple[Any, ...]:
    processed = list(values)
    for index, process in processors:
        processed[index] = process(processed[index])
    return tuple(processed)


_Compiled = tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]], list[tuple[int, Callable[[Any], Any]]]]
_INSERTS = "oup_compiled_inserts"  # per dialect (each engine has its own): (table, keys) -> _Compiled


def _compiled_insert(dialect: Any, table: sa.Table, keys: tuple[str, ...]) -> _Compiled:
    """The INSERT for these keys, a row's values in its parameter order, and (position,
    processor) for the columns whose type processes values before the driver gets them."""
    cache: dict[tuple[sa.Table, tuple[str, ...]], _Compiled] = dialect.__dict__.setdefault(_INSERTS, {})
    found = cache.get((table, keys))
    if found is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
        order = list(compiled.positiontup)
        getter = itemgetter(*order)
        values = getter if len(order) > 1 else (lambda row: (getter(row),))
        processors = [(index, processor) for index, name in enumerate(order)
                      if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        found = cache[(table, keys)] = (compiled.string, values, processors)
    return found


def _try_begin_immediate(writer: _WriterConnection) -> bool:
    """Take the write lock at once on the loop's thread if it is free; ``False`` if another holds it."""
    raw = writer._conn
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
        return False
    finally:
        raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return True


def _writer(connection: Connection) -> _WriterConnection:
    return connection.connection.dbapi_connection._connection
