"""Parsing of geo-query parameters, CIM 009 clause 4.10 (query form) and 5.2.13 (geoQ)."""

import pytest

from mims.context.geo import GEORELS, GeoQuery, GeoQueryError, parse_geo_query, parse_geoq

SQUARE = "[[[0,0],[10,0],[10,10],[0,10],[0,0]]]"


def _error(*args, **kwargs) -> GeoQueryError:
    with pytest.raises(GeoQueryError) as caught:
        parse_geo_query(*args, **kwargs)
    return caught.value


def test_no_geo_query_parameters_mean_no_geo_query():
    assert parse_geo_query(None, None, None) is None


@pytest.mark.parametrize("georel", [g for g in GEORELS if g != "near"])
def test_every_non_metric_georel_parses(georel):
    query = parse_geo_query(georel, "Polygon", SQUARE)
    assert query.georel == georel
    assert query.georel_text == georel
    assert query.max_distance is None and query.min_distance is None
    assert query.geometry.geom_type == "Polygon"
    assert query.geojson == {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
    assert query.geoproperty == "location"


def test_near_max_distance():
    query = parse_geo_query("near;maxDistance==2000", "Point", "[4.47,51.92]")
    assert (query.georel, query.max_distance, query.min_distance) == ("near", 2000.0, None)
    assert query.geometry.coords[0] == (4.47, 51.92)
    assert query.georel_text == "near;maxDistance==2000"


def test_near_min_distance_accepts_json_number_forms():
    query = parse_geo_query("near;minDistance==1.5e3", "Point", "[4.47,51.92]")
    assert (query.max_distance, query.min_distance) == (None, 1500.0)
    assert parse_geo_query("near;minDistance==12.25", "Point", "[0,0]").georel_text == "near;minDistance==12.25"


def test_abnf_literals_are_case_insensitive_and_normalised():
    query = parse_geo_query("NEAR;MAXDISTANCE==10", "point", "[0,0]")
    assert query.georel_text == "near;maxDistance==10"
    assert query.geojson["type"] == "Point"
    assert parse_geo_query("Within", "multipolygon", f"[{SQUARE}]").geojson["type"] == "MultiPolygon"


def test_every_query_geometry_type_parses():
    cases = {
        "Point": "[1,2]",
        "MultiPoint": "[[1,2],[3,4]]",
        "LineString": "[[1,2],[3,4]]",
        "MultiLineString": "[[[1,2],[3,4]],[[5,6],[7,8]]]",
        "Polygon": SQUARE,
        "MultiPolygon": f"[{SQUARE}]",
    }
    for geometry, coordinates in cases.items():
        assert parse_geo_query("intersects", geometry, coordinates).geometry.geom_type == geometry


def test_url_encoded_coordinates_are_decoded():
    query = parse_geo_query("within", "Polygon", "%5B%5B%5B0%2C0%5D%2C%5B10%2C0%5D%2C%5B10%2C10%5D%2C%5B0%2C0%5D%5D%5D")
    assert query.geojson["coordinates"] == [[[0, 0], [10, 0], [10, 10], [0, 0]]]


def test_coordinates_may_be_an_already_parsed_array_and_altitude_is_kept_in_geojson():
    query = parse_geo_query("near;maxDistance==5", "Point", [4.0, 52.0, 3.0])
    assert query.geojson["coordinates"] == [4.0, 52.0, 3.0]
    assert not query.geometry.has_z


def test_custom_geoproperty():
    assert parse_geo_query("within", "Polygon", SQUARE, "observationSpace").geoproperty == "observationSpace"


@pytest.mark.parametrize(
    ("args", "parameter", "fragment"),
    [
        ((None, "Point", "[0,0]"), "georel", "georel is required"),
        (("within", None, SQUARE), "geometry", "geometry is required"),
        (("within", "Polygon", None), "coordinates", "coordinates is required"),
        ((None, None, None, "location"), "geoproperty", "only meaningful"),
        (("inside", "Polygon", SQUARE), "georel", "unknown georel 'inside'"),
        (("within;maxDistance==5", "Polygon", SQUARE), "georel", "within takes no modifier"),
        (("near", "Point", "[0,0]"), "georel", "near needs a distance"),
        (("near;maxDistance:100", "Point", "[0,0]"), "georel", "near needs a distance"),
        (("near;farDistance==100", "Point", "[0,0]"), "georel", "near needs a distance"),
        (("near;maxDistance==-100", "Point", "[0,0]"), "georel", "must not be negative"),
        (("near;maxDistance==0", "Point", "[0,0]"), "georel", "non-zero"),
        (("near;maxDistance==ten", "Point", "[0,0]"), "georel", "number of metres"),
        (("near;maxDistance==1e999", "Point", "[0,0]"), "georel", "non-zero"),
        (("near;maxDistance==10", "Polygon", SQUARE), "geometry", "from a Point; got geometry Polygon"),
        (("within", "Box", SQUARE), "geometry", "unknown geometry 'Box'"),
        (("within", "GeometryCollection", "[]"), "geometry", "unknown geometry"),
        (("intersects", "Point", "[0,"), "coordinates", "must be a JSON array"),
        (("intersects", "Point", "0,0"), "coordinates", "must be a JSON array"),
        (("intersects", "Point", '"[0,0]"'), "coordinates", "must be a JSON array"),
        (("intersects", "Point", "[NaN,0]"), "coordinates", "NaN is not a JSON number"),
        (("intersects", "Point", "[0]"), "coordinates", "2 or 3 numbers"),
        (("intersects", "Point", "[0,0,0,0]"), "coordinates", "2 or 3 numbers"),
        (("intersects", "Point", '[0,"1"]'), "coordinates", "finite number"),
        (("near;maxDistance==1000", "Point", "[181,0]"), "coordinates", "longitude 181 is outside"),
        (("intersects", "Point", "[0,-90.5]"), "coordinates", "latitude -90.5 is outside"),
        (("intersects", "LineString", "[[0,0]]"), "coordinates", "at least 2 positions"),
        (("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]"), "coordinates", "must be closed"),
        (("within", "Polygon", "[[[0,0],[1,0],[0,0]]]"), "coordinates", "at least 4 positions; got 3"),
        (("within", "Polygon", "[]"), "coordinates", "exterior ring"),
        (("within", "Polygon", "[[[0,0],[1,1],[1,0],[0,1],[0,0]]]"), "coordinates", "Self-intersection"),
        (("intersects", "MultiPoint", "[]"), "coordinates", "must not be empty"),
        (("within", "Polygon", SQUARE, "bad name"), "geoproperty", "attribute name"),
        (("within", "Polygon", SQUARE, ""), "geoproperty", "attribute name"),
    ],
)
def test_errors_name_the_parameter_and_the_fault(args, parameter, fragment):
    error = _error(*args)
    assert error.parameter == parameter
    assert fragment in error.message
    assert str(error).startswith(f"{parameter}: ")


def test_coordinate_errors_point_at_the_position():
    error = _error("within", "Polygon", "[[[0,0],[10,0],[10,100],[0,0]]]")
    assert error.message == "latitude 100 is outside [-90, 90] at /0/2/1"


def test_geoq_json_form_with_array_or_text_coordinates():
    as_array = parse_geoq({"geometry": "Point", "coordinates": [4.47, 51.92], "georel": "near;maxDistance==500"})
    as_text = parse_geoq({"geometry": "Point", "coordinates": "[4.47, 51.92]", "georel": "near;maxDistance==500"})
    assert as_array == as_text
    assert hash(as_array) == hash(as_text)
    assert as_array.max_distance == 500.0
    custom = parse_geoq({"geometry": "Polygon", "coordinates": SQUARE, "georel": "within", "geoproperty": "operationSpace"})
    assert custom.geoproperty == "operationSpace"


def test_geoq_round_trips_through_its_json_form():
    query = parse_geo_query("near;minDistance==250.5", "Point", "[4.47,51.92]", "observationSpace")
    assert query.to_geoq() == {
        "geometry": "Point",
        "coordinates": [4.47, 51.92],
        "georel": "near;minDistance==250.5",
        "geoproperty": "observationSpace",
    }
    assert parse_geoq(query.to_geoq()) == query


def test_queries_with_different_reference_geometries_differ():
    first = parse_geo_query("within", "Polygon", SQUARE)
    second = parse_geo_query("within", "Polygon", "[[[0,0],[5,0],[5,5],[0,0]]]")
    assert first != second
    assert len({first, second, parse_geo_query("within", "Polygon", SQUARE)}) == 2
    assert isinstance(first, GeoQuery)


@pytest.mark.parametrize(
    ("geoq", "parameter", "fragment"),
    [
        ("near", "geoQ", "JSON object"),
        ({"geometry": "Point", "coordinates": [0, 0]}, "georel", "georel is required"),
        ({"georel": "within", "coordinates": [0, 0]}, "geometry", "geometry is required"),
        ({"georel": "within", "geometry": "Point"}, "coordinates", "coordinates is required"),
        ({"georel": "within", "geometry": "Point", "coordinates": [0, 0], "coords": 1}, "coords", "unknown member"),
        ({"georel": 5, "geometry": "Point", "coordinates": [0, 0]}, "georel", "must be a string"),
        ({"georel": "within", "geometry": ["Point"], "coordinates": [0, 0]}, "geometry", "must be a string"),
        ({"georel": "within", "geometry": "Point", "coordinates": {"x": 0}}, "coordinates", "JSON array or its text"),
        ({"georel": "within", "geometry": "Point", "coordinates": [0, 0], "geoproperty": 3}, "geoproperty", "attribute name"),
    ],
)
def test_geoq_errors(geoq, parameter, fragment):
    with pytest.raises(GeoQueryError) as caught:
        parse_geoq(geoq)
    assert caught.value.parameter == parameter
    assert fragment in caught.value.message
