"""Shared fixtures.

``postgres_url`` gives each test its own empty PostgreSQL database, so storage code is tested on
the production engine as well as on SQLite. The server is the one at ``OUP_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``), used only to create and drop databases.
Without a reachable server those tests are skipped, unless ``OUP_REQUIRE_POSTGRES=1`` (set in
CI), where an unreachable server is a failure rather than a silent skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh database ``oup_test_<hex>`` as a ``postgresql+asyncpg://`` URL, dropped afterwards."""
    admin = make_url(os.environ.get("OUP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)).set(drivername="postgresql")
    admin_dsn = admin.render_as_string(hide_password=False)
    try:
        connection = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, TimeoutError) as exc:
        message = f"PostgreSQL not reachable at {admin.render_as_string()}: {exc}"
        if os.environ.get("OUP_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    name = f"oup_test_{secrets.token_hex(6)}"
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    finally:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await connection.close()
