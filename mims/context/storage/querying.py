"""Query Entities (clause 5.7.2) over the SQL tables.

Conditions storage can index run in SQL; the rest run as a predicate over the candidates, read
in creation order and paged here.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mims.context.storage.base import Entity, EntityQuery, Page
from mims.context.storage.tables import entities, entity_types


async def query_entities(
    connection: AsyncConnection, tenant: str, query: EntityQuery, limit: int, offset: int, count: bool
) -> Page:
    """Matching entities of ``tenant`` in creation order, a page at a time."""
    selection = _selection(tenant, query)
    if query.matches is None:
        rows = await connection.execute(
            sa.select(entities.c.doc).where(selection).order_by(entities.c.pk).limit(limit).offset(offset)
        )
        total = None
        if count:
            total = (await connection.execute(sa.select(sa.func.count()).where(selection))).scalar_one()
        return Page([row.doc for row in rows], total)
    return await _filtered(connection, selection, query, limit, offset, count)


async def _filtered(
    connection: AsyncConnection, selection: Any, query: EntityQuery, limit: int, offset: int, count: bool
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
