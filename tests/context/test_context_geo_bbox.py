"""The storage prefilter box never loses a match of a geo-query (CIM 009 clause 4.10)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import box as shapely_box

from mims.context.geo import bbox, distance_bbox, matches, parse_geo_query, query_bbox, to_shape

WGS84 = Geod(ellps="WGS84")
SQUARE = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]


def _inside(box, lon, lat):
    west, south, east, north = box
    return west <= lon <= east and south <= lat <= north


def _intersect(first, second):
    return first[0] <= second[2] and second[0] <= first[2] and first[1] <= second[3] and second[1] <= first[3]


def test_bbox_of_geojson_and_of_shapes():
    line = {"type": "LineString", "coordinates": [[4.4, 51.9, 10], [4.5, 51.8]]}
    assert bbox(line) == (4.4, 51.8, 4.5, 51.9)
    assert bbox(to_shape(line)) == (4.4, 51.8, 4.5, 51.9)
    assert bbox({"type": "Point", "coordinates": [1, 2]}) == (1, 2, 1, 2)
    assert bbox({"type": "MultiPoint", "coordinates": []}) is None


@pytest.mark.parametrize("georel", ["within", "contains", "intersects", "equals", "overlaps"])
def test_topological_relations_prefilter_on_the_reference_box(georel):
    assert query_bbox(parse_geo_query(georel, "Polygon", SQUARE)) == (0, 0, 10, 10)


def test_no_prefilter_for_disjoint_and_min_distance():
    assert query_bbox(parse_geo_query("disjoint", "Polygon", SQUARE)) is None
    assert query_bbox(parse_geo_query("near;minDistance==10", "Point", "[4,52]")) is None


def test_max_distance_box_is_conservative_but_tight_at_city_scale():
    west, south, east, north = query_bbox(parse_geo_query("near;maxDistance==1000", "Point", "[4.47,51.92]"))
    true_north = WGS84.fwd(4.47, 51.92, 0, 1000)[1]
    true_east = WGS84.fwd(4.47, 51.92, 90, 1000)[0]
    assert true_north <= north and (north - 51.92) < 1.05 * (true_north - 51.92)
    assert true_east <= east and (east - 4.47) < 1.05 * (true_east - 4.47)
    assert south < 51.92 < north and west < 4.47 < east


def test_box_spans_all_longitudes_around_a_pole_or_across_the_antimeridian():
    assert distance_bbox(10.0, 89.99, 5000) == (-180.0, pytest.approx(89.99 - 5000 / 110_000), 180.0, 90.0)
    assert distance_bbox(10.0, -89.99, 5000)[0::2] == (-180.0, 180.0)
    assert distance_bbox(10.0, -89.99, 5000)[1] == -90.0
    west, _, east, _ = distance_bbox(179.99, 0.0, 5000)
    assert (west, east) == (-180.0, 180.0)
    assert distance_bbox(0.0, 0.0, 30_000_000) == (-180.0, -90.0, 180.0, 90.0)


@settings(max_examples=400, deadline=None)
@given(
    lon=st.floats(-180, 180),
    lat=st.floats(-90, 90),
    metres=st.floats(1, 3_000_000),
    azimuth=st.floats(-180, 180),
    fraction=st.floats(0, 1),
)
def test_every_point_within_max_distance_lies_in_the_box(lon, lat, metres, azimuth, fraction):
    target_lon, target_lat, _ = WGS84.fwd(lon, lat, azimuth, metres * fraction)
    assert _inside(distance_bbox(lon, lat, metres), target_lon, target_lat)


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-179, 179),
    lat=st.floats(-85, 85),
    metres=st.floats(10, 50_000),
    offsets=st.tuples(st.floats(-0.8, 0.8), st.floats(-0.8, 0.8)),
    size=st.floats(0.0001, 0.5),
)
def test_prefilter_never_excludes_a_matching_polygon(lon, lat, metres, offsets, size):
    near = parse_geo_query(f"near;maxDistance=={metres:.3f}", "Point", [lon, lat])
    x0 = min(max(lon + offsets[0], -180), 180 - size)
    y0 = min(max(lat + offsets[1], -90), 90 - size)
    polygon = shapely_box(x0, y0, x0 + size, y0 + size)
    geojson = {"type": "Polygon", "coordinates": [list(map(list, polygon.exterior.coords))]}
    if matches(near, geojson):
        assert _intersect(bbox(geojson), query_bbox(near))


@settings(max_examples=200, deadline=None)
@given(
    reference=st.tuples(st.floats(-10, 10), st.floats(-10, 10), st.floats(0.01, 5)),
    target=st.tuples(st.floats(-10, 10), st.floats(-10, 10), st.floats(0.01, 5)),
    georel=st.sampled_from(["within", "contains", "intersects", "equals", "overlaps"]),
)
def test_prefilter_never_excludes_a_topological_match(reference, target, georel):
    def polygon(x, y, size):
        return [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]

    query = parse_geo_query(georel, "Polygon", polygon(*reference))
    geojson = {"type": "Polygon", "coordinates": polygon(*target)}
    if matches(query, geojson):
        assert _intersect(bbox(geojson), query_bbox(query))


@pytest.mark.parametrize("lat", [0.0, 45.0, 60.0, 75.0, 85.0, -70.0])
@pytest.mark.parametrize("metres", [100.0, 50_000.0, 1_000_000.0])
def test_whole_circle_of_max_distance_lies_in_the_box(lat, metres):
    """The widest longitude of a geodesic circle lies poleward of its centre."""
    box = distance_bbox(0.0, lat, metres)
    for step in range(3600):
        lon, circle_lat, _ = WGS84.fwd(0.0, lat, step / 10 - 180, metres)
        assert _inside(box, lon, circle_lat), (step, lon, circle_lat, box)
