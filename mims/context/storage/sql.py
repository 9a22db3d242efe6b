"""Entities in SQL (SQLite or PostgreSQL via SQLAlchemy Core), behind :class:`EntityStore`.

One row per entity holds its stored form as JSON (JSONB on PostgreSQL); entity types get a row
each in an indexed side table, so type queries (the most common selector of clause 5.7.2) never
scan documents. Every write reports a :class:`ChangeEvent` to the listeners inside its
transaction (``events.py``); queries are in ``querying.py``, the tables in ``tables.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.storage.base import DEFAULT_TENANT, Entity, EntityExists, EntityQuery, Page, TenantNotFound
from mims.context.storage.events import ChangeEvent, Listener
from mims.context.storage.querying import query_entities
from mims.context.storage.tables import entities, entity_types, tenants


class SqlEntityStore:
    """:class:`~mims.context.storage.base.EntityStore` on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine, listeners: Sequence[Listener] = ()) -> None:
        self._engine = engine
        self._listeners = tuple(listeners)

    async def create(self, tenant: str, entity: Entity) -> None:
        async with self._engine.begin() as connection:
            await self._ensure_tenant(connection, tenant)
            try:
                result = await connection.execute(
                    entities.insert().values(
                        tenant=tenant,
                        id=entity["id"],
                        doc=entity,
                        created_at=_timestamp(entity["createdAt"]),
                        modified_at=_timestamp(entity["modifiedAt"]),
                    )
                )
            except IntegrityError:
                raise EntityExists(entity["id"]) from None
            pk = result.inserted_primary_key[0]
            await connection.execute(
                entity_types.insert(), [{"entity_pk": pk, "type": iri, "tenant": tenant} for iri in entity["type"]]
            )
            await self._notify(connection, ChangeEvent(tenant, "created", entity["id"], pk, None, entity,
                                                       entity["modifiedAt"]))

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        async with self._engine.connect() as connection:
            await self._check_tenant(connection, tenant)
            query = sa.select(entities.c.doc).where(entities.c.tenant == tenant, entities.c.id == entity_id)
            return (await connection.execute(query)).scalar_one_or_none()

    async def delete(self, tenant: str, entity_id: str) -> bool:
        async with self._engine.begin() as connection:
            await self._check_tenant(connection, tenant)
            row = (await connection.execute(
                sa.select(entities.c.pk, entities.c.doc).where(entities.c.tenant == tenant, entities.c.id == entity_id)
            )).first()
            if row is None:
                return False
            await self._notify(connection, ChangeEvent(tenant, "deleted", entity_id, row.pk, row.doc, None,
                                                       utc_now_text()))
            await connection.execute(entities.delete().where(entities.c.pk == row.pk))
            return True

    async def _notify(self, connection: AsyncConnection, event: ChangeEvent) -> None:
        for listener in self._listeners:
            await listener(connection, event)

    async def query(self, tenant: str, query: EntityQuery, limit: int, offset: int, count: bool) -> Page:
        async with self._engine.connect() as connection:
            await self._check_tenant(connection, tenant)
            return await query_entities(connection, tenant, query, limit, offset, count)

    @staticmethod
    async def _check_tenant(connection: AsyncConnection, tenant: str) -> None:
        if tenant == DEFAULT_TENANT:
            return
        known = await connection.execute(sa.select(tenants.c.name).where(tenants.c.name == tenant))
        if known.first() is None:
            raise TenantNotFound(tenant)

    @staticmethod
    async def _ensure_tenant(connection: AsyncConnection, tenant: str) -> None:
        """Create the tenant on its first write; concurrent first writes are both fine."""
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(tenants).values(name=tenant, created_at=datetime.now(UTC))
        await connection.execute(statement.on_conflict_do_nothing(index_elements=["name"]))


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
