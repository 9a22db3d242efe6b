"""A stored check's site read once into shapes in EPSG:28992, which the HTML report's map and the
GeoJSON site both draw: the footprint, the parcel (the twin's, else the one the plan gave, in
either CRS), the zoning features and the evidence; what cannot be read is left out."""

from __future__ import annotations

from typing import Any

import pyproj
import pytest
import shapely
from shapely.geometry import box, mapping, shape

from mims.kit.geo.plan_input import to_wgs84
from mims.permit_check import report
from mims.permit_check.site import site_collection, site_shapes

FOOTPRINT = box(82145, 429333, 82152, 429340)
PLAN_PARCEL = box(82141, 429329, 82156, 429344)
TWIN_PARCEL = box(82140, 429328, 82157, 429345)
PLANE = box(82130, 429320, 82170, 429360)
LONLAT = pyproj.Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)


def lonlat(geometry: shapely.Geometry) -> dict[str, Any]:
    return mapping(shapely.transform(geometry, lambda xy: list(zip(*LONLAT.transform(*xy.T)))))


def decision(evidence: shapely.Geometry | None = None) -> dict[str, Any]:
    result = {"rule": "within-building-plane", "verdict": "fail" if evidence else "pass",
              "title": {"nl": "Binnen het bouwvlak", "en": "Inside the building plane"}, "comparator": "<=",
              "explanation": {"nl": "", "en": ""}}
    return {"verdict": "non-compliant" if evidence else "compliant", "checkedAt": "2026-01-01T00:00:00Z",
            "ruleSet": {"municipality": "default", "version": "1"}, "inputHash": "0" * 64,
            "results": [{**result, "evidence": mapping(evidence)} if evidence else result]}


def site(crs: str = "EPSG:28992", twin_parcel: bool = False) -> dict[str, Any]:
    given = lonlat if crs == "EPSG:4326" else mapping
    return {"plan": {"crs": crs, "footprint": given(FOOTPRINT),
                     "parcel": {"reference": "SPK01-A-2", "geometry": given(PLAN_PARCEL)}},
            "features": [{"id": "plane", "kind": "bouwvlak", "geometry": mapping(PLANE), "maxHeight": 34},
                         {"id": "unreadable", "kind": "bouwvlak", "geometry": {"type": "Polygon"}}],
            "parcel": {"reference": "SPK01-A-1", "geometry": mapping(TWIN_PARCEL)} if twin_parcel else None}


@pytest.mark.parametrize("crs", ["EPSG:28992", "EPSG:4326"])
def test_the_plan_parcel_is_used_in_rd_when_the_twin_has_none(crs: str) -> None:
    shapes = site_shapes(decision(), site(crs))
    assert shapes.footprint is not None and shapes.footprint.hausdorff_distance(FOOTPRINT) < 0.001  # m
    assert shapes.parcel is not None and shapes.parcel.hausdorff_distance(PLAN_PARCEL) < 0.001
    assert shapes.parcel_reference == "SPK01-A-2"
    assert [z.source["id"] for z in shapes.zoning] == ["plane"] and shapes.evidence == []


def test_the_twin_parcel_comes_before_the_plan_one() -> None:
    shapes = site_shapes(decision(), site("EPSG:4326", twin_parcel=True))
    assert shapes.parcel is not None and shapes.parcel.equals(TWIN_PARCEL)
    assert shapes.parcel_reference == "SPK01-A-1"


def test_the_geojson_site_and_the_report_map_draw_the_same_shapes() -> None:
    evidence = box(82150, 429333, 82152, 429340)
    stored = site("EPSG:4326")
    features = site_collection(decision(evidence), stored)["features"]
    by_layer = {f["properties"]["layer"]: f for f in features}
    assert [f["properties"]["layer"] for f in features] == ["footprint", "parcel", "zoning", "evidence"]
    assert by_layer["parcel"]["properties"]["reference"] == "SPK01-A-2"
    assert by_layer["zoning"]["properties"] == {"layer": "zoning", "id": "plane", "kind": "bouwvlak"}
    assert by_layer["evidence"]["properties"] == {"layer": "evidence", "rule": "within-building-plane",
                                                  "verdict": "fail"}
    shapes = site_shapes(decision(evidence), stored)
    for layer, geometry in (("footprint", shapes.footprint), ("parcel", shapes.parcel), ("evidence", evidence)):
        assert geometry is not None
        assert shape(by_layer[layer]["geometry"]).equals_exact(to_wgs84(geometry), 1e-9), layer
    drawn = {layer.key for layer in report.map_layers(shapes)["layers"]}
    assert drawn == {"plane", "parcel", "footprint", "evidence"}
    html = report.render("c" * 32, decision(evidence), stored, "en")
    assert "Building plan (footprint): 49 m²." in html


def test_a_site_without_readable_geometry_draws_nothing() -> None:
    shapes = site_shapes({"results": [{"rule": "x", "evidence": {"type": "Point"}}]},
                         {"plan": {"footprint": {"type": "Polygon", "coordinates": "no"}}, "parcel": {}})
    assert (shapes.footprint, shapes.parcel, shapes.zoning, shapes.evidence) == (None, None, [], [])
    assert site_collection({}, {}) == {"type": "FeatureCollection", "features": []}
