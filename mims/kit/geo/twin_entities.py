"""Zoning plans and cadastral parcels as NGSI-LD entities of the digital twin, and back.

Entity types (``oup:`` is ``https://w3id.org/oup/vocab#``, the vocabulary of the PPIs):

* ``oup:ZoningPlan`` ``urn:ngsi-ld:ZoningPlan:<idn>``: the plan (name, type, status, date,
  municipality, unmapped value types) with its plan area;
* ``oup:ZoningArea`` (enkelbestemming, dubbelbestemming), ``oup:BuildingPlane`` (bouwvlak),
  ``oup:ZoningIndication`` (bouwaanduiding, functieaanduiding, gebiedsaanduiding and the other
  aanduidingen), ``oup:ZoningMeasurement`` (maatvoering): ``urn:ngsi-ld:<Type>:<idn>:<gml id>``,
  each a zoning-plan@1.0.0 feature, with the plan's status and a ``refZoningPlan`` Relationship
  (by which a re-import finds the features the new plan no longer has);
* ``oup:Parcel`` ``urn:ngsi-ld:Parcel:<kadastrale aanduiding>``, e.g. ``RTD04-AH-569``.

@context: none of our own. Every type and attribute name is a full IRI, so the NGSI-LD core
@context is all a request or response needs, and nothing has to be hosted or fetched. The IRIs
are those the zoning-plan@1.0.0 and building-plan@1.0.0 PPI contexts give the same members
(``designation`` is ``imro:bestemmingshoofdgroep``, ``reference`` is ``oup:cadastralDesignation``),
so the twin and the PPI documents mean the same thing; the few names only the twin has are in
the ``oup:`` vocabulary.

Geometry: ``location`` (GeoProperty) is the geometry in WGS84 (transformed from EPSG:28992 with
pyproj) for NGSI-LD geo-queries; ``oup:geometryRD`` (JsonProperty) keeps the EPSG:28992 geometry
exactly as imported, since the checks measure in RD. Structured members (measurements, cites,
unmapped) are JsonProperty values too: kept as they are, not expanded as JSON-LD.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

import ppi_schemas
from mims.kit.geo.plan_input import as_lists, to_wgs84
from mims.kit.problems import ProblemError, ProblemItem

OUP = "https://w3id.org/oup/vocab#"


def _expand(context: Mapping[str, Any], term: str) -> str:
    """The IRI a JSON-LD ``context`` gives ``term`` (terms, compact IRIs and @vocab)."""
    definition = context.get(term, term)
    iri = definition["@id"] if isinstance(definition, Mapping) else definition
    prefix, colon, suffix = iri.partition(":")
    if colon and isinstance(context.get(prefix), str) and not suffix.startswith("//"):
        return context[prefix] + suffix
    return iri if colon else context["@vocab"] + iri


_ZONING = ppi_schemas.get("zoning-plan@1.0.0").context["@context"]
_BUILDING = ppi_schemas.get("building-plan@1.0.0").context["@context"]
TERMS: dict[str, str] = {
    **{term: _expand(_ZONING, term) for term in (
        "name", "planType", "status", "date", "kind", "label", "designation", "zoningAreas",
        "indications", "measurements", "cites", "unmapped")},
    "municipalityCode": _expand(_ZONING, "imro:overheidsCode"),
    "municipalityName": _expand(_ZONING, "imro:naamOverheid"),
    "reference": _expand(_BUILDING, "reference"),
    "geometryRD": OUP + "geometryRD",
    "refZoningPlan": OUP + "refZoningPlan",
    "area": OUP + "registeredArea",
}
"""Short name -> the full IRI used as attribute name in the twin."""

ZONING_PLAN, PARCEL = "ZoningPlan", "Parcel"
FEATURE_TYPES = {
    "enkelbestemming": "ZoningArea",
    "dubbelbestemming": "ZoningArea",
    "bouwvlak": "BuildingPlane",
    "bouwaanduiding": "ZoningIndication",
    "functieaanduiding": "ZoningIndication",
    "gebiedsaanduiding": "ZoningIndication",
    "lettertekenaanduiding": "ZoningIndication",
    "figuur": "ZoningIndication",
    "maatvoering": "ZoningMeasurement",
}
"""IMRO2012 typePlanobject -> entity type."""
ZONING_FEATURE_TYPES = tuple(dict.fromkeys(FEATURE_TYPES.values()))


def type_iri(name: str) -> str:
    return OUP + name


def entity_id(type_name: str, *parts: str) -> str:
    return ":".join(("urn:ngsi-ld", type_name, *parts))


# -- zoning plans -----------------------------------------------------------------------------


def plan_entities(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entities of a zoning-plan@1.0.0 document: the plan first, then one per feature."""
    problems = ppi_schemas.validate(plan, "zoning-plan@1.0.0")
    if problems:
        raise ProblemError(
            status=422,
            title="Not a zoning plan",
            detail=f"not a zoning-plan@1.0.0 document: {problems[0].pointer or '/'} {problems[0].message}",
            errors=[ProblemItem(pointer=p.pointer, detail=p.message) for p in problems],
        )
    idn = plan["id"]
    plan_id = entity_id(ZONING_PLAN, idn)
    entity = _entity(plan_id, ZONING_PLAN, plan.get("geometry"))
    entity.update(_properties(plan, ("name", "planType", "status")))
    entity[TERMS["date"]] = {"type": "Property", "value": {"@type": "Date", "@value": plan["date"]}}
    entity[TERMS["municipalityCode"]] = {"type": "Property", "value": plan["municipality"]["code"]}
    entity[TERMS["municipalityName"]] = {"type": "Property", "value": plan["municipality"]["name"]}
    if "unmapped" in plan:
        entity[TERMS["unmapped"]] = {"type": "JsonProperty", "json": plan["unmapped"]}
    types = {feature["id"]: FEATURE_TYPES[feature["kind"]] for feature in plan["features"]}
    return [entity, *(_feature_entity(feature, plan, plan_id, types) for feature in plan["features"])]


def _feature_entity(feature: Mapping[str, Any], plan: Mapping[str, Any], plan_id: str, types: Mapping[str, str]) -> dict[str, Any]:
    type_name = types[feature["id"]]
    entity = _entity(entity_id(type_name, plan["id"], feature["id"]), type_name, feature["geometry"])
    entity.update(_properties(feature, ("kind", "name", "label", "designation")))
    entity[TERMS["status"]] = {"type": "Property", "value": plan["status"]}
    entity[TERMS["measurements"]] = {"type": "JsonProperty", "json": feature["measurements"]}
    entity[TERMS["cites"]] = {"type": "JsonProperty", "json": feature["cites"]}
    # A bestemmingsvlak is a zoning area; an aanduiding may be a building plane or an indication.
    for member, default in (("zoningAreas", "ZoningArea"), ("indications", "ZoningIndication")):
        if feature.get(member):
            targets = [entity_id(types.get(ref, default), plan["id"], ref) for ref in feature[member]]
            entity[TERMS[member]] = {"type": "ListRelationship", "objectList": [{"object": t} for t in targets]}
    entity[TERMS["refZoningPlan"]] = {"type": "Relationship", "object": plan_id}
    return entity


def feature_of(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The zoning-plan@1.0.0 feature a zoning feature entity (normalized form) holds."""
    feature: dict[str, Any] = {"id": entity["id"].rsplit(":", 1)[1]}
    for member in ("kind", "name", "label", "designation"):
        if TERMS[member] in entity:
            feature[member] = _value(entity, member)
    for member in ("zoningAreas", "indications"):
        if TERMS[member] in entity:
            feature[member] = [target.rsplit(":", 1)[1] for target in _objects(entity, member)]
    feature["geometry"] = _value(entity, "geometryRD")
    feature["measurements"] = _value(entity, "measurements")
    feature["cites"] = _value(entity, "cites")
    return feature


def plan_of(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The zoning-plan@1.0.0 document of a ZoningPlan entity, without its features."""
    date = _value(entity, "date")
    plan: dict[str, Any] = {"id": entity["id"].split(":", 3)[3]}
    for member in ("name", "planType", "status"):
        if TERMS[member] in entity:
            plan[member] = _value(entity, member)
    plan["date"] = date["@value"] if isinstance(date, Mapping) else date
    plan["municipality"] = {"code": _value(entity, "municipalityCode"), "name": _value(entity, "municipalityName")}
    plan["crs"] = "EPSG:28992"
    if TERMS["geometryRD"] in entity:
        plan["geometry"] = _value(entity, "geometryRD")
    plan["features"] = []
    if TERMS["unmapped"] in entity:
        plan["unmapped"] = _value(entity, "unmapped")
    return plan


# -- parcels ----------------------------------------------------------------------------------

RD_NEW = re.compile(r"(^|[^0-9])28992$")
_BRK_MEMBERS = ("GEMEENTE", "SECTIE", "PERC_NR")


def parcel_entities(collection: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Parcel entities of a BRK parcels GeoJSON FeatureCollection in EPSG:28992.

    Each feature needs the BRK properties GEMEENTE (kadastrale gemeente), SECTIE and PERC_NR
    (INDEXLR ``A`` with INDEXNR marks an apartment right) and a Polygon or MultiPolygon.
    """
    if not isinstance(collection, Mapping) or collection.get("type") != "FeatureCollection":
        raise _bad_parcels("", "is not a GeoJSON FeatureCollection")
    crs = (collection.get("crs") or {}).get("properties", {}).get("name", "")
    if not RD_NEW.search(str(crs)):
        raise _bad_parcels("/crs", f"names {crs or 'no crs'}; the parcels must be in EPSG:28992 (RD New)")
    entities: list[dict[str, Any]] = []
    problems: list[ProblemItem] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(collection.get("features") or []):
        try:
            reference, geometry = _parcel(feature, f"/features/{index}")
        except ProblemError as error:
            problems += error.errors
            continue
        if reference in seen:
            problems.append(ProblemItem(f"/features/{index}", f"parcel {reference} is also feature {seen[reference]}"))
            continue
        seen[reference] = index
        entity = _entity(entity_id(PARCEL, reference), PARCEL, geometry)
        entity[TERMS["reference"]] = {"type": "Property", "value": reference}
        area = feature["properties"].get("OPPERVLAK")
        if isinstance(area, (int, float)) and not isinstance(area, bool):
            entity[TERMS["area"]] = {"type": "Property", "value": area, "unitCode": "MTK"}
        entities.append(entity)
    if problems:
        raise ProblemError(status=422, title="Not a readable parcels file", detail=problems[0].detail, errors=problems)
    return entities


def _parcel(feature: Any, pointer: str) -> tuple[str, dict[str, Any]]:
    properties = feature.get("properties") if isinstance(feature, Mapping) else None
    if not isinstance(properties, Mapping):
        raise _bad_parcels(pointer, "is not a GeoJSON Feature with properties")
    missing = [name for name in _BRK_MEMBERS if properties.get(name) in (None, "")]
    if missing:
        raise _bad_parcels(f"{pointer}/properties", f"lacks the BRK propert{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")
    reference = f"{properties['GEMEENTE']}-{properties['SECTIE']}-{properties['PERC_NR']}"
    if properties.get("INDEXLR") == "A":
        reference += f"-A{properties.get('INDEXNR')}"
    if not re.fullmatch(r"[A-Z]{3}[0-9]{2}-[A-Z]{1,2}-[0-9]{1,5}(-A[0-9]{1,4})?", reference):
        raise _bad_parcels(f"{pointer}/properties", f"{reference!r} is not a kadastrale aanduiding like RTD04-AH-569")
    geometry = feature.get("geometry")
    try:
        polygonal = shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError):
        polygonal = None
    if not isinstance(polygonal, (Polygon, MultiPolygon)) or polygonal.is_empty or not polygonal.is_valid:
        reason = shapely.is_valid_reason(polygonal) if polygonal is not None else "not a GeoJSON geometry"
        raise _bad_parcels(f"{pointer}/geometry", f"parcel {reference}: needs a valid Polygon or MultiPolygon ({reason})")
    return reference, geometry


def parcel_of(entity: Mapping[str, Any]) -> dict[str, Any]:
    """``{reference, geometry}`` (EPSG:28992) of a Parcel entity."""
    return {"reference": _value(entity, "reference"), "geometry": _value(entity, "geometryRD")}


def _bad_parcels(pointer: str, detail: str) -> ProblemError:
    return ProblemError(status=422, title="Not a readable parcels file", detail=f"{pointer or '/'} {detail}",
                        errors=[ProblemItem(pointer=pointer, detail=detail)])


# -- common -----------------------------------------------------------------------------------


def _entity(identifier: str, type_name: str, geometry_rd: Mapping[str, Any] | None) -> dict[str, Any]:
    entity: dict[str, Any] = {"id": identifier, "type": type_iri(type_name)}
    if geometry_rd is not None:
        entity["location"] = {"type": "GeoProperty", "value": mapping(to_wgs84(shape(geometry_rd)))}
        entity[TERMS["geometryRD"]] = {"type": "JsonProperty", "json": geometry_rd}
    return as_lists(entity)


def _properties(document: Mapping[str, Any], members: tuple[str, ...]) -> dict[str, Any]:
    return {TERMS[m]: {"type": "Property", "value": document[m]} for m in members if document.get(m) is not None}


def _value(entity: Mapping[str, Any], member: str) -> Any:
    attribute = entity[TERMS[member]]
    if isinstance(attribute, list):  # several instances: the default one (no datasetId)
        attribute = next(a for a in attribute if "datasetId" not in a)
    for key in ("json", "value", "object"):
        if key in attribute:
            return attribute[key]
    raise KeyError(f"attribute {TERMS[member]} of {entity.get('id')} has no value")


def _objects(entity: Mapping[str, Any], member: str) -> list[str]:
    attribute = entity[TERMS[member]]
    return [item["object"] if isinstance(item, Mapping) else item for item in attribute["objectList"]]
