"""Bounding boxes that let storage prefilter geo-queries (CIM 009 clause 4.10) by index.

Storage keeps the box of every stored geometry (an SQLite R*Tree, or PostGIS `&&`), selects the
candidates whose box intersects `query_bbox(query)` (edges inclusive), and confirms each with
`relations.matches`. The query box is therefore never smaller than the area a match can lie
in: for every georel except `disjoint` and `near;minDistance` a matching geometry shares at
least one point with that area, so its box intersects the query box. The two exceptions match
geometries far away from the reference geometry and get no box (None): no prefilter applies.

For `near;maxDistance==d` around (lon, lat) the box is derived from two lower bounds of the
WGS84 geodesic distance, so it holds at every latitude:
- any path between two latitudes is at least the meridian arc between them, and a meridian
  degree is never shorter than 110 574 m (at the equator); 110 000 m is used;
- along a path that stays within the latitude band, a degree of longitude is at least
  a * cos(poleward latitude of the band) * pi / 180 metres (the prime vertical radius N >= a).
A band that reaches a pole, or a box that crosses the antimeridian, widens to all longitudes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from shapely.geometry.base import BaseGeometry

from .geometry import to_shape
from .params import GeoQuery

BBox = tuple[float, float, float, float]

WGS84_SEMI_MAJOR_AXIS = 6_378_137.0
METRES_PER_DEGREE_LATITUDE_AT_LEAST = 110_000.0
# Head-room against floating-point rounding in the longitude bound.
_LONGITUDE_MARGIN = 1.001


def bbox(geometry: BaseGeometry | Mapping) -> BBox | None:
    """(min longitude, min latitude, max longitude, max latitude) of a checked geometry.

    An empty geometry (e.g. a MultiPoint without points) has no box and matches no query.
    """
    shape = geometry if isinstance(geometry, BaseGeometry) else to_shape(geometry)
    if shape.is_empty:
        return None
    min_x, min_y, max_x, max_y = shape.bounds
    return (min_x, min_y, max_x, max_y)


def query_bbox(query: GeoQuery) -> BBox | None:
    """The box a matching geometry's box must intersect, or None when no prefilter applies."""
    if query.georel == "disjoint" or query.min_distance is not None:
        return None
    if query.max_distance is not None:
        return distance_bbox(query.geometry.x, query.geometry.y, query.max_distance)
    return bbox(query.geometry)


def distance_bbox(longitude: float, latitude: float, metres: float) -> BBox:
    """A box holding every point within `metres` (geodesic, WGS84) of (longitude, latitude)."""
    delta_latitude = metres / METRES_PER_DEGREE_LATITUDE_AT_LEAST
    south, north = latitude - delta_latitude, latitude + delta_latitude
    if south <= -90.0 or north >= 90.0:
        return (-180.0, max(south, -90.0), 180.0, min(north, 90.0))
    poleward = math.radians(max(abs(south), abs(north)))
    delta_longitude = math.degrees(metres / (WGS84_SEMI_MAJOR_AXIS * math.cos(poleward)))
    delta_longitude *= _LONGITUDE_MARGIN
    west, east = longitude - delta_longitude, longitude + delta_longitude
    if west < -180.0 or east > 180.0:
        return (-180.0, south, 180.0, north)
    return (west, south, east, north)
