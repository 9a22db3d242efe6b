"""The request bodies of the NGSI-LD API in the OpenAPI document (clause 6.3.4 media types).

The PPI schemas are the contract, so the bodies the broker takes are described with them rather
than with private models: each PPI's schema goes into ``components/schemas`` under its PPI name
and its ``$defs`` beside it (``<ppi>.<def>``), so the entity schema's definitions (Attribute,
GeoProperty, ...) also describe attribute fragments, batches and temporal entities. Routes name
what they take with :func:`request_body`; :func:`install_openapi` adds the components.

The rendering differs from the PPI schemas in two ways, so that request generators (schemathesis)
can draw every body: conditional rules picked by a tag are spelled as alternatives
(:func:`_discriminated`, an exact equivalent), and sub-attributes (clause 4.5.2) are described
down to :data:`SUB_ATTRIBUTE_DEPTH` levels rather than recursively. The broker validates bodies
against the PPI schemas themselves, deeper sub-attributes included.
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
# Levels of sub-attributes the OpenAPI document describes below an entity's attributes.
SUB_ATTRIBUTE_DEPTH = 1
# The entity schema's definitions through which an attribute holds sub-attributes, outermost first.
_ATTRIBUTE_CYCLE = ("AttributeOrInstances", "MultiAttribute", "Attribute")


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
        schema = _discriminated(_rewrite(copy.deepcopy(ppi.schema), {"": ppi.name, **names}))
        definitions = schema.pop("$defs", {})
        if ppi.name == ppi_schemas.get(ENTITY).name:
            definitions.update(_bounded_attributes(ppi.name, definitions, SUB_ATTRIBUTE_DEPTH))
        for name, definition in definitions.items():
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


def _discriminated(node: Any) -> Any:
    """Spell ``allOf`` of ``if {tag: const} then X`` over a required, enumerated tag as ``anyOf``.

    The PPI schemas pick an attribute's (or a geometry's) rules by its ``type`` that way. Both
    forms admit exactly the same documents: the tag is required and one of the enumerated values,
    so exactly one condition holds and its consequence must. Request generators (schemathesis)
    cannot model the conditional form on a recursive schema, but draw from the alternatives.
    """
    if isinstance(node, dict):
        for value in node.values():
            _discriminated(value)
        branches = _tag_branches(node)
        if branches is not None:
            del node["allOf"]
            node["anyOf"] = branches
    elif isinstance(node, list):
        for item in node:
            _discriminated(item)
    return node


def _tag_branches(node: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The ``anyOf`` equivalent to ``node``'s conditional ``allOf``, or None when it is not one."""
    conditions = node.get("allOf")
    if not isinstance(conditions, list) or not conditions:
        return None
    branches: list[dict[str, Any]] = []
    tags: set[str] = set()
    values: list[Any] = []
    for item in conditions:
        if not isinstance(item, dict) or set(item) != {"if", "then"}:
            return None
        condition = item["if"]
        if not isinstance(condition, dict) or set(condition) != {"required", "properties"}:
            return None
        required, properties = condition["required"], condition["properties"]
        if len(required) != 1 or set(properties) != set(required) or set(properties[required[0]]) != {"const"}:
            return None
        tag, consequence = required[0], item["then"]
        if not isinstance(consequence, dict) or tag in consequence.get("properties", {}):
            return None
        tags.add(tag)
        values.append(properties[tag]["const"])
        branches.append({**consequence, "properties": {tag: properties[tag], **consequence.get("properties", {})}})
    if len(tags) != 1:
        return None
    (tag,) = tags
    declared = node.get("properties", {}).get(tag, {})
    if tag not in node.get("required", ()) or set(declared) != {"enum"}:
        return None
    if sorted(map(str, declared["enum"])) != sorted(map(str, values)):
        return None
    return branches


def _bounded_attributes(ppi_name: str, definitions: dict[str, Any], depth: int) -> dict[str, Any]:
    """The attribute definitions with sub-attributes unrolled ``depth`` levels deep, not recursive.

    Level 0 keeps the PPI's names; level ``n`` is ``<name>.Level<n>``; the attributes of the
    deepest level have no sub-attributes.
    """
    def ref(definition: str, level: int) -> str:
        return f"{_COMPONENTS}{ppi_name}.{definition}" + (f".Level{level}" if level else "")

    unrolled: dict[str, Any] = {}
    for level in range(depth + 1):
        for definition in _ATTRIBUTE_CYCLE:
            targets = {ref(name, 0): ref(name, level) for name in _ATTRIBUTE_CYCLE}
            schema = _renamed(copy.deepcopy(definitions[definition]), targets)
            if definition == "Attribute":
                schema["unevaluatedProperties"] = {"$ref": ref("AttributeOrInstances", level + 1)} if level < depth else False
            unrolled[definition + (f".Level{level}" if level else "")] = schema
    return unrolled


def _renamed(node: Any, targets: dict[str, str]) -> Any:
    """``node`` with every ``$ref`` found in ``targets`` pointed at its new target."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                node[key] = targets.get(value, value)
            else:
                _renamed(value, targets)
    elif isinstance(node, list):
        for item in node:
            _renamed(item, targets)
    return node
