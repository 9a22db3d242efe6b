"""Query Entities (clause 5.7.2) over the SQL tables and their indexes.

Every filter of an :class:`EntityQuery` is compiled (``sqlfilters.py``) to an SQL condition on
the query indexes (``indexing.py``) and a flag saying whether that condition is exact. Exact
conditions alone decide; for the others the condition is a prefilter that never loses a match
(the geo box, for instance) and the filter's Python predicate confirms each candidate. Paging
is then done on the confirmed entities, in creation order, so ``limit``/``offset`` and
``count`` stay exact either way. The conditions on tenant, ids and types and the geo prefilter
are built once with named bound parameters, whose values each query gives at execution.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mims.context.storage.base import Entity, EntityQuery, Page
from mims.context.storage.filters import Filter
from mims.context.storage.sqlfilters import bound_filter, has_postgis_boxes, install_functions
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
    params: dict[str, Any] = {"tenant": tenant, "types": query.types or (), "ids": query.ids or ()}
    compiled = []
    for each in query.filters:
        condition, values = bound_filter(each, tenant, sqlite, postgis=postgis)
        compiled.append(condition)
        params.update(values)
    selection = sa.and_(_selection(query), *(each.condition for each in compiled))
    residual = _residual(query, [each for each, done in zip(query.filters, compiled, strict=True) if not done.exact])
    if residual is None:
        rows = await connection.execute(
            sa.select(entities.c.doc).where(selection).order_by(entities.c.pk).limit(limit).offset(offset), params
        )
        total = None
        if count:
            total = (await connection.execute(sa.select(sa.func.count()).where(selection), params)).scalar_one()
        return Page([row.doc for row in rows], total)
    return await _filtered(connection, selection, params, residual, limit, offset, count)


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
    connection: AsyncConnection, selection: Any, params: dict[str, Any], residual: Predicate, limit: int,
    offset: int, count: bool,
) -> Page:
    """Page through candidates in creation order, keeping those ``residual`` accepts."""
    found: list[Entity] = []
    seen = 0
    stream = await connection.stream(sa.select(entities.c.doc).where(selection).order_by(entities.c.pk), params)
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


@cache
def _conditions() -> tuple[Any, Any, Any]:
    """The tenant, ids and types conditions, with the bound parameters ``tenant``, ``ids`` and
    ``types`` (expanding): built once, as every query has them."""
    tenant = sa.bindparam("tenant", type_=entities.c.tenant.type)
    return (
        entities.c.tenant == tenant,
        entities.c.id.in_(sa.bindparam("ids", expanding=True, type_=entities.c.id.type)),
        sa.exists().where(
            entity_types.c.entity_pk == entities.c.pk,
            entity_types.c.tenant == tenant,
            entity_types.c.type.in_(sa.bindparam("types", expanding=True, type_=entity_types.c.type.type)),
        ),
    )


def _selection(query: EntityQuery) -> Any:
    """The tenant's entities with one of ``query.ids`` and one of ``query.types``, where given."""
    tenant, ids, types = _conditions()
    conditions = [tenant]
    if query.ids is not None:
        conditions.append(ids)
    if query.types is not None:
        conditions.append(types)
    return sa.and_(*conditions)

