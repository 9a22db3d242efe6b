"""NGSI-LD entities, from a request body to the stored form (CIM 009 V1.8.1, clauses 4.5 and 5.6.1).

The stored form keeps the NGSI-LD structure with every term expanded to an IRI: ``id``,
``type`` (a list of IRIs), ``scope`` (a list, clause 4.18), ``createdAt``/``modifiedAt`` and
``attributes`` (IRI -> list of instances, see :mod:`.attributes`). It is what storage keeps and
what queries evaluate, independent of the @context a client happens to use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mims.context.ngsild.attributes import SYSTEM_MEMBERS, AttributeNormalizer, is_uri, valid_name
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import BadRequestData
from mims.kit.problems import ProblemItem

#: Entity members that are not attributes (clause 5.2.4); ``@id``/``@type`` are their JSON-LD aliases.
ENTITY_MEMBERS = frozenset({"id", "@id", "type", "@type", "scope", "@context"})
MAX_ID_LENGTH = 1024
# Clause 4.18: a scope is a path of one or more /-separated levels.
_SCOPE = re.compile(r"(/[^/\s#+,;|()<>\"'=]+)+")


def utc_now() -> str:
    """The current time as NGSI-LD writes system timestamps: ISO 8601, UTC, microseconds, ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_entity_id(entity_id: Any, pointer: str = "/id") -> str:
    """An entity id must be an absolute URI (clause 4.5.1 and annex A); 400 BadRequestData otherwise."""
    if not is_uri(entity_id) or len(entity_id) > MAX_ID_LENGTH:
        raise BadRequestData(
            f"Entity id {entity_id!r} is not an absolute URI.",
            errors=[ProblemItem(pointer, "an entity id must be an absolute URI (RFC 3986)")],
        )
    return entity_id


def normalize_entity(body: Any, context: ActiveContext, now: str | None = None) -> dict[str, Any]:
    """The stored form of an entity in normalized or concise form (clauses 4.5.1 and 4.5.2).

    Raises one :class:`BadRequestData` listing every problem (with JSON pointers); the
    producer's own ``createdAt``/``modifiedAt`` are ignored (clause 5.2.2).
    """
    if not isinstance(body, Mapping):
        raise BadRequestData("An entity must be a JSON object.", errors=[ProblemItem("", "expected a JSON object")])
    now = now or utc_now()
    normalizer = AttributeNormalizer(context, now)
    entity: dict[str, Any] = {"id": _entity_id(body, normalizer), "type": entity_types(body, context, normalizer)}
    if "scope" in body:
        entity["scope"] = entity_scopes(body["scope"], normalizer)
    entity["createdAt"] = entity["modifiedAt"] = now
    members = {key: value for key, value in body.items() if key not in ENTITY_MEMBERS and key not in SYSTEM_MEMBERS}
    entity["attributes"] = normalizer.attributes(members, "")
    if normalizer.problems:
        first = normalizer.problems[0]
        more = f" (and {len(normalizer.problems) - 1} more; see errors)" if len(normalizer.problems) > 1 else ""
        raise BadRequestData(f"{first.pointer or '/'}: {first.detail}{more}.", errors=normalizer.problems)
    return entity


def _entity_id(body: Mapping[str, Any], normalizer: AttributeNormalizer) -> str | None:
    if "id" in body and "@id" in body:
        normalizer.problem("/@id", "an entity has either id or @id, not both")
    key = "id" if "id" in body else "@id"
    if key not in body:
        normalizer.problem("/id", "an entity needs an id")
        return None
    value = body[key]
    if not is_uri(value) or len(value) > MAX_ID_LENGTH:
        normalizer.problem(f"/{key}", f"entity id {value!r} is not an absolute URI")
        return None
    return value


def entity_types(body: Mapping[str, Any], context: ActiveContext, normalizer: AttributeNormalizer) -> list[str]:
    key = "type" if "type" in body else "@type"
    if key not in body:
        normalizer.problem("/type", "an entity needs a type")
        return []
    value = body[key]
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(name, str) for name in names):
        normalizer.problem(f"/{key}", "an entity type is a string or a non-empty array of strings")
        return []
    types: list[str] = []
    for index, name in enumerate(names):
        where = f"/{key}/{index}" if isinstance(value, list) else f"/{key}"
        iri = context.try_expand(name) if valid_name(name) else None
        if iri is None:
            normalizer.problem(where, f"entity type {name!r} is not a valid name or does not expand to an IRI")
        elif iri not in types:
            types.append(iri)
    return types


def entity_scopes(value: Any, normalizer: AttributeNormalizer) -> list[str]:
    scopes = value if isinstance(value, list) else [value]
    if not scopes or not all(isinstance(scope, str) and _SCOPE.fullmatch(scope) for scope in scopes):
        normalizer.problem("/scope", "scope is a path like /Rotterdam/Centre, or a non-empty array of them")
        return []
    return list(dict.fromkeys(scopes))
