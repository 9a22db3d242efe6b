"""The conditions of a Query Entities request (clause 5.7.2) in a form storage can compile.

Each filter is a condition on the stored form with its exact Python predicate (``matches``, the
reference semantics); storage turns as many as it can into indexed SQL (``querying.py``) and
evaluates the rest with ``matches`` on the candidates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mims.context import geo, query
from mims.context.query import VocabExpander

# A type expression (clause 4.17): ("name", iri) | ("and" | "or", [operands]).
TypeExpression = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class TypeFilter:
    """A type expression with ``;`` (AND), clause 4.17, on expanded type IRIs."""

    expression: TypeExpression

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return type_matches(self.expression, set(entity["type"]))


def type_matches(expression: TypeExpression, types: set[str]) -> bool:
    kind, value = expression
    if kind == "name":
        return value in types
    results = (type_matches(operand, types) for operand in value)
    return all(results) if kind == "and" else any(results)


@dataclass(frozen=True, slots=True)
class IdPatternFilter:
    """``idPattern``: a regular expression the whole entity id matches."""

    pattern: str
    compiled: re.Pattern[str] = field(compare=False)

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return self.compiled.fullmatch(entity["id"]) is not None


@dataclass(frozen=True, slots=True)
class AttrsFilter:
    """``attrs``: the entity has at least one of these attributes (expanded IRIs)."""

    names: frozenset[str]

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return not self.names.isdisjoint(entity["attributes"])


@dataclass(frozen=True, slots=True)
class QFilter:
    """A q expression (clause 4.9) with expanded attribute names."""

    node: query.Node
    expand_vocab: VocabExpander | None = field(default=None, compare=False)

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return query.matches(self.node, entity, expand_vocab=self.expand_vocab)


@dataclass(frozen=True, slots=True)
class ScopeFilter:
    """A scopeQ expression (clause 4.19)."""

    node: query.Node

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return query.scope_matches(self.node, entity.get("scope"))


@dataclass(frozen=True, slots=True)
class GeoFilter:
    """A geo-query (clause 4.10) on the GeoProperty ``attribute`` (expanded IRI)."""

    query: geo.GeoQuery
    attribute: str

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return geo.entity_matches(self.query, entity, lambda _term: self.attribute)


Filter = TypeFilter | IdPatternFilter | AttrsFilter | QFilter | ScopeFilter | GeoFilter
