"""Tenants (CIM 009 V1.8.1, clause 4.14): created by their first write, looked up by every other use.

A tenant's row is never removed, so once a tenant is known to exist (its row read, or its
creation committed) later requests skip the statement that checks or creates it.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.storage.base import DEFAULT_TENANT, TenantNotFound
from mims.context.storage.tables import tenants

# Tenants seen to exist, per engine.
_KNOWN: weakref.WeakKeyDictionary[sa.Engine, set[str]] = weakref.WeakKeyDictionary()


async def check_tenant(connection: AsyncConnection, tenant: str) -> None:
    """Raise :class:`TenantNotFound` unless ``tenant`` exists (the default tenant always does)."""
    known = _known(connection)
    if tenant == DEFAULT_TENANT or tenant in known:
        return
    found = await connection.execute(sa.select(tenants.c.name).where(tenants.c.name == tenant))
    if found.first() is None:
        raise TenantNotFound(tenant)
    known.add(tenant)


async def ensure_tenant(connection: AsyncConnection, tenant: str) -> None:
    """Create the tenant on its first write, in the writing transaction; concurrent first writes are both fine."""
    known = _known(connection)
    if tenant in known:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(tenants).values(name=tenant, created_at=datetime.now(UTC))
    await connection.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
    sa.event.listen(connection.sync_connection, "commit", lambda _connection: known.add(tenant), once=True)


async def tenant_exists(engine: AsyncEngine, tenant: str) -> bool:
    """Whether ``tenant`` exists."""
    async with engine.connect() as connection:
        try:
            await check_tenant(connection, tenant)
        except TenantNotFound:
            return False
        return True


def _known(connection: AsyncConnection) -> set[str]:
    return _KNOWN.setdefault(connection.sync_engine, set())
