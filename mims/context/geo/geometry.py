"""GeoJSON geometries as CIM 009 clause 4.7 requires them of GeoProperty values (IETF RFC 7946).

`check_geometry` refuses a value before anything is written, with a JSON pointer to the
offending member, so that every stored geometry can be evaluated later without surprises.
`to_shape` turns a checked geometry into a two-dimensional shapely geometry (`checked_shape`
does both, building the shape once): RFC 7946
section 3.1.1 makes altitude an optional third element that the relations of clause 4.10
(all defined on longitude and latitude) do not use.

Coordinates are WGS84 longitude and latitude in decimal degrees (RFC 7946 section 4), so a
longitude outside [-180, 180] or a latitude outside [-90, 90] is refused. Polygons must also be
valid simple features (OGC 06-103r4 6.1.11): a self-intersecting ring or a hole outside its shell
has no defined interior, so no spatial relation on it would have a defined answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import shapely
from shapely.geometry import GeometryCollection, shape
from shapely.geometry.base import BaseGeometry

from .errors import InvalidGeometry

GEOMETRY_TYPES = (
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
)

# Nesting depth of positions inside "coordinates" per type (RFC 7946 sections 3.1.2 to 3.1.7).
COORDINATE_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def check_geometry(value: object, pointer: str = "") -> None:
    """Raise `InvalidGeometry` unless `value` is an RFC 7946 geometry object we can evaluate."""
    _checked(value, pointer)


def checked_shape(value: object) -> BaseGeometry:
    """`to_shape` of `value` once `check_geometry` accepts it (else `InvalidGeometry`); the shape
    built for the simple-feature check of a (Multi)Polygon is the one returned."""
    built = _checked(value, "")
    return built if built is not None else to_shape(value)  # type: ignore[arg-type]


def _checked(value: object, pointer: str) -> BaseGeometry | None:
    """`check_geometry`, giving back the shape the check built, if it built one."""
    if not isinstance(value, Mapping):
        raise InvalidGeometry("a GeoJSON geometry must be a JSON object", pointer)
    geometry_type = value.get("type")
    if geometry_type not in GEOMETRY_TYPES:
        raise InvalidGeometry(
            f"type must be one of {', '.join(GEOMETRY_TYPES)}; got {geometry_type!r}",
            f"{pointer}/type",
        )
    if "bbox" in value:
        _check_bbox(value["bbox"], f"{pointer}/bbox")
    if geometry_type == "GeometryCollection":
        geometries = value.get("geometries")
        if not isinstance(geometries, list):
            raise InvalidGeometry(
                "a GeometryCollection needs a 'geometries' array", f"{pointer}/geometries"
            )
        for index, member in enumerate(geometries):
            check_geometry(member, f"{pointer}/geometries/{index}")
        return None
    if "coordinates" not in value:
        raise InvalidGeometry(
            f"a {geometry_type} needs a 'coordinates' member", f"{pointer}/coordinates"
        )
    return check_coordinates(geometry_type, value["coordinates"], f"{pointer}/coordinates")


def check_coordinates(
    geometry_type: str, coordinates: object, pointer: str = "/coordinates"
) -> BaseGeometry | None:
    """Check the "coordinates" of a non-collection geometry type (RFC 7946 3.1.2 to 3.1.7).

    A (Multi)Polygon is built to check it is a simple feature: that shape is returned (else None).
    """
    if geometry_type == "Point":
        _check_position(coordinates, pointer)
    elif geometry_type == "MultiPoint":
        for index, position in enumerate(_array(coordinates, pointer, "a MultiPoint")):
            _check_position(position, f"{pointer}/{index}")
    elif geometry_type == "LineString":
        _check_line(coordinates, pointer)
    elif geometry_type == "MultiLineString":
        for index, line in enumerate(_array(coordinates, pointer, "a MultiLineString")):
            _check_line(line, f"{pointer}/{index}")
    elif geometry_type == "Polygon":
        _check_polygon_rings(coordinates, pointer)
        return _check_simple_feature(geometry_type, coordinates, pointer)
    elif geometry_type == "MultiPolygon":
        for index, rings in enumerate(_array(coordinates, pointer, "a MultiPolygon")):
            _check_polygon_rings(rings, f"{pointer}/{index}")
        return _check_simple_feature(geometry_type, coordinates, pointer)
    else:
        raise InvalidGeometry(f"{geometry_type!r} has no coordinates", pointer)
    return None


def to_shape(geometry: Mapping) -> BaseGeometry:
    """Build the 2D shapely geometry of a geometry that passed `check_geometry`."""
    geometry_type = geometry["type"]
    if geometry_type == "GeometryCollection":
        return GeometryCollection([to_shape(member) for member in geometry["geometries"]])
    coordinates = _flatten(geometry["coordinates"], COORDINATE_DEPTH[geometry_type])
    return shape({"type": geometry_type, "coordinates": coordinates})


def _flatten(coordinates: Sequence, depth: int) -> list:
    """Drop the optional altitude so that positions of mixed arity still form a 2D geometry."""
    if depth == 0:
        return [coordinates[0], coordinates[1]]
    return [_flatten(item, depth - 1) for item in coordinates]


def _array(value: object, pointer: str, what: str) -> Sequence:
    if not isinstance(value, (list, tuple)):
        raise InvalidGeometry(f"the coordinates of {what} must be an array", pointer)
    return value


def _check_position(value: object, pointer: str) -> None:
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 3:
        raise InvalidGeometry(
            "a position must be an array of 2 or 3 numbers: longitude, latitude[, altitude]",
            pointer,
        )
    for index, number in enumerate(value):
        if not _is_number(number) or not math.isfinite(number):
            raise InvalidGeometry(
                f"a coordinate must be a finite number; got {number!r}", f"{pointer}/{index}"
            )
    longitude, latitude = value[0], value[1]
    if not -180 <= longitude <= 180:
        raise InvalidGeometry(f"longitude {longitude} is outside [-180, 180]", f"{pointer}/0")
    if not -90 <= latitude <= 90:
        raise InvalidGeometry(f"latitude {latitude} is outside [-90, 90]", f"{pointer}/1")


def _check_line(value: object, pointer: str) -> None:
    positions = _array(value, pointer, "a LineString")
    if len(positions) < 2:
        raise InvalidGeometry(
            f"a LineString needs at least 2 positions; got {len(positions)}", pointer
        )
    for index, position in enumerate(positions):
        _check_position(position, f"{pointer}/{index}")


def _check_polygon_rings(value: object, pointer: str) -> None:
    rings = _array(value, pointer, "a Polygon")
    if not rings:
        raise InvalidGeometry("a Polygon needs at least its exterior ring", pointer)
    for ring_index, ring in enumerate(rings):
        ring_pointer = f"{pointer}/{ring_index}"
        positions = _array(ring, ring_pointer, "a linear ring")
        if len(positions) < 4:
            raise InvalidGeometry(
                f"a linear ring needs at least 4 positions; got {len(positions)}", ring_pointer
            )
        for index, position in enumerate(positions):
            _check_position(position, f"{ring_pointer}/{index}")
        if list(positions[0]) != list(positions[-1]):
            raise InvalidGeometry(
                "a linear ring must be closed: its last position must equal its first",
                f"{ring_pointer}/{len(positions) - 1}",
            )


def _check_simple_feature(geometry_type: str, coordinates: Sequence, pointer: str) -> BaseGeometry:
    built = to_shape({"type": geometry_type, "coordinates": coordinates})
    reason = shapely.is_valid_reason(built)
    if reason != "Valid Geometry":
        raise InvalidGeometry(
            f"the {geometry_type} is not a valid simple feature: {reason}", pointer
        )
    return built


def _check_bbox(value: object, pointer: str) -> None:
    is_box = isinstance(value, (list, tuple)) and len(value) in (4, 6)
    if not is_box or not all(map(_is_number, value)):
        raise InvalidGeometry(
            "a bbox must be an array of 4 or 6 numbers (RFC 7946 section 5)", pointer
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
