"""A check's site as GeoJSON (RFC 7946: WGS84 longitude, latitude) for maps: the plan's footprint,
the parcel, the zoning features and each rule's evidence, as the check used them.

The permit-decision PPI carries evidence only; the site is what the check stored beside it (in
EPSG:28992), so a map of any past check can draw the plan whatever form it was submitted in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from mims.kit.geo.plan_input import as_lists, rd_to_lonlat
from mims.permit_check.report import geometry_of

#: Zoning feature properties passed on (the rest are measurements the decision already states).
_ZONING_PROPERTIES = ("id", "kind", "name", "label", "designation", "cites")


def site_collection(decision: dict[str, Any], site: dict[str, Any]) -> dict[str, Any]:
    """The FeatureCollection; each feature's ``properties.layer`` is footprint, parcel, zoning or evidence."""
    plan = site.get("plan") or {}
    features = []
    footprint = geometry_of(plan.get("footprint"))
    if footprint is not None:
        features.append(_feature(footprint, plan.get("crs") == "EPSG:4326", {"layer": "footprint"}))
    parcel, parcel_wgs84 = site.get("parcel") or {}, False
    if geometry_of(parcel.get("geometry")) is None:  # no parcel in the twin: the one the plan gave
        parcel, parcel_wgs84 = plan.get("parcel") or {}, plan.get("crs") == "EPSG:4326"
    if geometry_of(parcel.get("geometry")) is not None:
        features.append(_feature(geometry_of(parcel["geometry"]), parcel_wgs84,
                                 {"layer": "parcel", "reference": parcel.get("reference")}))
    for zoning in site.get("features") or []:
        geometry = geometry_of(zoning.get("geometry"))
        if geometry is not None:
            kept = {key: zoning[key] for key in _ZONING_PROPERTIES if key in zoning}
            features.append(_feature(geometry, False, {"layer": "zoning", **kept}))
    for result in decision.get("results") or []:
        geometry = geometry_of(result.get("evidence"))
        if geometry is not None:
            features.append(_feature(geometry, False, {"layer": "evidence", "rule": result.get("rule"),
                                                       "verdict": result.get("verdict")}))
    return {"type": "FeatureCollection", "features": features}


def _feature(geometry: BaseGeometry, wgs84: bool, properties: dict[str, Any]) -> dict[str, Any]:
    if not wgs84:
        transformer = rd_to_lonlat()
        geometry = shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    return {"type": "Feature", "geometry": as_lists(mapping(shapely.set_precision(geometry, 1e-7))),
            "properties": properties}
