"""Entities from the stored form to response bodies (CIM 009 V1.8.1, clauses 4.5, 4.15, 4.21).

Three representations: normalized (clause 4.5.1), concise (clause 4.5.2, types implied by the
member present) and simplified / keyValues (clause 4.5.3, values only), with the system
attributes on request (``options=sysAttrs``, clause 4.8). Projection (``attrs``, ``pick``,
``omit``: clause 4.21), ``datasetId`` selection of multi-attribute instances (clause 4.5.5) and
``lang`` filtering of LanguageProperties (clause 4.15) are applied here, and every IRI is
compacted with the request's @context. GeoJSON Features (clause 4.5.16) wrap the same rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mims.context.ngsild.attributes import (
    GEO_PROPERTY,
    LANGUAGE_PROPERTY,
    LIST_RELATIONSHIP,
    PROPERTY,
    RELATIONSHIP,
    VOCAB_PROPERTY,
)
from mims.context.ngsild.context import ActiveContext
from mims.kit.languages import ranked_ranges

NORMALIZED, CONCISE, KEY_VALUES = "normalized", "concise", "keyValues"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
NONE_DATASET = "@none"  # selects the default instance in a datasetId filter
_SYSTEM = ("createdAt", "modifiedAt")
_IRI_MEMBERS = ("objectType", "vocab", "previousVocab")
LINKED = "entity"  # the member of a Relationship that carries its inlined linked entity


@dataclass(frozen=True, slots=True)
class Representation:
    """How one request wants entities rendered; attribute names are expanded IRIs.

    ``pick``/``omit`` name entity members: ``id``, ``type``, ``scope`` or attribute IRIs.
    """

    format: str = NORMALIZED
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None
    pick: frozenset[str] | None = None
    omit: frozenset[str] | None = None
    lang: str | None = None
    dataset_ids: frozenset[str] | None = None


def render_entity(entity: Mapping[str, Any], context: ActiveContext, how: Representation) -> dict[str, Any]:
    """``entity`` (stored form) in the representation ``how`` asks for, compacted with ``context``."""
    result: dict[str, Any] = {}
    if _selected("id", how):
        result["id"] = entity["id"]
    if _selected("type", how):
        types = [context.compact_iri(iri) for iri in entity["type"]]
        result["type"] = types[0] if len(types) == 1 else types
    if "scope" in entity and _selected("scope", how):
        scopes = entity["scope"]
        result["scope"] = scopes[0] if len(scopes) == 1 else scopes
    if how.sys_attrs:
        result.update({name: entity[name] for name in _SYSTEM})
    for iri, instances in entity["attributes"].items():
        if not _selected(iri, how) or (how.attrs is not None and iri not in how.attrs):
            continue
        chosen = [i for i in instances if how.dataset_ids is None or i.get("datasetId", NONE_DATASET) in how.dataset_ids]
        if chosen:
            rendered = [_instance(instance, context, how) for instance in chosen]
            result[context.compact_iri(iri)] = rendered[0] if len(rendered) == 1 else rendered
    return result


def render_feature(
    entity: Mapping[str, Any], context: ActiveContext, how: Representation, geometry_property: str = LOCATION
) -> dict[str, Any]:
    """The entity as a GeoJSON Feature (clause 4.5.16): geometry from ``geometry_property``."""
    properties = render_entity(entity, context, how)
    properties.pop("id", None)
    geometry = None
    for instance in entity["attributes"].get(geometry_property, ()):
        if instance["type"] == GEO_PROPERTY and "datasetId" not in instance:
            geometry = instance["value"]
    return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    """Several entities as a GeoJSON FeatureCollection (clause 4.5.17)."""
    return {"type": "FeatureCollection", "features": features}


def _selected(member: str, how: Representation) -> bool:
    if how.pick is not None and member not in how.pick:
        return False
    return how.omit is None or member not in how.omit


def _instance(instance: Mapping[str, Any], context: ActiveContext, how: Representation) -> Any:
    kind = instance["type"]
    if how.lang is not None and kind == LANGUAGE_PROPERTY:
        instance = _language_filtered(instance, how.lang)
        kind = PROPERTY
    if how.format == KEY_VALUES:
        return _key_value(instance, context)
    rendered: dict[str, Any] = {} if how.format == CONCISE else {"type": kind}
    for member, value in instance.items():
        if member in ("type", "attributes") or (member in _SYSTEM and not how.sys_attrs):
            continue
        if member == LINKED:
            rendered[member] = render_entity(value, context, _linked(how))
            continue
        rendered[member] = _compact_names(value, context) if member in _IRI_MEMBERS else value
    for iri, subs in instance.get("attributes", {}).items():
        items = [_instance(sub, context, how) for sub in subs]
        rendered[context.compact_iri(iri)] = items[0] if len(items) == 1 else items
    if how.format == CONCISE:
        return _concise(kind, rendered)
    return rendered


def _linked(how: Representation) -> Representation:
    """A linked entity (clause 4.5.23) is shown whole, in the representation of the response."""
    return Representation(format=how.format, sys_attrs=how.sys_attrs, lang=how.lang)


def _concise(kind: str, rendered: dict[str, Any]) -> Any:
    """Clause 4.5.2: a Property or GeoProperty with nothing but its value is just the value."""
    if kind in (PROPERTY, GEO_PROPERTY) and list(rendered) == ["value"]:
        value = rendered["value"]
        if kind == GEO_PROPERTY or not isinstance(value, (dict, list)):
            return value
    return rendered


def _key_value(instance: Mapping[str, Any], context: ActiveContext) -> Any:
    """Clause 4.5.3: an attribute reduced to its content."""
    kind = instance["type"]
    if kind == RELATIONSHIP:
        if LINKED in instance:  # clause 4.5.23: the linked entity stands for its id
            return render_entity(instance[LINKED], context, Representation(format=KEY_VALUES))
        return instance["object"]
    if kind == LIST_RELATIONSHIP:
        return [item["object"] for item in instance["objectList"]]
    if kind == VOCAB_PROPERTY:
        return _compact_names(instance["vocab"], context)
    if kind == LANGUAGE_PROPERTY:
        return {"languageMap": instance["languageMap"]}
    for member in ("value", "json", "valueList"):
        if member in instance:
            return instance[member]
    raise ValueError(f"stored attribute of unknown type {kind!r}")


def _compact_names(value: Any, context: ActiveContext) -> Any:
    if isinstance(value, list):
        return [context.compact_iri(item) for item in value]
    return context.compact_iri(value)


def _language_filtered(instance: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Clause 4.15: a LanguageProperty shown as a Property holding the best-matching string."""
    language_map: Mapping[str, Any] = instance["languageMap"]
    tag = choose_language(language_map, lang)
    filtered = {key: value for key, value in instance.items() if key != "languageMap"}
    filtered["type"] = PROPERTY
    filtered["value"] = language_map[tag]
    if tag != "@none":
        filtered["lang"] = tag
    return filtered


def choose_language(language_map: Mapping[str, Any], lang: str) -> str:
    """The key of ``language_map`` that ``lang`` (RFC 9110 Accept-Language syntax) prefers.

    Exact tags win over primary-subtag matches; ``*`` takes any. Without a match the ``@none``
    entry is used, else the first tag in sorted order, so a filtered value is always present.
    """
    wanted = [tag for tag, quality in ranked_ranges(lang) if quality > 0]
    keys = {key.lower(): key for key in language_map}
    for tag in wanted:
        if tag == "*":
            return sorted(language_map)[0]
        if tag in keys:
            return keys[tag]
        for lowered, key in sorted(keys.items()):
            if lowered.split("-")[0] == tag.split("-")[0]:
                return key
    return "@none" if "@none" in language_map else sorted(language_map)[0]
