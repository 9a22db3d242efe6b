"""Geo-query parameters of CIM 009 clause 4.10 (query form of clause 6.4.3.2, JSON form 5.2.13).

The grammar of clause 4.10:

    georel   = nearRel / withinRel / containsRel / overlapsRel / intersectsRel / equalsRel
               / disjointRel
    nearRel  = "near" ";" ("maxDistance" / "minDistance") "==" PositiveNumber
    geometry = "Point" / "MultiPoint" / "LineString" / "MultiLineString" / "Polygon"
               / "MultiPolygon"
    coordinates: a JSON array of positions nested as the geometry type requires

The quoted strings of an ABNF grammar are case-insensitive (IETF RFC 5234 section 2.3), so
`georel=NEAR;maxdistance==10` and `geometry=point` are accepted and normalised to the spelling
above. PositiveNumber is a JSON number without minus sign and other than zero. The reference
geometry of `near` is a Point: the distance is measured from it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from shapely.geometry.base import BaseGeometry

from .errors import GeoQueryError, InvalidGeometry
from .geometry import check_coordinates, to_shape

GEORELS = ("near", "within", "contains", "intersects", "disjoint", "equals", "overlaps")
QUERY_GEOMETRIES = (
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"
)
DISTANCES = ("maxDistance", "minDistance")
DEFAULT_GEOPROPERTY = "location"

_POSITIVE_NUMBER = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# Characters that NGSI-LD forbids in attribute names (clause 4.6.2) plus whitespace.
_FORBIDDEN_IN_NAME = re.compile(r"""[\s<>"'=;()]""")


@dataclass(frozen=True)
class GeoQuery:
    """One parsed geo-query: `geometry` is the reference geometry, `geojson` its GeoJSON form.

    For `near` exactly one of `max_distance` / `min_distance` (metres) is set. `geoproperty` is
    the term as given; the caller expands it with the request's @context.
    """

    georel: str
    geojson: Mapping[str, Any]
    geometry: BaseGeometry = field(compare=False, repr=False)
    geoproperty: str = DEFAULT_GEOPROPERTY
    max_distance: float | None = None
    min_distance: float | None = None

    def __hash__(self) -> int:
        return hash(
            (self.georel, self.geoproperty, self.max_distance, self.min_distance, self.geometry.wkb)
        )

    @property
    def georel_text(self) -> str:
        """The georel as clause 4.10 spells it, e.g. ``near;maxDistance==2000``."""
        if self.max_distance is not None:
            return f"near;maxDistance=={_number_text(self.max_distance)}"
        if self.min_distance is not None:
            return f"near;minDistance=={_number_text(self.min_distance)}"
        return self.georel

    def to_geoq(self) -> dict[str, Any]:
        """The JSON form of a GeoQuery (clause 5.2.13), as subscriptions render it."""
        return {
            "geometry": self.geojson["type"],
            "coordinates": self.geojson["coordinates"],
            "georel": self.georel_text,
            "geoproperty": self.geoproperty,
        }


def parse_geo_query(
    georel: str | None,
    geometry: str | None,
    coordinates: str | list | None,
    geoproperty: str | None = None,
) -> GeoQuery | None:
    """Parse the `georel`, `geometry`, `coordinates`, `geoproperty` query parameters.

    Returns None when the request carries no geo-query at all. A partial geo-query is an error
    naming what is missing, never silently ignored.
    """
    given = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    if all(value is None for value in given.values()):
        if geoproperty is not None:
            raise GeoQueryError(
                "geoproperty is only meaningful with georel, geometry and coordinates",
                "geoproperty",
            )
        return None
    for name, value in given.items():
        if value is None:
            present = ", ".join(n for n, v in given.items() if v is not None)
            raise GeoQueryError(f"{name} is required when {present} is given (clause 4.10)", name)
    return _build(georel, geometry, coordinates, geoproperty)


def parse_geoq(geoq: object) -> GeoQuery:
    """Parse the JSON GeoQuery object (clause 5.2.13) of subscriptions and batch queries.

    `coordinates` may be the JSON array itself or its text.
    """
    if not isinstance(geoq, Mapping):
        raise GeoQueryError("geoQ must be a JSON object", "geoQ")
    unknown = sorted(set(geoq) - {"georel", "geometry", "coordinates", "geoproperty"})
    if unknown:
        raise GeoQueryError(f"unknown member(s) {', '.join(unknown)} in geoQ", unknown[0])
    for name in ("georel", "geometry", "coordinates"):
        if geoq.get(name) is None:
            raise GeoQueryError(f"{name} is required in geoQ (clause 5.2.13)", name)
    for name in ("georel", "geometry"):
        if not isinstance(geoq[name], str):
            raise GeoQueryError(f"{name} must be a string", name)
    coordinates = geoq["coordinates"]
    if not isinstance(coordinates, (str, list)):
        raise GeoQueryError("coordinates must be a JSON array or its text", "coordinates")
    return _build(geoq["georel"], geoq["geometry"], coordinates, geoq.get("geoproperty"))


def parse_georel(text: str) -> tuple[str, str | None, float | None]:
    """Split a georel into (relation, distance name or None, distance in metres or None)."""
    relation, _, modifier = text.partition(";")
    canonical = _canonical(relation, GEORELS)
    if canonical is None:
        raise GeoQueryError(
            f"unknown georel {relation!r}; expected one of {', '.join(GEORELS)}", "georel"
        )
    if canonical != "near":
        if modifier:
            raise GeoQueryError(f"{canonical} takes no modifier; got {modifier!r}", "georel")
        return canonical, None, None
    name, equals, number = modifier.partition("==")
    distance_name = _canonical(name, DISTANCES)
    if distance_name is None or not equals:
        raise GeoQueryError(
            "near needs a distance: near;maxDistance==<metres> or near;minDistance==<metres>",
            "georel",
        )
    return canonical, distance_name, _positive_number(number)


def _build(
    georel: str, geometry: str, coordinates: str | list, geoproperty: str | None
) -> GeoQuery:
    relation, distance_name, distance = parse_georel(georel)
    geometry_type = _canonical(geometry, QUERY_GEOMETRIES)
    if geometry_type is None:
        raise GeoQueryError(
            f"unknown geometry {geometry!r}; expected one of {', '.join(QUERY_GEOMETRIES)}",
            "geometry",
        )
    if relation == "near" and geometry_type != "Point":
        raise GeoQueryError(
            f"near measures the distance from a Point; got geometry {geometry_type}", "geometry"
        )
    positions = _coordinates(coordinates)
    try:
        built = check_coordinates(geometry_type, positions, "")
    except InvalidGeometry as error:
        where = f" at {error.pointer}" if error.pointer else ""
        raise GeoQueryError(f"{error.message}{where}", "coordinates") from error
    geojson = {"type": geometry_type, "coordinates": positions}
    shape = built if built is not None else to_shape(geojson)
    if shape.is_empty:
        raise GeoQueryError(
            f"a {geometry_type} reference geometry must not be empty", "coordinates"
        )
    return GeoQuery(
        georel=relation,
        geojson=geojson,
        geometry=shape,
        geoproperty=_geoproperty(geoproperty),
        max_distance=distance if distance_name == "maxDistance" else None,
        min_distance=distance if distance_name == "minDistance" else None,
    )


def _coordinates(value: str | list) -> list:
    if isinstance(value, list):
        return value
    text = value.strip()
    if "%" in text:
        text = unquote(text)
    try:
        parsed = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise GeoQueryError(f"coordinates must be a JSON array: {error}", "coordinates") from error
    if not isinstance(parsed, list):
        raise GeoQueryError(f"coordinates must be a JSON array; got {text!r}", "coordinates")
    return parsed


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _positive_number(text: str) -> float:
    if text.startswith("-"):
        raise GeoQueryError(f"a distance must not be negative; got {text}", "georel")
    if not _POSITIVE_NUMBER.fullmatch(text):
        raise GeoQueryError(f"a distance must be a number of metres; got {text!r}", "georel")
    number = float(text)
    if number == 0 or not math.isfinite(number):
        raise GeoQueryError(f"a distance must be a positive, non-zero number; got {text}", "georel")
    return number


def _geoproperty(value: object) -> str:
    if value is None:
        return DEFAULT_GEOPROPERTY
    if not isinstance(value, str) or not value or _FORBIDDEN_IN_NAME.search(value):
        raise GeoQueryError(f"geoproperty must be an attribute name; got {value!r}", "geoproperty")
    return value


def _canonical(text: str, spellings: tuple[str, ...]) -> str | None:
    lowered = text.lower()
    return next((spelling for spelling in spellings if spelling.lower() == lowered), None)


def _number_text(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)
