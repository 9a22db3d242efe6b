"""In-memory evaluation of a q expression (CIM 009 V1.8.1 clause 4.9) against one Entity in the
internal (stored) form: expanded attribute names, every attribute a list of instances.

This decides, for instance, whether a changed Entity matches a subscription, so it follows the
clause's semantics exactly:

- the target element is found through the attribute path (sub-attributes by name, NGSI-LD
  members such as observedAt, then the trailing compound path); with several instances
  (datasetId) the term matches when any instance does;
- the target value is `value` (Property, GeoProperty), `object` (Relationship), `valueList`
  (ListProperty), the objects of `objectList` (ListRelationship), `vocab` (VocabProperty),
  `json` (JsonProperty), or the languageMap values (LanguageProperty; `[tag]` picks one
  language, `[*]` or no tag means any);
- an array target value matches `==` when it includes the query value, and `!=` when it
  includes none of the query values;
- values of different data types never match, except under `!=`, where they are unequal;
  dates, times and date-times compare as instants;
- a Relationship or ListRelationship only matches under `==` and `!=`;
- `~=` / `!~=` only match string target values.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mims.context.query.ast import PATTERN_OPS, And, AttrPath, Comparison, Exists, Node, Op, Or
from mims.context.query.regex import compile_pattern
from mims.context.query.values import (
    Boolean,
    DateTimeValue,
    DateValue,
    Literal,
    Number,
    Pattern,
    QueryValue,
    Range,
    Term,
    Text,
    TimeValue,
    Uri,
    ValueList,
    parse_date,
    parse_datetime,
    parse_time,
)

VocabExpander = Callable[[str], str]
"""Expands a vocabulary term to its IRI with the request's @context (clause 4.9: the target
value of a VocabProperty is compared in expanded form)."""

_TARGET_MEMBER = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
}
_RELATIONSHIPS = frozenset({"Relationship", "ListRelationship"})
_ORDERING = {Op.GT: operator.gt, Op.GE: operator.ge, Op.LT: operator.lt, Op.LE: operator.le}
_TEMPORAL_PARSERS = {DateTimeValue: parse_datetime, DateValue: parse_date, TimeValue: parse_time}
_MISSING = object()


@dataclass(frozen=True, slots=True)
class _Target:
    """A target value and the NGSI-LD type of the element holding it ("" for a member)."""

    kind: str
    value: Any


def matches(
    node: Node, entity: Mapping[str, Any], *, expand_vocab: VocabExpander | None = None
) -> bool:
    """Whether `entity` (internal form) satisfies the q expression `node`, whose attribute
    names must already be expanded like the entity's (see `map_attributes`)."""
    if isinstance(node, And):
        return all(matches(each, entity, expand_vocab=expand_vocab) for each in node.operands)
    if isinstance(node, Or):
        return any(matches(each, entity, expand_vocab=expand_vocab) for each in node.operands)
    if isinstance(node, Exists):
        return any(True for _ in _targets(node.path, entity))
    if isinstance(node, Comparison):
        return any(
            _compare(target, node.op, node.value, expand_vocab)
            for target in _targets(node.path, entity)
        )
    raise TypeError(f"{type(node).__name__} is not a q expression node")


def _targets(path: AttrPath, entity: Mapping[str, Any]) -> Iterator[_Target]:
    if not path.names:
        value = entity.get(path.meta or "", _MISSING)
        if value is not _MISSING:
            yield _Target("", value)
        return
    instances = _instances(entity, path.names[0])
    for name in path.names[1:]:
        instances = [sub for instance in instances for sub in _instances(instance, name)]
    for instance in instances:
        if path.meta is None:
            yield from _instance_targets(instance, path.compound)
        elif path.meta in instance:
            yield _Target("", instance[path.meta])


def _instances(holder: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The instances of attribute `name` held by an Entity or an attribute instance."""
    attributes = holder.get("attributes")
    found = attributes.get(name) if isinstance(attributes, Mapping) else None
    if isinstance(found, Mapping):
        return [found]
    if isinstance(found, list):
        return [instance for instance in found if isinstance(instance, Mapping)]
    return []


def _instance_targets(
    instance: Mapping[str, Any], compound: tuple[str, ...] | None
) -> Iterator[_Target]:
    kind = instance.get("type", "Property")
    if kind == "LanguageProperty":
        language_map = instance.get("languageMap")
        if not isinstance(language_map, Mapping):
            return
        if compound is None or compound == ("*",):
            texts = [text for value in language_map.values() for text in _listed(value)]
            yield _Target(kind, texts)
        elif len(compound) == 1 and compound[0] in language_map:
            yield _Target(kind, language_map[compound[0]])
        return
    member = _TARGET_MEMBER.get(kind, "value")
    if member not in instance:
        return
    value = instance[member]
    if kind == "ListRelationship":
        value = [
            item.get("object") if isinstance(item, Mapping) else item for item in _listed(value)
        ]
    for key in compound or ():
        if not isinstance(value, Mapping) or key not in value:
            return
        value = value[key]
    yield _Target(kind, value)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _compare(
    target: _Target, op: Op, query: QueryValue, expand_vocab: VocabExpander | None
) -> bool:
    if target.kind in _RELATIONSHIPS and op not in (Op.EQ, Op.NE):
        return False
    if target.kind == "VocabProperty" and expand_vocab is not None:
        query = _expanded(query, expand_vocab)
    values = [_plain(value) for value in _listed(target.value)]
    if op is Op.EQ:
        return any(_equals(value, query) for value in values)
    if op is Op.NE:
        return not any(_equals(value, query) for value in values)
    if op in PATTERN_OPS:
        if not isinstance(query, Pattern):
            return False
        pattern = compile_pattern(query.source)
        if op is Op.MATCH:
            return any(isinstance(value, str) and pattern.search(value) for value in values)
        return bool(values) and all(
            isinstance(value, str) and not pattern.search(value) for value in values
        )
    compare = _ORDERING[op]
    return any(_ordered(value, query, compare) for value in values)


def _plain(value: Any) -> Any:
    """A JSON-LD value object (`{"@type": "DateTime", "@value": ...}`, clause 4.6.3) as its
    plain value."""
    if isinstance(value, Mapping) and "@value" in value:
        return value["@value"]
    return value


def _expanded(query: QueryValue, expand_vocab: VocabExpander) -> QueryValue:
    if isinstance(query, ValueList):
        return ValueList(tuple(_expanded_term(value, expand_vocab) for value in query.values))
    if isinstance(query, Text | Term):
        return _expanded_term(query, expand_vocab)
    return query


def _expanded_term(value: Literal, expand_vocab: VocabExpander) -> Literal:
    """Strings and unquoted terms are vocabulary terms; URIs are already expanded."""
    if isinstance(value, Text | Term):
        return replace(value, value=expand_vocab(value.value))
    return value


def _equals(value: Any, query: QueryValue) -> bool:
    if isinstance(query, ValueList):
        return any(_equals(value, item) for item in query.values)
    if isinstance(query, Range):
        low, high = _coerce(value, query.low), _coerce(value, query.high)
        return low is not None and high is not None and low[1] <= low[0] <= high[1]
    if isinstance(query, Pattern):
        return False
    pair = _coerce(value, query)
    return pair is not None and pair[0] == pair[1]


def _ordered(value: Any, query: QueryValue, compare: Callable[[Any, Any], bool]) -> bool:
    if isinstance(query, ValueList | Range | Pattern):
        return False
    pair = _coerce(value, query)
    return pair is not None and compare(pair[0], pair[1])


def _coerce(value: Any, query: Literal) -> tuple[Any, Any] | None:
    """The target value and the query value in one comparable type, or None when the target
    value's data type differs from the query value's."""
    if isinstance(query, Number):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (value, query.value) if ok else None
    if isinstance(query, Boolean):
        return (value, query.value) if isinstance(value, bool) else None
    if isinstance(query, Text | Uri | Term):
        return (value, query.value) if isinstance(value, str) else None
    if not isinstance(value, str):
        return None
    parse = _TEMPORAL_PARSERS[type(query)]
    parsed = parse(value)
    return None if parsed is None else (parsed, query.value)
