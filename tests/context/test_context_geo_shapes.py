"""The checked shapes of stored geometries, kept between geo-queries (mims.context.geo.shapes)."""

from __future__ import annotations

from decimal import Decimal

from mims.context.geo import matches, parse_geoq
from mims.context.geo.shapes import ShapeCache

SQUARE = {"type": "Polygon", "coordinates": [[[4.0, 52.0], [4.1, 52.0], [4.1, 52.1], [4.0, 52.1], [4.0, 52.0]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[4.0, 52.0], [4.1, 52.1], [4.1, 52.0], [4.0, 52.1], [4.0, 52.0]]]}


def test_a_geometry_met_again_is_not_built_again() -> None:
    cache = ShapeCache()
    first = cache.shape(SQUARE)
    assert first is not None and first.bounds == (4.0, 52.0, 4.1, 52.1)
    assert cache.shape({"coordinates": SQUARE["coordinates"], "type": "Polygon"}) is not None
    assert cache.shape(dict(SQUARE)) is first  # the same JSON text: the kept shape
    assert len(cache) == 2  # members in another order: another text, built and kept apart


def test_a_changed_geometry_gets_its_own_shape() -> None:
    cache = ShapeCache()
    geometry = {"type": "Point", "coordinates": [4.0, 52.0]}
    assert cache.shape(geometry).coords[0] == (4.0, 52.0)
    geometry["coordinates"] = [5.0, 51.0]  # the same object, another value
    assert cache.shape(geometry).coords[0] == (5.0, 51.0)


def test_what_is_no_rfc_7946_geometry_has_no_shape_kept_or_not() -> None:
    cache = ShapeCache()
    for value in (BOWTIE, {"type": "Point", "coordinates": [200.0, 0.0]}, {"type": "MultiPoint", "coordinates": []},
                  {"type": "Point", "coordinates": [float("nan"), 0.0]}, "POINT (4 52)"):
        assert cache.shape(value) is None
        assert cache.shape(value) is None  # the same from the cache
    assert cache.shape({"type": "Point", "coordinates": [Decimal(4), Decimal(52)]}) is None  # no JSON: not kept
    query = parse_geoq({"georel": "intersects", "geometry": "Point", "coordinates": [4.05, 52.05]})
    assert matches(query, SQUARE) and matches(query, SQUARE)
    assert not matches(query, BOWTIE) and not matches(query, BOWTIE)


def test_the_budget_bounds_what_is_kept_least_recently_used_first_out() -> None:
    points = [{"type": "Point", "coordinates": [4.0, float(10 + index)]} for index in range(50)]
    size = len(b'{"type":"Point","coordinates":[4.0,10.0]}')  # the JSON text of each of them
    cache = ShapeCache(budget=10 * size, largest=size)
    first = cache.shape(points[0])
    for point in points[1:9]:
        cache.shape(point)
    assert cache.shape(points[0]) is first  # used again: now the most recent
    for point in points[9:]:
        cache.shape(point)
    assert len(cache) == 10
    assert cache.shape(points[-1]) is cache.shape(points[-1])
    assert cache.shape(points[0]) is not first  # pushed out, built anew
    large = {"type": "LineString", "coordinates": [[4.0, 52.0], [4.1, 52.1], [4.2, 52.2]]}
    assert cache.shape(large) is not cache.shape(large)  # above ``largest``: never kept
