"""Evaluation of georel x geometry (CIM 009 clause 4.10) and geodesic distances for near."""

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import Point

from mims.context.geo import entity_matches, geodesic_distance, matches, parse_geo_query, to_shape

WGS84 = Geod(ellps="WGS84")
SQUARE = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]
ROTTERDAM_CENTRAAL = (4.4699, 51.9244)
ERASMUS_BRIDGE = (4.4836, 51.9090)


def point(x, y):
    return {"type": "Point", "coordinates": [x, y]}


def square(x0, y0, x1, y1):
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def query(georel, geometry="Polygon", coordinates=SQUARE, geoproperty=None):
    return parse_geo_query(georel, geometry, coordinates, geoproperty)


# (georel, reference geometry type, reference coordinates, target GeoJSON, expected)
RELATION_CASES = [
    ("within", "Polygon", SQUARE, point(5, 5), True),
    ("within", "Polygon", SQUARE, point(15, 5), False),
    ("within", "Polygon", SQUARE, point(10, 5), False),  # on the boundary: not in the interior
    ("within", "Polygon", SQUARE, {"type": "MultiPoint", "coordinates": [[1, 1], [9, 9]]}, True),
    ("within", "Polygon", SQUARE, {"type": "MultiPoint", "coordinates": [[1, 1], [19, 9]]}, False),
    ("within", "Polygon", SQUARE, {"type": "LineString", "coordinates": [[1, 1], [9, 9]]}, True),
    ("within", "Polygon", SQUARE, {"type": "LineString", "coordinates": [[1, 1], [19, 9]]}, False),
    ("within", "Polygon", SQUARE, {"type": "MultiLineString", "coordinates": [[[1, 1], [2, 2]], [[3, 3], [4, 4]]]}, True),
    ("within", "Polygon", SQUARE, {"type": "Polygon", "coordinates": square(2, 2, 4, 4)}, True),
    ("within", "Polygon", SQUARE, {"type": "Polygon", "coordinates": square(5, 5, 15, 15)}, False),
    ("within", "MultiPolygon", [SQUARE, square(20, 20, 30, 30)], {"type": "MultiPolygon", "coordinates": [square(1, 1, 2, 2), square(21, 21, 22, 22)]}, True),
    ("within", "Polygon", SQUARE, {"type": "Polygon", "coordinates": SQUARE}, True),
    ("within", "LineString", [[0, 0], [10, 10]], point(5, 5), True),
    ("contains", "Point", [5, 5], {"type": "Polygon", "coordinates": SQUARE}, True),
    ("contains", "Point", [15, 5], {"type": "Polygon", "coordinates": SQUARE}, False),
    ("contains", "Polygon", square(2, 2, 4, 4), {"type": "Polygon", "coordinates": SQUARE}, True),
    ("contains", "Polygon", SQUARE, point(5, 5), False),  # a point never contains a polygon
    ("contains", "LineString", [[1, 1], [2, 2]], {"type": "MultiPolygon", "coordinates": [SQUARE]}, True),
    ("contains", "Point", [1, 1], {"type": "LineString", "coordinates": [[0, 0], [2, 2]]}, True),
    ("intersects", "Polygon", SQUARE, {"type": "LineString", "coordinates": [[-5, 5], [5, 5]]}, True),
    ("intersects", "Polygon", SQUARE, {"type": "LineString", "coordinates": [[-5, 5], [-1, 5]]}, False),
    ("intersects", "Polygon", SQUARE, point(10, 10), True),  # the boundary counts
    ("intersects", "Polygon", SQUARE, {"type": "MultiPolygon", "coordinates": [square(20, 20, 30, 30), square(9, 9, 11, 11)]}, True),
    ("intersects", "MultiPoint", [[50, 50], [5, 5]], {"type": "Polygon", "coordinates": SQUARE}, True),
    ("intersects", "MultiLineString", [[[20, 0], [20, 10]]], {"type": "Polygon", "coordinates": SQUARE}, False),
    ("disjoint", "Polygon", SQUARE, point(15, 5), True),
    ("disjoint", "Polygon", SQUARE, point(5, 5), False),
    ("disjoint", "Polygon", SQUARE, {"type": "LineString", "coordinates": [[-5, 5], [5, 5]]}, False),
    ("disjoint", "Polygon", SQUARE, {"type": "MultiPoint", "coordinates": [[20, 20], [30, 30]]}, True),
    ("equals", "Polygon", SQUARE, {"type": "Polygon", "coordinates": [SQUARE[0][::-1]]}, True),  # other orientation
    ("equals", "Polygon", SQUARE, {"type": "Polygon", "coordinates": [[[10, 0], [10, 10], [0, 10], [0, 0], [10, 0]]]}, True),
    ("equals", "Polygon", SQUARE, {"type": "Polygon", "coordinates": square(0, 0, 10, 11)}, False),
    ("equals", "Point", [1, 2], point(1, 2), True),
    ("equals", "Point", [1, 2], {"type": "Point", "coordinates": [1, 2, 99]}, True),  # altitude is not compared
    ("equals", "Point", [1, 2], point(1, 2.000001), False),
    ("equals", "LineString", [[0, 0], [2, 2]], {"type": "LineString", "coordinates": [[0, 0], [1, 1], [2, 2]]}, True),
    ("overlaps", "Polygon", SQUARE, {"type": "Polygon", "coordinates": square(5, 5, 15, 15)}, True),
    ("overlaps", "Polygon", SQUARE, {"type": "Polygon", "coordinates": square(2, 2, 4, 4)}, False),  # within, not overlapping
    ("overlaps", "Polygon", SQUARE, {"type": "Polygon", "coordinates": square(20, 20, 30, 30)}, False),
    ("overlaps", "Polygon", SQUARE, point(5, 5), False),  # different dimensions never overlap
    ("overlaps", "LineString", [[0, 0], [2, 0]], {"type": "LineString", "coordinates": [[1, 0], [3, 0]]}, True),
    ("overlaps", "MultiPoint", [[0, 0], [1, 1]], {"type": "MultiPoint", "coordinates": [[1, 1], [2, 2]]}, True),
    ("intersects", "Polygon", SQUARE, {"type": "GeometryCollection", "geometries": [point(50, 50), point(5, 5)]}, True),
    ("within", "Polygon", SQUARE, {"type": "GeometryCollection", "geometries": [point(50, 50), point(5, 5)]}, False),
]


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "target", "expected"),
    RELATION_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[3]['type']}-{c[4]}" for c in RELATION_CASES],
)
def test_relation(georel, geometry, coordinates, target, expected):
    assert matches(query(georel, geometry, coordinates), target) is expected


def test_distance_between_rotterdam_centraal_and_erasmus_bridge():
    expected = WGS84.inv(*ROTTERDAM_CENTRAAL, *ERASMUS_BRIDGE)[2]
    assert 1900 < expected < 2000
    measured = geodesic_distance(Point(ROTTERDAM_CENTRAAL), to_shape(point(*ERASMUS_BRIDGE)))
    assert measured == pytest.approx(expected, rel=1e-9)
    # The projected path, used for non-point geometries, agrees with Geod to well within 0.5 %.
    line = to_shape({"type": "LineString", "coordinates": [list(ERASMUS_BRIDGE), [4.60, 51.70]]})
    assert geodesic_distance(Point(ROTTERDAM_CENTRAAL), line) == pytest.approx(expected, rel=0.005)


@pytest.mark.parametrize(
    ("georel", "expected"),
    [
        ("near;maxDistance==2000", True),
        ("near;maxDistance==1900", False),
        ("near;minDistance==1900", True),
        ("near;minDistance==2000", False),
    ],
)
def test_near_between_rotterdam_landmarks(georel, expected):
    near = parse_geo_query(georel, "Point", list(ROTTERDAM_CENTRAAL))
    assert matches(near, point(*ERASMUS_BRIDGE)) is expected


def _brute_force_distance(origin, segment_start, segment_end):
    """Geodesic distance to many points sampled along a straight edge in lon/lat (RFC 7946)."""
    t = np.linspace(0.0, 1.0, 200_001)
    lons = segment_start[0] + t * (segment_end[0] - segment_start[0])
    lats = segment_start[1] + t * (segment_end[1] - segment_start[1])
    return float(np.min(WGS84.inv(np.full(t.size, origin[0]), np.full(t.size, origin[1]), lons, lats)[2]))


@pytest.mark.parametrize(
    ("origin", "start", "end"),
    [
        ((10.0, 1.0), (0.0, 0.0), (20.0, 0.0)),  # nearest point in the middle of a long edge
        ((4.4699, 51.9244), (4.40, 51.90), (4.55, 51.91)),  # city scale
        ((25.0, 69.5), (20.0, 70.0), (30.0, 70.0)),  # high latitude
        ((-70.0, -33.0), (-71.0, -34.5), (-69.0, -34.0)),  # southern hemisphere
    ],
)
def test_distance_to_an_edge_is_the_geodesic_distance_to_its_nearest_point(origin, start, end):
    line = to_shape({"type": "LineString", "coordinates": [list(start), list(end)]})
    expected = _brute_force_distance(origin, start, end)
    assert geodesic_distance(Point(origin), line) == pytest.approx(expected, rel=0.005)


def test_distance_to_a_polygon_is_zero_inside_and_to_its_edge_outside():
    polygon = to_shape({"type": "Polygon", "coordinates": square(4.0, 51.0, 5.0, 52.0)})
    assert geodesic_distance(Point(4.5, 51.5), polygon) == 0.0
    outside = geodesic_distance(Point(4.5, 52.1), polygon)
    assert outside == pytest.approx(WGS84.inv(4.5, 52.1, 4.5, 52.0)[2], rel=0.001)
    near = parse_geo_query("near;maxDistance==12000", "Point", [4.5, 52.1])
    assert matches(near, {"type": "Polygon", "coordinates": square(4.0, 51.0, 5.0, 52.0)})
    far = parse_geo_query("near;minDistance==12000", "Point", [4.5, 52.1])
    assert not matches(far, {"type": "Polygon", "coordinates": square(4.0, 51.0, 5.0, 52.0)})


def test_distance_to_multi_geometries_is_to_the_nearest_member():
    origin = Point(ROTTERDAM_CENTRAAL)
    bridge = WGS84.inv(*ROTTERDAM_CENTRAAL, *ERASMUS_BRIDGE)[2]
    multipoint = to_shape({"type": "MultiPoint", "coordinates": [[5.0, 52.0], list(ERASMUS_BRIDGE)]})
    assert geodesic_distance(origin, multipoint) == pytest.approx(bridge, rel=1e-9)
    collection = to_shape(
        {
            "type": "GeometryCollection",
            "geometries": [point(5.0, 52.0), {"type": "LineString", "coordinates": [list(ERASMUS_BRIDGE), [4.5, 51.8]]}],
        }
    )
    assert geodesic_distance(origin, collection) == pytest.approx(bridge, rel=0.001)


@pytest.mark.parametrize(
    "value",
    ["POINT (4 52)", None, {"type": "Point", "coordinates": [0, 95]}, {"type": "MultiPoint", "coordinates": []}],
)
def test_values_that_are_no_usable_geometry_never_match(value):
    assert not matches(query("disjoint"), value)
    assert not matches(parse_geo_query("near;minDistance==1", "Point", "[0,0]"), value)


def _entity(attributes):
    return {"id": "urn:ngsi-ld:Building:1", "type": ["https://example.org/Building"], "attributes": attributes}


LOCATION = "https://uri.etsi.org/ngsi-ld/location"


def test_entity_matches_on_the_default_location():
    entity = _entity({LOCATION: [{"type": "GeoProperty", "value": point(5, 5)}]})
    assert entity_matches(query("within"), entity)
    assert not entity_matches(query("disjoint"), entity)


def test_any_instance_of_a_multi_attribute_may_match():
    entity = _entity(
        {
            LOCATION: [
                {"type": "GeoProperty", "value": point(50, 50)},
                {"type": "GeoProperty", "value": point(5, 5), "datasetId": "urn:ngsi-ld:Dataset:gps"},
            ]
        }
    )
    assert entity_matches(query("within"), entity)
    assert entity_matches(query("disjoint"), entity)


def test_entity_without_the_geoproperty_matches_no_georel():
    entity = _entity({"https://example.org/name": [{"type": "Property", "value": "Depot"}]})
    assert not entity_matches(query("within"), entity)
    assert not entity_matches(query("disjoint"), entity)
    assert not entity_matches(query("disjoint"), {"id": "urn:x:1", "type": ["T"]})


def test_only_geoproperty_instances_are_evaluated():
    entity = _entity({LOCATION: [{"type": "Property", "value": point(5, 5)}]})
    assert not entity_matches(query("within"), entity)


def test_core_and_custom_geoproperties_are_expanded():
    observation = "https://uri.etsi.org/ngsi-ld/observationSpace"
    custom = "https://example.org/vocab/footprint"
    entity = _entity(
        {
            observation: [{"type": "GeoProperty", "value": point(5, 5)}],
            custom: [{"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": square(1, 1, 2, 2)}}],
        }
    )
    assert entity_matches(query("within", geoproperty="observationSpace"), entity)
    assert not entity_matches(query("within"), entity)
    expand = {"footprint": custom}.get
    assert entity_matches(query("within", geoproperty="footprint"), entity, expand=expand)
    assert entity_matches(query("within", geoproperty=custom), entity)  # an IRI passes unchanged
