"""The portal's permit pages over real HTTP against a stand-in permit check and context broker:
what the pages ask upstream (ids quoted as one path segment, independent calls at once, the form
map's start view once per gateway), what they serve (a report only as HTML, sandboxed), the
decision map drawn from the check's own site, and the answers to bad input (an expired form, a
page that does not exist, a check that does not exist)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from serving import free_port, served
from signing_in import identity_served, sign_in

import ppi_schemas
from gateway.service import create_app as create_gateway

OUP = "https://w3id.org/oup/vocab#"
CHECK = "0123456789abcdef0123456789abcdef"
#: The decision shown: the PPI's example that has evidence (for "Inside the building plane").
DECISION = {**next(e.payload for e in ppi_schemas.get("permit-decision@1.0.0").examples_valid
                   if e.name.startswith("non-compliant")), "id": CHECK}
SQUARE = [[4.4877, 51.9133], [4.4879, 51.9133], [4.4879, 51.9134], [4.4877, 51.9134], [4.4877, 51.9133]]
FAR = [[4.50, 51.95], [4.51, 51.95], [4.51, 51.96], [4.50, 51.96], [4.50, 51.95]]


def _polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


#: The check's site as the permit check answers it (WGS84): the footprint on parcel AB-12 and
#: zoning area "Gemengd - 1", a building plane (not a zoning area), a parcel and an area elsewhere.
SITE = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": _polygon(SQUARE), "properties": {"layer": "footprint"}},
    {"type": "Feature", "geometry": _polygon(SQUARE), "properties": {"layer": "parcel", "reference": "AB-12"}},
    {"type": "Feature", "geometry": _polygon(FAR), "properties": {"layer": "parcel", "reference": "FAR-1"}},
    {"type": "Feature", "geometry": _polygon(SQUARE), "properties": {
        "layer": "zoning", "id": "z1", "kind": "enkelbestemming", "name": "Gemengd - 1", "designation": "gemengd"}},
    {"type": "Feature", "geometry": _polygon(FAR), "properties": {
        "layer": "zoning", "id": "z2", "kind": "enkelbestemming", "name": "Groen", "designation": "groen"}},
    {"type": "Feature", "geometry": _polygon(SQUARE), "properties": {
        "layer": "zoning", "id": "b1", "kind": "bouwvlak", "name": "bouwvlak"}},
    {"type": "Feature", "geometry": _polygon(SQUARE), "properties": {
        "layer": "evidence", "rule": "within-building-plane", "verdict": "fail"}},
]}
#: Zoning plans in the twin: more than one page of them, the last far to the east.
PLANS = [{"id": f"urn:ngsi-ld:ZoningPlan:{n}", "type": OUP + "ZoningPlan", "location": {
    "type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.40 if n < 1000 else 4.60, 51.90]}}}
    for n in range(1001)]


@dataclass
class Upstream:
    """A stand-in MIM: answers by raw path, records each request (raw path, query), and can hold
    requests until ``together`` of them are in flight at once (to see what is asked in parallel)."""

    answers: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    together: int = 0
    in_flight: int = 0
    most_in_flight: int = 0

    def app(self, answer: Any = None) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET"])
        async def any_path(request: Request) -> Response:
            raw = request.scope["raw_path"].decode()
            query = parse_qs(request.url.query)
            self.seen.append((raw, query))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                for _ in range(100):  # at most a second
                    if self.in_flight >= self.together:
                        break
                    await asyncio.sleep(0.01)
            finally:
                self.in_flight -= 1
            found = answer(raw, query) if answer else None
            status, media_type, body = found or self.answers.get(raw, (404, "application/problem+json",
                                                                        b'{"status": 404, "title": "Not Found"}'))
            return Response(body, status_code=status, media_type=media_type)

        return app


def _checks(raw: str, query: dict[str, list[str]]) -> tuple[int, str, bytes] | None:
    """Past checks: one, on the first page."""
    if raw != "/v1/checks":
        return None
    items = [DECISION] if query.get("offset", ["0"]) == ["0"] else []
    return 200, "application/json", orjson.dumps({"items": items, "total": 1})


def _entities(raw: str, query: dict[str, list[str]]) -> tuple[int, str, bytes] | None:
    if raw != "/ngsi-ld/v1/entities":
        return None
    if query.get("type") == [OUP + "ZoningPlan"]:
        offset, limit = int(query.get("offset", ["0"])[0]), int(query["limit"][0])
        return 200, "application/json", orjson.dumps(PLANS[offset:offset + limit])
    return 200, "application/json", b"[]"


@dataclass
class Platform:
    gateway: str
    identity: str
    password: str
    permits: Upstream
    context: Upstream


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder: Path = tmp_path_factory.mktemp("portal-pages")
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    permits, context = Upstream(), Upstream()
    permits.answers = {
        f"/v1/checks/{CHECK}": (200, "application/json", orjson.dumps(DECISION)),
        f"/v1/checks/{CHECK}/site": (200, "application/geo+json", orjson.dumps(SITE)),
        f"/v1/checks/{CHECK}.html": (200, "text/html; charset=utf-8", b"<h1>Report</h1><script>alert(1)</script>"),
        "/v1/checks/not-html.html": (200, "application/json", b'{"html": "<script>alert(1)</script>"}'),
    }
    with ExitStack() as stack:
        identity, passwords = stack.enter_context(identity_served(folder / "identity", gateway_url))
        password = passwords["citizen"]
        permit_url = stack.enter_context(served(permits.app(_checks), free_port()))
        context_url = stack.enter_context(served(context.app(_entities), free_port()))
        gateway = create_gateway(data_dir=folder / "gateway", port=gateway_port, identity_url=identity,
                                 context_url=context_url, permit_check_url=permit_url, rate_limit="off")
        stack.enter_context(served(gateway, gateway_port))
        yield Platform(gateway_url, identity, password, permits, context)


@pytest.fixture(scope="module")
def citizen(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.gateway, cookies={"oup_lang": "en"}) as http:
        back = sign_in(http, "citizen", platform.password, "/permits/checks")
        assert back.status_code == 303 and back.headers["location"] == "/permits/checks", back.text
        yield http


def test_a_check_id_is_one_quoted_path_segment_upstream(platform: Platform, citizen: httpx.Client) -> None:
    platform.permits.seen.clear()
    for path in ("/permits/checks/x%3Fa=b/report", "/permits/checks/x%3Fa=b", "/permits/checks/x%23y"):
        answer = citizen.get(path)
        assert answer.status_code == 404 and "There is no check" in answer.text, (path, answer.text[:300])
    asked = {unquote(raw) for raw, _ in platform.permits.seen}
    assert {"/v1/checks/x?a=b.html", "/v1/checks/x?a=b", "/v1/checks/x?a=b/site", "/v1/checks/x#y"} <= asked
    assert all(query in ({}, {"lang": ["en"]}) for _, query in platform.permits.seen)
    dots = citizen.get("/permits/checks/%2E%2E")
    assert dots.status_code == 404 and "There is no check" in dots.text


def test_the_report_is_served_only_as_html_and_sandboxed(citizen: httpx.Client) -> None:
    report = citizen.get(f"/permits/checks/{CHECK}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    policy = report.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert report.headers["x-content-type-options"] == "nosniff"
    other = citizen.get("/permits/checks/not-html/report")
    assert other.status_code == 502 and "<script>alert(1)</script>" not in other.text
    assert "application/json" in other.text


def test_the_decision_map_is_the_check_s_own_site_asked_at_once_with_the_decision(
        platform: Platform, citizen: httpx.Client) -> None:
    platform.context.seen.clear()
    platform.permits.together, platform.permits.most_in_flight = 2, 0
    try:
        page = citizen.get(f"/permits/checks/{CHECK}")
    finally:
        platform.permits.together = 0
    assert page.status_code == 200, page.text[:500]
    assert platform.permits.most_in_flight == 2  # the decision and its site, asked together
    assert platform.context.seen == []  # nothing from the live twin
    drawn = orjson.loads(re.search(r'data-geojson="([^"]*)"', page.text)[1].replace("&#34;", '"')
                         .replace("&quot;", '"').replace("&amp;", "&"))
    labels = {(f["properties"]["kind"], f["properties"]["label"]) for f in drawn["features"]}
    assert labels == {("footprint", "The footprint of the plan (red outline)"), ("parcel", "AB-12"),
                      ("parcel", "FAR-1"), ("zoning", "Gemengd - 1"), ("zoning", "Groen"),
                      ("evidence", "Inside the building plane")}
    legend = re.search(r'<ul class="legend">(.*?)</ul>', page.text, re.DOTALL)[1]
    assert "Parcel AB-12, under the footprint" in legend and "Zoning area Gemengd - 1" in legend
    assert "FAR-1" not in legend and "Groen" not in legend and "bouwvlak" not in legend
    assert "Evidence for Inside the building plane" in legend


def test_the_map_asks_the_twin_for_parcels_zoning_and_buildings_at_once(
        platform: Platform, citizen: httpx.Client) -> None:
    platform.context.together, platform.context.most_in_flight = 3, 0
    try:
        answer = citizen.get("/permits/map.geojson", params={"bbox": "4.480,51.908,4.495,51.918"})
    finally:
        platform.context.together = 0
    assert answer.status_code == 200 and answer.json()["features"] == []
    assert platform.context.most_in_flight == 3


def test_the_form_map_starts_in_the_middle_of_every_zoning_plan_asked_once(
        platform: Platform, citizen: httpx.Client) -> None:
    platform.context.seen.clear()
    first, second = citizen.get("/permits"), citizen.get("/permits")
    assert first.status_code == second.status_code == 200
    plan_pages = [q for raw, q in platform.context.seen if q.get("type") == [OUP + "ZoningPlan"]]
    assert [q["offset"] for q in plan_pages] == [["0"], ["1000"]]  # both pages, for the first form only
    west, _, east, _ = (float(n) for n in re.search(r'data-start="([^"]+)"', first.text)[1].split(","))
    assert (west + east) / 2 == pytest.approx(4.50)  # between the 1000 plans at 4.40 and the one at 4.60
    assert re.search(r'data-start="([^"]+)"', second.text)[1] == re.search(r'data-start="([^"]+)"', first.text)[1]


def test_an_expired_form_is_a_400(citizen: httpx.Client) -> None:
    forged = citizen.post("/permits/checks", data={"csrf": "forged", "how": "draw", "footprint": "", "height": "3"})
    assert forged.status_code == 400 and "form" in forged.text.lower()


@pytest.mark.parametrize("number", ["²", "0", "-1", "x", "2"])
def test_a_page_of_past_checks_that_does_not_exist_is_said_on_the_page(citizen: httpx.Client, number: str) -> None:
    answer = citizen.get("/permits/checks", params={"page": number})
    assert answer.status_code == 400 and 'role="alert"' in answer.text
    assert f"There is no page &#34;{number}&#34; of past checks" in answer.text or \
        f"There is no page &quot;{number}&quot; of past checks" in answer.text
    first = citizen.get("/permits/checks", params={"page": "1"})
    assert first.status_code == 200 and f'href="/permits/checks/{CHECK}"' in first.text


def test_a_file_over_the_body_limit_is_a_page_for_a_browser_and_a_problem_for_an_api_client(
        citizen: httpx.Client) -> None:
    big = {"file": ("plan.json", b" " * (1024 * 1024 + 1), "application/json")}
    page = citizen.post("/permits/checks", files=big, data={"how": "upload"},
                        headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html"), page.text[:300]
    assert "The file is too large" in page.text and "at most 1 MB" in page.text and 'role="alert"' in page.text
    problem = citizen.post("/permits/checks", files=big, data={"how": "upload"}, headers={"accept": "application/json"})
    assert problem.status_code == 413 and problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["maxBodyBytes"] == 1024 * 1024
