"""GeoJSON checks for GeoProperty values (CIM 009 clause 4.7, IETF RFC 7946 section 3.1)."""

import pytest

from mims.context.geo import InvalidGeometry, check_geometry, to_shape

SQUARE = [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]
HOLE = [[2, 2], [2, 4], [4, 4], [4, 2], [2, 2]]

VALID = {
    "point": {"type": "Point", "coordinates": [4.47, 51.92]},
    "point with altitude": {"type": "Point", "coordinates": [4.47, 51.92, -3.5]},
    "integer point at the limits": {"type": "Point", "coordinates": [-180, 90]},
    "multipoint": {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1, 2]]},
    "empty multipoint": {"type": "MultiPoint", "coordinates": []},
    "linestring": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
    "multilinestring": {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3], [4, 5]]]},
    "polygon": {"type": "Polygon", "coordinates": SQUARE},
    "clockwise polygon with hole": {"type": "Polygon", "coordinates": [SQUARE[0][::-1], HOLE]},
    "multipolygon": {"type": "MultiPolygon", "coordinates": [SQUARE, [[[20, 20], [21, 20], [21, 21], [20, 20]]]]},
    "geometry collection": {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [0, 0]},
            {"type": "GeometryCollection", "geometries": [{"type": "LineString", "coordinates": [[0, 0], [1, 1]]}]},
        ],
    },
    "empty geometry collection": {"type": "GeometryCollection", "geometries": []},
    "with bbox and a foreign member": {"type": "Point", "coordinates": [1, 2], "bbox": [1, 2, 1, 2], "name": "x"},
}


@pytest.mark.parametrize("value", VALID.values(), ids=VALID.keys())
def test_valid_geometries_pass(value):
    check_geometry(value)


INVALID = [
    ("not an object", [0, 0], "", "must be a JSON object"),
    ("no type", {"coordinates": [0, 0]}, "/type", "type must be one of"),
    ("type is case-sensitive", {"type": "point", "coordinates": [0, 0]}, "/type", "got 'point'"),
    ("Feature is no geometry", {"type": "Feature", "geometry": None}, "/type", "got 'Feature'"),
    ("no coordinates", {"type": "Point"}, "/coordinates", "needs a 'coordinates' member"),
    ("collection without geometries", {"type": "GeometryCollection"}, "/geometries", "'geometries' array"),
    (
        "bad collection member",
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 0]}, {"type": "Point", "coordinates": [0]}]},
        "/geometries/1/coordinates",
        "2 or 3 numbers",
    ),
    ("one number", {"type": "Point", "coordinates": [0]}, "/coordinates", "2 or 3 numbers"),
    ("four numbers", {"type": "Point", "coordinates": [0, 0, 0, 0]}, "/coordinates", "2 or 3 numbers"),
    ("position is an object", {"type": "Point", "coordinates": {"lon": 0, "lat": 0}}, "/coordinates", "2 or 3 numbers"),
    ("boolean coordinate", {"type": "Point", "coordinates": [True, 0]}, "/coordinates/0", "finite number"),
    ("string altitude", {"type": "Point", "coordinates": [0, 0, "5"]}, "/coordinates/2", "finite number"),
    ("nan", {"type": "Point", "coordinates": [float("nan"), 0]}, "/coordinates/0", "finite number"),
    ("longitude range", {"type": "MultiPoint", "coordinates": [[0, 0], [-180.5, 0]]}, "/coordinates/1/0", "longitude -180.5"),
    ("latitude range", {"type": "Point", "coordinates": [0, 999]}, "/coordinates/1", "latitude 999"),
    ("multipoint not array", {"type": "MultiPoint", "coordinates": "0,0"}, "/coordinates", "must be an array"),
    ("short line", {"type": "LineString", "coordinates": [[0, 0]]}, "/coordinates", "at least 2 positions; got 1"),
    ("short line in multi", {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[0, 0]]]}, "/coordinates/1", "at least 2"),
    ("polygon without rings", {"type": "Polygon", "coordinates": []}, "/coordinates", "exterior ring"),
    ("ring of 3", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "/coordinates/0", "at least 4 positions; got 3"),
    ("open ring", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "/coordinates/0/3", "must be closed"),
    ("open hole", {"type": "Polygon", "coordinates": [SQUARE[0], HOLE[:-1] + [[2, 3]]]}, "/coordinates/1/4", "must be closed"),
    ("ring altitude differs", {"type": "Polygon", "coordinates": [[[0, 0, 1], [1, 0], [1, 1], [0, 0, 2]]]}, "/coordinates/0/3", "closed"),
    ("bow tie", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "/coordinates", "Self-intersection"),
    ("hole outside shell", {"type": "Polygon", "coordinates": [SQUARE[0], [[20, 20], [21, 20], [21, 21], [20, 20]]]}, "/coordinates", "Hole lies outside shell"),
    ("overlapping multipolygon", {"type": "MultiPolygon", "coordinates": [SQUARE, [[[5, 5], [15, 5], [15, 15], [5, 5]]]]}, "/coordinates", "not a valid simple feature"),
    ("bad ring in multipolygon", {"type": "MultiPolygon", "coordinates": [SQUARE, [[[0, 0], [1, 0]]]]}, "/coordinates/1/0", "at least 4"),
    ("bad bbox", {"type": "Point", "coordinates": [0, 0], "bbox": [0, 0, 1]}, "/bbox", "4 or 6 numbers"),
]


@pytest.mark.parametrize(("value", "pointer", "fragment"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_geometries_are_refused_with_a_pointer(value, pointer, fragment):
    with pytest.raises(InvalidGeometry) as caught:
        check_geometry(value)
    assert caught.value.pointer == pointer
    assert fragment in caught.value.message


def test_pointer_is_relative_to_the_given_prefix():
    with pytest.raises(InvalidGeometry) as caught:
        check_geometry({"type": "Point", "coordinates": [0, 91]}, "/location/value")
    assert caught.value.pointer == "/location/value/coordinates/1"
    assert str(caught.value) == "/location/value/coordinates/1: latitude 91 is outside [-90, 90]"


def test_to_shape_is_two_dimensional_even_with_mixed_position_arity():
    line = to_shape({"type": "LineString", "coordinates": [[0, 0, 5], [1, 1]]})
    assert not line.has_z
    assert list(line.coords) == [(0, 0), (1, 1)]
    collection = to_shape(VALID["geometry collection"])
    assert collection.geom_type == "GeometryCollection"
    assert [part.geom_type for part in collection.geoms] == ["Point", "GeometryCollection"]
    assert to_shape(VALID["empty multipoint"]).is_empty
    assert to_shape(VALID["clockwise polygon with hole"]).area == 100 - 4
