"""EPSG:28992 to WGS84 for the twin's ``location`` and the permit check's maps: one function, to
1e-9 degree, valid whatever rounding does to a sliver, lines and points kept as they are."""

from __future__ import annotations

import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from mims.kit.geo import plan_input, twin_entities
from mims.kit.geo.plan_input import WGS84_DECIMALS, to_wgs84

RD_TO_WGS84 = pyproj.Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)


def test_the_twin_and_the_permit_check_share_one_transformation() -> None:
    assert twin_entities.to_wgs84 is plan_input.to_wgs84


@pytest.mark.parametrize("geometry", [box(92500, 437200, 92510, 437215), LineString([(92500, 437200), (92510, 437203)]),
                                      Point(92500, 437200)], ids=["polygon", "line", "point"])
def test_a_geometry_is_projected_to_wgs84_rounded_to_the_grid(geometry: shapely.Geometry) -> None:
    projected = to_wgs84(geometry)
    assert projected.geom_type == geometry.geom_type and projected.is_valid
    coordinates = shapely.get_coordinates(projected)
    expected = shapely.get_coordinates(geometry)
    for (lon, lat), (x, y) in zip(coordinates, expected, strict=True):
        want_lon, want_lat = RD_TO_WGS84.transform(x, y)
        assert abs(lon - want_lon) <= 10**-WGS84_DECIMALS and abs(lat - want_lat) <= 10**-WGS84_DECIMALS
        assert round(lon, WGS84_DECIMALS) == lon and round(lat, WGS84_DECIMALS) == lat


def test_a_sliver_that_rounding_would_make_cross_itself_is_dropped_and_the_polygon_stays_valid() -> None:
    spiked = Polygon([(92500, 437200), (92510, 437200), (92510, 437210), (92506.00001, 437210),
                      (92506.000005, 437215), (92506, 437210), (92500, 437210)])  # a spike 0.01 mm wide
    assert spiked.is_valid
    projected = to_wgs84(spiked)
    assert projected.geom_type == "Polygon" and projected.is_valid
    square = to_wgs84(box(92500, 437200, 92510, 437210))
    assert projected.symmetric_difference(square).area < 1e-6 * square.area
