"""The temporal evolution of entities in SQL (CIM 009 V1.8.1, clauses 4.5.7, 5.6.11-5.6.16, 5.7.3-5.7.4).

Three tables: a temporal entity per (tenant, id) holding its latest state in the stored form
(what q, scopeQ and geo-queries of a temporal query are evaluated on) and its types (indexed
like the entity types of ``tables.py``), and one row per attribute instance over time, with its
``observedAt``/``createdAt``/``modifiedAt``/``deletedAt`` as indexed timestamps so time-range
queries read only the instances in range.

History comes from two sources: :func:`record_history`, a ChangeEvent listener that records
every new, changed or removed attribute instance of every entity write inside the writing
transaction (``events.py``), and the temporal API itself (:class:`TemporalStore`), which adds,
modifies and deletes instances directly without touching the current entity.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.ngsild.attributes import NULL_CONTENT
from mims.context.storage.base import (
    Entity,
    EntityQuery,
)
from mims.context.storage.events import ChangeEvent
from mims.context.storage.tables import one_of
from mims.context.storage.tenants import check_tenant, ensure_tenant
from mims.kit.storage import begin_write, insert_rows

metadata = sa.MetaData()
_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB, "postgresql")
DEFAULT_DATASET = ""  # the dataset_id column of default instances (clause 4.5.5)
_CHUNK = 1000  # ids per IN list, well under both backends' bound-parameter limits

temporal_entities = sa.Table(
    "context_temporal_entity",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),  # creation order
    sa.Column("tenant", sa.String(256), nullable=False),
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("doc", _JSON, nullable=False),  # the latest state, stored form
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("tenant", "id", name="uq_context_temporal_entity_tenant_id"),
)

temporal_entity_types = sa.Table(
    "context_temporal_entity_type",
    metadata,
    sa.Column("entity_pk", _PK, sa.ForeignKey("context_temporal_entity.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("type", sa.Text, primary_key=True),
    sa.Column("tenant", sa.String(256), nullable=False),
)

temporal_instances = sa.Table(
    "context_temporal_instance",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),  # recording order
    sa.Column("entity_pk", _PK, sa.ForeignKey("context_temporal_entity.pk", ondelete="CASCADE"), nullable=False),
    sa.Column("attribute", sa.Text, nullable=False),
    sa.Column("dataset_id", sa.Text, nullable=False),
    sa.Column("instance_id", sa.Text, nullable=False),
    sa.Column("doc", _JSON, nullable=False),
    sa.Column("observed_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.UniqueConstraint("instance_id", name="uq_context_temporal_instance_instance_id"),
)

#: The timestamp columns a temporal query can bound and order by (``timeproperty``, clause 6.3.x).
TIME_COLUMNS = {
    "observedAt": temporal_instances.c.observed_at,
    "createdAt": temporal_instances.c.created_at,
    "modifiedAt": temporal_instances.c.modified_at,
    "deletedAt": temporal_instances.c.deleted_at,
}


class TemporalEntityNotFound(LookupError):
    """The entity has no temporal representation in the tenant."""


@dataclass(frozen=True, slots=True)
class InstanceFilter:
    """Which attribute instances to read: attributes, and a time range on one timestamp.

    Instances are read in ascending order of ``time_member`` (instances without it, possible
    only when no bound is set, fall back to their ``modifiedAt``). ``start`` is inclusive or
    exclusive per ``start_inclusive``; ``end`` is always exclusive (clause 4.11).
    """

    attributes: frozenset[str] | None = None
    time_member: str = "observedAt"
    start: datetime | None = None
    start_inclusive: bool = True
    end: datetime | None = None


@dataclass(slots=True)
class TemporalEntity:
    """A temporal entity: its latest state and the instances read, per attribute IRI, in time order.

    Every instance carries its ``instanceId``.
    """

    doc: Entity
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def new_instance_id() -> str:
    """A fresh attribute instance id (clause 4.5.7): a URN the broker assigns, holding a UUID
    version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits. Ids made later sort
    later, so the unique index takes each new one at its end instead of at a random page."""
    value = (time.time_ns() // 1_000_000) << 80 | _UUID7_VERSION | int.from_bytes(secrets.token_bytes(10)) & _UUID7_RANDOM
    return f"urn:ngsi-ld:AttributeInstance:{uuid.UUID(int=value)}"


_UUID7_VERSION = 0x7 << 76 | 0b10 << 62  # version 7, RFC 9562 variant
_UUID7_RANDOM = (0xFFF << 64) | ((1 << 62) - 1)  # rand_a (12 bits) and rand_b (62 bits)


def timestamp(text: str | None) -> datetime | None:
    """An ISO 8601 instant as an aware UTC datetime (``None`` stays ``None``)."""
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


async def record_history(connection: AsyncConnection, events: Sequence[ChangeEvent]) -> None:
    """ChangeEvent listener: the new, changed and removed attribute instances of one write transaction.

    A removed instance (or every instance, when the entity is deleted) is recorded as a deletion:
    its content the NGSI-LD Null and ``deletedAt`` the time of the change. Whatever the number of
    events, each table is written with one statement (chunked IN lists aside).
    """
    tenants_seen = dict.fromkeys(event.tenant for event in events)
    for tenant in tenants_seen:
        await _record_tenant_history(connection, tenant, [event for event in events if event.tenant == tenant])


async def _record_tenant_history(connection: AsyncConnection, tenant: str, events: list[ChangeEvent]) -> None:
    pks, fresh = await _upsert_latest(connection, tenant, [event.after for event in events if event.after is not None])
    deleted = [event for event in events if event.after is None]
    pks.update(await _entity_pks(connection, tenant, sorted({event.entity_id for event in deleted})))
    instances: list[dict[str, Any]] = []
    emptied: list[dict[str, Any]] = []
    typed: list[tuple[int, list[str]]] = []  # temporal entities whose types change
    for event in events:
        pk = pks.get(event.entity_id)
        if pk is None:  # a deleted entity without history: nothing to record
            continue
        before = _by_key(event.before)
        if event.after is None:
            instances += [_row(pk, iri, _deletion(instance, event.at)) for (iri, _), instance in before.items()]
            doc = {**(event.before or {}), "attributes": {}, "modifiedAt": event.at}
            emptied.append({"row_pk": pk, "row_doc": doc, "row_modified": timestamp(event.at)})
            continue
        current = _by_key(event.after)
        instances += [_row(pk, iri, instance)
                      for (iri, dataset), instance in current.items() if before.get((iri, dataset)) != instance]
        instances += [_row(pk, iri, _deletion(instance, event.at))
                      for (iri, dataset), instance in before.items() if (iri, dataset) not in current]
        if pk in fresh or event.before is None or event.before["type"] != event.after["type"]:
            typed.append((pk, event.after["type"]))
    await _insert_instances(connection, instances)
    if emptied:
        await connection.execute(
            temporal_entities.update().where(temporal_entities.c.pk == sa.bindparam("row_pk"))
            .values(doc=sa.bindparam("row_doc"), modified_at=sa.bindparam("row_modified")),
            emptied,
        )
    await _replace_types(connection, tenant, typed, fresh)


async def _upsert_latest(connection: AsyncConnection, tenant: str, written: list[Entity]) -> tuple[dict[str, int], set[int]]:
    """Make ``written`` the latest states of their temporal entities, creating those that do not
    exist yet (in id order, the order rows are locked in); id -> row key, and the keys created.

    A created row is told by its creation time, which an existing row keeps: it is the new
    modification time only on the row just inserted.
    """
    if not written:
        return {}, set()
    rows = [{"tenant": tenant, "id": entity["id"], "doc": entity, "created_at": timestamp(entity["modifiedAt"]),
             "modified_at": timestamp(entity["modifiedAt"])} for entity in sorted(written, key=lambda e: e["id"])]
    upsert = _UPSERTS[connection.dialect.name]
    modified = {row["id"]: row["modified_at"] for row in rows}
    pks: dict[str, int] = {}
    fresh: set[int] = set()
    for row in await connection.execute(upsert, rows):
        pks[row.id] = row.pk
        if _same_instant(row.created_at, modified[row.id]):
            fresh.add(row.pk)
    return pks, fresh


def _upsert(dialect: Any) -> Any:
    insert = dialect.insert(temporal_entities)
    return insert.on_conflict_do_update(
        index_elements=["tenant", "id"], set_={"doc": insert.excluded.doc, "modified_at": insert.excluded.modified_at}
    ).returning(temporal_entities.c.pk, temporal_entities.c.id, temporal_entities.c.created_at)


# Insert or update the latest state, per backend; built once, as building it costs more than running it.
_UPSERTS = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}


def _same_instant(stored: datetime, written: datetime) -> bool:
    """Whether a timestamp read back (naive UTC on SQLite) is the one written."""
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=UTC)
    return stored == written


def _new_entity_row(tenant: str, entity: Entity, now: str) -> dict[str, Any]:
    """A new temporal entity row: no attribute instances yet, created ``now``."""
    doc = {key: entity[key] for key in ("id", "type", "scope") if key in entity}
    doc.update(createdAt=now, modifiedAt=now, attributes={})
    return {"tenant": tenant, "id": entity["id"], "doc": doc, "created_at": timestamp(now), "modified_at": timestamp(now)}


async def _entity_pks(connection: AsyncConnection, tenant: str, ids: Sequence[str]) -> dict[str, int]:
    """id -> row key of the temporal entities among ``ids``, locked for update in id order."""
    found: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        statement = (
            sa.select(temporal_entities.c.pk, temporal_entities.c.id)
            .where(temporal_entities.c.tenant == tenant, one_of(temporal_entities.c.id, ids[start:start + _CHUNK]))
            .order_by(temporal_entities.c.id)
            .with_for_update()
        )
        found.update({row.id: row.pk for row in await connection.execute(statement)})
    return found


async def _replace_types(connection: AsyncConnection, tenant: str, typed: list[tuple[int, list[str]]],
                         fresh: set[int]) -> None:
    """The new types of temporal entities; a row created in this transaction has none to remove."""
    pks = [pk for pk, _ in typed if pk not in fresh]
    for start in range(0, len(pks), _CHUNK):
        await connection.execute(temporal_entity_types.delete().where(one_of(temporal_entity_types.c.entity_pk, pks[start:start + _CHUNK])))
    # Each listed entity has no type rows left: a plain insert cannot conflict.
    await insert_rows(connection, temporal_entity_types,
                      [{"entity_pk": pk, "type": iri, "tenant": tenant} for pk, types in typed for iri in dict.fromkeys(types)])


def backfill(connection: sa.Connection, entity_rows: Sequence[Any]) -> None:
    """Start the history of already stored entities (``(tenant, doc)`` rows) with their current
    instances, on a synchronous connection (the migration that creates the tables)."""
    for row in entity_rows:
        doc = row.doc
        pk = connection.execute(
            temporal_entities.insert().values(
                tenant=row.tenant,
                id=doc["id"],
                doc=doc,
                created_at=timestamp(doc["createdAt"]),
                modified_at=timestamp(doc["modifiedAt"]),
            )
        ).inserted_primary_key[0]
        connection.execute(temporal_entity_types.insert(), [{"entity_pk": pk, "type": iri, "tenant": row.tenant} for iri in doc["type"]])
        instances = [_row(pk, iri, instance) for (iri, _), instance in _by_key(doc).items()]
        if instances:
            connection.execute(temporal_instances.insert(), instances)


class TemporalStore:
    """The temporal representation of entities on the MIM's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def upsert(self, tenant: str, entity: Entity, now: str) -> bool:
        """Create the temporal entity or add ``entity``'s instances and types to it; ``True`` if created."""
        async with begin_write(self._engine) as connection:
            await ensure_tenant(connection, tenant)
            pk, created = await _ensure_entity(connection, tenant, entity, now)
            if not created:
                await _add_types(connection, tenant, pk, entity["type"])
            await self._add(connection, pk, entity["attributes"], now)
            return created

    async def append(self, tenant: str, entity_id: str, attributes: Mapping[str, list[dict[str, Any]]], now: str) -> None:
        """Add attribute instances to an existing temporal entity (clause 5.6.12)."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            pk = await _entity_pk(connection, tenant, entity_id, lock=True)
            if pk is None:
                raise TemporalEntityNotFound(entity_id)
            await self._add(connection, pk, attributes, now)

    async def get(self, tenant: str, entity_id: str, selected: InstanceFilter) -> TemporalEntity | None:
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            row = (await connection.execute(
                sa.select(temporal_entities.c.pk, temporal_entities.c.doc).where(
                    temporal_entities.c.tenant == tenant, temporal_entities.c.id == entity_id)
            )).first()
            if row is None:
                return None
            return (await _with_instances(connection, [(row.pk, row.doc)], selected))[0]

    async def query(
        self, tenant: str, query: EntityQuery, selected: InstanceFilter, limit: int, offset: int, count: bool
    ) -> tuple[list[TemporalEntity], int | None]:
        """Temporal entities matching ``query`` (on their latest state) in creation order, a page at a time."""
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            statement = sa.select(temporal_entities.c.pk, temporal_entities.c.doc).where(_selection(tenant, query))
            page: list[tuple[int, Entity]] = []
            seen = 0
            stream = await connection.stream(statement.order_by(temporal_entities.c.pk))
            async for row in stream:
                if not _matches(query, row.doc):
                    continue
                if offset <= seen < offset + limit:
                    page.append((row.pk, row.doc))
                seen += 1
                if not count and seen >= offset + limit:
                    break
            await stream.close()
            return await _with_instances(connection, page, selected), seen if count else None

    async def delete(self, tenant: str, entity_id: str) -> bool:
        """Remove a temporal entity with its whole history (clause 5.6.16)."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            pk = await _entity_pk(connection, tenant, entity_id, lock=True)
            if pk is None:
                return False
            await connection.execute(temporal_instances.delete().where(temporal_instances.c.entity_pk == pk))
            await connection.execute(temporal_entity_types.delete().where(temporal_entity_types.c.entity_pk == pk))
            await connection.execute(temporal_entities.delete().where(temporal_entities.c.pk == pk))
            return True

    async def delete_attribute(self, tenant: str, entity_id: str, attribute: str, dataset_id: str | None, every: bool) -> bool:
        """Remove the instances of one attribute (clause 5.6.13): the default dataset's, one dataset's, or all."""
        conditions = [temporal_instances.c.attribute == attribute]
        if not every:
            conditions.append(temporal_instances.c.dataset_id == (dataset_id or DEFAULT_DATASET))
        return await self._delete_instances(tenant, entity_id, conditions)

    async def delete_instance(self, tenant: str, entity_id: str, attribute: str, instance_id: str) -> bool:
        """Remove one attribute instance (clause 5.6.15); ``False`` if the entity has no such instance."""
        conditions = [temporal_instances.c.attribute == attribute, temporal_instances.c.instance_id == instance_id]
        return await self._delete_instances(tenant, entity_id, conditions)

    async def replace_instance(
        self, tenant: str, entity_id: str, attribute: str, instance_id: str, instance: dict[str, Any], now: str
    ) -> bool:
        """Give an attribute instance new content (clause 5.6.14), keeping its id and ``createdAt``."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            pk = await _entity_pk(connection, tenant, entity_id, lock=True)
            if pk is None:
                raise TemporalEntityNotFound(entity_id)
            old = (await connection.execute(
                sa.select(temporal_instances.c.pk, temporal_instances.c.doc).where(
                    temporal_instances.c.entity_pk == pk,
                    temporal_instances.c.attribute == attribute,
                    temporal_instances.c.instance_id == instance_id,
                )
            )).first()
            if old is None:
                return False
            replaced = {**instance, "createdAt": old.doc["createdAt"], "modifiedAt": now}
            values = _row(pk, attribute, replaced, instance_id)
            await connection.execute(temporal_instances.update().where(temporal_instances.c.pk == old.pk).values(values))
            await _refresh_latest(connection, pk, now)
            return True

    async def _add(self, connection: AsyncConnection, pk: int, attributes: Mapping[str, list[dict[str, Any]]], now: str) -> None:
        rows = [_row(pk, iri, instance) for iri, instances in attributes.items() for instance in instances]
        await _insert_instances(connection, rows)
        await _refresh_latest(connection, pk, now)

    async def _delete_instances(self, tenant: str, entity_id: str, conditions: list[Any]) -> bool:
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            pk = await _entity_pk(connection, tenant, entity_id, lock=True)
            if pk is None:
                raise TemporalEntityNotFound(entity_id)
            result = await connection.execute(
                temporal_instances.delete().where(temporal_instances.c.entity_pk == pk, *conditions)
            )
            if not result.rowcount:
                return False
            await _refresh_latest(connection, pk, _utc_text(datetime.now(UTC)))
            return True


def _by_key(entity: Entity | None) -> dict[tuple[str, str | None], dict[str, Any]]:
    if entity is None:
        return {}
    return {
        (iri, instance.get("datasetId")): instance
        for iri, instances in entity["attributes"].items()
        for instance in instances
    }


def _deletion(instance: Mapping[str, Any], at: str) -> dict[str, Any]:
    """The record of a removed attribute instance: same type and dataset, NGSI-LD Null content."""
    record = {key: instance[key] for key in ("type", "datasetId", "createdAt") if key in instance}
    content = next((member for member in NULL_CONTENT if member in instance), "value")
    record[content] = NULL_CONTENT[content]
    record["modifiedAt"] = record["deletedAt"] = at
    return record


def _row(pk: int, iri: str, instance: Mapping[str, Any], instance_id: str | None = None) -> dict[str, Any]:
    doc = {key: value for key, value in instance.items() if key != "instanceId"}
    return {
        "entity_pk": pk,
        "attribute": iri,
        "dataset_id": doc.get("datasetId", DEFAULT_DATASET),
        "instance_id": instance_id or new_instance_id(),
        "doc": doc,
        "observed_at": timestamp(doc.get("observedAt")),
        "created_at": timestamp(doc["createdAt"]),
        "modified_at": timestamp(doc["modifiedAt"]),
        "deleted_at": timestamp(doc.get("deletedAt")),
        "deleted": "deletedAt" in doc,
    }


async def _insert_instances(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    await insert_rows(connection, temporal_instances, rows)


async def _entity_pk(connection: AsyncConnection, tenant: str, entity_id: str, *, lock: bool = False) -> int | None:
    statement = sa.select(temporal_entities.c.pk).where(temporal_entities.c.tenant == tenant, temporal_entities.c.id == entity_id)
    if lock:
        statement = statement.with_for_update()
    return (await connection.execute(statement)).scalar_one_or_none()


async def _ensure_entity(connection: AsyncConnection, tenant: str, entity: Entity, now: str) -> tuple[int, bool]:
    """The row key of the temporal entity, created if absent (safe under concurrent first writes)."""
    insert = _dialect(connection).insert(temporal_entities).values(_new_entity_row(tenant, entity, now))
    inserted = (await connection.execute(
        insert.on_conflict_do_nothing(index_elements=["tenant", "id"]).returning(temporal_entities.c.pk)
    )).scalar_one_or_none()
    if inserted is not None:
        await _add_types(connection, tenant, inserted, entity["type"])
        return inserted, True
    pk = await _entity_pk(connection, tenant, entity["id"], lock=True)
    assert pk is not None  # the conflicting row exists and cannot vanish under the lock
    return pk, False


async def _update_entity(connection: AsyncConnection, pk: int, doc: Entity, modified: str) -> None:
    await connection.execute(
        temporal_entities.update().where(temporal_entities.c.pk == pk).values(doc=doc, modified_at=timestamp(modified))
    )


async def _add_types(connection: AsyncConnection, tenant: str, pk: int, types: Iterable[str]) -> None:
    rows = [{"entity_pk": pk, "type": iri, "tenant": tenant} for iri in types]
    if rows:
        insert = _dialect(connection).insert(temporal_entity_types)
        await connection.execute(insert.on_conflict_do_nothing(index_elements=["entity_pk", "type"]), rows)


async def _refresh_latest(connection: AsyncConnection, pk: int, now: str) -> None:
    """Recompute the latest state after direct history edits: per attribute and dataset, the instance
    latest in time (observedAt, else modifiedAt), unless that one records a deletion."""
    entity = (await connection.execute(
        sa.select(temporal_entities.c.doc).where(temporal_entities.c.pk == pk)
    )).scalar_one()
    types = (await connection.execute(
        sa.select(temporal_entity_types.c.type).where(temporal_entity_types.c.entity_pk == pk)
    )).scalars().all()
    time = sa.func.coalesce(temporal_instances.c.observed_at, temporal_instances.c.modified_at)
    rows = await connection.execute(
        sa.select(temporal_instances.c.attribute, temporal_instances.c.dataset_id, temporal_instances.c.doc)
        .where(temporal_instances.c.entity_pk == pk)
        .order_by(time, temporal_instances.c.pk)
    )
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        latest[(row.attribute, row.dataset_id)] = row.doc
    attributes: dict[str, list[dict[str, Any]]] = {}
    for (iri, _), instance in latest.items():
        if "deletedAt" not in instance:
            attributes.setdefault(iri, []).append(instance)
    known = [iri for iri in entity["type"] if iri in types]
    doc = {**entity, "type": known + sorted(set(types) - set(known)), "attributes": attributes, "modifiedAt": now}
    await _update_entity(connection, pk, doc, now)


async def _with_instances(
    connection: AsyncConnection, page: list[tuple[int, Entity]], selected: InstanceFilter
) -> list[TemporalEntity]:
    """The page's entities with the instances ``selected`` names, read in one statement."""
    found = {pk: TemporalEntity(doc) for pk, doc in page}
    if not found:
        return []
    column = TIME_COLUMNS[selected.time_member]
    conditions = [temporal_instances.c.entity_pk.in_(list(found))]
    if selected.attributes is not None:
        conditions.append(temporal_instances.c.attribute.in_(sorted(selected.attributes)))
    if selected.start is not None:
        conditions.append(column >= selected.start if selected.start_inclusive else column > selected.start)
    if selected.end is not None:
        conditions.append(column < selected.end)
    if selected.start is None and selected.end is None and selected.time_member == "deletedAt":
        conditions.append(column.is_not(None))
    rows = await connection.execute(
        sa.select(
            temporal_instances.c.entity_pk,
            temporal_instances.c.attribute,
            temporal_instances.c.instance_id,
            temporal_instances.c.doc,
        )
        .where(*conditions)
        .order_by(sa.func.coalesce(column, temporal_instances.c.modified_at), temporal_instances.c.pk)
    )
    for row in rows:
        found[row.entity_pk].instances.setdefault(row.attribute, []).append({**row.doc, "instanceId": row.instance_id})
    return [found[pk] for pk, _ in page]


def _matches(query: EntityQuery, doc: Entity) -> bool:
    """Every filter of the query on the latest state (their Python predicates: histories are not indexed)."""
    if query.matches is not None and not query.matches(doc):
        return False
    return all(condition.matches(doc) for condition in query.filters)


def _selection(tenant: str, query: EntityQuery) -> Any:
    conditions = [temporal_entities.c.tenant == tenant]
    if query.ids is not None:
        conditions.append(temporal_entities.c.id.in_(query.ids))
    if query.types is not None:
        conditions.append(
            sa.exists().where(
                temporal_entity_types.c.entity_pk == temporal_entities.c.pk,
                temporal_entity_types.c.tenant == tenant,
                temporal_entity_types.c.type.in_(query.types),
            )
        )
    return sa.and_(*conditions)


def _dialect(connection: AsyncConnection) -> Any:
    return postgresql if connection.dialect.name == "postgresql" else sqlite


def _utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
