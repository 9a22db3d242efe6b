"""The IMRO2012 importer on the two real zoning plans, on hand-written GML for what they lack, and
on refusals. Expectations were checked by hand against the GML files."""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import shapely
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from shapely.geometry import Point, Polygon, shape

import ppi_schemas
from mims.kit.geo.imro import CHORD_TOLERANCE, linearise_arc, read_plan
from mims.kit.problems import ProblemError
from tests.serving import free_port, served

ZONING = Path(__file__).resolve().parents[1] / "permit_check" / "data"
SPIJKENISSE = ZONING / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml"
ARNHEM = ZONING / "NL.IMRO.0202.974-0301.gml"


def features(plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [feature for feature in plan["features"] if feature["kind"] == kind]


def limits(plan: dict[str, Any], kind: str = "max_height") -> list[float]:
    return sorted(m["value"] for f in plan["features"] for m in f["measurements"] if m["kind"] == kind)


@pytest.fixture(scope="module")
def spijkenisse() -> dict[str, Any]:
    return read_plan(SPIJKENISSE)


@pytest.fixture(scope="module")
def arnhem() -> dict[str, Any]:
    return read_plan(ARNHEM)


# -- Spijkenisse, Raadhuisstaete: straight-edged surfaces, one zoning area, four height limits ----


def test_spijkenisse_plan_identity_and_counts(spijkenisse: dict[str, Any]) -> None:
    assert spijkenisse["id"] == "NL.IMRO.1930.BPRaadhuislaanSP-1001"
    assert (spijkenisse["name"], spijkenisse["status"], spijkenisse["date"]) == ("Raadhuisstaete Spijkenisse", "voorontwerp", "2024-01-01")
    assert spijkenisse["municipality"] == {"code": "1930", "name": "Gemeente Nissewaard"}
    assert Counter(f["kind"] for f in spijkenisse["features"]) == {
        "enkelbestemming": 1, "dubbelbestemming": 1, "bouwvlak": 1, "bouwaanduiding": 1, "maatvoering": 4,
    }
    assert spijkenisse["unmapped"] == []
    assert ppi_schemas.validate(spijkenisse, "zoning-plan@1.0.0") == []


def test_spijkenisse_zoning_areas_carry_designation_and_article(spijkenisse: dict[str, Any]) -> None:
    [zone] = features(spijkenisse, "enkelbestemming")
    [double] = features(spijkenisse, "dubbelbestemming")
    assert (zone["name"], zone["label"], zone["designation"], zone["cites"]["article"]) == ("Gemengd - 1", "GD-1", "gemengd", "3")
    assert zone["cites"]["text"].endswith("#NL.IMRO.PT.b42f969651f3449689f47a134bb98769")
    assert (double["name"], double["designation"], double["cites"]["article"]) == ("Waarde - Archeologie 3", "waarde", "4")


def test_spijkenisse_height_limits_cite_the_article_of_their_zoning_area(spijkenisse: dict[str, Any]) -> None:
    [plane] = features(spijkenisse, "bouwvlak")
    assert limits(spijkenisse) == [24, 27, 30, 34]
    for feature in features(spijkenisse, "maatvoering"):
        [measurement] = feature["measurements"]
        assert measurement["unit"] == "m" and measurement["sourceValueType"] == "maximum bouwhoogte (m)"
        assert feature["indications"] == [plane["id"]]
        # the maatvoering points at the bouwvlak, the bouwvlak at Gemengd - 1 (article 3)
        assert feature["cites"] == {"plan": spijkenisse["id"], "article": "3", "text": features(spijkenisse, "enkelbestemming")[0]["cites"]["text"]}
    # the label of the 24 m maatvoering stands at 82171.924 429375.607, inside its surface of 98.0 m2
    [at_label] = [f for f in features(spijkenisse, "maatvoering") if shape(f["geometry"]).contains(Point(82171.924, 429375.607))]
    assert at_label["measurements"][0]["value"] == 24
    assert shape(at_label["geometry"]).area == pytest.approx(98.0, abs=0.1)


def test_spijkenisse_height_areas_partition_the_building_plane(spijkenisse: dict[str, Any]) -> None:
    [plane] = [shape(f["geometry"]) for f in features(spijkenisse, "bouwvlak")]
    heights = [shape(f["geometry"]) for f in features(spijkenisse, "maatvoering")]
    assert all(g.is_valid for g in heights + [plane])
    assert sum(g.area for g in heights) == pytest.approx(plane.area, abs=0.5)
    assert shapely.union_all(heights).symmetric_difference(plane).area < 0.5


# -- Arnhem, Whemedreef: curves with gml:Arc segments, 16 zoning areas ---------------------------


def test_arnhem_counts_designations_and_height_limits(arnhem: dict[str, Any]) -> None:
    assert arnhem["id"] == "NL.IMRO.0202.974-0301"
    assert (arnhem["name"], arnhem["status"], arnhem["municipality"]["code"]) == ("Whemedreef", "vastgesteld", "0202")
    assert Counter(f["kind"] for f in arnhem["features"]) == {
        "enkelbestemming": 16, "bouwvlak": 5, "bouwaanduiding": 18, "maatvoering": 11,
    }
    assert Counter(f["designation"] for f in features(arnhem, "enkelbestemming")) == {"groen": 9, "wonen": 5, "verkeer": 1, "water": 1}
    assert limits(arnhem) == [4, 4, 4, 4, 10, 10, 10, 10, 10, 13, 13]
    assert arnhem["unmapped"] == []
    assert ppi_schemas.validate(arnhem, "zoning-plan@1.0.0") == []


def test_arnhem_geometries_are_valid_and_zoning_areas_tile_the_plan_area(arnhem: dict[str, Any]) -> None:
    shapes = [shape(f["geometry"]) for f in arnhem["features"]]
    assert all(g.is_valid and g.area > 5 for g in shapes)
    zones = [shape(f["geometry"]) for f in features(arnhem, "enkelbestemming")]
    plan_area = shape(arnhem["geometry"])
    assert plan_area.area == pytest.approx(19350.5, abs=1)
    assert sum(z.area for z in zones) == pytest.approx(plan_area.area, abs=1)
    assert shapely.union_all(zones).symmetric_difference(plan_area).area < 1
    for plane in features(arnhem, "bouwvlak"):
        [zone_id] = plane["zoningAreas"]
        [zone] = [shape(f["geometry"]) for f in arnhem["features"] if f["id"] == zone_id]
        # the plan was drawn to the millimetre: slivers, no more, stick out of the zoning area
        assert shape(plane["geometry"]).difference(zone).area < 0.1


def test_arnhem_arc_adds_its_circular_segment_to_the_area(arnhem: dict[str, Any]) -> None:
    """The first Groen area ends in an Arc from 191210.107 441532.352 via 191211.513 441537.247 to
    191208.786 441541.378: linearised, it adds r²/2·(θ - sin θ) to the area the chord alone gives."""
    start, middle, end = (191210.107, 441532.352), (191211.513, 441537.247), (191208.786, 441541.378)
    [green] = [f for f in arnhem["features"] if f["id"] == "NL.IMRO.0202.EP5488278903-00"]
    polygon = shape(green["geometry"])
    ax, ay = start
    bx, by = middle
    cx, cy = end
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    ux = ((ax**2 + ay**2) * (by - cy) + (bx**2 + by**2) * (cy - ay) + (cx**2 + cy**2) * (ay - by)) / d
    uy = ((ax**2 + ay**2) * (cx - bx) + (bx**2 + by**2) * (ax - cx) + (cx**2 + cy**2) * (bx - ax)) / d
    radius = math.dist(start, (ux, uy))
    theta = 2 * math.asin(math.dist(start, end) / 2 / radius)
    segment = radius**2 / 2 * (theta - math.sin(theta))
    assert (radius, segment) == pytest.approx((6.002, 13.30), abs=0.005)
    ring = list(polygon.exterior.coords)[:-1]
    assert start in ring and end in ring
    arc_points = [p for p in ring if abs(math.dist(p, (ux, uy)) - radius) < 0.002 and p not in (start, end)]
    chord_polygon = Polygon([p for p in ring if p not in arc_points])
    assert polygon.area - chord_polygon.area == pytest.approx(segment, rel=0.01)
    assert len(arc_points) == len(linearise_arc(start, middle, end)) - 2 >= 10


# -- arcs ---------------------------------------------------------------------------------------


def test_quarter_circle_is_linearised_within_the_chord_tolerance() -> None:
    r = 10.0
    points = linearise_arc((r, 0.0), (r / math.sqrt(2), r / math.sqrt(2)), (0.0, r))
    assert points[0] == (r, 0.0) and points[-1] == (0.0, r)
    assert all(abs(math.hypot(*p) - r) < 1e-9 for p in points)
    angles = [math.atan2(y, x) for x, y in points]
    assert angles == sorted(angles), "counter-clockwise, through the middle point"
    sagittas = [r - math.hypot((x1 + x2) / 2, (y1 + y2) / 2) for (x1, y1), (x2, y2) in pairwise(points)]
    assert max(sagittas) <= CHORD_TOLERANCE
    assert len(points) - 1 == math.ceil((math.pi / 2) / (2 * math.acos(1 - CHORD_TOLERANCE / r)))


def test_arc_through_the_far_side_sweeps_three_quarters_clockwise() -> None:
    points = linearise_arc((10.0, 0.0), (-10.0 / math.sqrt(2), -10.0 / math.sqrt(2)), (0.0, 10.0))
    assert min(x for x, _ in points) < -10 + CHORD_TOLERANCE
    area = Polygon([(0.0, 0.0), *points]).area
    # each chord cuts off less than its sagitta times its length
    assert 0 < 0.75 * math.pi * 100 - area < CHORD_TOLERANCE * 0.75 * 2 * math.pi * 10


def test_collinear_arc_is_a_straight_segment() -> None:
    assert linearise_arc((0.0, 0.0), (1.0, 1.0), (2.0, 2.0)) == [(0.0, 0.0), (2.0, 2.0)]


# -- what the real plans lack: hand-written IMRO2012 GML -----------------------------------------

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n{doctype}'
    '<imro:FeatureCollectionIMRO xmlns:imro="http://www.geonovum.nl/imro/2012/1.1" '
    'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" gml:id="c" '
    'xsi:schemaLocation="http://www.geonovum.nl/imro/2012/1.1 {schema}">'
)
PLAN = """<imro:featureMember><imro:Bestemmingsplangebied gml:id="NL.IMRO.0599.BPTest-0001">
  <imro:typePlan>bestemmingsplan</imro:typePlan><imro:naamOverheid>Gemeente Rotterdam</imro:naamOverheid>
  <imro:overheidsCode>0599</imro:overheidsCode><imro:naam>{name}</imro:naam>
  <imro:planstatusInfo><imro:PlanstatusEnDatum><imro:planstatus>ontwerp</imro:planstatus>
  <imro:datum>2026-03-01</imro:datum></imro:PlanstatusEnDatum></imro:planstatusInfo>
  <imro:geometrie>{square}</imro:geometrie></imro:Bestemmingsplangebied></imro:featureMember>"""
SQUARE = ('<gml:Polygon srsName="urn:ogc:def:crs:EPSG::28992"><gml:exterior><gml:LinearRing><gml:posList>'
          '0 0 100 0 100 100 0 100 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>')


def member(kind: str, gml_id: str, body: str, geometry: str = SQUARE) -> str:
    return (f'<imro:featureMember><imro:{kind} gml:id="{gml_id}">{body}'
            f'<imro:geometrie>{geometry}</imro:geometrie></imro:{kind}></imro:featureMember>')


def document(*members: str, name: str = "Testplan", doctype: str = "", schema: str = "IMRO2012.xsd") -> bytes:
    text = HEADER.format(doctype=doctype, schema=schema) + PLAN.format(name=name, square=SQUARE)
    return (text + "".join(members) + "</imro:FeatureCollectionIMRO>").encode()


ARC_STRING = """<gml:MultiSurface srsName="EPSG:28992">
  <gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing><gml:posList srsDimension="3">
    0 0 0 40 0 0 40 40 0 0 40 0 0 0 0</gml:posList></gml:LinearRing></gml:exterior>
    <gml:interior><gml:LinearRing><gml:pos>10 10</gml:pos><gml:pos>20 10</gml:pos><gml:pos>20 20</gml:pos>
    <gml:pos>10 20</gml:pos><gml:pos>10 10</gml:pos></gml:LinearRing></gml:interior></gml:Polygon></gml:surfaceMember>
  <gml:surfaceMember><gml:Surface><gml:patches><gml:PolygonPatch><gml:exterior><gml:Ring><gml:curveMember><gml:Curve>
    <gml:segments><gml:LineStringSegment><gml:posList>60 50 80 50</gml:posList></gml:LineStringSegment>
    <gml:ArcString><gml:posList>80 50 90 60 80 70 70 80 60 70</gml:posList></gml:ArcString>
    <gml:LineStringSegment><gml:posList>60 70 60 50</gml:posList></gml:LineStringSegment></gml:segments>
  </gml:Curve></gml:curveMember></gml:Ring></gml:exterior></gml:PolygonPatch></gml:patches></gml:Surface></gml:surfaceMember>
</gml:MultiSurface>"""


def test_functieaanduiding_multisurface_arcstring_roof_and_unmapped_value_types() -> None:
    plan = read_plan(document(
        member("Enkelbestemming", "NL.IMRO.EB1", "<imro:naam>Wonen</imro:naam><imro:bestemmingshoofdgroep>wonen"
               "</imro:bestemmingshoofdgroep><imro:artikelnummer>6</imro:artikelnummer>"),
        member("Dubbelbestemming", "NL.IMRO.DB1", "<imro:naam>Leiding - Gas</imro:naam>"
               "<imro:bestemmingshoofdgroep>leiding</imro:bestemmingshoofdgroep><imro:artikelnummer>9</imro:artikelnummer>"),
        member("Functieaanduiding", "NL.IMRO.FA1", '<imro:bestemmingsvlak xlink:href="#NL.IMRO.EB1"/>'
               "<imro:naam>detailhandel</imro:naam>", ARC_STRING),
        member("Bouwaanduiding", "NL.IMRO.BA1", '<imro:bestemmingsvlak xlink:href="#NL.IMRO.EB1"/>'
               "<imro:naam>plat dak</imro:naam>"),
        member("Maatvoering", "NL.IMRO.MV1", '<imro:bestemmingsvlak xlink:href="#NL.IMRO.EB1"/>'
               "<imro:naam>maatvoering</imro:naam><imro:maatvoeringInfo>"
               "<imro:WaardeEnType><imro:waarde>6,5</imro:waarde><imro:waardeType>maximum goothoogte (m)</imro:waardeType></imro:WaardeEnType>"
               "<imro:WaardeEnType><imro:waarde>3</imro:waarde><imro:waardeType>maximum aantal bouwlagen</imro:waardeType></imro:WaardeEnType>"
               "<imro:WaardeEnType><imro:waarde>6</imro:waarde><imro:waardeType>maximum aantal aaneen te bouwen wooneenheden</imro:waardeType></imro:WaardeEnType>"
               "<imro:WaardeEnType><imro:waarde>hoog</imro:waarde><imro:waardeType>maximum bouwhoogte (m)</imro:waardeType></imro:WaardeEnType>"
               "</imro:maatvoeringInfo>"),
        member("Figuur", "NL.IMRO.FG1", "<imro:naam>gevellijn</imro:naam>"),
    ))
    assert ppi_schemas.validate(plan, "zoning-plan@1.0.0") == []
    by_id = {f["id"]: f for f in plan["features"]}
    assert [f["kind"] for f in plan["features"]] == ["enkelbestemming", "dubbelbestemming", "functieaanduiding", "bouwaanduiding", "maatvoering"]
    assert by_id["NL.IMRO.DB1"]["designation"] == "leiding"
    aanduiding = by_id["NL.IMRO.FA1"]
    assert aanduiding["zoningAreas"] == ["NL.IMRO.EB1"] and aanduiding["cites"]["article"] == "6"
    geometry = shape(aanduiding["geometry"])
    # 40x40 minus a 10x10 hole; a 20x20 square with half discs of radius 10 on its right and top
    # sides (the ArcString's two arcs); the chords lose at most 2/3 x 1 cm x the arcs' length
    assert geometry.geom_type == "MultiPolygon" and geometry.is_valid
    assert geometry.area == pytest.approx(1500 + 400 + math.pi * 100, abs=0.5)
    assert by_id["NL.IMRO.BA1"]["measurements"] == [
        {"kind": "roof_requirement", "value": "flat", "unit": None, "sourceValueType": "plat dak"},
    ]
    assert by_id["NL.IMRO.MV1"]["measurements"] == [
        {"kind": "max_eaves_height", "value": 6.5, "unit": "m", "sourceValueType": "maximum goothoogte (m)"},
        {"kind": "max_storeys", "value": 3, "unit": None, "sourceValueType": "maximum aantal bouwlagen"},
    ]
    assert plan["unmapped"] == [
        {"feature": "NL.IMRO.MV1", "featureType": "Maatvoering", "valueType": "maximum aantal aaneen te bouwen wooneenheden",
         "value": "6", "reason": "no mapping for this value type"},
        {"feature": "NL.IMRO.MV1", "featureType": "Maatvoering", "valueType": "maximum bouwhoogte (m)",
         "value": "hoog", "reason": "the value is not a number"},
        {"feature": "NL.IMRO.FG1", "featureType": "Figuur", "reason": "plan object class not read"},
    ]


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gml", "says"),
    [
        (b"not xml at all", "not well-formed XML"),
        (b'<FeatureCollection xmlns="http://www.opengis.net/wfs/2.0"/>', "not an IMRO2012 FeatureCollectionIMRO"),
        (document().replace(b"Bestemmingsplangebied", b"Structuurvisiegebied"), "holds 0"),
        (document(member("Bouwvlak", "NL.IMRO.BV9", "<imro:naam>bouwvlak</imro:naam>",
                         SQUARE.replace("urn:ogc:def:crs:EPSG::28992", "urn:ogc:def:crs:EPSG::4326"))),
         "Bouwvlak NL.IMRO.BV9 (line 7) is in urn:ogc:def:crs:EPSG::4326"),
        (document(member("Bouwvlak", "NL.IMRO.BV9", "<imro:naam>bouwvlak</imro:naam>",
                         SQUARE.replace("100 100 0 100 0 0", "100 100 0 100 0"))), "not a multiple of dimension 2"),
        (document(member("Bouwvlak", "NL.IMRO.BV9", "<imro:naam>bouwvlak</imro:naam>", "")), "has no geometrie"),
    ],
)
def test_unreadable_plans_are_refused_with_422_saying_what_and_where(gml: bytes, says: str) -> None:
    with pytest.raises(ProblemError) as raised:
        read_plan(gml)
    assert raised.value.status == 422
    assert says in raised.value.detail
    assert raised.value.errors and says in raised.value.errors[0].detail


def test_a_plan_outside_the_contract_is_refused_with_every_problem() -> None:
    gml = document().replace(b"<imro:planstatus>ontwerp", b"<imro:planstatus>onherroepelijk")
    gml = gml.replace(b"<imro:overheidsCode>0599</imro:overheidsCode>", b"")
    with pytest.raises(ProblemError) as raised:
        read_plan(gml)
    assert raised.value.status == 422
    assert {(e.pointer, e.location) for e in raised.value.errors} == {
        ("/status", "zoning-plan@1.0.0"), ("/municipality/code", "zoning-plan@1.0.0"),
    }


def test_nothing_is_fetched_neither_schema_nor_dtd_nor_external_entity(tmp_path: Path) -> None:
    requests: list[str] = []
    app = FastAPI()

    @app.get("/{path:path}")
    async def anything(request: Request, path: str) -> PlainTextResponse:
        requests.append(path)
        return PlainTextResponse("<!ENTITY leak 'fetched'>" if path.endswith(".dtd") else "fetched")

    secret = tmp_path / "secret.txt"
    secret.write_text("local file content")
    port = free_port()
    with served(app, port) as base:
        doctype = (f'<!DOCTYPE imro:FeatureCollectionIMRO SYSTEM "{base}/imro.dtd" '
                   f'[<!ENTITY remote SYSTEM "{base}/entity"><!ENTITY local SYSTEM "{secret.as_uri()}">]>\n')
        plan = read_plan(document(name="Plan &remote;&local;", doctype=doctype, schema=f"{base}/IMRO2012.xsd"))
    assert requests == []
    assert "fetched" not in plan["name"] and "local file content" not in plan["name"]
