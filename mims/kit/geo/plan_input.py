"""What the CityJSON and IFC readers share: their error type, CRS handling and the footprint's
GeoJSON form in a building-plan document (PPI building-plan@1.0.0)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from mims.kit.problems import ProblemError, ProblemItem

RD_NEW = "EPSG:28992"
GRID = 0.001  # coordinates and lengths in a plan are given to the millimetre


@dataclass(eq=False)
class PlanInputError(ValueError):
    """An input file that cannot be read as a building plan; ``pointer`` says where
    (a JSON pointer for CityJSON, an IFC entity reference such as ``#12=IfcMapConversion``)."""

    detail: str
    pointer: str = ""

    def __post_init__(self) -> None:
        super().__init__(f"{self.pointer}: {self.detail}" if self.pointer else self.detail)

    def problem(self, title: str = "Unusable building plan") -> ProblemError:
        """This error as a 422 problem."""
        return ProblemError(422, title, self.detail, errors=[ProblemItem(self.pointer, self.detail)])


_EPSG = re.compile(r"(?:EPSG(?:/\d+(?:\.\d+)*)?[:/]+|epsg\.io/)(\d+)\s*$", re.IGNORECASE)


def epsg_code(name: str) -> int | None:
    """The EPSG code in ``EPSG:7415``, ``urn:ogc:def:crs:EPSG::7415`` or
    ``https://www.opengis.net/def/crs/EPSG/0/7415``; None if there is none."""
    match = _EPSG.search(name.strip())
    return int(match.group(1)) if match else None


@lru_cache(maxsize=32)
def horizontal_crs(code: int) -> pyproj.CRS:
    """The horizontal part of EPSG ``code`` (EPSG:7415 RD New + NAP height -> EPSG:28992)."""
    crs = pyproj.CRS.from_epsg(code)
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    return crs


@lru_cache(maxsize=32)
def _to_rd(code: int) -> pyproj.Transformer | None:
    crs = horizontal_crs(code)
    if crs.to_epsg() == 28992:
        return None
    return pyproj.Transformer.from_crs(crs, RD_NEW, always_xy=True)


def to_rd(geometry: BaseGeometry, code: int) -> BaseGeometry:
    """``geometry`` (x, y in the horizontal CRS of EPSG ``code``) in EPSG:28992."""
    transformer = _to_rd(code)
    if transformer is None:
        return geometry
    return shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


@lru_cache(maxsize=1)
def rd_to_lonlat() -> pyproj.Transformer:
    """EPSG:28992 -> WGS84 longitude, latitude (made once, when first needed)."""
    return pyproj.Transformer.from_crs(RD_NEW, "EPSG:4326", always_xy=True)


WGS84_DECIMALS = 9
"""Decimal places of WGS84 degrees kept by :func:`to_wgs84` (1e-9 degree is about 0.1 mm)."""


def to_wgs84(geometry: BaseGeometry) -> BaseGeometry:
    """A valid EPSG:28992 geometry in WGS84 (longitude, latitude) to ``WGS84_DECIMALS`` places, valid
    as NGSI-LD and RFC 7946 need it: where rounding would make it invalid (a sliver crossing itself)
    it is snapped to that grid instead (``shapely.set_precision``), which drops what collapses and
    keeps the geometry's dimension."""
    transformer = rd_to_lonlat()
    projected = shapely.transform(geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    rounded = shapely.transform(projected, lambda xy: np.round(xy, WGS84_DECIMALS))
    return rounded if rounded.is_valid else shapely.set_precision(projected, 10.0**-WGS84_DECIMALS)


def as_lists(value: Any) -> Any:
    """``value`` with tuples as lists, all the way down (shapely's GeoJSON mappings use tuples)."""
    if isinstance(value, (tuple, list)):
        return [as_lists(item) for item in value]
    if isinstance(value, Mapping):
        return {key: as_lists(item) for key, item in value.items()}
    return value


@lru_cache(maxsize=1)
def _rd_area_of_use() -> pyproj.aoi.AreaOfUse:
    return pyproj.CRS(RD_NEW).area_of_use


def check_in_rd(footprint: BaseGeometry, pointer: str, detail: str,
                error: type[PlanInputError] = PlanInputError) -> None:
    """Refuse a footprint (EPSG:28992) outside EPSG:28992's area of use: a wrong georeference."""
    area = _rd_area_of_use()
    point = footprint.representative_point()
    lon, lat = rd_to_lonlat().transform(point.x, point.y)
    if not (area.west <= lon <= area.east and area.south <= lat <= area.north):
        raise error(f"{detail} (it lies at x {point.x:.0f}, y {point.y:.0f})", pointer)


def footprint_geojson(footprint: BaseGeometry) -> dict:
    """A GeoJSON Polygon or MultiPolygon, to the millimetre, without slivers."""
    polygons = [p for p in _polygons(shapely.set_precision(footprint, GRID)) if p.area > GRID]
    if not polygons:
        raise PlanInputError("the footprint has no area")
    geometry = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    return _lists(mapping(geometry))


def _polygons(geometry: BaseGeometry) -> list[shapely.Polygon]:
    if isinstance(geometry, shapely.Polygon):
        return [geometry]
    return [p for part in getattr(geometry, "geoms", []) for p in _polygons(part)]


def _lists(value: object) -> object:
    """GeoJSON with lists, not tuples, and coordinates rounded to the millimetre."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, float) for v in value):
            return [round(v, 3) for v in value]
        return [_lists(item) for item in value]
    return value


def metres(value: float) -> float:
    """A length in a plan: metres to the millimetre, never negative zero."""
    return round(value, 3) + 0.0
