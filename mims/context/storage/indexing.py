"""The query indexes of the context MIM: attribute values and geometry boxes of every entity.

Query Entities (clause 5.7.2) filters on attribute values (the q language, clause 4.9), on
attribute presence (``attrs``) and on geometries (clause 4.10). The stored form keeps those deep
inside a JSON document, so each write also stores, in the same transaction (a
:class:`~mims.context.storage.events.ChangeEvent` listener), rows SQL can index:

- ``context_attribute_value``: per attribute instance (sub-attributes included, ``path`` being
  the attribute IRIs from the top level down, joined by a space, which no IRI contains) one row
  per element of its target value (clause 4.9: a list value is compared element by element),
  ``element`` its position, with the element in typed columns: ``num`` (JSON numbers, not
  booleans), ``flag`` (booleans), ``txt`` (strings: values, relationship objects, vocab IRIs,
  language map texts), and the same string read as an instant ``dt`` / date ``day`` / time of
  day ``tod`` in fixed width UTC text, so text order is time order. An instance without
  elements has one row with ``element`` NULL; ``has_target`` tells whether it has a target
  value at all (an empty list is one). Every row carries its instance's path, kind and dataset;
  :func:`one_per_instance` picks one row of each instance;
- ``context_geo_box``: per GeoProperty instance of the entity its bounding box, the box
  prefilter of ``mims.context.geo``: on SQLite mirrored by triggers into an R*Tree
  (``context_geo_rtree``), on PostgreSQL a PostGIS envelope with a GiST index (when the server
  has PostGIS) computed by the database.

Which element a target value has is decided exactly as ``mims.context.query.evaluate`` does, so
the compiled queries (``querying.py``) give the reference results.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mims.context import geo
from mims.context.query.values import parse_date, parse_datetime, parse_time
from mims.context.storage.events import ChangeEvent
from mims.context.storage.tables import metadata, one_of
from mims.kit.storage import insert_rows

PATH_SEPARATOR = " "
_CHUNK = 1000  # entity keys per IN list, well under both backends' bound-parameter limits
_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_TARGET_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
}

attribute_values = sa.Table(
    "context_attribute_value",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(256), nullable=False),
    sa.Column("entity_pk", _PK, sa.ForeignKey("context_entity.pk", ondelete="CASCADE"), nullable=False),
    sa.Column("instance", sa.Integer, nullable=False),  # ordinal of the instance within the entity
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("depth", sa.SmallInteger, nullable=False),  # 1 for entity attributes
    sa.Column("kind", sa.String(32), nullable=False),  # the instance's NGSI-LD type
    sa.Column("dataset_id", sa.Text),
    sa.Column("element", sa.Integer),  # NULL on the instance row
    sa.Column("has_target", sa.Boolean),  # instance rows only
    sa.Column("num", sa.Float),
    sa.Column("flag", sa.Boolean),
    sa.Column("txt", sa.Text),
    sa.Column("dt", sa.String(32)),
    sa.Column("day", sa.String(10)),
    sa.Column("tod", sa.String(15)),
)

geo_boxes = sa.Table(
    "context_geo_box",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(256), nullable=False),
    sa.Column("entity_pk", _PK, sa.ForeignKey("context_entity.pk", ondelete="CASCADE"), nullable=False),
    sa.Column("attribute", sa.Text, nullable=False),
    sa.Column("min_x", sa.Float, nullable=False),
    sa.Column("min_y", sa.Float, nullable=False),
    sa.Column("max_x", sa.Float, nullable=False),
    sa.Column("max_y", sa.Float, nullable=False),
)

# The SQLite R*Tree over context_geo_box (same ids); described here for queries only.
geo_rtree = sa.Table(
    "context_geo_rtree",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("min_x", sa.Float),
    sa.Column("max_x", sa.Float),
    sa.Column("min_y", sa.Float),
    sa.Column("max_y", sa.Float),
)


@dataclass(frozen=True, slots=True)
class IndexRows:
    """The index rows of one entity (without ``entity_pk``/``tenant``, added on insert)."""

    values: list[dict[str, Any]]
    boxes: list[dict[str, Any]]


def index_rows(entity: Mapping[str, Any]) -> IndexRows:
    """Every index row the stored-form ``entity`` needs."""
    values: list[dict[str, Any]] = []
    boxes: list[dict[str, Any]] = []
    for number, (path, instance) in enumerate(_instances(entity.get("attributes"), ())):
        values.extend(_instance_rows(number, path, instance))
        if len(path) == 1 and instance.get("type") == "GeoProperty":
            box = _box(instance.get("value"))
            if box is not None:
                boxes.append({"attribute": path[0], "min_x": box[0], "min_y": box[1], "max_x": box[2], "max_y": box[3]})
    return IndexRows(values, boxes)


def _instances(attributes: Any, parents: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """(path, instance) of every attribute instance below ``attributes``, depth first."""
    if not isinstance(attributes, dict):
        return
    for name, found in attributes.items():
        listed = [found] if isinstance(found, dict) else found if isinstance(found, list) else []
        for instance in listed:
            if isinstance(instance, dict):
                yield (*parents, name), instance
                yield from _instances(instance.get("attributes"), (*parents, name))


def _instance_rows(number: int, path: tuple[str, ...], instance: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind = instance.get("type", "Property")
    kind = kind if isinstance(kind, str) else "Property"
    dataset_id = instance.get("datasetId") if isinstance(instance.get("datasetId"), str) else None
    common = {"instance": number, "path": PATH_SEPARATOR.join(path), "depth": len(path), "kind": kind[:32],
              "dataset_id": dataset_id}
    elements = _target_elements(kind, instance)
    if not elements:  # None: no target value; []: an empty one
        return [{**common, "element": None, "has_target": elements is not None, **_EMPTY}]
    return [{**common, "element": position, "has_target": True, **typed_columns(element)}
            for position, element in enumerate(elements)]


def one_per_instance(rows: Any) -> sa.ColumnElement[bool]:
    """The condition that selects, of the index rows ``rows`` (the table or an alias), the first
    row of every attribute instance."""
    return sa.or_(rows.c.element.is_(None), rows.c.element == 0)


def _target_elements(kind: str, instance: Mapping[str, Any]) -> list[Any] | None:
    """The elements of the instance's target value (``evaluate._instance_targets`` without a
    compound path), or None when the instance has no target value."""
    if kind == "LanguageProperty":
        language_map = instance.get("languageMap")
        if not isinstance(language_map, dict):
            return None
        return [text for value in language_map.values() for text in _listed(value)]
    member = _TARGET_MEMBER.get(kind, "value")
    if member not in instance:
        return None
    value = instance[member]
    if kind == "ListRelationship":
        value = [item.get("object") if isinstance(item, dict) else item for item in _listed(value)]
    return [_plain(element) for element in _listed(value)]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "@value" in value:
        return value["@value"]
    return value


_EMPTY = {"num": None, "flag": None, "txt": None, "dt": None, "day": None, "tod": None}


def typed_columns(element: Any) -> dict[str, Any]:
    """The typed columns of one target value element (see the module docstring)."""
    columns = dict(_EMPTY)
    if isinstance(element, bool):
        columns["flag"] = element
    elif isinstance(element, int | float):
        columns["num"] = float(element)
    elif isinstance(element, str):
        columns["txt"] = element
        instant = parse_datetime(element)
        day = parse_date(element)
        moment = parse_time(element)
        columns["dt"] = None if instant is None else instant_text(instant)
        columns["day"] = None if day is None else day.isoformat()
        columns["tod"] = None if moment is None else moment.strftime("%H:%M:%S.%f")
    return columns


def instant_text(value: datetime) -> str:
    """A UTC instant as fixed-width text, ordered like the instants."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _box(value: Any) -> geo.BBox | None:
    try:
        return geo.bbox(value)
    except (geo.InvalidGeometry, TypeError, ValueError, KeyError):
        return None


async def index_entity(connection: AsyncConnection, events: Sequence[ChangeEvent]) -> None:
    """ChangeEvent listener: replace the index rows of the changed entities by those of their new forms.

    Old rows go with one DELETE per table, new ones with one INSERT per table, whatever the batch.
    On SQLite, triggers mirror the boxes into the R*Tree (migration context_0008).
    """
    await _drop(connection, [event.entity_pk for event in events if event.before is not None])
    await _insert(connection, [(event.tenant, event.entity_pk, index_rows(event.after))
                               for event in events if event.after is not None])


async def _drop(connection: AsyncConnection, entity_pks: list[int]) -> None:
    for start in range(0, len(entity_pks), _CHUNK):
        chunk = entity_pks[start:start + _CHUNK]
        await connection.execute(geo_boxes.delete().where(one_of(geo_boxes.c.entity_pk, chunk)))
        await connection.execute(attribute_values.delete().where(one_of(attribute_values.c.entity_pk, chunk)))


async def _insert(connection: AsyncConnection, indexed: list[tuple[str, int, IndexRows]]) -> None:
    values = [{"tenant": tenant, "entity_pk": pk, **row} for tenant, pk, rows in indexed for row in rows.values]
    boxes = [{"tenant": tenant, "entity_pk": pk, **box} for tenant, pk, rows in indexed for box in rows.boxes]
    await insert_rows(connection, attribute_values, values)
    await insert_rows(connection, geo_boxes, boxes)


def backfill(connection: sa.Connection, entity_rows: Sequence[Any]) -> None:
    """Index already stored entities (``(pk, tenant, doc)`` rows), on a synchronous connection."""
    sqlite = connection.dialect.name == "sqlite"
    for row in entity_rows:
        rows = index_rows(row.doc)
        keys = {"tenant": row.tenant, "entity_pk": row.pk}
        if rows.values:
            connection.execute(attribute_values.insert(), [{**keys, **value} for value in rows.values])
        for box in rows.boxes:
            pk = connection.execute(geo_boxes.insert().values(**keys, **box)).inserted_primary_key[0]
            if sqlite:
                connection.execute(geo_rtree.insert().values(
                    id=pk, min_x=box["min_x"], max_x=box["max_x"], min_y=box["min_y"], max_y=box["max_y"]))
