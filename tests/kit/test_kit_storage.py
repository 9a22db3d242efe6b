"""The storage seam on both back ends: engines, migrations per MIM, readiness."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.kit import storage
from mims.kit.storage import check, create_engine, default_database_url, migrate

ROOT = Path(__file__).parents[2]
SAMPLES = Path(__file__).parent / "migrations_sample"
NOTES = SAMPLES / "notes"
TAGS = SAMPLES / "tags"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return default_database_url("test", tmp_path / "data")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def engine(database_url: str) -> AsyncEngine:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        found = await connection.run_sync(lambda sync: inspect(sync).get_columns(table))
    return {column["name"] for column in found}


async def revision(engine: AsyncEngine, version_table: str) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text(f"SELECT version_num FROM {version_table}"))).scalars())


async def terminate_backend(url: str, pid: int) -> None:
    admin = create_engine(url)
    try:
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


async def test_migrate_applies_every_revision(engine: AsyncEngine) -> None:
    await migrate(engine, "notes", NOTES)

    assert {"note", "alembic_version_notes"} <= await tables(engine)
    assert await columns(engine, "note") == {"id", "body", "author"}
    assert await revision(engine, "alembic_version_notes") == ["notes_0002"]


async def test_migrated_schema_is_usable(engine: AsyncEngine) -> None:
    await migrate(engine, "notes", NOTES)
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO note (id, body) VALUES (1, 'hello')"))
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT body, author FROM note"))).one()
    assert tuple(row) == ("hello", "anonymous")


async def test_migrate_is_idempotent(engine: AsyncEngine) -> None:
    await migrate(engine, "notes", NOTES)
    await migrate(engine, "notes", NOTES)

    assert await revision(engine, "alembic_version_notes") == ["notes_0002"]


async def test_version_table_is_named_after_the_mim(engine: AsyncEngine) -> None:
    await migrate(engine, "permit-check", NOTES)

    found = await tables(engine)
    assert "alembic_version_permit_check" in found
    assert "alembic_version" not in found


async def test_two_mims_share_one_database(engine: AsyncEngine) -> None:
    await migrate(engine, "notes", NOTES)
    await migrate(engine, "tags", TAGS)
    await migrate(engine, "notes", NOTES)

    assert {"note", "tag", "alembic_version_notes", "alembic_version_tags"} <= await tables(engine)
    assert await revision(engine, "alembic_version_notes") == ["notes_0002"]
    assert await revision(engine, "alembic_version_tags") == ["tags_0001"]


async def test_two_mims_migrate_concurrently_in_one_process(engine: AsyncEngine) -> None:
    async with asyncio.timeout(60):
        await asyncio.gather(migrate(engine, "notes", NOTES), migrate(engine, "tags", TAGS))

    assert await revision(engine, "alembic_version_notes") == ["notes_0002"]
    assert await revision(engine, "alembic_version_tags") == ["tags_0001"]


async def test_migrate_accepts_a_url(database_url: str) -> None:
    await migrate(database_url, "notes", NOTES)

    engine = create_engine(database_url)
    try:
        assert await revision(engine, "alembic_version_notes") == ["notes_0002"]
    finally:
        await engine.dispose()


async def test_migrate_refuses_a_missing_versions_folder(engine: AsyncEngine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        await migrate(engine, "notes", tmp_path / "absent")


@pytest.mark.parametrize("name", ["Notes", "../notes", "", "1notes", "notes\n"])
async def test_migrate_refuses_an_unsafe_mim_name(engine: AsyncEngine, name: str) -> None:
    with pytest.raises(ValueError, match="invalid MIM name"):
        await migrate(engine, name, NOTES)


# A replica: imports first, says so, then migrates when told, so that all start together.
REPLICA = """
import asyncio, sys
from pathlib import Path
from mims.kit.storage import migrate
print("ready", flush=True)
sys.stdin.readline()
asyncio.run(migrate(sys.argv[1], "notes", Path(sys.argv[2])))
"""


async def test_replica_processes_migrate_one_at_a_time(postgres_url: str) -> None:
    """Replicas started together against one PostgreSQL: the advisory lock lets one migrate."""
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", REPLICA, postgres_url, str(NOTES),
            cwd=ROOT, stdin=PIPE, stdout=PIPE, stderr=PIPE,
        )
        for _ in range(4)
    ]
    async with asyncio.timeout(60):
        for replica in replicas:
            assert await replica.stdout.readline() == b"ready\n"
        for replica in replicas:
            replica.stdin.write(b"go\n")
        outcomes = [await replica.communicate() for replica in replicas]

    assert [replica.returncode for replica in replicas] == [0] * 4, [err.decode() for _, err in outcomes]
    engine = create_engine(postgres_url)
    try:
        assert await revision(engine, "alembic_version_notes") == ["notes_0002"]
    finally:
        await engine.dispose()


async def test_ddl_is_transactional(engine: AsyncEngine) -> None:
    """A rolled-back migration leaves no half-built schema, on SQLite too."""
    async with engine.connect() as connection:
        await connection.execute(text("CREATE TABLE scratch (x INTEGER)"))
        await connection.rollback()

    assert "scratch" not in await tables(engine)


async def test_check_passes_on_a_live_database(engine: AsyncEngine) -> None:
    await check(engine)


async def test_check_raises_when_the_database_is_down() -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(OSError):
            await check(engine)
    finally:
        await engine.dispose()


async def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = create_engine(default_database_url("test", tmp_path))
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        await engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1}


async def test_sqlite_foreign_keys_are_enforced(tmp_path: Path) -> None:
    engine = create_engine(default_database_url("test", tmp_path))
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
            await connection.execute(text("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))"))
        with pytest.raises(Exception, match="FOREIGN KEY constraint failed"):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO child VALUES (42)"))
    finally:
        await engine.dispose()


def test_default_database_url_is_absolute_and_creates_the_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = default_database_url("context", Path("data"))

    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'data' / 'context.db'}"
    assert (tmp_path / "data").is_dir()


def test_sqlite_url_creates_the_folder_of_its_file(tmp_path: Path) -> None:
    create_engine(f"sqlite:///{tmp_path / 'nested' / 'mim.db'}")

    assert (tmp_path / "nested").is_dir()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@db.example/oup", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u:p@db.example/oup", "postgresql+asyncpg"),
        ("sqlite://", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite://", "sqlite+aiosqlite"),
    ],
)
def test_sync_schemes_run_on_async_drivers(url: str, driver: str) -> None:
    assert create_engine(url).url.drivername == driver


async def test_postgres_pool_survives_a_dropped_connection(postgres_url: str) -> None:
    """Pre-ping replaces a pooled connection the server has closed (restart, failover, idle kill)."""
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        await terminate_backend(postgres_url, pid)
        await check(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u@db/oup", "postgresql+psycopg2://u@db/oup", "oracle://db"])
def test_unknown_schemes_are_refused_naming_the_supported_ones(url: str) -> None:
    with pytest.raises(ValueError, match=r"unsupported database URL scheme .*sqlite\+aiosqlite.*postgresql\+asyncpg"):
        create_engine(url)


def test_an_unparsable_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="not a database URL") as raised:
        create_engine("not a url with s3cret")

    assert "s3cret" not in str(raised.value)


async def test_begin_write_lets_read_then_write_transactions_wait_instead_of_failing(tmp_path):
    """Two read-modify-write transactions on SQLite: the second waits for the first's lock."""
    engine = storage.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'rmw.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await connection.execute(text("INSERT INTO counter VALUES (0)"))

    async def increment() -> None:
        async with storage.begin_write(engine) as connection:
            n = (await connection.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0.05)  # the others wait for this lock instead of failing at UPDATE
            await connection.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(5)))
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT n FROM counter"))).scalar_one() == 5
    await engine.dispose()
