"""Storage seam: one async SQLAlchemy engine per MIM, brought to its newest schema by Alembic.

SQLite in a data folder is the embedded default, so one command runs the whole platform on a
laptop; PostgreSQL (asyncpg) is the production engine, where several replicas of a MIM, and
several MIMs, share one database. The same code and the same migrations run on both.

Each MIM keeps its revision history in its own version table (``alembic_version_<mim>``), and
replicas starting together serialise their migrations on a PostgreSQL advisory lock, so a
rolling start never runs one migration twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mims.kit.sqlite import (
    WRITE_OPTION,
    checkpointer,
    create_sqlite_engine,
    insert_rows,
    write_turn,
)

__all__ = ["begin_write", "check", "create_engine", "default_database_url", "insert_rows", "maintained", "migrate"]

# Accepted URL schemes and the async driver each one runs on.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_SUPPORTED = "sqlite+aiosqlite:// (or sqlite://) and postgresql+asyncpg:// (or postgresql://)"

# Pool defaults for PostgreSQL: enough connections for a busy replica without exhausting the
# server's max_connections when a handful of replicas and MIMs share it.
_POSTGRES_POOL = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}

_MIGRATIONS = Path(__file__).with_name("migrations")
_MIM_NAME = re.compile(r"[a-z][a-z0-9_-]*")

# One migration at a time per event loop, see _in_process_lock.
_LOOP_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def default_database_url(mim: str, data_dir: Path) -> str:
    """The embedded default: ``<data_dir>/<mim>.db`` as an absolute aiosqlite URL.

    The folder is created here so a fresh checkout starts without any set-up step.
    """
    directory = Path(data_dir).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{directory / f'{_checked_name(mim)}.db'}"


def create_engine(url: str, **kw: Any) -> AsyncEngine:
    """An async engine for ``url``, tuned for its backend; ``kw`` overrides the defaults.

    Synchronous driver names are rewritten to their async driver (``postgresql://`` runs on
    asyncpg); anything else is refused, naming the supported schemes.
    """
    async_url = _async_url(url)
    kw = {"json_serializer": _json_text, "json_deserializer": orjson.loads, **kw}
    if async_url.get_backend_name() == "postgresql":
        return create_async_engine(async_url, **{**_POSTGRES_POOL, **kw})
    _create_sqlite_folder(async_url)
    return create_sqlite_engine(async_url, **kw)


def _json_text(value: Any) -> str:
    """JSON columns are written by orjson (several times faster than the standard library),
    falling back to it for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


@asynccontextmanager
async def maintained(engine: AsyncEngine) -> AsyncIterator[None]:
    """Background upkeep of the database while a service runs: WAL checkpoints on SQLite."""
    if engine.dialect.name != "sqlite":
        yield
        return
    async with checkpointer(engine):
        yield


async def migrate(engine: AsyncEngine | str, mim: str, versions: Path) -> None:
    """Upgrade the MIM's schema to the newest revision in ``versions``; a no-op when current.

    Accepts an engine, or a URL for a one-off run (the engine is disposed afterwards).
    """
    if isinstance(engine, str):
        owned = create_engine(engine)
        try:
            await migrate(owned, mim, versions)
        finally:
            await owned.dispose()
        return
    config = _alembic_config(mim, Path(versions))
    async with _in_process_lock(), engine.connect() as connection, _migration_lock(connection, mim):
        await connection.run_sync(_upgrade_to_head, config)


async def check(engine: AsyncEngine) -> None:
    """Readiness probe: raises if the database cannot answer a trivial query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _checked_name(mim: str) -> str:
    if not _MIM_NAME.fullmatch(mim):
        raise ValueError(f"invalid MIM name {mim!r}: expected lower-case letters, digits, '-' or '_'")
    return mim


def _async_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        # The URL itself is not echoed: it may carry a password.
        raise ValueError(f"not a database URL; supported: {_SUPPORTED}") from exc
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}; supported: {_SUPPORTED}")
    return parsed.set(drivername=driver)


def _create_sqlite_folder(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def begin_write(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that will write, for read-modify-write paths.

    On SQLite it begins IMMEDIATE: the write lock is taken up front (waiting up to the busy
    timeout), so a transaction that reads first cannot fail with "database is locked" when it
    later writes after another writer committed in between; the process's own writers queue
    for it first (:func:`~mims.kit.sqlite.write_turn`). PostgreSQL needs nothing special.
    """
    async with AsyncExitStack() as stack:
        if engine.dialect.name == "sqlite":
            await stack.enter_async_context(write_turn(engine))
        connection = await stack.enter_async_context(engine.connect())
        connection = await connection.execution_options(**{WRITE_OPTION: True})
        async with connection.begin():
            yield connection


def _alembic_config(mim: str, versions: Path) -> Config:
    if not versions.is_dir():
        raise ValueError(f"migrations folder {versions} does not exist")
    config = Config()
    # ConfigParser interpolates '%', so paths are escaped.
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.set_main_option("version_locations", str(versions.resolve()).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["version_table"] = f"alembic_version_{_checked_name(mim).replace('-', '_')}"
    return config


def _upgrade_to_head(connection: Connection, config: Config) -> None:
    """Every head: a MIM may keep independent features on branches of its history."""
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


def _in_process_lock() -> asyncio.Lock:
    """Alembic keeps the running migration in module globals (``alembic.context``, ``alembic.op``).

    Two migrations interleaved on one event loop (say, two MIMs started in one process) would
    run each other's operations on the wrong connection, so they take turns.
    """
    loop = asyncio.get_running_loop()
    lock = _LOOP_LOCKS.get(loop)
    if lock is None:
        lock = _LOOP_LOCKS[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _migration_lock(connection: AsyncConnection, mim: str) -> AsyncIterator[None]:
    """Hold a session-level PostgreSQL advisory lock for ``mim`` while migrating.

    This serialises replicas in different processes or hosts. The lock is taken in its own committed transaction so that Alembic still runs each
    migration in a transaction it controls. SQLite needs none: it is one process's file.
    """
    if connection.dialect.name != "postgresql":
        yield
        return
    key = {"key": _advisory_lock_key(mim)}
    await connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
    await connection.commit()
    try:
        yield
    finally:
        await connection.rollback()
        await connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        await connection.commit()


def _advisory_lock_key(mim: str) -> int:
    """A stable signed 64-bit key (PostgreSQL's bigint lock space) for this MIM's migrations."""
    digest = hashlib.blake2b(f"oup.migrate.{mim}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def as_utc(moment: datetime) -> datetime:
    """A timestamp read back from storage, in UTC: SQLite keeps no offset, and everything is stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
