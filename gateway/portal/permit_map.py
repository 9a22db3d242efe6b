"""The permit pages' maps as GeoJSON (RFC 7946, WGS84): on the form, parcels, zoning areas and
buildings of the digital twin (NGSI-LD entities of the types the permit check publishes); on a
decision, the site the check decided on (its footprint, parcel, zoning areas and evidence, as the
permit check answers them in WGS84).

Plain functions: what the twin answered in, features for the map and its text alternative out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from shapely.geometry import box, shape

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
#: The IMRO2012 kinds of zoning feature the twin publishes as zoning areas (``oup:ZoningArea``).
ZONING_AREA_KINDS = ("enkelbestemming", "dubbelbestemming")

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


def extent(geometries: Iterable[Mapping[str, Any]]) -> BBox | None:
    """``west, south, east, north`` of ``geometries`` (WGS84); None when there are none."""
    shapes = [shape(g) for g in geometries]
    if not shapes:
        return None
    west, south, east, north = (float(n) for n in shapely.total_bounds(shapes))
    return west, south, east, north


@dataclass(frozen=True)
class DecisionMap:
    """A decision's map and its text alternative: the features drawn, the footprint (if the plan
    had one), the parcel and zoning areas under it, and the evidence."""

    drawn: dict[str, Any]
    footprint: dict[str, Any] | None
    under: list[dict[str, Any]]
    evidence: list[dict[str, Any]]


def decision_map(site: Mapping[str, Any], titles: Mapping[str, str], footprint_label: str) -> DecisionMap:
    """The map of a check from its site (``GET /v1/checks/{id}/site``, WGS84): the footprint, the
    parcel and zoning areas the check used, and each rule's evidence labelled with ``titles[rule]``."""
    drawn: list[dict[str, Any]] = []
    footprint: dict[str, Any] | None = None
    for feature in site.get("features") or []:
        if not isinstance(feature, Mapping) or not isinstance(feature.get("geometry"), Mapping):
            continue
        geometry, properties = feature["geometry"], feature.get("properties") or {}
        layer = properties.get("layer")
        if layer == "footprint":
            footprint = dict(geometry)
            drawn.append(_site_feature(geometry, "footprint", footprint_label))
        elif layer == "parcel":
            drawn.append(_site_feature(geometry, "parcel", str(properties.get("reference") or "")))
        elif layer == "zoning" and properties.get("kind") in ZONING_AREA_KINDS:
            zoning = _site_feature(geometry, "zoning", str(properties.get("name") or properties.get("id") or ""))
            zoning["properties"]["designation"] = properties.get("designation") or ""
            drawn.append(zoning)
        elif layer == "evidence":
            rule = str(properties.get("rule") or "")
            drawn.append(_site_feature(geometry, "evidence", titles.get(rule, rule), rule=rule,
                                       verdict=properties.get("verdict")))
    order = {"zoning": 0, "parcel": 1, "footprint": 2, "evidence": 3}
    drawn.sort(key=lambda f: order[f["properties"]["kind"]])
    under = _touching([f for f in drawn if f["properties"]["kind"] in ("parcel", "zoning")], footprint)
    return DecisionMap(collection(drawn), footprint, under,
                       [f for f in drawn if f["properties"]["kind"] == "evidence"])


def _site_feature(geometry: Mapping[str, Any], kind: str, label: str, **more: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": dict(geometry), "properties": {"kind": kind, "label": label, **more}}


def _touching(features: list[dict[str, Any]], geometry: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The features that overlap ``geometry`` (the parcel and zoning areas a footprint stands on)."""
    if geometry is None:
        return []
    footprint = shape(geometry)
    return [f for f in features if shape(f["geometry"]).intersects(footprint)]
