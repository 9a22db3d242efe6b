"""Evaluation of geo-queries (CIM 009 clause 4.10) against GeoProperty values.

Each relation reads "the target (entity) geometry <georel> the reference (query) geometry":
`within` holds when the entity's geometry lies within the reference geometry, `contains` when
the entity's geometry contains it; `intersects`, `disjoint`, `equals` and `overlaps` are the
Simple Features predicates of the same names (OGC 06-103r4 6.1.15.3, DE-9IM). They are
evaluated in the plane of longitude and latitude, which is how IETF RFC 7946 section 3.1.1
defines the line between two positions (a straight Cartesian line in that coordinate system).

`near` is the one metric relation: `maxDistance` holds when the geodesic distance on the WGS84
ellipsoid from the reference Point to the nearest point of the entity's geometry is at most
the given number of metres, `minDistance` when it is at least that. Point targets use the
geodesic inverse problem directly (pyproj.Geod, Karney's algorithm). Other targets are densified
in degrees, so that the RFC 7946 straight edges are followed, and projected into an azimuthal
equidistant projection centred on the reference point, whose distances from the centre are true
geodesic distances; the planar distance from the origin to the projected geometry is then the
distance to the nearest point. A target that contains or touches the point is at distance 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from .params import GeoQuery
from .shapes import target_shape

CORE_GEOPROPERTIES = {
    "location": "https://uri.etsi.org/ngsi-ld/location",
    "observationSpace": "https://uri.etsi.org/ngsi-ld/observationSpace",
    "operationSpace": "https://uri.etsi.org/ngsi-ld/operationSpace",
}

WGS84 = Geod(ellps="WGS84")
# Edge length (degrees) below which a straight edge and its projected image coincide to well
# under a metre near the reference point.
DENSIFY_DEGREES = 0.01
_ORIGIN = Point(0.0, 0.0)

_RELATIONS: dict[str, Callable[[BaseGeometry, BaseGeometry], bool]] = {
    "within": lambda target, reference: target.within(reference),
    "contains": lambda target, reference: target.contains(reference),
    "intersects": lambda target, reference: target.intersects(reference),
    "disjoint": lambda target, reference: target.disjoint(reference),
    "equals": lambda target, reference: target.equals(reference),
    "overlaps": lambda target, reference: target.overlaps(reference),
}


def expand_core_geoproperty(term: str) -> str:
    """Expand the GeoProperty terms of the NGSI-LD core @context; other names pass unchanged."""
    return CORE_GEOPROPERTIES.get(term, term)


def matches(query: GeoQuery, geometry_geojson: object) -> bool:
    """True when a GeoJSON geometry stands in the query's relation to its reference geometry.

    A value that is not an RFC 7946 geometry stands in no spatial relation and never matches.
    The checked shape of a geometry met before comes from `shapes.target_shape`.
    """
    target = target_shape(geometry_geojson)
    if target is None:
        return False
    if query.georel == "near":
        distance = geodesic_distance(query.geometry, target)
        if query.max_distance is not None:
            return distance <= query.max_distance
        return distance >= query.min_distance
    return bool(_RELATIONS[query.georel](target, query.geometry))


def entity_matches(
    query: GeoQuery,
    entity: Mapping[str, Any],
    expand: Callable[[str], str] = expand_core_geoproperty,
) -> bool:
    """True when any instance (multi-attributes, by datasetId) of the entity's geoproperty matches.

    `entity` is in the internal (stored) form; `expand` maps the query's geoproperty term to
    the attribute IRI it was stored under. An entity without that GeoProperty matches no
    georel, `disjoint` included: it has no geometry to compare.
    """
    instances = entity.get("attributes", {}).get(expand(query.geoproperty), ())
    return any(
        instance.get("type") == "GeoProperty" and matches(query, instance.get("value"))
        for instance in instances
    )


def geodesic_distance(point: Point, target: BaseGeometry) -> float:
    """Metres on the WGS84 ellipsoid from `point` to the nearest point of `target`."""
    if target.geom_type in ("Point", "MultiPoint"):
        positions = shapely.get_coordinates(target)
        count = len(positions)
        _, _, distances = WGS84.inv(
            np.full(count, point.x), np.full(count, point.y), positions[:, 0], positions[:, 1]
        )
        return float(np.min(distances))
    if target.intersects(point):
        return 0.0
    transformer = _azimuthal_equidistant(point.x, point.y)
    projected = shapely.transform(
        shapely.segmentize(target, DENSIFY_DEGREES),
        lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])),
    )
    return float(shapely.distance(_ORIGIN, projected))


@lru_cache(maxsize=256)
def _azimuthal_equidistant(longitude: float, latitude: float) -> Transformer:
    return Transformer.from_crs(
        "+proj=longlat +datum=WGS84 +no_defs",
        f"+proj=aeqd +lat_0={latitude!r} +lon_0={longitude!r} +datum=WGS84 +units=m +no_defs",
        always_xy=True,
    )
