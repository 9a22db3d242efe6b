"""Entities in SQL (SQLite or PostgreSQL via SQLAlchemy Core), behind :class:`EntityStore`.

One row per entity holds its stored form as JSON (JSONB on PostgreSQL); entity types get a row
each in an indexed side table, so type queries (the most common selector of clause 5.7.2) never
scan documents. Every write reports a :class:`ChangeEvent` to the listeners inside its
transaction (``events.py``); queries are in ``querying.py``, the tables in ``tables.py``.

Updates are read-modify-write: the rows are read for update (``SELECT ... FOR UPDATE`` on
PostgreSQL, where several broker processes may share the database; on SQLite every write
transaction begins IMMEDIATE, taking the single writer lock before it reads, see
:func:`mims.kit.storage.begin_write`), changed in Python by the caller's plan and written back in
the same transaction, so concurrent updates never lose each other's attributes. Batches read,
insert and update their entities with one statement each (executemany) in ONE transaction, and
the listeners get all of its events in one call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.storage.base import (
    Entity,
    EntityExists,
    EntityQuery,
    Page,
)
from mims.context.storage.events import ChangeEvent, Listener
from mims.context.storage.querying import query_entities
from mims.context.storage.tables import entities, entity_types, one_of
from mims.context.storage.tenants import check_tenant, ensure_tenant
from mims.kit.storage import begin_write, insert_rows

#: How often a batch is retried when a concurrent writer created one of its entities first, or
#: PostgreSQL broke a deadlock by aborting it.
RETRIES = 3
_CHUNK = 1000  # ids per IN list, well under both backends' bound-parameter limits

Plan = Callable[[Entity | None], Entity | None]
"""Given an entity's stored form (``None`` if it does not exist), its new form, or ``None`` to leave it.

Plans run inside the writing transaction and may run more than once (a batch is retried when a
concurrent writer interferes), so they must not depend on having run before.
"""


class EntityNotFound(LookupError):
    """The entity to change does not exist (NGSI-LD ResourceNotFound)."""


@dataclass(frozen=True, slots=True)
class Written:
    """What a batch did to one entity: ``created``, ``updated`` or ``unchanged``, and its new form."""

    entity_id: str
    outcome: Literal["created", "updated", "unchanged"]
    entity: Entity | None = None


class SqlEntityStore:
    """:class:`~mims.context.storage.base.EntityStore` on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine, listeners: Sequence[Listener] = ()) -> None:
        self._engine = engine
        self._listeners = tuple(listeners)

    async def create(self, tenant: str, entity: Entity) -> None:
        async with begin_write(self._engine) as connection:
            await ensure_tenant(connection, tenant)
            try:
                result = await connection.execute(entities.insert(), _row(tenant, entity))
            except IntegrityError:
                raise EntityExists(entity["id"]) from None
            pk = result.inserted_primary_key[0]
            await insert_rows(connection, entity_types,
                              [{"entity_pk": pk, "type": iri, "tenant": tenant} for iri in entity["type"]])
            await self._notify(connection, [ChangeEvent(tenant, "created", entity["id"], pk, None, entity,
                                                        entity["modifiedAt"])])

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            query = sa.select(entities.c.doc).where(entities.c.tenant == tenant, entities.c.id == entity_id)
            return (await connection.execute(query)).scalar_one_or_none()

    async def delete(self, tenant: str, entity_id: str) -> bool:
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            row = (await connection.execute(
                sa.select(entities.c.pk, entities.c.doc).where(entities.c.tenant == tenant, entities.c.id == entity_id)
            )).first()
            if row is None:
                return False
            await self._notify(connection, [ChangeEvent(tenant, "deleted", entity_id, row.pk, row.doc, None,
                                                        utc_now_text())])
            await connection.execute(entities.delete().where(entities.c.pk == row.pk))
            return True

    async def update(self, tenant: str, entity_id: str, plan: Plan) -> Entity | None:
        """Change one existing entity by ``plan`` atomically; the new stored form, ``None`` if unchanged.

        Raises :class:`TenantNotFound` and :class:`EntityNotFound`; whatever ``plan`` raises
        rolls the transaction back.
        """

        def existing(current: Entity | None) -> Entity | None:
            if current is None:
                raise EntityNotFound(entity_id)
            return plan(current)

        [written] = await self.write_many(tenant, [(entity_id, existing)], create_tenant=False)
        return written.entity

    async def write_many(
        self, tenant: str, plans: Sequence[tuple[str, Plan]], *, create_tenant: bool = True
    ) -> list[Written]:
        """Run ``plans`` (entity id, plan) in order in ONE transaction; one :class:`Written` each.

        Plans for the same id see each other's results. Created entities are inserted, changed
        ones updated, each with one executemany statement, and every change is reported to the
        listeners. Without ``create_tenant`` an unknown tenant raises :class:`TenantNotFound`.
        """
        for attempt in range(RETRIES):
            try:
                async with begin_write(self._engine) as connection:
                    return await self._write_many(connection, tenant, plans, create_tenant)
            except DBAPIError as error:
                if attempt == RETRIES - 1 or not _retryable(error):
                    raise
        raise AssertionError("unreachable")

    async def _write_many(
        self, connection: AsyncConnection, tenant: str, plans: Sequence[tuple[str, Plan]], create_tenant: bool
    ) -> list[Written]:
        if create_tenant:
            await ensure_tenant(connection, tenant)
        else:
            await check_tenant(connection, tenant)
        rows = await _locked_rows(connection, tenant, sorted({entity_id for entity_id, _ in plans}))
        before = {entity_id: doc for entity_id, (_, doc) in rows.items()}
        current = dict(before)
        written: list[Written] = []
        for entity_id, plan in plans:
            new = plan(current.get(entity_id))
            if new is None:
                written.append(Written(entity_id, "unchanged"))
                continue
            current[entity_id] = new
            written.append(Written(entity_id, "updated" if entity_id in before else "created", new))
        changed = {w.entity_id for w in written if w.outcome != "unchanged"}
        created = [current[i] for i in dict.fromkeys(w.entity_id for w in written) if i in changed and i not in before]
        updated = [current[i] for i in dict.fromkeys(w.entity_id for w in written) if i in changed and i in before]
        pks = {entity_id: pk for entity_id, (pk, _) in rows.items()}
        pks.update(await self._insert(connection, tenant, created))
        await self._rewrite(connection, tenant, updated, pks, before)
        await self._notify(connection, [
            *(ChangeEvent(tenant, "created", entity["id"], pks[entity["id"]], None, entity, entity["modifiedAt"])
              for entity in created),
            *(ChangeEvent(tenant, "updated", entity["id"], pks[entity["id"]], before[entity["id"]], entity,
                          entity["modifiedAt"]) for entity in updated),
        ])
        return written

    async def _insert(self, connection: AsyncConnection, tenant: str, created: list[Entity]) -> dict[str, int]:
        if not created:
            return {}
        result = await connection.execute(
            entities.insert().returning(entities.c.pk, entities.c.id),
            [_row(tenant, entity) for entity in created],
        )
        pks = {row.id: row.pk for row in result}  # by id: unordered RETURNING lets the driver batch rows
        await insert_rows(connection, entity_types, [
            {"entity_pk": pks[entity["id"]], "type": iri, "tenant": tenant} for entity in created for iri in entity["type"]])
        return pks

    async def _rewrite(
        self, connection: AsyncConnection, tenant: str, updated: list[Entity], pks: dict[str, int], before: dict[str, Entity]
    ) -> None:
        if not updated:
            return
        await connection.execute(
            entities.update().where(entities.c.pk == sa.bindparam("row_pk")).values(
                doc=sa.bindparam("row_doc"), modified_at=sa.bindparam("row_modified")
            ),
            [{"row_pk": pks[e["id"]], "row_doc": e, "row_modified": _timestamp(e["modifiedAt"])} for e in updated],
        )
        retyped = [entity for entity in updated if entity["type"] != before[entity["id"]]["type"]]
        if retyped:
            await connection.execute(
                entity_types.delete().where(one_of(entity_types.c.entity_pk, [pks[entity["id"]] for entity in retyped]))
            )
            await connection.execute(
                entity_types.insert(),
                [{"entity_pk": pks[e["id"]], "type": iri, "tenant": tenant} for e in retyped for iri in e["type"]],
            )

    async def delete_many(self, tenant: str, entity_ids: Sequence[str]) -> set[str]:
        """Delete entities in one transaction; the ids that existed. Raises :class:`TenantNotFound`."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            rows = await _locked_rows(connection, tenant, sorted(set(entity_ids)))
            await self._remove(connection, tenant, rows)
            return set(rows)

    async def purge(self, tenant: str, query: EntityQuery) -> int:
        """Delete every entity ``query`` selects (Purge Entities), in one transaction; how many."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            removed = 0
            while True:
                page = await query_entities(connection, tenant, query, _CHUNK, 0, False)
                if not page.entities:
                    return removed
                rows = await _locked_rows(connection, tenant, sorted(entity["id"] for entity in page.entities))
                await self._remove(connection, tenant, rows)
                removed += len(rows)
                await asyncio.sleep(0)  # a SQLite writer runs on the event loop: let others in between chunks

    async def _remove(self, connection: AsyncConnection, tenant: str, rows: dict[str, tuple[int, Entity]]) -> None:
        if not rows:
            return
        at = utc_now_text()
        await self._notify(connection, [ChangeEvent(tenant, "deleted", entity_id, pk, doc, None, at)
                                        for entity_id, (pk, doc) in rows.items()])
        pks = [pk for pk, _ in rows.values()]
        for start in range(0, len(pks), _CHUNK):
            await connection.execute(entities.delete().where(one_of(entities.c.pk, pks[start:start + _CHUNK])))

    async def _notify(self, connection: AsyncConnection, events: Sequence[ChangeEvent]) -> None:
        if not events:
            return
        for listener in self._listeners:
            await listener(connection, events)

    async def query(self, tenant: str, query: EntityQuery, limit: int, offset: int, count: bool) -> Page:
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            return await query_entities(connection, tenant, query, limit, offset, count)


async def _locked_rows(connection: AsyncConnection, tenant: str, ids: Sequence[str]) -> dict[str, tuple[int, Entity]]:
    """id -> (pk, stored form) of the existing entities among ``ids``, locked for update in id order."""
    found: dict[str, tuple[int, Entity]] = {}
    for start in range(0, len(ids), _CHUNK):
        query = (
            sa.select(entities.c.pk, entities.c.id, entities.c.doc)
            .where(entities.c.tenant == tenant, one_of(entities.c.id, ids[start:start + _CHUNK]))
            .order_by(entities.c.id)
            .with_for_update()
        )
        for row in await connection.execute(query):
            found[row.id] = (row.pk, row.doc)
    return found


def _row(tenant: str, entity: Entity) -> dict[str, object]:
    return {
        "tenant": tenant,
        "id": entity["id"],
        "doc": entity,
        "created_at": _timestamp(entity["createdAt"]),
        "modified_at": _timestamp(entity["modifiedAt"]),
    }


def _retryable(error: DBAPIError) -> bool:
    """A unique-key race (a concurrent writer created the entity) or a PostgreSQL deadlock victim."""
    if isinstance(error, IntegrityError):
        return True
    return "deadlock" in str(error.orig).lower()


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
