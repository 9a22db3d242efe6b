"""What the entities of a tenant hold, for the discovery operations (clauses 5.7.5-5.7.8).

Read from the entity type table and the query index (``indexing.py``): entity types, the
attributes of entities (top-level only, instance rows) with their NGSI-LD attribute types, and
how many instances and entities there are. Names are full IRIs; the API compacts them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.context.storage.indexing import attribute_values, one_per_instance
from mims.context.storage.tables import entity_types
from mims.context.storage.tenants import check_tenant


@dataclass(frozen=True, slots=True)
class TypeDetails:
    """An entity type: how many entities have it, and their attributes with their types."""

    type: str
    entity_count: int
    attributes: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class AttributeDetails:
    """An attribute: its instances, NGSI-LD attribute types and the types of entities having it."""

    attribute: str
    instance_count: int
    attribute_types: tuple[str, ...]
    type_names: tuple[str, ...]


class Discovery:
    """Discovery reads on the MIM's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def types(self, tenant: str, only: str | None = None) -> list[TypeDetails]:
        """Every entity type of the tenant (or just ``only``), sorted by IRI."""
        type_filter = [entity_types.c.tenant == tenant]
        if only is not None:
            type_filter.append(entity_types.c.type == only)
        counts = (
            sa.select(entity_types.c.type, sa.func.count())
            .where(*type_filter).group_by(entity_types.c.type).order_by(entity_types.c.type)
        )
        pairs = (
            sa.select(entity_types.c.type, attribute_values.c.path, attribute_values.c.kind).distinct()
            .join(attribute_values, attribute_values.c.entity_pk == entity_types.c.entity_pk)
            .where(*type_filter, attribute_values.c.depth == 1)
        )
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            found = (await connection.execute(counts)).all()
            attributes: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
            for row in await connection.execute(pairs):
                attributes[row.type][row.path].add(row.kind)
        return [
            TypeDetails(row.type, row[1], {name: tuple(sorted(kinds)) for name, kinds in sorted(attributes[row.type].items())})
            for row in found
        ]

    async def attributes(self, tenant: str, only: str | None = None) -> list[AttributeDetails]:
        """Every attribute of the tenant's entities (or just ``only``), sorted by IRI."""
        rows = attribute_values
        where = [rows.c.tenant == tenant, rows.c.depth == 1, one_per_instance(rows)]
        if only is not None:
            where.append(rows.c.path == only)
        counts = sa.select(rows.c.path, rows.c.kind, sa.func.count()).where(*where).group_by(rows.c.path, rows.c.kind)
        typed = (
            sa.select(rows.c.path, entity_types.c.type).distinct()
            .join(entity_types, entity_types.c.entity_pk == rows.c.entity_pk).where(*where)
        )
        instances: dict[str, int] = defaultdict(int)
        kinds: dict[str, set[str]] = defaultdict(set)
        names: dict[str, set[str]] = defaultdict(set)
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            for path, kind, number in await connection.execute(counts):
                instances[path] += number
                kinds[path].add(kind)
            for path, type_iri in await connection.execute(typed):
                names[path].add(type_iri)
        return [
            AttributeDetails(path, instances[path], tuple(sorted(kinds[path])), tuple(sorted(names[path])))
            for path in sorted(instances)
        ]


