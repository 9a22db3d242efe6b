"""What is measured on a building plan at its site: the footprint in EPSG:28992, the zoning features
in force there, the parcel, and one function per quantity a rule compares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from mims.kit.geo.plan_input import to_rd
from mims.kit.problems import ProblemError, ProblemItem

IN_FORCE = frozenset({"vastgesteld", "geconsolideerd"})
"""IMRO2012 planstatus values of a plan that has legal force; drafts (concept, voorontwerp, ontwerp)
and repealed plans (vervallen) do not count."""


@dataclass(frozen=True)
class Measured:
    value: Any
    unit: str | None
    evidence: BaseGeometry | None = None


@dataclass(frozen=True)
class Missing:
    """The plan lacks a value: ``member`` is the building-plan member to supply."""

    member: str


@dataclass(frozen=True)
class NotApplicable:
    """The rule does not apply to this plan (e.g. a setback for a footprint outside its parcel)."""


@dataclass
class Site:
    plan: dict[str, Any]
    footprint: BaseGeometry
    tolerance: float
    features: list[dict[str, Any]]
    """Zoning features of plans in force that overlap the footprint by more than the tolerance."""
    parcel: BaseGeometry | None

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [f for f in self.features if f["kind"] in kinds]

    def functions(self) -> list[dict[str, Any]] | None:
        return self.plan.get("functions") or None


def plan_status(feature: Mapping[str, Any], plan_meta: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The planstatus of the plan a feature comes from: its own ``planStatus``, else ``plan_meta``'s."""
    return feature.get("planStatus") or plan_meta.get(feature.get("cites", {}).get("plan"), {}).get("status")


def site(plan: dict[str, Any], zoning_features: Iterable[dict[str, Any]], parcel: dict[str, Any] | None,
         plan_meta: Mapping[str, Mapping[str, Any]], tolerance: float, *, footprint: BaseGeometry | None = None,
         geometries: Sequence[BaseGeometry] | None = None) -> Site:
    """The site of ``plan``: geometry in EPSG:28992 and only the features of plans in force.

    ``footprint`` (EPSG:28992) and ``geometries`` (one per zoning feature, in order) are the
    geometries already read from ``plan`` and the features, when the caller has them."""
    code = 4326 if plan.get("crs") == "EPSG:4326" else 28992
    if footprint is None:
        footprint = to_rd(_geometry(plan["footprint"], "/footprint"), code)
    if footprint.area <= 0:
        raise ProblemError(422, "Unusable building plan", "the footprint has no area",
                           errors=[ProblemItem("/footprint", "the footprint has no area")])
    parcel_geometry = None
    if parcel and parcel.get("geometry"):
        parcel_geometry = _geometry(parcel["geometry"], "/parcel/geometry", "parcel")
    elif "geometry" in plan.get("parcel", {}):
        parcel_geometry = to_rd(_geometry(plan["parcel"]["geometry"], "/parcel/geometry"), code)
    core = footprint.buffer(-tolerance) if tolerance else footprint
    if core.is_empty:
        core = footprint
    shapely.prepare(core)
    features = []
    for index, feature in enumerate(zoning_features):
        if plan_status(feature, plan_meta) not in IN_FORCE:
            continue
        geometry = (_valid_2d(geometries[index]) if geometries is not None
                    else _geometry(feature["geometry"], f"/{index}/geometry", "zoningFeatures"))
        if core.intersects(geometry) and core.intersection(geometry).area > 0:
            features.append({**feature, "_shape": geometry})
    return Site(plan, footprint, tolerance, features, parcel_geometry)


def _geometry(geojson: Mapping[str, Any], pointer: str, location: str = "body") -> BaseGeometry:
    try:
        geometry = shapely.force_2d(shape(geojson))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        detail = f"not a GeoJSON Polygon or MultiPolygon: {error}"
        raise ProblemError(422, "Unusable geometry", detail, errors=[ProblemItem(pointer, detail, location)]) from None
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


def _valid_2d(geometry: BaseGeometry) -> BaseGeometry:
    """``geometry`` as ``_geometry`` gives it: in 2D, and made valid where it is not."""
    if geometry.has_z:
        geometry = shapely.force_2d(geometry)
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


def geojson(geometry: BaseGeometry | None) -> dict[str, Any] | None:
    """GeoJSON of an evidence geometry, to the millimetre; None when it is empty."""
    if geometry is None or geometry.is_empty:
        return None
    return _lists(mapping(shapely.set_precision(geometry, 0.001)))


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, float) for v in value):
            return [round(v, 3) + 0.0 for v in value]
        return [_lists(item) for item in value]
    return value


# -- measures: (site, rule) -> Measured | Missing | NotApplicable ---------------------------------


def _member(s: Site, member: str, unit: str | None) -> Measured | Missing:
    value = s.plan.get(member)
    return Missing(member) if value is None else Measured(value, unit)


def _outside(s: Site, area: BaseGeometry) -> Measured:
    polygons = _polygons(s.footprint.difference(area.buffer(s.tolerance) if s.tolerance else area))
    outside = sum(p.area for p in polygons)
    evidence = (polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)) if polygons else None
    return Measured(outside, "m2", evidence)


def _polygons(geometry: BaseGeometry) -> list[shapely.Polygon]:
    if isinstance(geometry, shapely.Polygon):
        return [geometry] if geometry.area > 0 else []
    return [p for part in getattr(geometry, "geoms", []) for p in _polygons(part)]


def use(s: Site, rule: dict) -> Measured | Missing:
    functions = s.functions()
    if not functions:
        return Missing("functions")
    return Measured(sorted({f["function"] for f in functions}), None)


def outside_building_plane(s: Site, rule: dict) -> Measured:
    # where the zoning in force has no building plane at the footprint, all of it lies outside one
    planes = [f["_shape"] for f in s.of_kind("bouwvlak")]
    return _outside(s, shapely.union_all(planes) if planes else shapely.Polygon())


def outside_parcel(s: Site, rule: dict) -> Measured | Missing:
    return Missing("parcel") if s.parcel is None else _outside(s, s.parcel)


def coverage(s: Site, rule: dict) -> Measured | Missing:
    if s.parcel is None:
        return Missing("parcel")
    return Measured(100 * s.footprint.intersection(s.parcel).area / s.parcel.area, "%")


def gross_floor_area(s: Site) -> float | None:
    functions = s.functions()
    return None if functions is None else sum(f["grossFloorArea"] for f in functions)


def floor_space_index(s: Site, rule: dict) -> Measured | Missing:
    area = gross_floor_area(s)
    if area is None:
        return Missing("functions[].grossFloorArea")
    if s.parcel is None:
        return Missing("parcel")
    return Measured(area / s.parcel.area, None)


def setback(s: Site, rule: dict) -> Measured | Missing | NotApplicable:
    if s.parcel is None:
        return Missing("parcel")
    if not s.footprint.within(s.parcel.buffer(s.tolerance)):
        return NotApplicable()
    boundary = s.parcel.boundary
    evidence = shapely.shortest_line(s.footprint.boundary, boundary)
    return Measured(s.footprint.boundary.distance(boundary), "m", evidence)


def gross_floor_area_measured(s: Site, rule: dict) -> Measured | Missing:
    area = gross_floor_area(s)
    return Missing("functions[].grossFloorArea") if area is None else Measured(area, "m2")


def business_use_share(s: Site, rule: dict) -> Measured | Missing:
    area = gross_floor_area(s)
    if not area:
        return Missing("functions[].grossFloorArea")
    business = sum(f["grossFloorArea"] for f in s.functions() if f["function"] in rule["functions"])
    return Measured(100 * business / area, "%")


MEASURES = {
    "use": use,
    "outside-building-plane": outside_building_plane,
    "height": lambda s, rule: _member(s, "height", "m"),
    "eaves-height": lambda s, rule: _member(s, "eavesHeight", "m"),
    "storeys": lambda s, rule: _member(s, "storeysAboveGround", None),
    "coverage": coverage,
    "floor-space-index": floor_space_index,
    "dwellings": lambda s, rule: _member(s, "dwellings", None),
    "parking": lambda s, rule: _member(s, "parkingSpaces", None),
    "setback": setback,
    "outside-parcel": outside_parcel,
    "roof-type": lambda s, rule: _member(s, "roofType", None),
    "business-use-share": business_use_share,
    "built-area": lambda s, rule: Measured(s.footprint.area, "m2"),
    "gross-floor-area": gross_floor_area_measured,
}
"""Per rule-set measure, how it is measured."""
