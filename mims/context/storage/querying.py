"""Query Entities (clause 5.7.2) over the SQL tables and their indexes.

Every filter of an :class:`EntityQuery` is compiled (``sqlfilters.py``) to an SQL condition on
the query indexes (``indexing.py``) and a flag saying whether that condition is exact. Exact
conditions alone decide; for the others the condition is a prefilter that never loses a match
(the geo box, for instance) and the filter's Python predicate confirms each candidate. Paging
is then done on the confirmed entities, in creation order, so ``limit``/``offset`` and
``count`` stay exact either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mims.context.storage.base import Entity, EntityQuery, Page
from mims.context.storage.filters import Filter
from mims.context.storage.sqlfilters import compile_filter, has_postgis_boxes, install_functions
from mims.context.storage.tables import entities, entity_types

Predicate = Callable[[Mapping[str, Any]], bool]


async def query_entities(
    connection: AsyncConnection, tenant: str, query: EntityQuery, limit: int, offset: int, count: bool
) -> Page:
    """Matching entities of ``tenant`` in creation order, a page at a time."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        await install_functions(connection)
    postgis = await has_postgis_boxes(connection)
    compiled = [compile_filter(each, tenant, sqlite, postgis=postgis) for each in query.filters]
    selection = sa.and_(_selection(tenant, query), *(each.condition for each in compiled))
    residual = _residual(query, [each for each, done in zip(query.filters, compiled, strict=True) if not done.exact])
    if residual is None:
        rows = await connection.execute(
            sa.select(entities.c.doc).where(selection).order_by(entities.c.pk).limit(limit).offset(offset)
        )
        total = None
        if count:
            total = (await connection.execute(sa.select(sa.func.count()).where(selection))).scalar_one()
        return Page([row.doc for row in rows], total)
    return await _filtered(connection, selection, residual, limit, offset, count)


def _residual(query: EntityQuery, pending: list[Filter]) -> Predicate | None:
    predicates: list[Predicate] = [each.matches for each in pending]
    if query.matches is not None:
        predicates.append(query.matches)
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    return lambda entity: all(predicate(entity) for predicate in predicates)


async def _filtered(
    connection: AsyncConnection, selection: Any, residual: Predicate, limit: int, offset: int, count: bool
) -> Page:
    """Page through candidates in creation order, keeping those ``residual`` accepts."""
    found: list[Entity] = []
    seen = 0
    stream = await connection.stream(sa.select(entities.c.doc).where(selection).order_by(entities.c.pk))
    async for row in stream:
        if not residual(row.doc):
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

