"""A stored check's site as shapes: the plan's footprint, the parcel, the zoning features and each
rule's evidence, read once in EPSG:28992 for the HTML report's map and the GeoJSON site.

The permit-decision PPI carries evidence only; the site is what the check stored beside it
(``{plan, features, parcel}``), so a map of any past check can draw the plan whatever form it was
submitted in. The GeoJSON (RFC 7946: WGS84 longitude, latitude) is :func:`site_collection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from mims.kit.geo.plan_input import as_lists, to_rd, to_wgs84

#: Zoning feature properties passed on (the rest are measurements the decision already states).
_ZONING_PROPERTIES = ("id", "kind", "name", "label", "designation", "cites")


@dataclass(frozen=True)
class Shape:
    """A geometry (EPSG:28992) and the zoning feature or rule result it belongs to."""

    geometry: BaseGeometry
    source: Mapping[str, Any]


@dataclass(frozen=True)
class SiteShapes:
    """What a map of a check draws, each in EPSG:28992; None or empty where the check had none."""

    footprint: BaseGeometry | None
    parcel: BaseGeometry | None
    parcel_reference: str | None
    zoning: list[Shape]
    evidence: list[Shape]


def site_shapes(decision: Mapping[str, Any], site: Mapping[str, Any]) -> SiteShapes:
    """The shapes of a stored check: the parcel is the digital twin's, else the one the plan gave."""
    plan = site.get("plan") or {}
    wgs84 = plan.get("crs") == "EPSG:4326"
    footprint = _in_rd(plan.get("footprint"), wgs84)
    parcel_found = site.get("parcel") or {}
    parcel = _in_rd(parcel_found.get("geometry"), False)
    if parcel is None:
        parcel_found = plan.get("parcel") or {}
        parcel = _in_rd(parcel_found.get("geometry"), wgs84)
    zoning = [Shape(g, f) for f in site.get("features") or [] if (g := geometry_of(f.get("geometry"))) is not None]
    evidence = [Shape(g, r) for r in decision.get("results") or [] if (g := geometry_of(r.get("evidence"))) is not None]
    return SiteShapes(footprint, parcel, parcel_found.get("reference") if parcel is not None else None,
                      zoning, evidence)


def site_collection(decision: Mapping[str, Any], site: Mapping[str, Any]) -> dict[str, Any]:
    """The site as a FeatureCollection; each feature's ``properties.layer`` is footprint, parcel,
    zoning or evidence."""
    shapes = site_shapes(decision, site)
    features = []
    if shapes.footprint is not None:
        features.append(_feature(shapes.footprint, {"layer": "footprint"}))
    if shapes.parcel is not None:
        features.append(_feature(shapes.parcel, {"layer": "parcel", "reference": shapes.parcel_reference}))
    for zoning in shapes.zoning:
        kept = {key: zoning.source[key] for key in _ZONING_PROPERTIES if key in zoning.source}
        features.append(_feature(zoning.geometry, {"layer": "zoning", **kept}))
    for result in shapes.evidence:
        features.append(_feature(result.geometry, {"layer": "evidence", "rule": result.source.get("rule"),
                                                   "verdict": result.source.get("verdict")}))
    return {"type": "FeatureCollection", "features": features}


def geometry_of(geojson: Mapping[str, Any] | None) -> BaseGeometry | None:
    """A GeoJSON geometry as a valid 2D shapely geometry; None for none or one that cannot be read."""
    if not geojson:
        return None
    try:
        geometry = shapely.force_2d(shape(geojson))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.ShapelyError):
        return None
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


def _in_rd(geojson: Mapping[str, Any] | None, wgs84: bool) -> BaseGeometry | None:
    geometry = geometry_of(geojson)
    return to_rd(geometry, 4326) if geometry is not None and wgs84 else geometry


def _feature(geometry: BaseGeometry, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": as_lists(mapping(to_wgs84(geometry))), "properties": properties}
