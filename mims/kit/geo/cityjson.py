"""Building plans read from CityJSON 1.1 and 2.0: one building-plan document (PPI
building-plan@1.0.0) per Building and per BuildingPart.

- footprint: the GroundSurface semantic surfaces (of the highest LoD that has them), else the LoD0
  geometry, else the projection of the lowest-LoD geometry; in EPSG:28992 (other CRSs are
  transformed with pyproj; EPSG:7415 RD New + NAP is RD New horizontally).
- height: the highest point minus the terrain height, which is the ``TerrainHeight`` /
  ``b3_h_maaiveld`` / ``h_maaiveld`` attribute where present (the Rotterdam 3D model extrudes walls
  down to NAP 0 m, so its geometry's lowest point is not the terrain), else the lowest point of the
  ground surfaces, else of the whole geometry.
- eavesHeight: from ``AbsoluteEavesHeight`` / ``b3_h_dak_min`` / ``h_dak_min`` (levels, minus the
  terrain) or ``RelativeEavesHeight`` (above the terrain); absent when no attribute carries it.
- storeysAboveGround: from ``storeysAboveGround`` / ``b3_bouwlagen`` / ``bouwlagen``.
- roofType: flat when every RoofSurface is within 5 degrees of horizontal, pitched when none is,
  other when mixed; without roof surfaces from the CityGML ``roofType`` code or 3D BAG ``b3_dak_type``.

A Building made of BuildingParts gets the union of their footprints, its highest point above its
lowest terrain, the highest eaves and the most storeys of its parts.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from mims.kit.geo.plan_input import (
    GRID,
    RD_NEW,
    PlanInputError,
    check_in_rd,
    epsg_code,
    footprint_geojson,
    horizontal_crs,
    metres,
    to_rd,
)

SUPPORTED_VERSIONS = ("1.1", "2.0")
FLAT_ROOF_DEGREES = 5.0
TERRAIN_ATTRIBUTES = ("TerrainHeight", "b3_h_maaiveld", "h_maaiveld")
EAVES_LEVEL_ATTRIBUTES = ("AbsoluteEavesHeight", "b3_h_dak_min", "h_dak_min")
EAVES_HEIGHT_ATTRIBUTES = ("RelativeEavesHeight",)
STOREY_ATTRIBUTES = ("storeysAboveGround", "b3_bouwlagen", "bouwlagen")
# CityGML 2.0 roofType code list (_AbstractBuilding) and 3D BAG b3_dak_type values.
ROOF_TYPE_CODES = {"1000": "flat", **{str(c): "pitched" for c in (1010, 1020, 1030, 1040, 1050, 1060, 1070, 1100, 1120)},
                   "1080": "other", "1090": "other", "1110": "other", "1130": "other",
                   "horizontal": "flat", "multiple horizontal": "flat", "slanted": "pitched"}
_DEPTH = {"MultiSurface": 0, "CompositeSurface": 0, "Solid": 1, "MultiSolid": 2, "CompositeSolid": 2}


class CityJSONError(PlanInputError):
    """A CityJSON file that cannot be read as building plans."""


@dataclass
class _Measure:
    """What one CityObject (or a Building with its parts) measures, in the file's CRS."""

    footprints: list[BaseGeometry] = field(default_factory=list)
    top: float | None = None
    terrain: float | None = None  # from an attribute
    lowest_ground: float | None = None  # from the geometry
    eaves_level: float | None = None
    storeys: int | None = None
    roof_tilts: list[float] = field(default_factory=list)
    roof_attribute: str | None = None

    @property
    def ground(self) -> float | None:
        return self.terrain if self.terrain is not None else self.lowest_ground

    def add(self, other: _Measure) -> None:
        self.footprints += other.footprints
        self.top = _max(self.top, other.top)
        self.lowest_ground = _min(self.lowest_ground, other.ground)
        self.eaves_level = _max(self.eaves_level, other.eaves_level)
        self.storeys = _max(self.storeys, other.storeys)
        self.roof_tilts += other.roof_tilts
        if other.roof_attribute:
            self.roof_attribute = other.roof_attribute if self.roof_attribute in (None, other.roof_attribute) else "other"


def read_cityjson(source: bytes | str | Mapping[str, Any], *, crs: str | None = None) -> list[dict[str, Any]]:
    """Building-plan documents for the Buildings and BuildingParts of a CityJSON file.

    ``crs`` (e.g. ``"EPSG:7415"``) is used when the file has no ``metadata.referenceSystem``."""
    document = _load(source)
    version = str(document.get("version", ""))
    if version not in SUPPORTED_VERSIONS:
        raise CityJSONError(f"CityJSON version {version or '(none)'} is not supported; "
                            f"supported: {', '.join(SUPPORTED_VERSIONS)}", "/version")
    code = _crs_code(document, crs)
    vertices = _vertices(document)
    objects = document.get("CityObjects")
    if not isinstance(objects, Mapping):
        raise CityJSONError("CityObjects is missing or not an object", "/CityObjects")
    reader = _Reader(document, objects, vertices)
    plans = []
    for object_id, city_object in objects.items():
        if isinstance(city_object, Mapping) and city_object.get("type") in ("Building", "BuildingPart"):
            plans.append(_plan(object_id, city_object, reader.measure(object_id, with_parts=True), code))
    if not plans:
        raise CityJSONError("the file has no Building or BuildingPart", "/CityObjects")
    return plans


def _load(source: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        document = source
    else:
        try:
            document = orjson.loads(source)
        except orjson.JSONDecodeError as error:
            raise CityJSONError(f"not JSON: {error}") from None
    if not isinstance(document, Mapping) or document.get("type") != "CityJSON":
        raise CityJSONError('not a CityJSON file: "type" must be "CityJSON"', "/type")
    return document


def _crs_code(document: Mapping[str, Any], crs: str | None) -> int:
    metadata = document.get("metadata")
    name = metadata.get("referenceSystem") if isinstance(metadata, Mapping) else None
    pointer = "/metadata/referenceSystem"
    if name is None:
        if crs is None:
            raise CityJSONError("the file does not say its coordinate reference system: add "
                                "metadata.referenceSystem (e.g. https://www.opengis.net/def/crs/EPSG/0/7415) "
                                "or supply the CRS with the upload (e.g. EPSG:7415)", pointer)
        name, pointer = crs, "crs"
    code = epsg_code(str(name))
    if code is None:
        raise CityJSONError(f"reference system {name!r} is not an EPSG CRS", pointer)
    try:
        horizontal = horizontal_crs(code)
    except pyproj.exceptions.CRSError:
        raise CityJSONError(f"unknown EPSG code {code}", pointer) from None
    if not (horizontal.is_projected or horizontal.is_geographic):
        raise CityJSONError(f"EPSG:{code} has no horizontal coordinates", pointer)
    return code


def _vertices(document: Mapping[str, Any]) -> np.ndarray:
    transform = document.get("transform")
    try:
        vertices = np.asarray(document.get("vertices"), dtype=float)
        if vertices.ndim != 2 or vertices.shape[1] != 3:
            raise ValueError
    except (TypeError, ValueError):
        raise CityJSONError("vertices must be an array of [x, y, z] numbers", "/vertices") from None
    if not isinstance(transform, Mapping):
        raise CityJSONError("transform (scale and translate) is missing", "/transform")
    try:
        scale = np.asarray(transform["scale"], dtype=float).reshape(3)
        translate = np.asarray(transform["translate"], dtype=float).reshape(3)
    except (KeyError, TypeError, ValueError):
        raise CityJSONError("transform needs scale and translate, three numbers each", "/transform") from None
    return vertices * scale + translate


class _Reader:
    def __init__(self, document: Mapping[str, Any], objects: Mapping[str, Any], vertices: np.ndarray) -> None:
        self.document, self.objects, self.vertices = document, objects, vertices

    def measure(self, object_id: str, *, with_parts: bool) -> _Measure:
        city_object = self.objects[object_id]
        pointer = f"/CityObjects/{_escape(object_id)}"
        try:
            measure = self._own(city_object, pointer)
        except (IndexError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, CityJSONError):
                raise
            raise CityJSONError(f"malformed geometry ({type(error).__name__}: {error})", f"{pointer}/geometry") from None
        if with_parts:
            for child in city_object.get("children") or []:
                if isinstance(self.objects.get(child), Mapping) and self.objects[child].get("type") == "BuildingPart":
                    measure.add(self.measure(child, with_parts=True))
        if measure.top is None:
            raise CityJSONError("has no surface geometry (nor BuildingParts with geometry)", pointer)
        return measure

    def _own(self, city_object: Mapping[str, Any], pointer: str) -> _Measure:
        attributes = city_object.get("attributes") or {}
        measure = _Measure(terrain=_number(attributes, TERRAIN_ATTRIBUTES, pointer))
        geometries = [(float(g.get("lod", 0)), g, v) for g, v in self._geometries(city_object)]
        zs = [float(ring[:, 2].min()) for _, g, v in geometries for s, _ in _surfaces(g, v) for ring in s[:1]]
        if zs:
            measure.top = max(float(ring[:, 2].max()) for _, g, v in geometries for s, _ in _surfaces(g, v) for ring in s)
            grounds = [(lod, s) for lod, g, v in geometries for s, kind in _surfaces(g, v) if kind == "GroundSurface"]
            if grounds:
                best = max(lod for lod, _ in grounds)
                rings = [s for lod, s in grounds if lod == best]
                measure.lowest_ground = min(float(r[0][:, 2].min()) for r in rings)
            else:
                measure.lowest_ground = min(zs)
                lod0 = [s for lod, g, v in geometries if lod == 0 for s, _ in _surfaces(g, v)]
                lowest = min(lod for lod, _, _ in geometries)
                rings = lod0 or [s for lod, g, v in geometries if lod == lowest for s, _ in _surfaces(g, v)]
            footprint = _project(rings)
            if not footprint.is_empty:
                measure.footprints.append(footprint)
            measure.roof_tilts = [t for _, g, v in geometries for s, kind in _surfaces(g, v)
                                  if kind == "RoofSurface" and (t := _tilt(s[0])) is not None]
        ground = measure.ground
        level = _number(attributes, EAVES_LEVEL_ATTRIBUTES, pointer)
        relative = _number(attributes, EAVES_HEIGHT_ATTRIBUTES, pointer)
        if level is not None:
            measure.eaves_level = level
        elif relative is not None and ground is not None:
            measure.eaves_level = ground + relative
        storeys = _number(attributes, STOREY_ATTRIBUTES, pointer)
        if storeys is not None:
            if storeys < 0 or storeys != int(storeys):
                raise CityJSONError(f"number of storeys {storeys} is not a whole number >= 0", f"{pointer}/attributes")
            measure.storeys = int(storeys)
        roof = attributes.get("roofType", attributes.get("b3_dak_type"))
        measure.roof_attribute = ROOF_TYPE_CODES.get(str(roof)) if roof is not None else None
        return measure

    def _geometries(self, city_object: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], np.ndarray]]:
        for geometry in city_object.get("geometry") or []:
            if geometry.get("type") == "GeometryInstance":
                yield self._instance(geometry)
            elif geometry.get("type") in _DEPTH:
                yield geometry, self.vertices

    def _instance(self, geometry: Mapping[str, Any]) -> tuple[Mapping[str, Any], np.ndarray]:
        templates = self.document["geometry-templates"]
        template = templates["templates"][geometry["template"]]
        local = np.asarray(templates["vertices-templates"], dtype=float)
        matrix = np.asarray(geometry["transformationMatrix"], dtype=float).reshape(4, 4)
        placed = (np.c_[local, np.ones(len(local))] @ matrix.T)[:, :3] + self.vertices[geometry["boundaries"][0]]
        return {**template, "lod": template.get("lod", geometry.get("lod", 0))}, placed


def _surfaces(geometry: Mapping[str, Any], vertices: np.ndarray) -> Iterator[tuple[list[np.ndarray], str | None]]:
    """Each surface as coordinate rings (outer first) with its semantic type."""
    semantics = geometry.get("semantics") or {}
    kinds = [s.get("type") for s in semantics.get("surfaces", [])]

    def walk(boundaries: list, values: Any, depth: int) -> Iterator[tuple[list[np.ndarray], str | None]]:
        for index, item in enumerate(boundaries):
            value = values[index] if isinstance(values, list) and index < len(values) else None
            if depth:
                yield from walk(item, value, depth - 1)
            elif item and item[0]:
                yield [vertices[ring] for ring in item], kinds[value] if isinstance(value, int) else None

    yield from walk(geometry["boundaries"], semantics.get("values"), _DEPTH[geometry["type"]])


def _project(surfaces: list[list[np.ndarray]]) -> BaseGeometry:
    """The union of the surfaces projected on the horizontal plane."""
    polygons = []
    for rings in surfaces:
        if len(rings[0]) < 3:
            continue
        polygon = shapely.make_valid(shapely.Polygon(rings[0][:, :2], [r[:, :2] for r in rings[1:] if len(r) >= 3]))
        if polygon.area > 1e-9:
            polygons.append(polygon)
    return shapely.union_all(polygons, grid_size=GRID) if polygons else shapely.Polygon()


def _tilt(ring: np.ndarray) -> float | None:
    """Degrees between a ring's plane and the horizontal (Newell's normal)."""
    nxt = np.roll(ring, -1, axis=0)
    normal = np.array([np.sum((ring[:, 1] - nxt[:, 1]) * (ring[:, 2] + nxt[:, 2])),
                       np.sum((ring[:, 2] - nxt[:, 2]) * (ring[:, 0] + nxt[:, 0])),
                       np.sum((ring[:, 0] - nxt[:, 0]) * (ring[:, 1] + nxt[:, 1]))])
    length = float(np.linalg.norm(normal))
    if length < 1e-12:
        return None
    return math.degrees(math.acos(min(1.0, abs(normal[2]) / length)))


def _plan(object_id: str, city_object: Mapping[str, Any], measure: _Measure, code: int) -> dict[str, Any]:
    pointer = f"/CityObjects/{_escape(object_id)}"
    ground = measure.ground
    if not measure.footprints:
        raise CityJSONError("has no footprint: no ground surface, LoD0 or horizontal surface", pointer)
    footprint = to_rd(shapely.union_all(measure.footprints, grid_size=GRID), code)
    check_in_rd(footprint, pointer, f"in EPSG:{code} the building lies outside the Netherlands "
                "(EPSG:28992's area of use): is that the file's CRS?", CityJSONError)
    height = measure.top - ground
    if height < 0:
        raise CityJSONError(f"terrain height {ground} lies above the highest point {measure.top}", f"{pointer}/attributes")
    plan: dict[str, Any] = {"crs": RD_NEW, "footprint": footprint_geojson(footprint), "height": metres(height)}
    if measure.eaves_level is not None:
        eaves = measure.eaves_level - ground
        if eaves < -GRID:
            raise CityJSONError(f"eaves level {measure.eaves_level} lies below the terrain {ground}", f"{pointer}/attributes")
        plan["eavesHeight"] = metres(max(eaves, 0.0))
    if measure.storeys is not None:
        plan["storeysAboveGround"] = measure.storeys
    roof = _roof_type(measure)
    if roof:
        plan["roofType"] = roof
    name = (city_object.get("attributes") or {}).get("name")
    if isinstance(name, str) and name:
        plan["name"] = name
    plan["source"] = {"format": "cityjson", "object": object_id}
    return plan


def _roof_type(measure: _Measure) -> str | None:
    if measure.roof_tilts:
        flat = [t <= FLAT_ROOF_DEGREES for t in measure.roof_tilts]
        return "flat" if all(flat) else "pitched" if not any(flat) else "other"
    return measure.roof_attribute


def _number(attributes: Mapping[str, Any], names: tuple[str, ...], pointer: str) -> float | None:
    for name in names:
        value = attributes.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CityJSONError(f"attribute {name} must be a number, not {value!r}", f"{pointer}/attributes/{name}")
        return float(value)
    return None


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
