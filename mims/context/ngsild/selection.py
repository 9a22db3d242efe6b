"""Which entities a query selects (CIM 009 V1.8.1, clause 5.7.2 and the type expressions of 4.17).

Ids and types become indexed storage conditions; type expressions, id patterns, attribute
presence, the q language (clause 4.9), scope queries (clause 4.19) and geo-queries (clause 4.10)
become storage filters (``mims.context.storage.filters``), compiled to SQL where possible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from mims.context import geo, query
from mims.context.ngsild.attributes import is_uri, valid_name
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import BadRequestData, TooComplexQuery
from mims.context.ngsild.params import expanded_names, names
from mims.context.storage import EntityQuery
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

MAX_PATTERN_LENGTH = 256
MAX_TYPE_EXPRESSION = 1024


def entity_query(params: Mapping[str, Any], context: ActiveContext) -> EntityQuery:
    """The selection of a Query Entities request; refuses one that selects nothing specific.

    Clause 5.7.2: at least one of id, idPattern, type, attrs, q, geo-query or scopeQ, unless
    ``local=true`` asks for every entity held locally.
    """
    selectors = ("id", "idPattern", "type", "attrs", "q", "georel", "scopeQ")
    if all(params.get(name) is None for name in selectors) and params.get("local") != "true":
        raise BadRequestData(f"Query Entities needs at least one of {', '.join(selectors)} (or local=true).")
    filters: list[Filter] = []
    ids = names(params.get("id"), "id")
    if ids is not None and not all(is_uri(item) for item in ids):
        raise BadRequestData("id must list entity ids, which are absolute URIs.")
    types: tuple[str, ...] | None = None
    if params.get("type") is not None:
        expression = parse_type_expression(params["type"], context)
        types = tuple(sorted(_type_names(expression)))
        if expression[0] != "or" or not all(operand[0] == "name" for operand in expression[1]):
            filters.append(TypeFilter(expression))
    if params.get("idPattern") is not None:
        filters.append(_id_pattern(params["idPattern"]))
    attrs = expanded_names(params.get("attrs"), "attrs", context)
    if attrs is not None:
        filters.append(AttrsFilter(frozenset(attrs)))
    if params.get("q") is not None:
        filters.append(_q(params["q"], context))
    if params.get("scopeQ") is not None:
        filters.append(_scope_q(params["scopeQ"]))
    geo_query = _geo(params, context)
    if geo_query is not None:
        filters.append(geo_query)
    return EntityQuery(ids=None if ids is None else tuple(ids), types=types, filters=tuple(filters))


def parse_type_expression(text: str, context: ActiveContext) -> TypeExpression:
    """Parse ``A,B`` / ``A|B`` (or), ``A;B`` (and) and parentheses into an expanded expression."""
    if len(text) > MAX_TYPE_EXPRESSION:
        raise TooComplexQuery(f"The type expression is longer than {MAX_TYPE_EXPRESSION} characters.")
    tokens = [token for token in re.split(r"\s*([(),;|])\s*", text.strip()) if token]
    position, expression = _disjunction(tokens, 0, context)
    if position != len(tokens):
        raise BadRequestData(f"Unexpected {tokens[position]!r} in type expression {text!r}.")
    return expression if expression[0] == "or" else ("or", [expression])


def _disjunction(tokens: list[str], position: int, context: ActiveContext) -> tuple[int, TypeExpression]:
    position, first = _conjunction(tokens, position, context)
    operands = [first]
    while position < len(tokens) and tokens[position] in (",", "|"):
        position, operand = _conjunction(tokens, position + 1, context)
        operands.append(operand)
    return position, ("or", operands) if len(operands) > 1 else first


def _conjunction(tokens: list[str], position: int, context: ActiveContext) -> tuple[int, TypeExpression]:
    position, first = _factor(tokens, position, context)
    operands = [first]
    while position < len(tokens) and tokens[position] == ";":
        position, operand = _factor(tokens, position + 1, context)
        operands.append(operand)
    return position, ("and", operands) if len(operands) > 1 else first


def _factor(tokens: list[str], position: int, context: ActiveContext) -> tuple[int, TypeExpression]:
    if position >= len(tokens):
        raise BadRequestData("The type expression ends where a type name was expected.")
    token = tokens[position]
    if token == "(":
        position, inner = _disjunction(tokens, position + 1, context)
        if position >= len(tokens) or tokens[position] != ")":
            raise BadRequestData("The type expression has an unclosed parenthesis.")
        return position + 1, inner
    if token in "),;|" or not valid_name(token):
        raise BadRequestData(f"{token!r} is not a valid entity type name.")
    return position + 1, ("name", context.expand_term(token))


def _type_names(expression: TypeExpression) -> set[str]:
    kind, value = expression
    if kind == "name":
        return {value}
    return set().union(*(_type_names(operand) for operand in value))


def _id_pattern(pattern: str) -> IdPatternFilter:
    """idPattern is a regular expression matched against the whole id (clause 5.7.2)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise TooComplexQuery(f"idPattern is longer than {MAX_PATTERN_LENGTH} characters.")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise BadRequestData(f"idPattern is not a valid regular expression: {error}.") from None
    return IdPatternFilter(pattern, compiled)


def _q(text: str, context: ActiveContext) -> QFilter:
    try:
        node = query.parse_q(text)
    except query.QueryTooComplex as error:
        raise TooComplexQuery(f"q: {error}") from None
    except query.QueryError as error:
        raise BadRequestData(f"q: {error}") from None
    return QFilter(node.map_attributes(context.expand_term), context.expand_term)


def _scope_q(text: str) -> ScopeFilter:
    try:
        node = query.parse_scope_q(text)
    except query.QueryTooComplex as error:
        raise TooComplexQuery(f"scopeQ: {error}") from None
    except query.QueryError as error:
        raise BadRequestData(f"scopeQ: {error}") from None
    return ScopeFilter(node)


def _geo(params: Mapping[str, Any], context: ActiveContext) -> GeoFilter | None:
    given = (params.get("georel"), params.get("geometry"), params.get("coordinates"), params.get("geoproperty"))
    try:
        if all(value is None or isinstance(value, str) for value in given):
            geo_query = _parsed_geo(*given)
        else:
            geo_query = geo.parse_geo_query(*given)
    except geo.GeoQueryError as error:
        raise BadRequestData(f"{error.parameter}: {error.message}") from None
    if geo_query is None:
        return None
    return GeoFilter(geo_query, context.expand_term(geo_query.geoproperty))


@lru_cache(maxsize=16)
def _parsed_geo(georel: str | None, geometry: str | None, coordinates: str | None,
                geoproperty: str | None) -> geo.GeoQuery | None:
    """The geo-query of these parameters, parsed and checked once for all the EntitySelectors of
    a Query (each selector is a query with the same geoQ) and for a query repeated as such."""
    return geo.parse_geo_query(georel, geometry, coordinates, geoproperty)
