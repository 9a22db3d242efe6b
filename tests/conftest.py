"""Shared fixtures.

``postgres_url`` gives each test its own empty PostgreSQL database, so storage code is tested on
the production engine as well as on SQLite; ``database_url`` runs a test once on each: a SQLite
file in the test's folder, then such a PostgreSQL database. The server is the one at ``OUP_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``), used only to create and drop databases.
Without a reachable server those tests are skipped, unless ``OUP_REQUIRE_POSTGRES=1`` (set in
CI), where an unreachable server is a failure rather than a silent skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from mims.kit.storage import default_database_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """A database with PostGIS installed (where the server has it), which each test database is
    copied from: creating the extension costs ~0.3 s per database, copying it nothing.
    ``None`` when the server is unreachable (``postgres_url`` then skips or fails)."""
    admin_dsn = _admin().render_as_string(hide_password=False)
    name = f"oup_template_{secrets.token_hex(6)}"

    async def create() -> bool:
        try:
            connection = await asyncpg.connect(admin_dsn, timeout=5)
        except (OSError, TimeoutError):
            return False
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
            available = await connection.fetchval(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")
        finally:
            await connection.close()
        if available:
            template = await asyncpg.connect(_admin().set(database=name).render_as_string(hide_password=False))
            try:
                await template.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            finally:
                await template.close()
        return True

    async def drop() -> None:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await connection.close()

    created = asyncio.run(create())
    yield name if created else None
    if created:
        asyncio.run(drop())


@pytest.fixture
async def postgres_url(postgres_template: str | None) -> AsyncIterator[str]:
    """A fresh database ``oup_test_<hex>`` as a ``postgresql+asyncpg://`` URL, dropped afterwards."""
    admin = _admin()
    admin_dsn = admin.render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, TimeoutError) as exc:
        message = f"PostgreSQL not reachable at {admin.render_as_string()}: {exc}"
        if os.environ.get("OUP_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    name = f"oup_test_{secrets.token_hex(6)}"
    template = f' TEMPLATE "{postgres_template}"' if postgres_template else ""
    try:
        await connection.execute(f'CREATE DATABASE "{name}"{template}')
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A storage URL on each engine: a SQLite file in the test's folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return default_database_url("test", tmp_path)
    return request.getfixturevalue("postgres_url")


def _admin() -> URL:
    """The server's maintenance database, used to create and drop test databases."""
    return make_url(os.environ.get("OUP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)).set(drivername="postgresql")
