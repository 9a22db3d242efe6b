"""Query Entities filters (clause 5.7.2) compiled to SQL conditions on the query indexes.

The q language (clause 4.9) compiles term by term to EXISTS conditions on
``context_attribute_value`` (``indexing.py``) with exactly the semantics of
``mims.context.query.evaluate``, the reference: a term matches when any instance on the path
has a target element that compares true (``!=`` and ``!~=``: an instance none of whose elements
is equal / matches); values of another data type never compare; relationships only under ``==``
and ``!=``; vocabulary terms are expanded against VocabProperty values. Query values are bound
parameters, never SQL text.

What is not compiled exactly yields a prefilter that never loses a match (``exact`` False) and
the caller confirms candidates with the filter's Python predicate: paths into compound values
or NGSI-LD members, numbers beyond 2**53 (stored as doubles), the geo-queries (a box
prefilter: R*Tree on SQLite, PostGIS ``&&`` on a GiST index on PostgreSQL, float columns where
PostGIS is missing) and, on PostgreSQL, regular expressions (``~`` is POSIX ARE, not Python
``re``, the reference dialect). On SQLite, regular expressions run in Python ``re``
through functions installed on each connection, after the same safety checks as everywhere.
scopeQ (clause 4.19) compiles exactly on both, over the entity's stored scopes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mims.context import geo, query
from mims.context.query import (
    And,
    Boolean,
    Comparison,
    DateTimeValue,
    DateValue,
    Exists,
    Number,
    Op,
    Or,
    Pattern,
    Range,
    ScopeTerm,
    Term,
    Text,
    TimeValue,
    Uri,
    ValueList,
    VocabExpander,
)
from mims.context.query.regex import compile_pattern
from mims.context.storage.filters import (
    AttrsFilter,
    Filter,
    GeoFilter,
    IdPatternFilter,
    QFilter,
    ScopeFilter,
    TypeExpression,
    TypeFilter,
)
from mims.context.storage.indexing import (
    PATH_SEPARATOR,
    attribute_values,
    geo_boxes,
    geo_rtree,
    instant_text,
    one_per_instance,
)
from mims.context.storage.tables import entities, entity_types

EXACT_FLOAT_LIMIT = 2**53
_RELATIONSHIPS = ("Relationship", "ListRelationship")
_COMPARE = {
    Op.EQ: lambda column, value: column == value,
    Op.GT: lambda column, value: column > value,
    Op.GE: lambda column, value: column >= value,
    Op.LT: lambda column, value: column < value,
    Op.LE: lambda column, value: column <= value,
}
# Non-strict stand-ins for comparisons on doubles that may have lost precision.
_LOOSE = {Op.EQ: Op.EQ, Op.GT: Op.GE, Op.GE: Op.GE, Op.LT: Op.LE, Op.LE: Op.LE}
_FUNCTIONS_INSTALLED = "context_regexp_functions"
_POSTGIS_BOXES = "context_postgis_boxes"
WGS84 = 4326
# context_geo_box as revision context_0007 extends it where PostGIS is installed.
_postgis_boxes = sa.table(
    "context_geo_box", sa.column("tenant"), sa.column("attribute"), sa.column("entity_pk"), sa.column("box"))
# The named bound parameters of the geo prefilter as ``bound_filter`` builds it, once per form.
_GEO_PARAMS = ("geo_tenant", "geo_attribute", "geo_min_x", "geo_min_y", "geo_max_x", "geo_max_y")
_GEO_TYPES = (sa.String(256), sa.Text(), sa.Float(), sa.Float(), sa.Float(), sa.Float())


@dataclass(frozen=True, slots=True)
class Compiled:
    """An SQL condition on ``context_entity``; when not ``exact`` a superset prefilter."""

    condition: Any
    exact: bool


def compile_filter(item: Filter, tenant: str, sqlite: bool, *, postgis: bool = False) -> Compiled:
    """The SQL form of one filter, for a query on ``tenant``; ``postgis`` when
    :func:`has_postgis_boxes` says so for the connection."""
    if isinstance(item, TypeFilter):
        return Compiled(_type(item.expression, tenant), True)
    if isinstance(item, IdPatternFilter):
        if sqlite:
            return Compiled(sa.func.context_regexp_full(item.pattern, entities.c.id) == 1, True)
        return Compiled(sa.true(), False)
    if isinstance(item, AttrsFilter):
        rows = attribute_values.alias()
        return Compiled(sa.exists().where(
            rows.c.entity_pk == entities.c.pk, rows.c.depth == 1, rows.c.path.in_(sorted(item.names))), True)
    if isinstance(item, QFilter):
        return _q(item.node, _Leaf(item.expand_vocab, sqlite))
    if isinstance(item, GeoFilter):
        form, values = _geo(item, tenant, sqlite, postgis)
        binds = [sa.bindparam(None, value, type_=kind) for value, kind in zip(values, _GEO_TYPES, strict=False)]
        return Compiled(_geo_condition(form, *binds), False)
    assert isinstance(item, ScopeFilter)
    return Compiled(_scope(item.node, sqlite), True)


def _scope(node: query.Node, sqlite: bool) -> Any:
    """Clause 4.19 exactly: an entity matches a term when one of its scopes (stored as a list of
    ``/``-led paths) does. Terms without ``+`` compare text; with ``+``, an anchored pattern."""
    if isinstance(node, And | Or):
        combine = sa.and_ if isinstance(node, And) else sa.or_
        return combine(*(_scope(operand, sqlite) for operand in node.operands))
    assert isinstance(node, ScopeTerm)
    levels = node.levels
    final = levels[-1] == "#"
    fixed = levels[:-1] if final else levels
    if sqlite:
        held = sa.func.json_each(entities.c.doc, "$.scope").table_valued("value").alias()
    else:
        held = sa.func.jsonb_array_elements_text(entities.c.doc["scope"]).table_valued("value").alias()
    scope = held.c.value
    if "+" in fixed:
        pattern = "^" + "".join("/[^/]+" if level == "+" else "/" + re.escape(level) for level in fixed)
        pattern += "(/.*)?$" if final else "$"
        matches = sa.func.context_regexp_full(pattern, scope) == 1 if sqlite else scope.op("~")(pattern)
    else:
        path = "".join("/" + level for level in fixed)
        matches = scope == path
        if final:
            matches = sa.true() if not fixed else sa.or_(
                matches, sa.func.substr(scope, 1, len(path) + 1) == path + "/")
    return sa.exists().select_from(held).where(matches)


def _type(expression: TypeExpression, tenant: str) -> Any:
    kind, value = expression
    if kind == "name":
        types = entity_types.alias()
        return sa.exists().where(types.c.entity_pk == entities.c.pk, types.c.tenant == tenant, types.c.type == value)
    operands = [_type(operand, tenant) for operand in value]
    return sa.and_(*operands) if kind == "and" else sa.or_(*operands)


def bound_filter(item: Filter, tenant: str, sqlite: bool, *, postgis: bool = False) -> tuple[Compiled, dict[str, Any]]:
    """``compile_filter``, but the geo prefilter comes with named bound parameters and their
    values, to be given at execution: its condition is then built once, not for every query."""
    if isinstance(item, GeoFilter):
        form, values = _geo(item, tenant, sqlite, postgis)
        return Compiled(_named_geo_condition(form), False), dict(zip(_GEO_PARAMS, values, strict=False))
    return compile_filter(item, tenant, sqlite, postgis=postgis), {}


def _geo(item: GeoFilter, tenant: str, sqlite: bool, postgis: bool) -> tuple[str, tuple[Any, ...]]:
    """Clause 4.10 prefilter: entities with a box of the GeoProperty intersecting the query box
    (edges inclusive), or with any box of it when none applies (``disjoint``, ``near;minDistance``).
    Its form and values (tenant, attribute, then the query box, if any) for ``_geo_condition``."""
    area = geo.query_bbox(item.query)
    form = "any" if area is None else "postgis" if postgis else "rtree" if sqlite else "columns"
    return form, (tenant, item.attribute, *(area or ()))


@cache
def _named_geo_condition(form: str) -> Any:
    return _geo_condition(form, *(sa.bindparam(name, type_=kind) for name, kind in zip(_GEO_PARAMS, _GEO_TYPES, strict=True)))


def _geo_condition(form: str, tenant: Any, attribute: Any, *box: Any) -> Any:
    """The geo prefilter on boxes of one ``form`` (any box at all, an R*Tree on SQLite, PostGIS
    ``&&`` or the float columns on PostgreSQL) with these bound parameters; ``box`` is
    (min x, min y, max x, max y), none for form ``any``."""
    if form == "postgis":
        min_x, min_y, max_x, max_y = box
        boxes = _postgis_boxes.alias()
        envelope = sa.func.ST_MakeEnvelope(min_x, min_y, max_x, max_y, WGS84)
        return entities.c.pk.in_(sa.select(boxes.c.entity_pk).where(
            boxes.c.tenant == tenant, boxes.c.attribute == attribute,
            boxes.c.box.op("&&", is_comparison=True)(envelope)))
    boxes = geo_boxes.alias()
    conditions = [boxes.c.tenant == tenant, boxes.c.attribute == attribute]
    if form != "any":
        min_x, min_y, max_x, max_y = box
        index = geo_rtree.alias() if form == "rtree" else boxes
        conditions += [index.c.min_x <= max_x, index.c.max_x >= min_x, index.c.min_y <= max_y, index.c.max_y >= min_y]
        if form == "rtree":
            conditions.append(index.c.id == boxes.c.pk)
    return entities.c.pk.in_(sa.select(boxes.c.entity_pk).where(*conditions))


async def has_postgis_boxes(connection: AsyncConnection) -> bool:
    """Whether ``context_geo_box`` has the PostGIS ``box`` column (revision ``context_0007``),
    asked once per database connection."""
    if connection.dialect.name != "postgresql":
        return False
    raw = await connection.get_raw_connection()
    known = raw.info.get(_POSTGIS_BOXES)
    if known is None:
        column = sa.text(
            "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('context_geo_box')"
            " AND attname = 'box' AND NOT attisdropped")
        known = raw.info[_POSTGIS_BOXES] = (await connection.execute(column)).first() is not None
    return known


def _q(node: query.Node, leaf: _Leaf) -> Compiled:
    if isinstance(node, And | Or):
        parts = [_q(operand, leaf) for operand in node.operands]
        combine = sa.and_ if isinstance(node, And) else sa.or_
        return Compiled(combine(*(part.condition for part in parts)), all(part.exact for part in parts))
    assert isinstance(node, Exists | Comparison)
    path = node.path
    if path.compound is not None or path.meta is not None:
        if not path.names:
            return Compiled(sa.true(), False)
        return Compiled(leaf.instance_exists(path.names), False)
    if isinstance(node, Exists):
        return Compiled(leaf.instance_exists(path.names), True)
    return leaf.comparison(path.names, node.op, node.value)


class _Leaf:
    """Compiles the Query Terms of one q expression."""

    def __init__(self, expand_vocab: VocabExpander | None, sqlite: bool) -> None:
        self.expand_vocab = expand_vocab
        self.sqlite = sqlite

    def instance_exists(self, names: tuple[str, ...], *conditions: Any) -> Any:
        rows = attribute_values.alias()
        return sa.exists().where(
            rows.c.entity_pk == entities.c.pk, rows.c.path == PATH_SEPARATOR.join(names),
            rows.c.has_target.is_(True), *conditions)

    def comparison(self, names: tuple[str, ...], op: Op, value: Any) -> Compiled:
        path = PATH_SEPARATOR.join(names)
        if op in (Op.MATCH, Op.NOT_MATCH):
            return self._pattern(names, op, value)
        rows = attribute_values.alias()
        on_path = (rows.c.entity_pk == entities.c.pk, rows.c.path == path, rows.c.element.is_not(None))
        if op is Op.NE:
            return self._not_equal(names, value)
        if op is Op.EQ:
            condition, exact = self._equals(rows, value)
            return Compiled(sa.exists().where(*on_path, condition), exact)
        if isinstance(value, ValueList | Range | Pattern):
            return Compiled(sa.false(), True)
        condition, exact = self._literal(rows, value, op, expand=True)
        return Compiled(sa.exists().where(*on_path, rows.c.kind.not_in(_RELATIONSHIPS), condition), exact)

    def _not_equal(self, names: tuple[str, ...], value: Any) -> Compiled:
        """An instance with a target value none of whose elements equals the query value."""
        elements = attribute_values.alias()
        condition, exact = self._equals(elements, value)
        if not exact:
            return Compiled(self.instance_exists(names), False)
        instances = attribute_values.alias()
        return Compiled(sa.exists().where(
            instances.c.entity_pk == entities.c.pk, instances.c.path == PATH_SEPARATOR.join(names),
            one_per_instance(instances), instances.c.has_target.is_(True),
            ~sa.exists().where(elements.c.entity_pk == instances.c.entity_pk,
                               elements.c.instance == instances.c.instance,
                               elements.c.element.is_not(None), condition)), True)

    def _pattern(self, names: tuple[str, ...], op: Op, value: Any) -> Compiled:
        if not isinstance(value, Pattern):
            return Compiled(sa.false(), True)
        if not self.sqlite:
            return Compiled(self.instance_exists(names), False)
        path = PATH_SEPARATOR.join(names)
        if op is Op.MATCH:
            rows = attribute_values.alias()
            return Compiled(sa.exists().where(
                rows.c.entity_pk == entities.c.pk, rows.c.path == path, rows.c.element.is_not(None),
                rows.c.kind.not_in(_RELATIONSHIPS), rows.c.txt.is_not(None),
                sa.func.context_regexp(value.source, rows.c.txt) == 1), True)
        instances, some, other = attribute_values.alias(), attribute_values.alias(), attribute_values.alias()
        return Compiled(sa.exists().where(
            instances.c.entity_pk == entities.c.pk, instances.c.path == path, one_per_instance(instances),
            instances.c.has_target.is_(True), instances.c.kind.not_in(_RELATIONSHIPS),
            sa.exists().where(some.c.entity_pk == instances.c.entity_pk, some.c.instance == instances.c.instance,
                              some.c.element.is_not(None)),
            ~sa.exists().where(other.c.entity_pk == instances.c.entity_pk, other.c.instance == instances.c.instance,
                               other.c.element.is_not(None),
                               sa.or_(other.c.txt.is_(None), sa.func.context_regexp(value.source, other.c.txt) == 1)),
        ), True)

    def _equals(self, rows: Any, value: Any) -> tuple[Any, bool]:
        if isinstance(value, ValueList):
            parts = [self._literal(rows, item, Op.EQ, expand=True) for item in value.values]
            return sa.or_(*(part[0] for part in parts)), all(part[1] for part in parts)
        if isinstance(value, Range):
            return self._range(rows, value)
        if isinstance(value, Pattern):
            return sa.false(), True
        return self._literal(rows, value, Op.EQ, expand=True)

    def _range(self, rows: Any, value: Range) -> tuple[Any, bool]:
        """``low..high``: both bounds of the element's own type, included (clause 4.9)."""
        low_key, low_column, low, low_exact = _column(rows, value.low, self.sqlite)
        high_key, high_column, high, high_exact = _column(rows, value.high, self.sqlite)
        if low_key != high_key:
            return sa.true(), False
        return sa.and_(low_column >= low, high_column <= high), low_exact and high_exact

    def _literal(self, rows: Any, literal: Any, op: Op, *, expand: bool) -> tuple[Any, bool]:
        _key, column, bound, exact = _column(rows, literal, self.sqlite)
        compare = _COMPARE[op if exact else _LOOSE[op]]
        if expand and self.expand_vocab is not None and isinstance(literal, Text | Term):
            vocab = rows.c.kind == "VocabProperty"
            try:
                expanded = self.expand_vocab(literal.value)
            except Exception:  # noqa: BLE001 - not a term: an error only where a VocabProperty meets it
                return sa.or_(vocab, compare(column, bound)), False
            return sa.or_(sa.and_(vocab, compare(column, expanded)), sa.and_(~vocab, compare(column, bound))), exact
        return compare(column, bound), exact


def _column(rows: Any, literal: Any, sqlite: bool) -> tuple[str, Any, Any, bool]:
    """The index column a literal compares with (its name, the column), the bound value, and
    whether that comparison is exact."""
    if isinstance(literal, Number):
        return "num", rows.c.num, float(literal.value), abs(literal.value) < EXACT_FLOAT_LIMIT
    if isinstance(literal, Boolean):
        return "flag", rows.c.flag, literal.value, True
    if isinstance(literal, DateTimeValue):
        return "dt", _text(rows.c.dt, sqlite), instant_text(literal.value), True
    if isinstance(literal, DateValue):
        return "day", _text(rows.c.day, sqlite), literal.value.isoformat(), True
    if isinstance(literal, TimeValue):
        return "tod", _text(rows.c.tod, sqlite), literal.value.strftime("%H:%M:%S.%f"), True
    assert isinstance(literal, Text | Uri | Term)
    return "txt", _text(rows.c.txt, sqlite), literal.value, True


def _text(column: Any, sqlite: bool) -> Any:
    """Strings order by code point, as in Python: SQLite's BINARY, PostgreSQL's "C" collation."""
    return column if sqlite else column.collate("C")


async def install_functions(connection: AsyncConnection) -> None:
    """Give this SQLite connection the Python ``re`` functions of idPattern and ``~=``."""
    raw = await connection.get_raw_connection()
    if raw.info.get(_FUNCTIONS_INSTALLED):
        return
    await connection.run_sync(_install)


def _install(connection: sa.Connection) -> None:
    fairy = connection.connection
    fairy.dbapi_connection.create_function("context_regexp", 2, _search, deterministic=True)
    fairy.dbapi_connection.create_function("context_regexp_full", 2, _fullmatch, deterministic=True)
    fairy.info[_FUNCTIONS_INSTALLED] = True


def _search(pattern: str, text: str | None) -> int | None:
    """``~=`` (clause 4.9): the pattern, already checked by the q parser, found in the text."""
    if text is None:
        return None
    return int(compile_pattern(pattern).search(text) is not None)


def _fullmatch(pattern: str, text: str | None) -> int | None:
    """idPattern (clause 5.7.2): the whole id matches the pattern."""
    if text is None:
        return None
    return int(_compiled(pattern).fullmatch(text) is not None)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)
