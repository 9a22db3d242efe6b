"""The permit pages' maps as GeoJSON (RFC 7946, WGS84): parcels and zoning areas of the digital
twin (NGSI-LD entities of the types the permit check publishes), a plan's footprint and the
evidence of a decision (EPSG:28992 in the permit-decision PPI, projected here).

Plain functions: what the twin answered in, features for the map and its text alternative out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import Transformer
from shapely.geometry import box, mapping, shape

OUP = "https://w3id.org/oup/vocab#"
PARCEL_TYPE, ZONING_AREA_TYPE, ZONING_PLAN_TYPE = OUP + "Parcel", OUP + "ZoningArea", OUP + "ZoningPlan"
#: Buildings of the 3D city model in the twin (Smart Data Models ``Building``), drawn for orientation.
BUILDING_TYPE = "https://smartdatamodels.org/dataModel.Building/Building"
#: Attribute IRIs of the twin's zoning and parcel entities (the zoning-plan and building-plan PPI terms).
IMRO = "http://www.geonovum.nl/imro/2012/1.1#"
REFERENCE = OUP + "cadastralDesignation"
NAME, DESIGNATION = IMRO + "naam", IMRO + "bestemmingshoofdgroep"
#: The largest box (degrees of longitude and latitude) a map asks features for: a city district.
MAX_SPAN = 0.06
#: Entities of one type on one map (the context broker's largest page).
MAX_FEATURES = 1000
#: Degrees around a footprint that the decision map shows (about 100 m).
SURROUNDINGS = 0.0015

BBox = tuple[float, float, float, float]


class BadBBox(ValueError):
    """A ``bbox`` that is not ``minLon,minLat,maxLon,maxLat`` in WGS84 or spans too much."""


def parse_bbox(text: str) -> BBox:
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise BadBBox(f"bbox {text[:80]!r} is not four numbers minLon,minLat,maxLon,maxLat")
    west, south, east, north = numbers
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise BadBBox(f"bbox {text[:80]!r} is not a box in WGS84 degrees with west < east and south < north")
    if east - west > MAX_SPAN or north - south > MAX_SPAN:
        raise BadBBox(f"bbox {text[:80]!r} spans more than {MAX_SPAN} degrees; zoom in")
    return west, south, east, north


def geo_query(entity_type: str, area: BBox, attributes: Iterable[str]) -> dict[str, str]:
    """NGSI-LD Query Entities parameters (clause 6.4.3.2, geo-query clause 4.10): entities of
    ``entity_type`` intersecting ``area``, with only the attributes a map needs."""
    return {"type": entity_type, "georel": "intersects", "geometry": "Polygon",
            "coordinates": orjson.dumps([list(box(*area).exterior.coords)]).decode(),
            "limit": str(MAX_FEATURES), "pick": ",".join(("id", "location", *attributes))}


def _value(entity: Mapping[str, Any], attribute: str) -> Any:
    found = entity.get(attribute)
    if isinstance(found, list):
        found = found[0] if found else None
    return found.get("value") if isinstance(found, Mapping) else None


def parcel_features(entities: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [_feature(e, "parcel", _value(e, REFERENCE) or e["id"].rsplit(":", 1)[-1]) for e in entities
            if _value(e, "location")]


def building_features(entities: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [_feature(e, "building", e["id"].rsplit(":", 1)[-1]) for e in entities if _value(e, "location")]


def zoning_features(entities: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    features = []
    for entity in entities:
        if _value(entity, "location"):
            feature = _feature(entity, "zoning", str(_value(entity, NAME) or entity["id"].rsplit(":", 1)[-1]))
            feature["properties"]["designation"] = _value(entity, DESIGNATION) or ""
            features.append(feature)
    return features


def _feature(entity: Mapping[str, Any], kind: str, label: str) -> dict[str, Any]:
    return {"type": "Feature", "id": entity["id"], "geometry": _value(entity, "location"),
            "properties": {"kind": kind, "label": label}}


def collection(features: list[dict[str, Any]], *, truncated: bool = False) -> dict[str, Any]:
    """A FeatureCollection; ``truncated`` tells the map that the twin held more than it got."""
    return {"type": "FeatureCollection", "features": features, "truncated": truncated}


@cache
def _rd_to_wgs84() -> Transformer:
    return Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)


def to_wgs84(geometry: Mapping[str, Any], crs: str) -> dict[str, Any]:
    """A GeoJSON geometry in ``crs`` (EPSG:28992 or EPSG:4326) as WGS84 GeoJSON, to about 1 cm."""
    projected = shape(geometry)
    if crs == "EPSG:28992":
        transformer = _rd_to_wgs84()
        projected = shapely.transform(projected, lambda xy: _columns(transformer.transform(xy[:, 0], xy[:, 1])))
    return mapping(shapely.set_precision(projected, 1e-7))


def _columns(pair: tuple[Any, Any]) -> np.ndarray:
    return np.column_stack(pair)


def site_footprint(site: Mapping[str, Any]) -> dict[str, Any] | None:
    """The plan's footprint (WGS84) in a check's site (``GET /v1/checks/{id}/site``), if it has one."""
    for feature in site.get("features") or []:
        if isinstance(feature, dict) and (feature.get("properties") or {}).get("layer") == "footprint":
            return feature.get("geometry")
    return None


def evidence_features(decision: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    """One feature per rule result with evidence geometry, labelled with the rule's title."""
    return [{"type": "Feature", "geometry": to_wgs84(result["evidence"], "EPSG:28992"),
             "properties": {"kind": "evidence", "label": result["title"][lang], "rule": result["rule"],
                            "verdict": result["verdict"]}}
            for result in decision.get("results", []) if result.get("evidence")]


def around(geometries: Iterable[Mapping[str, Any]]) -> BBox | None:
    """The box that holds ``geometries`` (WGS84) with :data:`SURROUNDINGS` around; None when empty."""
    shapes = [shape(g) for g in geometries]
    if not shapes:
        return None
    west, south, east, north = shapely.union_all(shapes).bounds
    return (west - SURROUNDINGS, south - SURROUNDINGS, east + SURROUNDINGS, north + SURROUNDINGS)


def touching(features: Iterable[dict[str, Any]], geometry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The features that overlap ``geometry`` (the parcels and zoning areas a footprint stands on)."""
    footprint = shape(geometry)
    return [f for f in features if shape(f["geometry"]).intersects(footprint)]
