"""NGSI-LD geo-queries (ETSI GS CIM 009 V1.8.1 clause 4.10) and GeoProperty geometries (clause 4.7).

`parse_geo_query` / `parse_geoq` read the query parameters or the JSON GeoQuery of
subscriptions; `check_geometry` refuses malformed GeoJSON on write; `matches` /
`entity_matches` decide a relation exactly (on the checked shapes `shapes` keeps); `bbox` /
`query_bbox` give storage an index prefilter that never loses a match.
"""

from .bbox import BBox, bbox, distance_bbox, query_bbox
from .errors import GeoQueryError, InvalidGeometry
from .geometry import GEOMETRY_TYPES, check_geometry, to_shape
from .params import DEFAULT_GEOPROPERTY, GEORELS, GeoQuery, parse_geo_query, parse_geoq
from .relations import (
    CORE_GEOPROPERTIES,
    entity_matches,
    expand_core_geoproperty,
    geodesic_distance,
    matches,
)

__all__ = [
    "BBox",
    "CORE_GEOPROPERTIES",
    "DEFAULT_GEOPROPERTY",
    "GEOMETRY_TYPES",
    "GEORELS",
    "GeoQuery",
    "GeoQueryError",
    "InvalidGeometry",
    "bbox",
    "check_geometry",
    "distance_bbox",
    "entity_matches",
    "expand_core_geoproperty",
    "geodesic_distance",
    "matches",
    "parse_geo_query",
    "parse_geoq",
    "query_bbox",
    "to_shape",
]
