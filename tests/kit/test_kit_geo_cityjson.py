"""Building plans read from CityJSON: the real Rotterdam (2.0) and The Hague (1.1) LoD2 files, and
small files built here for what those do not carry."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pyproj
import pytest
import shapely
from shapely.geometry import shape

from mims.kit.geo.cityjson import CityJSONError, read_cityjson
from ppi_schemas import validate

DATA = Path(__file__).resolve().parents[1] / "permit_check" / "data" / "cityjson"
ROTTERDAM = DATA / "rotterdam_delfshaven_lod2.city.json"
DEN_HAAG = DATA / "den_haag_lod2.city.json"


def valid(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for plan in plans:
        assert validate(plan, "building-plan@1.0.0") == [], plan
    return plans


def by_object(plans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {plan["source"]["object"]: plan for plan in plans}


def shoelace(points: list[list[float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]))) / 2


def real_vertices(document: dict[str, Any], ring: list[int]) -> list[list[float]]:
    scale, translate = document["transform"]["scale"], document["transform"]["translate"]
    return [[document["vertices"][i][k] * scale[k] + translate[k] for k in range(2)] for i in ring]


def test_rotterdam_cityjson_2_gives_one_plan_per_building_measured_above_the_terrain_attribute() -> None:
    document = json.loads(ROTTERDAM.read_text())
    plans = by_object(valid(read_cityjson(ROTTERDAM.read_bytes(), crs="EPSG:7415")))
    assert len(plans) == 16 and all(plan["crs"] == "EPSG:28992" for plan in plans.values())
    building_id = "{C9D4A5CF-094A-47DA-97E4-4A3BFD75D3AE}"
    plan = plans[building_id]
    # the highest roof is at 15.211 m NAP, the terrain at 3.03 m (the walls reach down to 0 m)
    assert plan["height"] == pytest.approx(15.211 - 3.03, abs=0.001)
    geometry = document["CityObjects"][building_id]["geometry"][0]
    ground = [surface for surface, value in zip(geometry["boundaries"], geometry["semantics"]["values"])
              if geometry["semantics"]["surfaces"][value]["type"] == "GroundSurface"]
    assert len(ground) == 1
    footprint = shape(plan["footprint"])
    assert footprint.area == pytest.approx(shoelace(real_vertices(document, ground[0][0])), abs=0.01)
    assert footprint.bounds[0] > 90409 and footprint.bounds[1] > 435440  # in RD, de-quantised
    assert plan["roofType"] == "flat"  # stepped, but every roof surface is horizontal
    pitched = [p for p in plans.values() if p["roofType"] == "pitched"]
    assert [p["source"]["object"][:9] for p in pitched] == ["{23D8CA22"]
    assert "eavesHeight" not in plan and "storeysAboveGround" not in plan


def test_den_haag_cityjson_1_1_gives_plans_for_buildings_and_their_parts_with_eaves() -> None:
    plans = by_object(valid(read_cityjson(DEN_HAAG.read_bytes(), crs="urn:ogc:def:crs:EPSG::7415")))
    assert len(plans) == 12
    part = plans["GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4_1"]
    # ground surface at 3.451 m, flat roof at 12.871 m; the file says RelativeEavesHeight 9.419
    assert part["height"] == pytest.approx(9.42, abs=0.001)
    assert part["eavesHeight"] == pytest.approx(12.871 - 3.451, abs=0.001)
    assert part["roofType"] == "flat"
    gabled = plans["GUID_3D7D60B9-8F3A-4D3B-A3E5-CD9B5565A5B2"]
    assert gabled["roofType"] == "pitched" and gabled["eavesHeight"] == pytest.approx(6.148, abs=0.002)
    assert gabled["height"] == pytest.approx(14.739 - 5.232, abs=0.001)

    building = plans["GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4"]  # no geometry of its own
    parts = [plans[f"GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4_{n}"] for n in (1, 2)]
    union = shapely.union_all([shape(p["footprint"]) for p in parts])
    assert shape(building["footprint"]).area == pytest.approx(union.area, abs=0.01)
    assert building["height"] == pytest.approx(12.871 - 3.451, abs=0.001)  # highest top above lowest ground
    assert building["eavesHeight"] == pytest.approx(max(12.871, 10.075) - 3.451, abs=0.001)
    mixed = plans["GUID_13974D93-CB4F-4B5A-AB1E-577DD9928CF2"]  # a hipped part and two flat parts
    assert mixed["roofType"] == "other"


def test_the_reference_system_in_the_file_is_used_and_its_absence_is_refused() -> None:
    document = json.loads(ROTTERDAM.read_text())
    with pytest.raises(CityJSONError, match="referenceSystem") as refused:
        read_cityjson(document)
    assert refused.value.pointer == "/metadata/referenceSystem"
    assert refused.value.problem().status == 422
    document["metadata"] = {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/7415"}
    assert read_cityjson(document) == read_cityjson(ROTTERDAM.read_bytes(), crs="EPSG:7415")
    document["metadata"] = {"referenceSystem": "local engineering grid"}
    with pytest.raises(CityJSONError, match="not an EPSG CRS"):
        read_cityjson(document)
    document["metadata"] = {"referenceSystem": "EPSG:999999"}
    with pytest.raises(CityJSONError, match="unknown EPSG code 999999"):
        read_cityjson(document)
    document["metadata"] = {"referenceSystem": "urn:ogc:def:crs:EPSG::25832"}  # RD numbers as UTM 32N
    with pytest.raises(CityJSONError, match="outside the Netherlands") as outside:
        read_cityjson(document)
    assert outside.value.pointer.startswith("/CityObjects/")


def box(x0: float, y0: float, size: float, base: float, top: float, roof_rise: float = 0.0) -> dict[str, Any]:
    """A CityJSON 2.0 file in RD + NAP (scale 1 cm) with one Building: a square box whose roof rises
    ``roof_rise`` from the west to the east edge."""
    corners = [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size)]
    rise = [0, roof_rise, roof_rise, 0]
    vertices = [[round((x - 80000) * 100), round((y - 450000) * 100), round(base * 100)] for x, y in corners]
    vertices += [[round((x - 80000) * 100), round((y - 450000) * 100), round((top + r) * 100)] for (x, y), r in zip(corners, rise)]
    shell = [[[3, 2, 1, 0]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]], [[3, 0, 4, 7]]]
    return {
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [0.01, 0.01, 0.01], "translate": [80000, 450000, 0]},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/7415"},
        "vertices": vertices,
        "CityObjects": {"house": {
            "type": "Building",
            "attributes": {"b3_h_maaiveld": base + 0.5, "b3_h_dak_min": top, "b3_bouwlagen": 3, "name": "Huis"},
            "geometry": [{"type": "Solid", "lod": "2.2", "boundaries": [shell], "semantics": {
                "surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}],
                "values": [[0, 1, 2, 2, 2, 2]]}}]}},
    }


def test_a_quantised_solid_with_3d_bag_attributes() -> None:
    [plan] = valid(read_cityjson(box(85000.0, 445000.0, 10.0, base=-1.0, top=9.0, roof_rise=0.1)))
    footprint = shape(plan["footprint"])
    assert footprint.area == pytest.approx(100.0) and footprint.bounds == pytest.approx((85000, 445000, 85010, 445010))
    assert plan["height"] == pytest.approx(9.1 - (-0.5))  # terrain from b3_h_maaiveld, not the lowest vertex
    assert plan["eavesHeight"] == pytest.approx(9.0 - (-0.5))
    assert plan["storeysAboveGround"] == 3 and plan["name"] == "Huis"
    assert plan["roofType"] == "flat"  # a 0.6 degree slope drains water; the roof is flat
    [steep] = read_cityjson(box(85000.0, 445000.0, 10.0, base=-1.0, top=9.0, roof_rise=3.0))
    assert steep["roofType"] == "pitched"


def test_without_ground_surfaces_the_footprint_comes_from_lod0_or_the_projection() -> None:
    document = box(85000.0, 445000.0, 10.0, base=0.0, top=6.0)
    building = document["CityObjects"]["house"]
    del building["geometry"][0]["semantics"]
    building["attributes"] = {}
    [projected] = read_cityjson(copy.deepcopy(document))
    assert shape(projected["footprint"]).area == pytest.approx(100.0)
    assert projected["height"] == pytest.approx(6.0) and "roofType" not in projected
    document["vertices"] += [[500000, -500000, 0], [500400, -500000, 0], [500400, -499800, 0]]
    building["geometry"].append({"type": "MultiSurface", "lod": "0", "boundaries": [[[8, 9, 10]]]})
    [lod0] = read_cityjson(document)
    assert shape(lod0["footprint"]).area == pytest.approx(4 * 2 / 2)
    assert shape(lod0["footprint"]).bounds[:2] == pytest.approx((85000, 445000))


def test_a_building_placed_as_a_geometry_template_instance() -> None:
    document = box(0.0, 0.0, 1.0, base=0.0, top=1.0)  # a unit cube, as template
    template = document["CityObjects"]["house"]["geometry"][0]
    document["geometry-templates"] = {
        "templates": [template], "vertices-templates": [[v[0] / 100 + 80000, v[1] / 100 + 450000, v[2] / 100]
                                                        for v in document["vertices"]]}
    document["vertices"] = [[500000, -500000, 150]]  # the reference point: (85000, 445000, 1.5)
    document["CityObjects"]["house"]["attributes"] = {}
    document["CityObjects"]["house"]["geometry"] = [{
        "type": "GeometryInstance", "template": 0, "boundaries": [0],
        "transformationMatrix": [10, 0, 0, 0, 0, 10, 0, 0, 0, 0, 6, 0, 0, 0, 0, 1]}]
    [plan] = valid(read_cityjson(document))
    assert shape(plan["footprint"]).bounds == pytest.approx((85000, 445000, 85010, 445010))
    assert plan["height"] == pytest.approx(6.0) and plan["roofType"] == "flat"


def test_a_crs_other_than_rd_is_transformed_to_rd() -> None:
    document = box(85000.0, 445000.0, 10.0, base=0.0, top=6.0)
    to_utm = pyproj.Transformer.from_crs("EPSG:28992", "EPSG:25831", always_xy=True)
    document["transform"] = {"scale": [0.001, 0.001, 0.001], "translate": [0, 0, 0]}
    for vertex in document["vertices"]:
        x, y = to_utm.transform(vertex[0] / 100 + 80000, vertex[1] / 100 + 450000)
        vertex[:2] = [round(x * 1000), round(y * 1000)]
        vertex[2] *= 10
    document["metadata"]["referenceSystem"] = "https://www.opengis.net/def/crs/EPSG/0/25831"
    [plan] = read_cityjson(document)
    assert plan["crs"] == "EPSG:28992"
    assert shape(plan["footprint"]).bounds == pytest.approx((85000, 445000, 85010, 445010), abs=0.01)
    assert plan["height"] == pytest.approx(6.0 - 0.5)


@pytest.mark.parametrize(("change", "pointer", "message"), [
    (lambda d: d.update(version="1.0"), "/version", "version 1.0 is not supported"),
    (lambda d: d.update(type="FeatureCollection"), "/type", "not a CityJSON file"),
    (lambda d: d.pop("transform"), "/transform", "transform"),
    (lambda d: d["CityObjects"]["house"].update(type="Bridge"), "/CityObjects", "no Building"),
    (lambda d: d["CityObjects"]["house"]["attributes"].update(b3_bouwlagen="drie"),
     "/CityObjects/house/attributes/b3_bouwlagen", "must be a number"),
    (lambda d: d["CityObjects"]["house"]["attributes"].update(b3_bouwlagen=2.5),
     "/CityObjects/house/attributes", "not a whole number"),
    (lambda d: d["CityObjects"]["house"]["geometry"][0]["boundaries"][0][0][0].append(99),
     "/CityObjects/house/geometry", "malformed geometry"),
    (lambda d: d["CityObjects"]["house"].update(geometry=[]), "/CityObjects/house", "no surface geometry"),
    (lambda d: d["CityObjects"]["house"]["attributes"].update(b3_h_maaiveld=20.0),
     "/CityObjects/house/attributes", "above the highest point"),
])
def test_unusable_files_are_refused_saying_what_and_where(change: Any, pointer: str, message: str) -> None:
    document = box(85000.0, 445000.0, 10.0, base=0.0, top=6.0)
    change(document)
    with pytest.raises(CityJSONError, match=message) as refused:
        read_cityjson(document)
    assert refused.value.pointer == pointer
    assert isinstance(refused.value, ValueError)


def test_bytes_that_are_not_json_are_refused() -> None:
    with pytest.raises(CityJSONError, match="not JSON"):
        read_cityjson(b"<CityModel/>")
