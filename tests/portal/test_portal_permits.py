"""The portal's permit pages: a footprint drawn or typed made into a building-plan document, plan
files (building-plan JSON, CityJSON, IFC) checked through the portal into a decision page, a bad
plan shown again with its problem, past checks, and a citizen checking a plan in a real browser.

The platform is ``oup up`` with its demo data: Rotterdam centre's parcels under the illustrative
zoning plan (mixed use, at most 70 m east of Delfshaven). The plans stand on the large parcel
RTD04-AH-455 by the Maas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from audit import audit
from oup_platform import Platform
from playwright.sync_api import Page, expect
from shapely.geometry import shape
from signing_in import csrf, sign_in_in_browser, signed_in

import ppi_schemas
from gateway.portal.permit_decision import quantity, rule_rows
from gateway.portal.permit_map import (
    BadBBox,
    decision_map,
    parcel_features,
    parse_bbox,
)
from gateway.portal.permit_plan import (
    CITYJSON,
    IFC,
    PLAN_JSON,
    PlanInvalid,
    media_type_of,
    plan_from_form,
)
from mims.permit_check.site import site_collection
from tests.kit.test_kit_geo_cityjson import box as cityjson_box
from tests.permit_check.test_permit_check_ifc import building as ifc_building

#: A spot well inside parcel RTD04-AH-455 (EPSG:28992), in the demo plan's mixed-use centre.
X, Y = 93_110.0, 436_470.0
SQUARE_RD = [(X, Y), (X + 12, Y), (X + 12, Y + 12), (X, Y + 12)]
#: The same square in WGS84 as the map writes it, one corner per line.
SQUARE_LINES = "4.4876856 51.9132766\n4.4878600 51.9132780\n4.4878578 51.9133858\n4.4876834 51.9133845"
PPI = "building-plan@1.0.0"


# -- the form's plan, without HTTP ----------------------------------------------------------------


def test_corners_typed_as_lon_lat_lines_make_a_valid_building_plan() -> None:
    plan = plan_from_form({"footprint": SQUARE_LINES, "height": "21,5", "storeysAboveGround": "6",
                           "function": "wonen", "grossFloorArea": "600", "roofType": "flat", "parcel": "rtd04-ah-455"})
    assert ppi_schemas.validate(plan, PPI) == []
    assert plan["crs"] == "EPSG:4326"
    ring = plan["footprint"]["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1] == [4.4876856, 51.9132766]
    assert (plan["height"], plan["storeysAboveGround"], plan["roofType"]) == (21.5, 6, "flat")
    assert plan["functions"] == [{"function": "wonen", "grossFloorArea": 600.0}]
    assert plan["parcel"] == {"reference": "RTD04-AH-455"}


def test_rd_corners_and_a_geojson_polygon_are_read_too() -> None:
    rd = plan_from_form({"footprint": "\n".join(f"{x}, {y}" for x, y in SQUARE_RD), "height": "9"})
    assert rd["crs"] == "EPSG:28992" and ppi_schemas.validate(rd, PPI) == []
    polygon = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in SQUARE_RD]]}}
    geojson = plan_from_form({"footprint": json.dumps(polygon), "height": "9"})
    assert geojson["footprint"] == rd["footprint"]


def test_every_wrong_field_is_named_at_once() -> None:
    with pytest.raises(PlanInvalid) as raised:
        plan_from_form({"footprint": "4.47 51.91\nnorth of the station", "height": "", "storeysAboveGround": "2.5",
                        "function": "castle", "grossFloorArea": "100", "roofType": "dome"})
    found = {(e.field, e.key) for e in raised.value.errors}
    assert found == {("footprint", "permits.error.footprint_line"), ("height", "permits.error.required"),
                     ("storeysAboveGround", "permits.error.whole"), ("function", "permits.error.function"),
                     ("roofType", "permits.error.roof")}
    line = next(e for e in raised.value.errors if e.field == "footprint")
    assert line.params == {"line": 2, "text": "north of the station"}
    with pytest.raises(PlanInvalid) as two:
        plan_from_form({"footprint": "4.47 51.91\n4.48 51.91", "height": "3"})
    assert [e.key for e in two.value.errors] == ["permits.error.footprint_corners"]


def test_an_uploaded_file_is_labelled_by_its_content_and_name() -> None:
    assert media_type_of("model.txt", b"ISO-10303-21;\nHEADER;") == IFC
    assert media_type_of("Plan.IFC", b"garbage") == IFC
    assert media_type_of("delfshaven.city.json", b"{}") == CITYJSON
    assert media_type_of("plan.json", b"{}") == PLAN_JSON


def test_the_rule_table_speaks_the_page_language() -> None:
    assert quantity({"value": 1234.5, "unit": "m2"}, "nl") == "1\u2009234,5 m²"
    assert quantity({"value": 1234.5, "unit": "m2"}, "en") == "1\u2009234.5 m²"
    assert quantity({"value": ["wonen", "gemengd"], "unit": None}, "en") == "wonen, gemengd"
    assert quantity(None, "nl") == ""
    decision = next(e.payload for e in ppi_schemas.get("permit-decision@1.0.0").examples_valid
                    if e.name.startswith("non-compliant"))
    rows = rule_rows(decision, "nl")
    assert [r.rule for r in rows] == [r["rule"] for r in decision["results"]]
    height = next(r for r in rows if r.rule == "max-height")
    assert height.limit.startswith("≤ ") and height.explanation == next(
        r["explanation"]["nl"] for r in decision["results"] if r["rule"] == "max-height")
    # The map is the permit check's own site (WGS84), labelled with the rule table's titles.
    shown = decision_map(site_collection(decision, {}), {r.rule: r.title for r in rule_rows(decision, "en")}, "")
    [evidence] = shown.evidence
    assert evidence["properties"]["label"] == "Inside the building plane"
    assert shown.footprint is None and shown.under == []
    west, south, east, north = shape(evidence["geometry"]).bounds  # Spijkenisse, in WGS84
    assert 4.3 < west < east < 4.4 and 51.8 < south < north < 51.9


def test_the_map_asks_for_a_bounded_box_and_labels_parcels() -> None:
    assert parse_bbox("4.47,51.91,4.49,51.93") == (4.47, 51.91, 4.49, 51.93)
    for bad in ("4.47,51.91,4.49", "4.49,51.91,4.47,51.93", "3,50,7,54", "a,b,c,d", "nan,51.91,4.49,51.93"):
        with pytest.raises(BadBBox):
            parse_bbox(bad)
    entity = {"id": "urn:ngsi-ld:Parcel:RTD04-AH-455",
              "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.47, 51.91]}},
              "https://w3id.org/oup/vocab#cadastralDesignation": {"type": "Property", "value": "RTD04-AH-455"}}
    [feature] = parcel_features([entity, {"id": "urn:ngsi-ld:Parcel:X"}])
    assert feature["properties"] == {"kind": "parcel", "label": "RTD04-AH-455"}


# -- through the portal, signed in as the demo citizen, in Dutch -------------------------------------


@pytest.fixture(scope="module")
def citizen(platform: Platform) -> Iterator[httpx.Client]:
    with signed_in(platform.gateway, "citizen", platform.passwords["citizen"], "/permits", lang="nl") as http:
        parcels = http.get("/permits/map.geojson", params={"bbox": "4.480,51.908,4.495,51.918"})
        assert parcels.status_code == 200, parcels.text
        labels = {f["properties"]["label"] for f in parcels.json()["features"]}
        assert "RTD04-AH-455" in labels, "the demo data lack Rotterdam centre's parcels"
        yield http


def _upload(http: httpx.Client, name: str, body: bytes, **fields: str) -> httpx.Response:
    return http.post("/permits/checks", data={"csrf": csrf(http.get("/permits").text), "how": "upload", **fields},
                     files={"plan": (name, body, "application/octet-stream")}, follow_redirects=False)


def _decision_page(http: httpx.Client, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text[:2000]
    location = answer.headers["location"]
    assert re.fullmatch(r"/permits/checks/[0-9a-f]{32}", location)
    page = http.get(location)
    assert page.status_code == 200
    assert 'id="overall-verdict"' in page.text and "<caption>" in page.text
    assert page.text.count('<th scope="row">') >= 10  # one row per rule
    return page.text


def test_a_building_plan_json_file_gives_a_decision_with_its_map(citizen: httpx.Client) -> None:
    plan = {"name": "Kantoor bij het station", "footprint": {"type": "Polygon", "coordinates": [
        [list(p) for p in [*SQUARE_RD, SQUARE_RD[0]]]]}, "height": 90, "functions": [
        {"function": "kantoor", "grossFloorArea": 3000}]}
    page = _decision_page(citizen, _upload(citizen, "plan.json", json.dumps(plan).encode()))
    assert "Past niet in het bestemmingsplan" in page  # 90 m against at most 70 m
    assert 'id="decision-map"' in page and 'role="region"' in page
    assert "RTD04-AH-455" in page  # the parcel under the footprint, in the map's text alternative


def test_a_cityjson_file_gives_a_decision(citizen: httpx.Client) -> None:
    document = cityjson_box(X, Y, 12.0, base=0.0, top=20.0)
    page = _decision_page(citizen, _upload(citizen, "station.city.json", json.dumps(document).encode()))
    assert "<td>19,5 m</td>" in page  # the height above the terrain the file gives


def test_an_ifc_file_gives_a_decision(citizen: httpx.Client) -> None:
    model = ifc_building()
    model.georeference(X, Y, 0.0)
    page = _decision_page(citizen, _upload(citizen, "station.ifc", model.f.to_string().encode()))
    assert "6,3 m" in page


def test_a_bad_file_shows_the_form_again_with_the_problem(citizen: httpx.Client) -> None:
    refused = _upload(citizen, "plan.json", json.dumps({"footprint": "by the river", "height": -3}).encode())
    assert refused.status_code == 400
    text = refused.text
    assert 'role="alert"' in text and 'href="#field-plan"' in text and "/footprint" in text and "/height" in text
    assert 'aria-invalid="true"' in text and 'aria-describedby="hint-plan error-plan"' in text
    empty = _upload(citizen, "", b"")
    assert empty.status_code == 400 and 'href="#field-plan"' in empty.text


def test_the_form_states_the_largest_file_the_platform_takes_and_a_larger_one_is_refused(
        citizen: httpx.Client) -> None:
    assert "van hoogstens 1 MB." in citizen.get("/permits").text  # the gateway's max_body_bytes (1 MiB)
    too_large = _upload(citizen, "plan.json", b" " * (1024 * 1024 + 1))
    assert too_large.status_code == 413 and too_large.headers["content-type"] == "application/problem+json"


def test_a_drawn_footprint_is_checked_and_listed_among_past_checks(citizen: httpx.Client) -> None:
    token = csrf(citizen.get("/permits").text)
    answer = citizen.post("/permits/checks", follow_redirects=False, data={
        "csrf": token, "how": "draw", "footprint": SQUARE_LINES, "height": "18", "function": "wonen",
        "grossFloorArea": "450", "dwellings": "4", "parcel": "RTD04-AH-455"})
    _decision_page(citizen, answer)
    check_id = answer.headers["location"].rsplit("/", 1)[1]
    past = citizen.get("/permits/checks")
    assert past.status_code == 200 and f'href="/permits/checks/{check_id}"' in past.text
    report = citizen.get(f"/permits/checks/{check_id}/report", params={"lang": "en"})
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    typo = citizen.post("/permits/checks", data={"csrf": token, "how": "draw", "footprint": SQUARE_LINES,
                                                "height": "tall"})
    assert typo.status_code == 400 and 'href="#field-height"' in typo.text and SQUARE_LINES.split("\n")[0] in typo.text
    forged = citizen.post("/permits/checks", data={"csrf": "forged", "how": "draw", "footprint": SQUARE_LINES,
                                                  "height": "18"})
    assert forged.status_code == 400  # an expired form, as on every portal page


def test_the_map_data_are_bounded(citizen: httpx.Client) -> None:
    wide = citizen.get("/permits/map.geojson", params={"bbox": "3,50,7,54"})
    assert wide.status_code == 400 and wide.headers["content-type"] == "application/problem+json"
    assert wide.json()["errors"][0]["pointer"] == "bbox"


def test_the_map_draws_the_twins_parcels_zoning_and_buildings(citizen: httpx.Client) -> None:
    # Delfshaven (the demo's LoD2 buildings) and the west of the centre (its parcels), one box.
    answer = citizen.get("/permits/map.geojson", params={"bbox": "4.435,51.900,4.485,51.925"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/geo+json"
    kinds = {feature["properties"]["kind"] for feature in answer.json()["features"]}
    assert kinds == {"parcel", "zoning", "building"}


def test_an_officer_reads_every_citizens_checks_and_submits_none(platform: Platform, citizen: httpx.Client) -> None:
    plan = {"name": "Woning voor de vergunningverlener", "footprint": {"type": "Polygon", "coordinates": [
        [list(p) for p in [*SQUARE_RD, SQUARE_RD[0]]]]}, "height": 12, "functions": [
        {"function": "wonen", "grossFloorArea": 200}]}
    checked = _upload(citizen, "plan.json", json.dumps(plan).encode())
    assert checked.status_code == 303, checked.text[:500]
    with signed_in(platform.gateway, "officer", platform.passwords["officer"], lang="en") as officer:
        refused = officer.get("/permits")
        assert refused.status_code == 403 and "permit:submit" in refused.text
        listed = officer.get("/permits/checks")
        assert listed.status_code == 200 and "the checks of every citizen" in listed.text
        assert checked.headers["location"] in listed.text
        decision = officer.get(checked.headers["location"])
        assert decision.status_code == 200 and 'id="overall-verdict"' in decision.text
        assert officer.get(checked.headers["location"] + "/report").status_code == 200
        assert officer.post("/permits/checks", data={"csrf": "x", "how": "draw"}).status_code == 403


# -- in a browser -----------------------------------------------------------------------------------


def _zoom_in(page: Page) -> None:
    """Zoom the form's map in once and wait until it is done: Leaflet asks for the new area's
    twin data when a zoom ends (its moveend), and its animation class is gone by then."""
    with page.expect_response(lambda response: "/permits/map.geojson" in response.url):
        page.click(".leaflet-control-zoom-in")
    expect(page.locator("#permit-map .leaflet-zoom-anim")).to_have_count(0)


def test_a_citizen_checks_a_plan_drawn_on_the_map(platform: Platform, page: Page) -> None:
    page.goto(f"{platform.gateway}/permits")
    sign_in_in_browser(page, "citizen", platform.passwords["citizen"], f"{platform.gateway}/permits")
    assert page.url.endswith("/permits")
    page.wait_for_selector("#permit-map path.leaflet-interactive")  # the parcels are drawn
    audit(page, "permits-form")
    for _ in range(3):
        _zoom_in(page)
    box = page.locator("#permit-map").bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-20, 20), (20, 20), (20, -20), (-20, -20)):
        page.mouse.click(cx + dx, cy + dy)
    assert len(page.input_value("#field-footprint").splitlines()) == 4
    page.fill("#field-height", "12")
    with page.expect_navigation():
        page.click("form:has(#field-footprint) button[type=submit]")
    assert re.search(r"/permits/checks/[0-9a-f]{32}$", page.url), page.inner_text("main")
    assert page.is_visible("#overall-verdict") and page.is_visible("table.rules caption")
    page.wait_for_selector("#decision-map path.leaflet-interactive")
    audit(page, "permits-decision")
    with page.expect_navigation(url=f"{platform.gateway}/permits/checks"):
        page.get_by_role("link", name="Past checks", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Past checks")
    expect(page.locator("table caption")).to_have_text(re.compile(r"^Checks 1 to \d+ of \d+, newest first$"))
    audit(page, "permits-past-checks")
