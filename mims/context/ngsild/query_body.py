"""The Query data type (CIM 009 V1.8.1, clause 5.2.23) as the parameters of Query Entities.

POST /entityOperations/query (clause 6.23) and POST /temporal/entityOperations/query (clause
6.24) take a Query as their body: its EntitySelectors (ORed), attrs, q, scopeQ, geoQ, lang and,
for the temporal one, temporalQ (clause 5.2.21), merged over the parameters of the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import BadRequestData
from mims.context.ngsild.selection import entity_query
from mims.context.storage import EntityQuery
from mims.context.storage.filters import Filter

_TEMPORAL_MEMBERS = ("timerel", "timeAt", "endTimeAt", "timeproperty")


def query_selection(body: Any, url: Mapping[str, str], context: ActiveContext) -> tuple[EntityQuery, dict[str, str]]:
    """What the Query ``body`` selects, and the parameters it amounts to (over those of ``url``)."""
    params = {**url, **_query_params(body)}
    selectors = body.get("entities") or [{}]
    if not isinstance(selectors, list) or not all(isinstance(selector, dict) for selector in selectors):
        raise BadRequestData("entities of a Query is an array of EntitySelector objects.")
    queries = [entity_query({**params, **_selector_params(selector)}, context) for selector in selectors]
    return _any_of(queries), params


def _query_params(body: Any) -> dict[str, str]:
    """The members of a Query (clause 5.2.23) as the parameters of Query Entities."""
    if not isinstance(body, Mapping) or body.get("type") != "Query":
        raise BadRequestData('The body of entityOperations/query is a Query: a JSON object with "type": "Query".')
    params: dict[str, str] = {}
    for member in ("q", "scopeQ", "lang"):
        if member in body:
            params[member] = _text(body[member], member)
    if "attrs" in body:
        attrs = body["attrs"]
        if not isinstance(attrs, list) or not attrs or not all(isinstance(name, str) for name in attrs):
            raise BadRequestData("attrs of a Query is a non-empty array of attribute names.")
        params["attrs"] = ",".join(attrs)
    temporal = body.get("temporalQ")
    if temporal is not None:
        if not isinstance(temporal, Mapping):
            raise BadRequestData("temporalQ of a Query is an object (clause 5.2.21).")
        params.update({member: _text(temporal[member], f"temporalQ.{member}")
                       for member in _TEMPORAL_MEMBERS if member in temporal})
    geo = body.get("geoQ")
    if geo is not None:
        if not isinstance(geo, Mapping):
            raise BadRequestData("geoQ of a Query is an object (clause 5.2.13).")
        for member in ("georel", "geometry", "geoproperty"):
            if member in geo:
                params[member] = _text(geo[member], f"geoQ.{member}")
        if "coordinates" in geo:
            coordinates = geo["coordinates"]
            params["coordinates"] = coordinates if isinstance(coordinates, str) else orjson.dumps(coordinates).decode()
    return params


def _selector_params(selector: Mapping[str, Any]) -> dict[str, str]:
    """An EntitySelector (clause 5.2.33) as the id, idPattern and type parameters."""
    return {member: _text(selector[member], f"entities.{member}") for member in ("id", "idPattern", "type") if member in selector}


def _text(value: Any, member: str) -> str:
    if not isinstance(value, str):
        raise BadRequestData(f"{member} of a Query must be a string.")
    return value


def _any_of(queries: list[EntityQuery]) -> EntityQuery:
    """Several EntitySelectors select the union of what each selects.

    Conditions every selector shares (q, attrs, scopeQ, geoQ come from the Query itself) stay
    filters storage can index; the selectors' own conditions become one predicate.
    """
    if len(queries) == 1:
        return queries[0]
    shared = tuple(each for each in queries[0].filters if all(each in query.filters for query in queries[1:]))
    own = [(query, [each for each in query.filters if each not in shared]) for query in queries]
    ids = None if any(query.ids is None for query in queries) else tuple(sorted({i for query in queries for i in query.ids or ()}))
    types = None if any(query.types is None for query in queries) else tuple(sorted({t for query in queries for t in query.types or ()}))
    return EntityQuery(
        ids=ids,
        types=types,
        filters=shared,
        matches=lambda entity: any(_selects(query, filters, entity) for query, filters in own),
    )


def _selects(query: EntityQuery, filters: list[Filter], entity: Mapping[str, Any]) -> bool:
    if query.ids is not None and entity["id"] not in query.ids:
        return False
    if query.types is not None and set(query.types).isdisjoint(entity["type"]):
        return False
    if not all(each.matches(entity) for each in filters):
        return False
    return query.matches is None or query.matches(entity)
