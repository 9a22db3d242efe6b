"""The permit check's rules: known answers on the real Spijkenisse and Whemedreef (Arnhem) plans and a
real Rotterdam parcel, boundary values for every limit, the plan-status filter, missing data, rule sets and the input hash.
Every expected number below was computed by hand from the coordinates and values stated."""

from __future__ import annotations

import copy
import json
import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyproj
import pytest
import shapely
from shapely.geometry import Polygon, box, mapping, shape

import ppi_schemas
from mims.kit.geo.imro import read_plan
from mims.kit.problems import ProblemError
from mims.permit_check.rules import check
from mims.permit_check.ruleset import (
    RuleSetError,
    load_ruleset,
    municipalities,
    validate_ruleset,
)

DATA = Path(__file__).resolve().parent / "data"
SPIJKENISSE = DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml"
PLAN_ID = "NL.IMRO.1930.BPRaadhuislaanSP-1001"
BOUWVLAK = "NL.IMRO.7e528d458cf44250b6e625300991d66a"
HEIGHT_34 = "NL.IMRO.320fe708e40d468d91cac3a889f428f1"  # maatvoering "maximum bouwhoogte (m)" 34
HEIGHT_30 = "NL.IMRO.423fb19b14554561bdad98c9410245b5"  # maatvoering "maximum bouwhoogte (m)" 30
IN_FORCE = {PLAN_ID: {"status": "vastgesteld"}}
# A 7 m x 7 m block well inside the bouwvlak and inside the 34 m maatvoering only (its nearest
# bouwvlak edge is 1.80 m away); a parcel 5 m around it.
BLOCK = box(82145, 429333, 82152, 429340)
BLOCK_PARCEL = {"reference": "SPK01-A-1", "geometry": mapping(box(82140, 429328, 82157, 429345))}


def geojson(geometry: shapely.Geometry) -> dict[str, Any]:
    return json.loads(json.dumps(mapping(geometry)))


def building(footprint: shapely.Geometry, **members: Any) -> dict[str, Any]:
    plan = {"footprint": geojson(footprint), "height": 30.0, "storeysAboveGround": 9,
            "functions": [{"function": "wonen", "grossFloorArea": 400.0}], "dwellings": 4,
            "parkingSpaces": 4, "roofType": "flat"}
    return {**plan, **members}


def decide(plan: dict[str, Any], features: list[dict[str, Any]], parcel: dict[str, Any] | None = None,
           municipality: str = "default", plan_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    decision = check(plan, features, parcel, load_ruleset(municipality),
                     plan_meta=IN_FORCE if plan_meta is None else plan_meta)
    assert ppi_schemas.validate(decision, "permit-decision@1.0.0") == []
    for result in decision["results"]:
        assert result["explanation"]["nl"] and result["explanation"]["en"]
        assert result["explanation"]["nl"] != result["explanation"]["en"]
    return decision


def result(decision: dict[str, Any], rule: str) -> dict[str, Any]:
    [found] = [r for r in decision["results"] if r["rule"] == rule]
    return found


@pytest.fixture(scope="module")
def spijkenisse() -> dict[str, Any]:
    return read_plan(SPIJKENISSE)


# -- known answers on the real Spijkenisse plan -----------------------------------------------------


def test_a_plan_inside_the_building_plane_and_under_the_height_limit_is_compliant(spijkenisse):
    decision = decide(building(BLOCK, height=30.0), spijkenisse["features"], BLOCK_PARCEL)
    assert decision["verdict"] == "compliant"
    height = result(decision, "max-height")
    assert (height["verdict"], height["measured"], height["limit"], height["comparator"]) == (
        "pass", {"value": 30.0, "unit": "m"}, {"value": 34, "unit": "m"}, "<=")
    assert height["legalReference"] == {"plan": PLAN_ID, "article": "3"}
    assert height["explanation"]["nl"] == "De bouwhoogte is 30 m; ten hoogste 34 m is toegestaan. Dit voldoet."
    plane = result(decision, "within-building-plane")
    assert (plane["verdict"], plane["measured"]["value"], plane["evidence"]) == ("pass", 0, None)
    assert plane["legalReference"] == {"plan": PLAN_ID, "article": "3"}
    use = result(decision, "use-versus-zoning")
    assert use["verdict"] == "pass" and "Gemengd - 1" in use["explanation"]["en"]
    # the parcel: 17 m x 17 m = 289 m2, the block 49 m2: 16.96 %; 5 m from every side
    assert result(decision, "within-parcel")["verdict"] == "pass"
    assert result(decision, "max-coverage")["verdict"] == "not-applicable"  # the plan sets none
    assert result(decision, "roof-type")["verdict"] == "not-applicable"


def test_a_plan_exactly_at_the_height_limit_passes_and_one_centimetre_more_fails(spijkenisse):
    at_limit = result(decide(building(BLOCK, height=34.0), spijkenisse["features"], BLOCK_PARCEL), "max-height")
    assert at_limit["verdict"] == "pass"
    decision = decide(building(BLOCK, height=34.01), spijkenisse["features"], BLOCK_PARCEL)
    too_tall = result(decision, "max-height")
    assert decision["verdict"] == "non-compliant"
    assert (too_tall["verdict"], too_tall["measured"], too_tall["limit"]) == (
        "fail", {"value": 34.01, "unit": "m"}, {"value": 34, "unit": "m"})
    assert too_tall["explanation"]["nl"] == "De bouwhoogte is 34,01 m; ten hoogste 34 m is toegestaan. Dit voldoet niet."
    assert too_tall["explanation"]["en"] == "The building height is 34.01 m; at most 34 m is allowed. This does not comply."


def test_a_footprint_over_two_height_areas_gets_the_lower_limit(spijkenisse):
    # 82150..82160 x 429357..429362 lies partly in the 30 m and partly in the 34 m maatvoering
    footprint = box(82150, 429357, 82160, 429362)
    by_id = {f["id"]: shape(f["geometry"]) for f in spijkenisse["features"]}
    assert footprint.intersection(by_id[HEIGHT_30]).area > 1 and footprint.intersection(by_id[HEIGHT_34]).area > 1
    height = result(decide(building(footprint, height=31.0), spijkenisse["features"]), "max-height")
    assert (height["verdict"], height["limit"]) == ("fail", {"value": 30, "unit": "m"})


def edge_rectangle(along: tuple[float, float], across: tuple[float, float]) -> Polygon:
    """A rectangle on the bouwvlak edge A=(82171.925, 429326.008) -> B=(82163.445, 429336.205):
    ``along`` metres from A along the edge, ``across`` metres across it (positive: outward)."""
    a, b = (82171.925, 429326.008), (82163.445, 429336.205)
    length = math.dist(a, b)
    u = ((b[0] - a[0]) / length, (b[1] - a[1]) / length)
    n = (u[1], -u[0])  # the outward normal: the bouwvlak lies to the left of A -> B

    def point(s: float, t: float) -> tuple[float, float]:
        return a[0] + u[0] * s + n[0] * t, a[1] + u[1] * s + n[1] * t

    return Polygon([point(along[0], across[0]), point(along[1], across[0]),
                    point(along[1], across[1]), point(along[0], across[1])])


def test_a_plan_that_overhangs_the_building_plane_fails_with_the_part_outside(spijkenisse):
    # 8 m along the edge, 6 m inside and 2 m outside; with the 0.05 m tolerance 8 x 1.95 = 15.6 m2
    footprint = edge_rectangle((2, 10), (-6, 2))
    decision = decide(building(footprint), spijkenisse["features"])
    plane = result(decision, "within-building-plane")
    assert decision["verdict"] == "non-compliant"
    assert (plane["verdict"], plane["measured"], plane["limit"]) == (
        "fail", {"value": 15.6, "unit": "m2"}, {"value": 0, "unit": "m2"})
    evidence = shape(plane["evidence"])
    assert evidence.area == pytest.approx(15.6, abs=0.01)
    assert evidence.symmetric_difference(edge_rectangle((2, 10), (0.05, 2))).area < 0.01
    assert plane["explanation"]["nl"].startswith("15,6 m² van het bouwwerk ligt buiten het bouwvlak")
    assert plane["explanation"]["en"].startswith("15.6 m² of the building lies outside the building plane")


def test_a_multipolygon_footprint_is_measured_as_a_whole(spijkenisse):
    # the 7 m x 7 m block inside plus the overhanging 8 m x 8 m rectangle: 49 + 64 = 113 m2
    footprint = shapely.MultiPolygon([BLOCK, edge_rectangle((2, 10), (-6, 2))])
    assert footprint.area == pytest.approx(113)
    plane = result(decide(building(footprint), spijkenisse["features"]), "within-building-plane")
    assert (plane["verdict"], plane["measured"]["value"]) == ("fail", 15.6)


def test_a_plan_on_the_building_plane_edge_passes_within_the_tolerance(spijkenisse):
    on_edge = result(decide(building(edge_rectangle((2, 10), (-6, 0))), spijkenisse["features"]), "within-building-plane")
    assert (on_edge["verdict"], on_edge["measured"]["value"]) == ("pass", 0)
    inside_tolerance = edge_rectangle((2, 10), (-6, 0.04))
    assert result(decide(building(inside_tolerance), spijkenisse["features"]), "within-building-plane")["verdict"] == "pass"


def test_a_plan_in_wgs84_is_transformed_and_gets_the_same_answer(spijkenisse):
    to_wgs84 = pyproj.Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)
    footprint = shapely.transform(edge_rectangle((2, 10), (-6, 2)), lambda xy: list(zip(*to_wgs84.transform(*xy.T))))
    plan = {**building(footprint), "crs": "EPSG:4326"}
    plane = result(decide(plan, spijkenisse["features"]), "within-building-plane")
    assert plane["verdict"] == "fail" and plane["measured"]["value"] == pytest.approx(15.6, abs=0.01)
    assert 82160 < shape(plane["evidence"]).centroid.x < 82180  # evidence in EPSG:28992


# -- the plan-status filter ------------------------------------------------------------------------


def test_the_plan_status_filter_keeps_only_plans_in_force(spijkenisse):
    features = spijkenisse["features"]
    # the file as published is a voorontwerp: a draft, no legal force, so nothing counts
    assert spijkenisse["status"] == "voorontwerp"
    draft = decide(building(BLOCK, height=50.0), features, BLOCK_PARCEL, plan_meta={PLAN_ID: spijkenisse})
    assert draft["verdict"] == "insufficient-data"
    height = result(draft, "max-height")
    assert (height["verdict"], height["limit"], height["legalReference"]) == ("insufficient-data", None, None)
    assert height["explanation"]["en"] == "No adopted zoning plan is known at this location."
    for status in ("concept", "ontwerp", "vervallen", None):
        meta = {PLAN_ID: {"status": status}}
        assert result(decide(building(BLOCK, height=50.0), features, plan_meta=meta), "max-height")["verdict"] == "insufficient-data"
    for status in ("vastgesteld", "geconsolideerd"):
        meta = {PLAN_ID: {"status": status}}
        assert result(decide(building(BLOCK, height=50.0), features, plan_meta=meta), "max-height")["verdict"] == "fail"


def test_a_stricter_draft_plan_at_the_same_place_is_ignored_until_it_is_adopted(spijkenisse):
    draft = copy.deepcopy(next(f for f in spijkenisse["features"] if f["id"] == HEIGHT_34))
    draft["id"] = "NL.IMRO.draft-height"
    draft["cites"] = {"plan": "NL.IMRO.1930.BPDraft-0001", "article": "7"}
    draft["measurements"][0]["value"] = 20
    features = spijkenisse["features"] + [draft]
    meta = {**IN_FORCE, "NL.IMRO.1930.BPDraft-0001": {"status": "ontwerp"}}
    assert result(decide(building(BLOCK), features, plan_meta=meta), "max-height")["limit"]["value"] == 34
    # the status may also travel on the feature itself
    adopted = [*spijkenisse["features"], {**draft, "planStatus": "vastgesteld"}]
    height = result(decide(building(BLOCK), adopted, plan_meta=meta), "max-height")
    assert (height["verdict"], height["limit"]["value"]) == ("fail", 20)
    assert height["legalReference"] == {"plan": "NL.IMRO.1930.BPDraft-0001", "article": "7"}


# -- known answers on the real Whemedreef plan (NL.IMRO.0202.974-0301, Arnhem, vastgesteld) ---------
# Its bouwvlak NL.IMRO.0202.BP1488278860-00 is a quadrilateral with the corners B = (191181.504,
# 441510.82) and A = (191199.716, 441531.673) on its north-east side; the maatvoering
# NL.IMRO.0202.MP2488278879-00 over the same area allows 13 m; the enkelbestemming around it is Wonen
# (article 7). The block 191178..191186 x 441524..441532 (8 m x 8 m) lies inside: at y = 441524 the
# north-east side is at x = 191181.504 + 18.212 / 20.853 x 13.18 = 191193.015, and the other sides
# are at least 3 m away.

WHEMEDREEF = DATA / "NL.IMRO.0202.974-0301.gml"
WHEMEDREEF_BLOCK = box(191178, 441524, 191186, 441532)
WHEMEDREEF_PARCEL = {"geometry": mapping(box(191176, 441522, 191188, 441534))}


@pytest.fixture(scope="module")
def whemedreef() -> dict[str, Any]:
    plan = read_plan(WHEMEDREEF)
    assert plan["status"] == "vastgesteld"
    return plan


def whemedreef_decision(plan: dict[str, Any], footprint: shapely.Geometry, height: float) -> dict[str, Any]:
    house = building(footprint, height=height, storeysAboveGround=3, dwellings=1, parkingSpaces=1,
                     functions=[{"function": "wonen", "grossFloorArea": 150.0}], parcel=WHEMEDREEF_PARCEL)
    return decide(house, plan["features"], plan_meta={plan["id"]: plan})


@pytest.mark.parametrize("height", [12.0, 13.0])
def test_whemedreef_a_house_inside_the_building_plane_up_to_13_m_is_compliant(whemedreef, height):
    decision = whemedreef_decision(whemedreef, WHEMEDREEF_BLOCK, height)
    assert decision["verdict"] == "compliant"
    tall = result(decision, "max-height")
    assert (tall["verdict"], tall["measured"], tall["limit"], tall["comparator"]) == (
        "pass", {"value": height, "unit": "m"}, {"value": 13, "unit": "m"}, "<=")
    assert tall["legalReference"] == {"plan": "NL.IMRO.0202.974-0301", "article": "7"}
    assert result(decision, "within-building-plane")["measured"] == {"value": 0, "unit": "m2"}
    assert result(decision, "use-versus-zoning")["verdict"] == "pass"


def test_whemedreef_a_house_of_13_5_m_is_too_tall(whemedreef):
    decision = whemedreef_decision(whemedreef, WHEMEDREEF_BLOCK, 13.5)
    assert decision["verdict"] == "non-compliant"
    tall = result(decision, "max-height")
    assert (tall["verdict"], tall["measured"], tall["limit"]) == ("fail", {"value": 13.5, "unit": "m"}, {"value": 13, "unit": "m"})
    assert [r["rule"] for r in decision["results"] if r["verdict"] == "fail"] == ["max-height"]


def test_whemedreef_a_house_over_the_north_east_side_fails_with_the_part_outside(whemedreef):
    # 191186..191198 x 441524..441528 crosses side B-A. Outside the side moved out by the 0.05 m
    # tolerance (0.05 / sin 48.87 deg = 0.0664 m further east): at y = 441524 from 191193.081, at
    # y = 441528 from 191196.575 (191181.504 + 0.87335 x 17.18 + 0.0664) to x = 191198: a trapezoid
    # (4.919 + 1.425) / 2 x 4 m = 12.69 m2. The part outside lies on Groen, which allows no wonen.
    decision = whemedreef_decision(whemedreef, box(191186, 441524, 191198, 441528), 12.0)
    assert decision["verdict"] == "non-compliant"
    plane = result(decision, "within-building-plane")
    assert (plane["verdict"], plane["measured"], plane["limit"]) == ("fail", {"value": 12.69, "unit": "m2"}, {"value": 0, "unit": "m2"})
    assert shape(plane["evidence"]).area == pytest.approx(12.69, abs=0.01)
    assert shape(plane["evidence"]).bounds[2] == pytest.approx(191198)
    use = result(decision, "use-versus-zoning")
    assert use["verdict"] == "fail" and "Groen" in use["explanation"]["en"]
    assert result(decision, "max-height")["verdict"] == "pass"


# -- every limit, at and beyond it (a zoning plan with every measurement) ---------------------------
# The Rotterdam example of PPI zoning-plan@1.0.0: zoning area "Gemengd - 1" (93180..93260 x
# 437040..437100), bouwvlak 93190..93230 x 437050..437090, maatvoering with max height 25 m, eaves
# 21.5 m, coverage 80 %, 7 storeys, 30 dwellings and plat dak; here with a floor space index of 5
# and a setback of at least 1 m added.
# The plan: 24 m x 18 m = 432 m2 at 93200..93224 x 437060..437078 on a 27 m x 20 m = 540 m2 parcel
# 93198.5..93225.5 x 437059..437079: coverage 432 / 540 = 80 %, setback min(1.5, 1) = 1 m,
# gross floor area 2,700 m2: floor space index 2,700 / 540 = 5. Parking (default norm): 30
# dwellings x 1 + 3 per 100 m2 detailhandel x 810 / 100 = 54.3 -> 55 spaces. Business use
# (Rotterdam): detailhandel 810 / 2,700 = 30 %.

FOOTPRINT = box(93200, 437060, 93224, 437078)
PARCEL = {"reference": "RTD04-AH-1", "geometry": mapping(box(93198.5, 437059, 93225.5, 437079))}


@pytest.fixture(scope="module")
def rotterdam() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    example = ppi_schemas.get("zoning-plan@1.0.0").path / "examples" / "valid" / "rotterdam-centre-mixed-use.json"
    plan = json.loads(example.read_text())
    for feature in plan["features"]:
        if feature["kind"] == "maatvoering":
            feature["measurements"] += [
                {"kind": "floor_space_index", "value": 5, "unit": None, "sourceValueType": "maximum floor space index"},
                {"kind": "min_setback", "value": 1, "unit": "m", "sourceValueType": "minimum afstand tot perceelgrens (m)"},
                {"kind": "max_built_area", "value": 440, "unit": "m2", "sourceValueType": "maximum bebouwd oppervlak (m2)"},
                {"kind": "max_floor_area", "value": 2710, "unit": "m2", "sourceValueType": "maximum vloeroppervlakte (m2)"},
                {"kind": "max_parking_spaces", "value": 60, "unit": None, "sourceValueType": "maximum aantal parkeerplaatsen"},
            ]
    assert ppi_schemas.is_valid(plan, "zoning-plan@1.0.0")
    return plan["features"], {plan["id"]: plan}


AT_LIMIT = {"height": 25.0, "eavesHeight": 21.5, "storeysAboveGround": 7, "dwellings": 30, "parkingSpaces": 55,
            "roofType": "flat", "functions": [{"function": "wonen", "grossFloorArea": 1890.0},
                                             {"function": "detailhandel", "grossFloorArea": 810.0}]}


def test_a_plan_at_every_limit_passes(rotterdam):
    features, meta = rotterdam
    decision = decide(building(FOOTPRINT, **AT_LIMIT), features, PARCEL, "rotterdam", meta)
    assert decision["verdict"] == "compliant", [r for r in decision["results"] if r["verdict"] != "pass"]
    expected = {
        "max-height": (25.0, 25), "max-eaves-height": (21.5, 21.5), "max-storeys": (7, 7), "max-dwellings": (30, 30),
        "max-coverage": (80.0, 80), "floor-space-index": (5.0, 5), "min-setback": (1.0, 1), "parking": (55, 55),
        "business-use-share": (30.0, 30), "within-building-plane": (0, 0), "within-parcel": (0, 0),
        "roof-type": ("flat", ["flat"]), "use-versus-zoning": (["detailhandel", "wonen"], None),
        "max-built-area": (432.0, 440), "max-floor-area": (2700.0, 2710), "max-parking-spaces": (55, 60),
    }
    for rule, (measured, limit) in expected.items():
        found = result(decision, rule)
        assert found["verdict"] == "pass", found
        assert found["measured"]["value"] == measured, rule
        if limit is not None:
            assert found["limit"]["value"] == limit, rule
    assert result(decision, "max-coverage")["explanation"]["nl"] == (
        "Het bouwwerk bedekt 80% van het perceel; ten hoogste 80% is toegestaan. Dit voldoet.")
    assert result(decision, "max-height")["legalReference"] == {"plan": "NL.IMRO.0599.BP1059Stadsdriehoek-va01", "article": "5"}
    setback = result(decision, "min-setback")
    assert shape(setback["evidence"]).length == pytest.approx(1.0)


@pytest.mark.parametrize(("rule", "members", "footprint", "measured", "limit"), [
    ("max-height", {"height": 25.01}, None, 25.01, 25),
    ("max-eaves-height", {"eavesHeight": 21.51}, None, 21.51, 21.5),
    ("max-storeys", {"storeysAboveGround": 8}, None, 8, 7),
    ("max-dwellings", {"dwellings": 31, "parkingSpaces": 56}, None, 31, 30),
    # 24.1 m x 18 m = 433.8 m2 on 540 m2: 80.33 %
    ("max-coverage", {}, box(93200, 437060, 93224.1, 437078), 80.33, 80),
    # (1,893 + 810) / 540 = 5.0056 -> 5.01; business use 810 / 2,703 = 29.97 % still passes
    ("floor-space-index", {"functions": [{"function": "wonen", "grossFloorArea": 1893.0},
                                         {"function": "detailhandel", "grossFloorArea": 810.0}]}, None, 5.01, 5),
    # 810 / (1,889 + 810 = 2,699) = 30.01 %
    ("business-use-share", {"functions": [{"function": "wonen", "grossFloorArea": 1889.0},
                                          {"function": "detailhandel", "grossFloorArea": 810.0}]}, None, 30.01, 30),
    # the footprint moved 1 cm south: 0.99 m from the parcel's south side
    ("min-setback", {}, box(93200, 437059.99, 93224, 437077.99), 0.99, 1),
    ("parking", {"parkingSpaces": 54}, None, 54, 55),
    ("max-parking-spaces", {"parkingSpaces": 61}, None, 61, 60),
    ("roof-type", {"roofType": "pitched"}, None, "pitched", ["flat"]),
    ("use-versus-zoning", {"functions": [{"function": "wonen", "grossFloorArea": 2000.0},
                                         {"function": "bedrijf", "grossFloorArea": 700.0}]}, None,
     ["bedrijf", "wonen"], None),
])
def test_a_plan_beyond_one_limit_fails_that_rule_only(rotterdam, rule, members, footprint, measured, limit):
    features, meta = rotterdam
    plan = building(FOOTPRINT if footprint is None else footprint, **{**AT_LIMIT, **members})
    decision = decide(plan, features, PARCEL, "rotterdam", meta)
    failed = [r["rule"] for r in decision["results"] if r["verdict"] == "fail"]
    assert failed == [rule], decision["results"]
    assert decision["verdict"] == "non-compliant"
    found = result(decision, rule)
    assert found["measured"]["value"] == measured
    if limit is not None:
        assert found["limit"]["value"] == limit


@pytest.mark.parametrize(("rule", "members", "footprint", "also", "explanation"), [
    # 24.5 m x 18 m = 441 m2, over the 440 m2 allowed, and 81.67 % of the 540 m2 parcel
    ("max-built-area", {}, box(93200, 437060, 93224.5, 437078), "max-coverage",
     "The building covers 441 m²; at most 440 m² is allowed. This does not comply."),
    # 1,901 + 810 = 2,711 m2, over the 2,710 m2 allowed, and a floor space index of 5.02
    ("max-floor-area", {"functions": [{"function": "wonen", "grossFloorArea": 1901.0},
                                      {"function": "detailhandel", "grossFloorArea": 810.0}]}, FOOTPRINT,
     "floor-space-index", "The gross floor area is 2711 m²; at most 2710 m² is allowed. This does not comply."),
])
def test_an_area_over_its_maximum_fails_that_rule_and_the_relative_one(rotterdam, rule, members, footprint, also,
                                                                       explanation):
    features, meta = rotterdam
    decision = decide(building(footprint, **{**AT_LIMIT, **members}), features, PARCEL, "rotterdam", meta)
    assert {r["rule"] for r in decision["results"] if r["verdict"] == "fail"} == {rule, also}
    assert result(decision, rule)["explanation"]["en"] == explanation


def test_a_parking_norm_in_the_zoning_replaces_the_norm_per_dwelling(rotterdam):
    features, meta = rotterdam
    norm = {"id": "NL.IMRO.0599.MV-parkeren", "kind": "maatvoering", "name": "parkeernorm",
            "geometry": mapping(box(93180, 437040, 93260, 437100)), "cites": {"plan": "NL.IMRO.0599.BP1059Stadsdriehoek-va01", "article": "9"},
            "measurements": [{"kind": "parking_norm", "value": 0.5, "unit": None, "sourceValueType": "parkeernorm"}]}
    # 30 dwellings x 0.5 + 3 per 100 m2 x 810 m2 / 100 = 15 + 24.3 = 39.3 -> 40 spaces
    parking = result(decide(building(FOOTPRINT, **AT_LIMIT), [*features, norm], PARCEL, "default", meta), "parking")
    assert (parking["verdict"], parking["measured"]["value"], parking["limit"]["value"]) == ("pass", 55, 40)
    assert parking["legalReference"] == {"plan": "NL.IMRO.0599.BP1059Stadsdriehoek-va01", "article": "9"}


def test_a_function_indication_allows_its_function(rotterdam):
    features, meta = rotterdam
    indication = {"id": "NL.IMRO.0599.FA-bedrijf", "kind": "functieaanduiding", "name": "bedrijf tot en met categorie 2",
                  "label": "[b-2]", "zoningAreas": ["NL.IMRO.0599.EB-gemengd-1"], "geometry": mapping(box(93190, 437050, 93230, 437090)),
                  "measurements": [], "cites": {"plan": "NL.IMRO.0599.BP1059Stadsdriehoek-va01", "article": "5"}}
    plan = building(FOOTPRINT, **{**AT_LIMIT, "functions": [{"function": "wonen", "grossFloorArea": 2000.0},
                                                             {"function": "bedrijf", "grossFloorArea": 700.0}]})
    use = result(decide(plan, [*features, indication], PARCEL, "default", meta), "use-versus-zoning")
    assert use["verdict"] == "pass" and "bedrijf" in use["limit"]["value"]


# -- parcels ---------------------------------------------------------------------------------------


def test_a_plan_crossing_its_parcel_fails_with_the_part_outside(rotterdam):
    features, meta = rotterdam
    # the parcel ends at x 93220: 4 m x 18 m of the footprint is outside, less the 0.05 m tolerance: 3.95 x 18 = 71.1 m2
    narrow = {"reference": "RTD04-AH-2", "geometry": mapping(box(93190, 437050, 93220, 437090))}
    decision = decide(building(FOOTPRINT, **AT_LIMIT), features, narrow, "default", meta)
    parcel = result(decision, "within-parcel")
    assert (parcel["verdict"], parcel["measured"]["value"]) == ("fail", 71.1)
    assert shape(parcel["evidence"]).bounds == pytest.approx((93220.05, 437060, 93224, 437078))
    assert parcel["legalReference"] == {"plan": "Burgerlijk Wetboek Boek 5", "article": "5:20"}
    assert result(decision, "min-setback")["verdict"] == "not-applicable"  # not inside the parcel


def test_the_real_rotterdam_parcel_rtd04_ag_603():
    [feature] = json.loads((DATA / "parcel_RTD04-AG-603.geojson").read_text())["features"]
    corners = feature["geometry"]["coordinates"][0]
    # shoelace area of the four corners: 471.43 m2; the Kadaster registers 472 m2 (its legal area)
    shoelace = abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(corners))) / 2
    assert shoelace == pytest.approx(471.43, abs=0.01) and abs(shoelace - feature["properties"]["OPPERVLAK"]) < 1
    parcel = {"reference": "RTD04-AG-603", "geometry": feature["geometry"]}
    footprint = box(92662, 436650, 92669, 436670)  # 7 m x 20 m = 140 m2
    # nearest boundary: the west side from (92658.55, 436643.919) to (92659.14, 436678.96), from the
    # corner (92662, 436670): |dx*(y-y0) - dy*(x-x0)| / length = 3.01 m
    (x0, y0), (x1, y1) = (92658.55, 436643.919), (92659.14, 436678.96)
    west = abs((x1 - x0) * (436670 - y0) - (y1 - y0) * (92662 - x0)) / math.dist((x0, y0), (x1, y1))
    assert west == pytest.approx(3.0104, abs=0.0001)
    zoning = [{"id": "EB", "kind": "enkelbestemming", "name": "Wonen", "designation": "wonen",
               "geometry": mapping(box(92600, 436600, 92700, 436700)), "cites": {"plan": "NL.IMRO.0599.Test-1", "article": "4"},
               "measurements": []},
              {"id": "MV", "kind": "maatvoering", "name": "maatvoering", "geometry": mapping(box(92600, 436600, 92700, 436700)),
               "cites": {"plan": "NL.IMRO.0599.Test-1", "article": "4"},
               "measurements": [{"kind": "max_coverage_pct", "value": 30, "unit": "%", "sourceValueType": "maximum bebouwingspercentage (%)"},
                                {"kind": "min_setback", "value": 3, "unit": "m", "sourceValueType": "minimum afstand (m)"}]}]
    meta = {"NL.IMRO.0599.Test-1": {"status": "geconsolideerd"}}
    decision = decide(building(footprint), zoning, parcel, "default", meta)
    assert result(decision, "within-parcel")["measured"]["value"] == 0
    # 140 / 471.43 = 29.70 % (at most 30 %), setback 3.01 m (at least 3 m)
    assert result(decision, "max-coverage")["measured"] == {"value": 29.7, "unit": "%"}
    assert result(decision, "min-setback")["measured"] == {"value": 3.01, "unit": "m"}
    assert result(decision, "max-coverage")["verdict"] == result(decision, "min-setback")["verdict"] == "pass"
    bigger = decide(building(box(92662, 436650, 92669.5, 436670)), zoning, parcel, "default", meta)  # 150 m2: 31.82 %
    assert result(bigger, "max-coverage")["measured"]["value"] == 31.82
    assert result(bigger, "max-coverage")["verdict"] == "fail"


# -- missing data ----------------------------------------------------------------------------------


def test_missing_plan_data_is_insufficient_data_that_names_the_member(rotterdam):
    features, meta = rotterdam
    plan = building(FOOTPRINT, **AT_LIMIT)
    del plan["storeysAboveGround"], plan["eavesHeight"]
    decision = decide(plan, features, None, "default", meta)
    assert decision["verdict"] == "insufficient-data"
    storeys = result(decision, "max-storeys")
    assert (storeys["verdict"], storeys["measured"], storeys["limit"]) == ("insufficient-data", None, {"value": 7, "unit": None})
    assert "storeysAboveGround" in storeys["explanation"]["nl"] and "storeysAboveGround" in storeys["explanation"]["en"]
    assert "eavesHeight" in result(decision, "max-eaves-height")["explanation"]["en"]
    for rule in ("max-coverage", "floor-space-index", "min-setback", "within-parcel"):  # no parcel
        assert result(decision, rule)["verdict"] == "insufficient-data"
        assert "supply parcel" in result(decision, rule)["explanation"]["en"]
    # a failed rule outweighs missing data
    assert decide({**plan, "height": 26.0}, features, None, "default", meta)["verdict"] == "non-compliant"


def test_missing_data_for_a_rule_without_a_limit_is_not_applicable(spijkenisse):
    plan = building(BLOCK)
    del plan["storeysAboveGround"]
    storeys = result(decide(plan, spijkenisse["features"], BLOCK_PARCEL), "max-storeys")
    assert (storeys["verdict"], storeys["limit"]) == ("not-applicable", None)


def test_dwellings_without_a_number_leave_parking_undecided(spijkenisse):
    plan = building(BLOCK)
    del plan["dwellings"]
    parking = result(decide(plan, spijkenisse["features"], BLOCK_PARCEL), "parking")
    assert parking["verdict"] == "insufficient-data" and "dwellings" in parking["explanation"]["en"]


def test_a_plan_that_is_not_a_building_plan_is_refused(spijkenisse):
    with pytest.raises(ProblemError) as refused:
        check({"footprint": geojson(BLOCK), "height": -1}, spijkenisse["features"], None, load_ruleset("default"),
              plan_meta=IN_FORCE)
    assert refused.value.status == 422 and refused.value.errors[0].pointer == "/height"


# -- rule sets and reproducibility -----------------------------------------------------------------


def test_rule_sets_load_and_only_rotterdam_limits_business_use():
    assert {"default", "rotterdam"} <= set(municipalities())
    default, rotterdam = load_ruleset("default"), load_ruleset("rotterdam")
    assert "business-use-share" not in {r["id"] for r in default["rules"]}
    [share] = [r for r in rotterdam["rules"] if r["id"] == "business-use-share"]
    assert (share["comparator"], share["limit"]["value"], share["limit"]["unit"]) == ("<=", 30, "%")
    # every maximum is "at most" (<=), every minimum "at least" (>=)
    for rule in rotterdam["rules"]:
        kind = rule["limit"].get("kind", "")
        if kind.startswith("max_") or rule["measure"] in ("outside-building-plane", "outside-parcel"):
            assert rule["comparator"] == "<=", rule["id"]
        if kind.startswith("min_") or rule["limit"]["source"] == "parking-norm":
            assert rule["comparator"] == ">=", rule["id"]


def test_an_unknown_municipality_is_refused_with_the_known_ones():
    with pytest.raises(RuleSetError) as refused:
        load_ruleset("atlantis")
    assert refused.value.status == 404 and "rotterdam" in refused.value.detail
    assert refused.value.problem().status == 404


@pytest.mark.parametrize(("change", "pointer"), [
    (lambda r: r["rules"][2].__setitem__("comparator", "at most"), "/rules/2/comparator"),
    (lambda r: r["rules"][2]["texts"]["explanation"].__setitem__("en", "{height} is too high"), "/rules/2/texts/explanation/en"),
    (lambda r: r["rules"][3].__setitem__("id", r["rules"][2]["id"]), "/rules/3/id"),
    (lambda r: r["rules"][2]["limit"].__setitem__("kind", "max_everything"), "/rules/2/limit/kind"),
])
def test_an_invalid_rule_set_is_refused_where_it_is_wrong(change, pointer):
    ruleset = load_ruleset("default")
    change(ruleset)
    with pytest.raises(RuleSetError) as refused:
        validate_ruleset(ruleset)
    assert refused.value.pointer == pointer


def test_the_input_hash_reproduces(spijkenisse):
    features = spijkenisse["features"]
    first = decide(building(BLOCK), features, BLOCK_PARCEL)
    again = decide(copy.deepcopy(building(BLOCK)), list(reversed(features)), BLOCK_PARCEL)
    assert first["inputHash"] == again["inputHash"]
    assert first["ruleSet"] == {"municipality": "default", "version": load_ruleset("default")["version"]}
    assert decide(building(BLOCK, height=30.5), features, BLOCK_PARCEL)["inputHash"] != first["inputHash"]
    assert decide(building(BLOCK), features, None)["inputHash"] != first["inputHash"]
    assert decide(building(BLOCK), features, BLOCK_PARCEL, "rotterdam")["inputHash"] != first["inputHash"]
    other_status = decide(building(BLOCK), features, BLOCK_PARCEL, plan_meta={PLAN_ID: {"status": "geconsolideerd"}})
    assert other_status["inputHash"] != first["inputHash"]
