"""The request bodies of the NGSI-LD API in the OpenAPI document (clause 6.3.4 media types).

The PPI schemas are the contract, so the bodies the broker takes are described with them rather
than with private models: each PPI's schema goes into ``components/schemas`` under its PPI name
and its ``$defs`` beside it (``<ppi>.<def>``), so the entity schema's definitions (Attribute,
GeoProperty, ...) also describe attribute fragments, batches and temporal entities. Routes name
what they take with :func:`request_body`; :func:`install_openapi` adds the components.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

import ppi_schemas
from mims.context.ngsild.mediatypes import BODY_MEDIA_TYPES, MERGE_PATCH

ENTITY = "ngsi-ld-entity@1.0.0"
SUBSCRIPTION = "ngsi-ld-subscription@1.0.0"
REGISTRATION = "ngsi-ld-csource-registration@1.0.0"
_COMPONENTS = "#/components/schemas/"
_PPIS = (ENTITY, SUBSCRIPTION, REGISTRATION)


def ppi_ref(ppi: str, definition: str | None = None) -> dict[str, str]:
    """A ``$ref`` to a PPI's schema, or to one of its ``$defs``, among the components."""
    name = ppi_schemas.get(ppi).name
    return {"$ref": _COMPONENTS + (f"{name}.{definition}" if definition else name)}


def entity_fragment() -> dict[str, Any]:
    """Attributes of an entity without the id and type a full entity needs (clauses 6.5.3.4, 6.6.3.1)."""
    return {"type": "object", "additionalProperties": ppi_ref(ENTITY, "AttributeOrInstances")}


def entity_list() -> dict[str, Any]:
    """The body of batch create, upsert, update and merge: entities (clauses 6.14 to 6.16, 5.6.20)."""
    return {"type": "array", "items": ppi_ref(ENTITY), "minItems": 1}


def entity_ids() -> dict[str, Any]:
    """The body of batch delete: entity ids (clause 6.17.3.1)."""
    return {"type": "array", "items": ppi_ref(ENTITY, "Uri"), "minItems": 1}


def query() -> dict[str, Any]:
    """The Query data type of clause 5.2.23, the body of POST entityOperations/query."""
    return {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"const": "Query"},
            "entities": {"type": "array", "items": ppi_ref(SUBSCRIPTION, "EntitySelector")},
            "attrs": {"type": "array", "items": {"type": "string"}},
            "q": {"type": "string"},
            "geoQ": ppi_ref(SUBSCRIPTION, "GeoQuery"),
            "scopeQ": {"type": "string"},
            "lang": {"type": "string"},
            "@context": ppi_ref(ENTITY, "LdContext"),
        },
    }


def local_context() -> dict[str, Any]:
    """The body of Add @context (clause 6.29.3.1): an object holding only ``@context``."""
    return {
        "type": "object",
        "required": ["@context"],
        "properties": {"@context": ppi_ref(ENTITY, "LdContext")},
        "additionalProperties": False,
    }


def request_body(schema: dict[str, Any], *, merge_patch: bool = False) -> dict[str, Any]:
    """``openapi_extra`` for a route taking ``schema`` as JSON or JSON-LD (and merge-patch)."""
    media_types = (*BODY_MEDIA_TYPES, MERGE_PATCH) if merge_patch else BODY_MEDIA_TYPES
    return {"requestBody": {"required": True, "content": {kind: {"schema": schema} for kind in media_types}}}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` carry the PPI schemas its request bodies refer to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("schemas", {}).update(_ppi_components())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _ppi_components() -> dict[str, Any]:
    ppis = [ppi_schemas.get(ref) for ref in _PPIS]
    names = {ppi.schema["$id"]: ppi.name for ppi in ppis}
    components: dict[str, Any] = {}
    for ppi in ppis:
        schema = _rewrite(copy.deepcopy(ppi.schema), {"": ppi.name, **names})
        for name, definition in schema.pop("$defs", {}).items():
            components[f"{ppi.name}.{name}"] = definition
        for key in ("$schema", "$id"):
            schema.pop(key, None)
        components[ppi.name] = schema
    return components


def _rewrite(node: Any, names: dict[str, str]) -> Any:
    """Point ``<$id>#/$defs/X`` references (``""`` for the schema itself) at the components.

    ``names`` maps each schema ``$id`` to its PPI name; ``#/$defs/X`` of PPI ``p`` becomes
    ``#/components/schemas/p.X``.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and "#/$defs/" in value:
                base, _, definition = value.partition("#/$defs/")
                node[key] = f"{_COMPONENTS}{names[base]}.{definition}"
            elif key == "$ref" and isinstance(value, str) and value in names:
                node[key] = _COMPONENTS + names[value]
            else:
                _rewrite(value, names)
    elif isinstance(node, list):
        for item in node:
            _rewrite(item, names)
    return node
