"""The permit check as a service, over HTTP against a served context MIM holding the real Spijkenisse
zoning plan (recorded as adopted: the file is a voorontwerp, whose rules have no legal force) and a
parcel around the test block: plans as building-plan JSON, CityJSON and IFC, refusals, stored
decisions, the HTML report, and the whole path through the gateway with a token.

Known answers (see test_permit_check_rules.py): the 7 m x 7 m block 82145..82152 x 429333..429340
lies inside the bouwvlak and inside the 34 m maximum height only; the parcel is the 17 m x 17 m
square 5 m around it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import shapely
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from shapely.geometry import box, mapping, shape

import ppi_schemas
from gateway.service import create_app as create_gateway
from mims.context.service import create_app as create_context
from mims.kit import storage
from mims.kit.auth import TokenVerifier
from mims.kit.geo.imro import read_plan
from mims.permit_check import twin
from mims.permit_check.checks_storage import EVERYONE, SqlCheckStore, Submitter
from mims.permit_check.service import SPEC
from mims.permit_check.service import create_app as create_permit_check
from tests.kit.test_kit_geo_cityjson import box as cityjson_box
from tests.permit_check.test_permit_check_ifc import building as ifc_building
from tests.permit_check.test_permit_check_rules import edge_rectangle
from tests.serving import closed_port, free_port, served

DATA = Path(__file__).resolve().parent / "data"
PLAN_ID = "NL.IMRO.1930.BPRaadhuislaanSP-1001"
BOUWVLAK = "NL.IMRO.7e528d458cf44250b6e625300991d66a"
BLOCK = box(82145, 429333, 82152, 429340)
PARCEL = box(82140, 429328, 82157, 429345)
ISSUER = "http://127.0.0.1:9/nissewaard"
KEY = ECKey.generate_key("P-256", {"kid": "permit-1"})


def parcels() -> dict[str, Any]:
    """One BRK parcel, SPK01 A 1, around the block (EPSG:28992)."""
    return {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:28992"}},
            "features": [{"type": "Feature", "properties": {"GEMEENTE": "SPK01", "SECTIE": "A", "PERC_NR": 1},
                          "geometry": mapping(PARCEL)}]}


def adopted_spijkenisse() -> dict[str, Any]:
    plan = read_plan(DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml")
    assert plan["status"] == "voorontwerp"
    return {**plan, "status": "vastgesteld"}


async def publish(url: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        await twin.publish(client, url, twin.plan_entities(adopted_spijkenisse()))
        await twin.publish(client, url, twin.parcel_entities(parcels()))


@pytest.fixture(scope="module")
def context_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(create_context(data_dir=tmp_path_factory.mktemp("context")), free_port()) as url:
        asyncio.run(publish(url))
        yield url


@pytest.fixture(scope="module")
def permit_url(tmp_path_factory: pytest.TempPathFactory, context_url: str) -> Iterator[str]:
    app = create_permit_check(data_dir=tmp_path_factory.mktemp("permit"), context_url=context_url)
    with served(app, free_port()) as url:
        yield url


def plan(footprint: shapely.Geometry = BLOCK, **members: Any) -> dict[str, Any]:
    document = {"footprint": json.loads(json.dumps(mapping(footprint))), "height": 30.0, "storeysAboveGround": 9,
                "functions": [{"function": "wonen", "grossFloorArea": 400.0}], "dwellings": 4,
                "parkingSpaces": 4, "roofType": "flat"}
    return {**document, **members}


def result(decision: dict[str, Any], rule: str) -> dict[str, Any]:
    [found] = [r for r in decision["results"] if r["rule"] == rule]
    return found


def submitted(base: str, **kwargs: Any) -> dict[str, Any]:
    response = httpx.post(f"{base}/v1/checks", timeout=60, **kwargs)
    assert response.status_code == 201, response.text
    decision = response.json()
    assert ppi_schemas.validate(decision, "permit-decision@1.0.0") == []
    assert response.headers["location"] == f"{base}/v1/checks/{decision['id']}"
    return decision


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


# -- building-plan JSON ----------------------------------------------------------------------------


def test_a_plan_inside_the_building_plane_and_under_the_height_limit_is_compliant(permit_url: str) -> None:
    decision = submitted(permit_url, json=plan(height=30.0))
    assert decision["verdict"] == "compliant"
    height = result(decision, "max-height")
    assert (height["verdict"], height["measured"], height["limit"]) == (
        "pass", {"value": 30.0, "unit": "m"}, {"value": 34, "unit": "m"})
    assert height["legalReference"] == {"plan": PLAN_ID, "article": "3"}
    assert result(decision, "within-building-plane")["verdict"] == "pass"
    # the parcel came from the twin: the one holding the footprint
    assert result(decision, "within-parcel")["verdict"] == "pass"
    stored = httpx.get(f"{permit_url}/v1/checks/{decision['id']}", timeout=10)
    assert stored.status_code == 200 and stored.json() == decision


def test_a_plan_too_tall_is_non_compliant_with_the_measured_height(permit_url: str) -> None:
    decision = submitted(permit_url, json=plan(height=34.01))
    assert decision["verdict"] == "non-compliant"
    height = result(decision, "max-height")
    assert (height["verdict"], height["measured"], height["limit"]) == (
        "fail", {"value": 34.01, "unit": "m"}, {"value": 34, "unit": "m"})


def test_a_plan_overhanging_the_building_plane_fails_with_the_part_outside(permit_url: str) -> None:
    # 8 m along the bouwvlak edge, 6 m inside and 2 m outside: 8 x 1.95 = 15.6 m2 beyond the tolerance
    decision = submitted(permit_url, json=plan(edge_rectangle((2, 10), (-6, 2)), height=10.0))
    outside = result(decision, "within-building-plane")
    assert decision["verdict"] == "non-compliant"
    assert (outside["verdict"], outside["measured"]) == ("fail", {"value": 15.6, "unit": "m2"})
    assert shape(outside["evidence"]).area == pytest.approx(15.6, abs=0.01)


def test_a_parcel_reference_is_looked_up_and_an_unknown_one_leaves_the_parcel_rule_undecided(permit_url: str) -> None:
    known = submitted(permit_url, json=plan(parcel={"reference": "SPK01-A-1"}))
    assert result(known, "within-parcel")["verdict"] == "pass"
    unknown = submitted(permit_url, json=plan(parcel={"reference": "SPK01-A-2"}))
    assert result(unknown, "within-parcel")["verdict"] in ("insufficient-data", "not-applicable")


# -- CityJSON and IFC ------------------------------------------------------------------------------


def test_a_cityjson_building_is_checked(permit_url: str) -> None:
    document = cityjson_box(82145.0, 429333.0, 7.0, base=-0.5, top=29.5)  # terrain 0: 29.5 m high
    for content_type in ("application/city+json", "application/json"):
        decision = submitted(permit_url, content=json.dumps(document), headers={"Content-Type": content_type})
        height = result(decision, "max-height")
        assert (height["verdict"], height["measured"]) == ("pass", {"value": 29.5, "unit": "m"})
        assert result(decision, "within-building-plane")["verdict"] == "pass"
    tall = cityjson_box(82145.0, 429333.0, 7.0, base=-0.5, top=35.5)
    assert result(submitted(permit_url, json=tall), "max-height")["verdict"] == "fail"


def test_a_cityjson_file_with_several_buildings_needs_the_object(permit_url: str) -> None:
    document = cityjson_box(82145.0, 429333.0, 7.0, base=-0.5, top=29.5)
    document["CityObjects"]["annex"] = copy.deepcopy(document["CityObjects"]["house"])
    refused = problem(httpx.post(f"{permit_url}/v1/checks", json=document, timeout=30), 422)
    assert refused["objects"] == ["house", "annex"] and "house" in refused["detail"]
    assert refused["errors"][0]["pointer"] == "object" and refused["errors"][0]["location"] == "query"
    decision = submitted(permit_url, json=document, params={"object": "annex"})
    assert result(decision, "max-height")["verdict"] == "pass"
    problem(httpx.post(f"{permit_url}/v1/checks", json=document, params={"object": "shed"}, timeout=30), 422)


def ifc_inside_the_plane(georeferenced: bool = True) -> tuple[bytes, tuple[float, float]]:
    """The 10 m x 8 m IFC test building (6.3 m high, two storeys) placed well inside the bouwvlak."""
    features = {f["id"]: shape(f["geometry"]) for f in adopted_spijkenisse()["features"]}
    room = features[BOUWVLAK].buffer(-7)
    assert not room.is_empty
    centre = room.representative_point()
    origin = (round(centre.x - 5, 3), round(centre.y - 4, 3))
    b = ifc_building()
    if georeferenced:
        b.georeference(origin[0], origin[1], 0.0)
    return b.f.to_string().encode(), origin


def test_an_ifc_model_is_checked(permit_url: str) -> None:
    body, _ = ifc_inside_the_plane()
    for content_type in ("application/x-step", "application/ifc"):
        decision = submitted(permit_url, content=body, headers={"Content-Type": content_type})
        height = result(decision, "max-height")
        assert (height["verdict"], height["measured"]) == ("pass", {"value": 6.3, "unit": "m"})
        assert result(decision, "within-building-plane")["verdict"] == "pass"


def test_an_ifc_model_without_georeference_is_refused_until_an_origin_is_given(permit_url: str) -> None:
    body, origin = ifc_inside_the_plane(georeferenced=False)
    headers = {"Content-Type": "application/x-step"}
    refused = problem(httpx.post(f"{permit_url}/v1/checks", content=body, headers=headers, timeout=30), 422)
    assert "IfcMapConversion" in refused["detail"] and "origin" in refused["detail"]
    decision = submitted(permit_url, content=body, headers=headers, params={"origin": f"{origin[0]},{origin[1]},0"})
    assert result(decision, "within-building-plane")["verdict"] == "pass"
    bad = problem(httpx.post(f"{permit_url}/v1/checks", content=body, headers=headers,
                             params={"origin": "north"}, timeout=30), 400)
    assert bad["errors"][0]["pointer"] == "origin"


# -- refusals --------------------------------------------------------------------------------------


def test_a_body_that_is_not_a_building_plan_is_refused_listing_every_problem(permit_url: str) -> None:
    malformed = problem(httpx.post(f"{permit_url}/v1/checks", content=b'{"height": ',
                                   headers={"Content-Type": "application/json"}, timeout=10), 400)
    assert "line 1" in malformed["detail"]
    invalid = problem(httpx.post(f"{permit_url}/v1/checks", json={"height": -1, "storeys": 3}, timeout=10), 400)
    assert {e["pointer"] for e in invalid["errors"]} >= {"/footprint", "/height"}
    problem(httpx.post(f"{permit_url}/v1/checks", content=b"hello", headers={"Content-Type": "text/plain"},
                       timeout=10), 415)
    far = problem(httpx.post(f"{permit_url}/v1/checks", json=plan(box(0, 0, 10, 10)), timeout=10), 422)
    assert "outside the Netherlands" in far["detail"] and far["errors"][0]["pointer"] == "/footprint"


def test_an_unknown_municipality_is_refused_naming_the_known_ones(permit_url: str) -> None:
    refused = problem(httpx.post(f"{permit_url}/v1/checks", params={"municipality": "atlantis"}, json=plan(),
                                 timeout=10), 404)
    assert "rotterdam" in refused["detail"] and refused["errors"][0]["pointer"] == "municipality"
    assert submitted(permit_url, params={"municipality": "rotterdam"}, json=plan())["ruleSet"]["municipality"] == "rotterdam"


def test_an_unreachable_digital_twin_is_503(tmp_path: Path) -> None:
    with closed_port() as port:
        app = create_permit_check(data_dir=tmp_path, context_url=f"http://127.0.0.1:{port}")
        with served(app, free_port()) as url:
            refused = problem(httpx.post(f"{url}/v1/checks", json=plan(), timeout=30), 503)
            assert "context" in refused["detail"] and refused.get("errors") is None
            assert httpx.get(f"{url}/v1/checks", timeout=10).json()["total"] == 0


# -- stored checks and the report ------------------------------------------------------------------


def test_past_checks_are_listed_newest_first_and_paged(permit_url: str) -> None:
    first = submitted(permit_url, json=plan(height=20.0))
    second = submitted(permit_url, json=plan(height=21.0))
    page = httpx.get(f"{permit_url}/v1/checks", params={"limit": 2}, timeout=10).json()
    assert [item["id"] for item in page["items"]] == [second["id"], first["id"]]
    assert page["total"] >= 2 and page["items"][0]["href"] == f"{permit_url}/v1/checks/{second['id']}"
    later = httpx.get(f"{permit_url}/v1/checks", params={"limit": 1, "offset": 1}, timeout=10).json()
    assert [item["id"] for item in later["items"]] == [first["id"]]
    problem(httpx.get(f"{permit_url}/v1/checks", params={"limit": 0}, timeout=10), 400)
    problem(httpx.get(f"{permit_url}/v1/checks/{uuid.uuid4().hex}", timeout=10), 404)
    problem(httpx.get(f"{permit_url}/v1/checks/{uuid.uuid4().hex}.html", timeout=10), 404)


def test_the_report_shows_the_rule_table_and_a_map_in_dutch_or_english(permit_url: str) -> None:
    decision = submitted(permit_url, json=plan(height=34.01))
    url = f"{permit_url}/v1/checks/{decision['id']}.html"
    dutch = httpx.get(url, timeout=10)
    assert dutch.status_code == 200 and dutch.headers["content-type"].startswith("text/html")
    html = dutch.text
    assert '<html lang="nl">' in html and "<caption>Toetsing per regel</caption>" in html
    assert '<th scope="col">Gemeten</th>' in html and '<th scope="row" id="rule-max-height">Maximale bouwhoogte</th>' in html
    assert "34,01 m" in html and "Voldoet niet" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="map-title map-desc"' in html
    for layer in ("footprint", "plane", "area", "parcel"):
        assert f'<g class="{layer}"' in html
    assert "<desc id=\"map-desc\">" in html and "Legenda" in html
    english = httpx.get(url, headers={"Accept-Language": "de, en;q=0.8, nl;q=0.5"}, timeout=10)
    assert '<html lang="en">' in english.text and "<caption>Rule by rule</caption>" in english.text
    assert english.headers["content-language"] == "en"
    assert '<html lang="en">' in httpx.get(url, params={"lang": "en"}, headers={"Accept-Language": "nl"}, timeout=10).text


def test_the_report_draws_the_evidence_of_a_failed_rule(permit_url: str) -> None:
    decision = submitted(permit_url, json=plan(edge_rectangle((2, 10), (-6, 2)), height=10.0))
    html = httpx.get(f"{permit_url}/v1/checks/{decision['id']}.html", params={"lang": "en"}, timeout=10).text
    assert '<g class="evidence">' in html and "Deviation (evidence): Inside the building plane." in html


def test_the_site_of_a_check_is_geojson_in_wgs84_for_maps(permit_url: str) -> None:
    decision = submitted(permit_url, json=plan(edge_rectangle((2, 10), (-6, 2)), height=10.0))
    answer = httpx.get(f"{permit_url}/v1/checks/{decision['id']}/site", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/geo+json")
    features = answer.json()["features"]
    layers = [f["properties"]["layer"] for f in features]
    assert layers[0] == "footprint" and "zoning" in layers and "evidence" in layers
    for feature in features:  # Rotterdam in longitude, latitude (RFC 7946), not metres
        lon, lat = shape(feature["geometry"]).representative_point().coords[0]
        assert 3.3 < lon < 5.0 and 51.5 < lat < 52.3, feature["properties"]
    failed = [f["properties"] for f in features if f["properties"]["layer"] == "evidence"]
    assert {"verdict": "fail"}.items() <= failed[0].items() and failed[0]["rule"]
    problem(httpx.get(f"{permit_url}/v1/checks/{uuid.uuid4().hex}/site", timeout=10), 404)


def test_text_in_a_plan_is_escaped_in_the_report(permit_url: str) -> None:
    decision = submitted(permit_url, json=plan(name="<script>alert(1)</script>"))
    html = httpx.get(f"{permit_url}/v1/checks/{decision['id']}.html", timeout=10).text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_checks_are_stored_on_sqlite_and_postgresql(database_url: str, tmp_path: Path) -> None:
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        store = SqlCheckStore(engine)
        decision = {"id": "a" * 32, "verdict": "compliant", "ruleSet": {"municipality": "default", "version": "1"}}
        await store.add("a" * 32, datetime.now(UTC), decision, {"plan": {"height": 3}}, Submitter("citizen", ISSUER))
        await store.add("b" * 32, datetime.now(UTC), {**decision, "id": "b" * 32}, {}, None)
        found = await store.get("a" * 32, Submitter("citizen", ISSUER))
        assert found is not None and found.decision == decision and found.site == {"plan": {"height": 3}}
        assert await store.get("c" * 32, EVERYONE) is None and await store.get("\x00", EVERYONE) is None
        total, page = await store.page(1, 0, EVERYONE)
        assert total == 2 and [c.id for c in page] == ["b" * 32]
    finally:
        await engine.dispose()


# -- through the gateway ---------------------------------------------------------------------------


def bearer(scope: str, sub: str = "citizen") -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "gateway", "sub": sub, "client_id": "demo-portal", "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    token = jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory, context_url: str) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("gateway")
    gateway_port = free_port()
    with ExitStack() as stack:
        permit = stack.enter_context(served(create_permit_check(
            data_dir=folder / "permit", context_url=context_url,
            public_url=f"http://127.0.0.1:{gateway_port}/permit-check"), free_port()))
        app = create_gateway(data_dir=folder / "gateway", permit_check_url=permit, issuers=[ISSUER],
                             jwks_url=ISSUER + "/jwks", rate_limit="off")
        app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=None)
        yield stack.enter_context(served(app, gateway_port))


def test_a_plan_is_checked_through_the_gateway_with_the_submit_scope(gateway_url: str) -> None:
    url = gateway_url + "/permit-check/v1/checks"
    assert httpx.post(url, json=plan(), timeout=30).status_code == 401
    assert httpx.post(url, json=plan(), headers=bearer("context:read"), timeout=30).status_code == 403
    created = httpx.post(url, json=plan(height=34.01), headers=bearer("permit:submit"), timeout=60)
    assert created.status_code == 201, created.text
    decision = created.json()
    assert decision["verdict"] == "non-compliant"
    location = created.headers["location"]
    assert location == f"{url}/{decision['id']}"
    assert httpx.get(location, timeout=10).status_code == 401
    assert httpx.get(location, headers=bearer("permit:submit"), timeout=10).json() == decision
    report = httpx.get(location + ".html", headers=bearer("permit:submit"), timeout=10)
    assert report.status_code == 200 and "<svg" in report.text and "<caption>" in report.text
    assert httpx.get(location, headers=bearer("permit:submit", sub="neighbour"), timeout=10).status_code == 404


# -- batches ---------------------------------------------------------------------------------------


def batch(base: str, plans: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{base}/v1/checks/batch", json={"plans": plans}, timeout=60, **kwargs)


def total(base: str) -> int:
    return httpx.get(f"{base}/v1/checks", params={"limit": 1}, timeout=10).json()["total"]


def test_a_batch_gives_each_plan_the_decision_it_gets_alone_and_stores_them(permit_url: str) -> None:
    plans = [plan(height=30.0), plan(height=34.01), plan(edge_rectangle((2, 10), (-6, 2)), height=10.0),
             plan(box(92662, 436650, 92669, 436670), height=9.0)]  # Rotterdam: no zoning in this twin
    answer = batch(permit_url, plans)
    assert answer.status_code == 201, answer.text
    decisions, hrefs = answer.json()["decisions"], answer.json()["hrefs"]
    assert [d["verdict"] for d in decisions] == ["compliant", "non-compliant", "non-compliant", "insufficient-data"]
    for one, decision, href in zip(plans, decisions, hrefs, strict=True):
        assert ppi_schemas.validate(decision, "permit-decision@1.0.0") == []
        alone = submitted(permit_url, json=one)
        assert decision["results"] == alone["results"] and decision["inputHash"] == alone["inputHash"]
        assert href == f"{permit_url}/v1/checks/{decision['id']}"
        assert httpx.get(href, timeout=10).json() == decision


@pytest.mark.parametrize(("plans", "pointer", "status"), [
    ([plan(), {**plan(), "height": "tall"}], "/plans/1/height", 400),
    ([plan(), plan(), plan(box(0, 0, 10, 10))], "/plans/2/footprint", 422),
    ([plan(), {**plan(), "footprint": {"type": "Polygon", "coordinates": [[[82140, 429328], [82157, 429345],
                                                                            [82157, 429328], [82140, 429345],
                                                                            [82140, 429328]]]}}],
     "/plans/1/footprint", 422),  # a bow tie
])
def test_a_batch_with_one_unusable_plan_is_refused_whole(permit_url: str, plans: list[dict[str, Any]], pointer: str,
                                                         status: int) -> None:
    before = total(permit_url)
    refused = problem(batch(permit_url, plans), status)
    assert pointer in [e["pointer"] for e in refused["errors"]], refused
    assert total(permit_url) == before  # nothing stored


def test_what_is_no_batch_is_refused(permit_url: str) -> None:
    url = f"{permit_url}/v1/checks/batch"
    for body in ({"plans": []}, {"plans": {}}, [plan()], {"plan": [plan()]}):
        assert problem(httpx.post(url, json=body, timeout=10), 400)["errors"][0]["pointer"] == "/plans"
    many = {"plans": [plan()] * 1001}
    assert "1 to 1000" in problem(httpx.post(url, json=many, timeout=30), 400)["detail"]
    cityjson = json.dumps(cityjson_box(82145.0, 429333.0, 7.0, base=-0.5, top=29.5))
    problem(httpx.post(url, content=cityjson, headers={"Content-Type": "application/city+json"}, timeout=10), 415)
    problem(httpx.post(url, content=b"{", headers={"Content-Type": "application/json"}, timeout=10), 400)


async def test_footprints_close_together_share_one_twin_query(context_url: str) -> None:
    requests: list[httpx.Request] = []

    async def count(request: httpx.Request) -> None:
        requests.append(request)

    near = [BLOCK, box(82150, 429357, 82160, 429362), edge_rectangle((2, 10), (-6, 2))]
    far = box(92662, 436650, 92669, 436670)
    async with httpx.AsyncClient(timeout=30, event_hooks={"request": [count]}) as client:
        together = await twin.zoning_at_many(client, context_url, [*near, far])
        assert len(requests) == 2  # one query for the three in one 250 m cell, one for the far one
        for footprint, found in zip([*near, far], together, strict=True):
            assert (found.features, found.parcels) == await twin.zoning_at(client, context_url, footprint)
    assert [len(found.features) > 0 for found in together] == [True, True, True, False]
