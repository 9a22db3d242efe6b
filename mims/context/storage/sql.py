"""Entities in SQL (SQLite or PostgreSQL via SQLAlchemy Core), behind :class:`EntityStore`.

One row per entity holds its stored form as JSON (JSONB on PostgreSQL); entity types get a row
each in an indexed side table, so type queries (the most common selector of clause 5.7.2) never
scan documents. Conditions storage cannot index yet run as a predicate over the candidates, read
in creation order and paged in Python. The tables are created by the migrations in
``migrations/versions``; this module only describes them, so the two change together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.storage.base import DEFAULT_TENANT, Entity, EntityExists, EntityQuery, Page, TenantNotFound

metadata = sa.MetaData()
_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")

tenants = sa.Table(
    "context_tenant",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

entities = sa.Table(
    "context_entity",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),  # creation order
    sa.Column("tenant", sa.String(256), sa.ForeignKey("context_tenant.name"), nullable=False),
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("doc", sa.JSON().with_variant(postgresql.JSONB, "postgresql"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
)

entity_types = sa.Table(
    "context_entity_type",
    metadata,
    sa.Column("entity_pk", _PK, sa.ForeignKey("context_entity.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("type", sa.Text, primary_key=True),
    sa.Column("tenant", sa.String(256), nullable=False),
)


class SqlEntityStore:
    """:class:`~mims.context.storage.base.EntityStore` on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        async with self._engine.connect() as connection:
            await self._check_tenant(connection, tenant)
            query = sa.select(entities.c.doc).where(entities.c.tenant == tenant, entities.c.id == entity_id)
            return (await connection.execute(query)).scalar_one_or_none()

    async def delete(self, tenant: str, entity_id: str) -> bool:
        async with self._engine.begin() as connection:
            await self._check_tenant(connection, tenant)
            statement = entities.delete().where(entities.c.tenant == tenant, entities.c.id == entity_id)
            return (await connection.execute(statement)).rowcount > 0

    async def query(self, tenant: str, query: EntityQuery, limit: int, offset: int, count: bool) -> Page:
        selection = self._selection(tenant, query)
        async with self._engine.connect() as connection:
            await self._check_tenant(connection, tenant)
            if query.matches is None:
                rows = await connection.execute(
                    sa.select(entities.c.doc).where(selection).order_by(entities.c.pk).limit(limit).offset(offset)
                )
                total = None
                if count:
                    total = (await connection.execute(sa.select(sa.func.count()).where(selection))).scalar_one()
                return Page([row.doc for row in rows], total)
            return await self._filtered(connection, selection, query, limit, offset, count)

    async def _filtered(
        self, connection: AsyncConnection, selection: Any, query: EntityQuery, limit: int, offset: int, count: bool
    ) -> Page:
        """Page through candidates in creation order, keeping those ``query.matches`` accepts."""
        assert query.matches is not None
        found: list[Entity] = []
        seen = 0
        stream = await connection.stream(sa.select(entities.c.doc).where(selection).order_by(entities.c.pk))
        async for row in stream:
            if not query.matches(row.doc):
                continue
            if offset <= seen < offset + limit:
                found.append(row.doc)
            seen += 1
            if not count and seen >= offset + limit:
                break
        await stream.close()
        return Page(found, seen if count else None)

    @staticmethod
    def _selection(tenant: str, query: EntityQuery) -> Any:
        conditions = [entities.c.tenant == tenant]
        if query.ids is not None:
            conditions.append(entities.c.id.in_(query.ids))
        if query.types is not None:
            conditions.append(
                sa.exists().where(
                    entity_types.c.entity_pk == entities.c.pk,
                    entity_types.c.tenant == tenant,
                    entity_types.c.type.in_(query.types),
                )
            )
        return sa.and_(*conditions)

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
