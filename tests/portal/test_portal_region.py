"""The portal's region pages over real HTTP: the cities of the region and their status, a plain
platform that is a single city, and the federated search of entities (signed in) and datasets,
grouped by city, with a city that is down named rather than silently left out. The pages also
pass a WCAG 2.2 AA audit in a real browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from audit import audit
from fastapi import FastAPI, Request
from playwright.sync_api import Page
from serving import closed_port, free_port, served
from signing_in import identity_served, sign_in_in_browser, signed_in

import ppi_schemas
from gateway.peers import Peer
from gateway.portal import region_view
from gateway.region import PeerReport, PeerStatus
from gateway.service import create_app as create_gateway
from mims.context.service import create_app as create_context
from mims.marketplace.service import create_app as create_marketplace

PARKING = "OffStreetParking"


def den_haag() -> FastAPI:
    """A peer city's gateway as the region asks it, without a token: entities and a catalogue."""
    app = FastAPI()
    entities = [{"id": "urn:ngsi-ld:OffStreetParking:malieveld", "type": PARKING, "name": "Malieveld",
                 "availableSpotNumber": 120}]

    @app.get("/ngsi-ld/v1/types")
    async def types() -> dict[str, Any]:
        return {"id": "urn:x", "type": "EntityTypeList", "typeList": [PARKING]}

    @app.get("/ngsi-ld/v1/entities")
    async def query(request: Request) -> Any:
        pattern = request.query_params.get("idPattern", ".*")
        return [e for e in entities if request.query_params.get("type") in (None, e["type"])
                and re.fullmatch(pattern, e["id"])]

    @app.get("/marketplace/datasets")
    async def catalogue() -> dict[str, Any]:
        item = {"@id": "https://den-haag.example/datasets/parkeren", "title": [{"@value": "Parkeren Den Haag",
                                                                                "@language": "nl"}]}
        return {"total": 1, "limit": 20, "offset": 0, "items": [item],
                "facets": {name: [] for name in ("theme", "keyword", "publisher", "licence", "format")}}

    return app


@dataclass
class Region:
    gateway: str
    identity: str
    context: str
    marketplace: str
    peers_file: Path
    password: str  # the demo citizen's

    def new_gateway(self, data_dir: Path, port: int) -> FastAPI:
        """Another gateway of Rotterdam on the same MIMs and peers, that has asked no city yet."""
        return create_gateway(data_dir=data_dir, port=port, city="rotterdam", identity_url=self.identity,
                              context_url=self.context, marketplace_url=self.marketplace,
                              peers_file=self.peers_file, rate_limit="off")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    """Rotterdam (identity, context and marketplace MIMs behind its gateway) with peers den-haag
    (answers) and leiden (down: nothing listens at its address)."""
    folder: Path = tmp_path_factory.mktemp("region-portal")
    gateway_port = free_port()
    with ExitStack() as stack:
        identity, passwords = stack.enter_context(
            identity_served(folder / "identity", f"http://127.0.0.1:{gateway_port}"))
        context = stack.enter_context(served(create_context(data_dir=folder / "context"), free_port()))
        marketplace = stack.enter_context(served(create_marketplace(data_dir=folder / "marketplace"), free_port()))
        for example in ppi_schemas.get("dcat-dataset@1").examples_valid[:1]:
            assert httpx.post(marketplace + "/datasets", json=example.payload).status_code == 201
        created = httpx.post(context + "/ngsi-ld/v1/entities", json={
            "id": "urn:ngsi-ld:OffStreetParking:markthal", "type": PARKING,
            "name": {"type": "Property", "value": "Markthal"}})
        assert created.status_code == 201, created.text
        peer = stack.enter_context(served(den_haag(), free_port()))
        down = f"http://127.0.0.1:{stack.enter_context(closed_port())}"
        (folder / "peers.json").write_bytes(orjson.dumps([
            {"name": "den-haag", "title": "Den Haag", "base_url": peer, "issuer": peer, "timeout": 2},
            {"name": "leiden", "base_url": down, "issuer": down, "timeout": 2},
        ]))
        region = Region(f"http://127.0.0.1:{gateway_port}", identity, context, marketplace, folder / "peers.json",
                        passwords["citizen"])
        stack.enter_context(served(region.new_gateway(folder / "gateway", gateway_port), gateway_port))
        yield region


def test_region_failure_headers_are_read_as_cities_and_reasons() -> None:
    told = region_view.outcome({"oup-region-answered": "den-haag, rotterdam",
                                "oup-region-failed": 'leiden;reason="unreachable", delft;reason="status-503"'})
    assert told.answered == ("den-haag", "rotterdam")
    assert told.failed == (("leiden", "unreachable"), ("delft", "status-503"))
    assert region_view.reason_key("status-503") == "region.reason.status"
    assert region_view.reason_key("status-400") == "region.reason.refused"
    assert region_view.reason_key("something new") == "region.reason.other"
    assert re.fullmatch(region_view.id_pattern("a.b"), "urn:a.b:1")
    assert not re.fullmatch(region_view.id_pattern("a.b"), "urn:axb:1")


def test_a_plain_platform_is_a_single_city_and_says_how_to_run_a_region(tmp_path: Path) -> None:
    port, nowhere = free_port(), f"http://127.0.0.1:{closed_port()}"
    gateway = create_gateway(data_dir=tmp_path, port=port, identity_url=nowhere, context_url=nowhere)
    with served(gateway, port) as url:
        page = httpx.get(url + "/cities", cookies={"oup_lang": "en"})
    assert page.status_code == 200
    assert "This platform is a single city (local)" in page.text and "oup up --region" in page.text
    assert "digital twin (NGSI-LD)" in page.text


def test_dataset_links_are_this_portal_s_quoted_pages_or_web_addresses() -> None:
    own = region_view.dataset({"@id": "https://rotterdam.example/datasets/a b?c#d", "city": "rotterdam"}, "en",
                              "rotterdam")
    assert own.link == "/data/a%20b%3Fc%23d"
    assert region_view.dataset({"@id": "javascript:alert(1)", "city": "delft"}, "en", "rotterdam").link is None
    assert region_view.dataset({"@id": "https://delft.example/d/1", "city": "delft"}, "en", "rotterdam").link == \
        "https://delft.example/d/1"


def test_every_visitor_is_told_whether_a_peer_answers_and_a_status_reader_how_it_is_reached() -> None:
    peer = Peer.from_document({"name": "delft", "base_url": "http://delft.internal:8000", "issuer": "http://x",
                               "auth": {"method": "client-credentials"}}, "file")
    failed = PeerReport(peer, "open", 3, 12.2, PeerStatus(last_result="timeout", last_at=datetime.now(UTC)))
    public = region_view.cities("rotterdam", {"context": "http://c"}, [failed], detailed=False)
    assert [c.name for c in public] == ["rotterdam", "delft"]
    assert public[1].asked and not public[1].answering and public[1].connection is None
    [_, shown] = region_view.cities("rotterdam", {}, [failed], detailed=True)
    assert shown.connection is not None
    assert (shown.connection.url, shown.connection.link) == ("http://delft.internal:8000", "http://delft.internal:8000")
    connection = shown.connection
    assert (connection.circuit, connection.auth, connection.retry_in) == ("open", "client-credentials", 13)


def test_the_cities_page_shows_each_peer_and_its_last_answer(region: Region, tmp_path: Path) -> None:
    port = free_port()  # a gateway of its own: no other test has searched through it
    with served(region.new_gateway(tmp_path, port), port) as gateway, \
            httpx.Client(base_url=gateway, cookies={"oup_lang": "en"}) as http:
        before = http.get("/cities")
        http.get("/cities/search", params={"tab": "datasets"})  # asks every city once
        after = http.get("/cities")
    assert before.status_code == 200 and "single city" not in before.text
    rows = dict(re.findall(r'<th scope="row">([^<(]+?)(?: \([a-z-]+\))?</th>(.*?)</tr>', after.text, re.DOTALL))
    assert set(rows) == {"rotterdam", "Den Haag", "leiden"}
    assert "this platform" in rows["rotterdam"] and "data catalogue" in rows["rotterdam"]
    assert "Not asked yet" in before.text
    # Every visitor: whether a city answers and when it last did; not how this platform reaches it.
    assert "Yes" in rows["Den Haag"] and re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", rows["Den Haag"])
    assert "Not at the moment" in rows["leiden"]
    assert "127.0.0.1" not in after.text and "could not be reached" not in after.text
    assert "Asked in every search" not in after.text and "without a token" not in after.text
    # A person who may read the region's status (context:read) sees that too.
    with signed_in(region.gateway, "citizen", region.password, "/cities", lang="en") as http:
        http.get("/cities/search", params={"tab": "datasets"})  # asks every city once
        detailed = http.get("/cities")
    rows = dict(re.findall(r'<th scope="row">([^<(]+?)(?: \([a-z-]+\))?</th>(.*?)</tr>', detailed.text, re.DOTALL))
    assert "Answered at" in rows["Den Haag"] and "without a token (open data only)" in rows["Den Haag"]
    assert "Did not answer at" in rows["leiden"] and "it could not be reached" in rows["leiden"]
    assert re.search(r'<a href="http://127\.0\.0\.1:\d+">', rows["Den Haag"])


def test_a_search_page_that_does_not_exist_is_said_on_the_page(region: Region) -> None:
    with httpx.Client(base_url=region.gateway, cookies={"oup_lang": "en"}) as http:
        for number in ("²", "0", "x", "100000"):
            page = http.get("/cities/search", params={"tab": "datasets", "page": number})
            assert page.status_code == 400 and 'role="alert"' in page.text, number
            assert "There is no such page" in page.text and f"There is no page &#34;{number}&#34;" in page.text
            assert "From rotterdam" not in page.text


def test_the_catalogue_search_groups_datasets_by_city_and_names_the_city_that_is_down(region: Region) -> None:
    with httpx.Client(base_url=region.gateway, cookies={"oup_lang": "en"}) as http:
        page = http.get("/cities/search", params={"tab": "datasets"})
    assert page.status_code == 200
    assert "From den-haag" in page.text and "From rotterdam" in page.text
    assert 'href="https://den-haag.example/datasets/parkeren">Parkeren Den Haag</a>' in page.text
    assert re.search(r'href="/data/[^"/]+">', page.text)  # this city's own datasets open in the portal
    assert "leiden did not answer: it could not be reached." in page.text


def test_the_entity_search_needs_a_sign_in(region: Region) -> None:
    with httpx.Client(base_url=region.gateway, cookies={"oup_lang": "en"}) as http:
        page = http.get("/cities/search")
    assert page.status_code == 200 and "Sign in to search the cities" in page.text
    assert 'name="type"' not in page.text


def test_the_entity_search_shows_every_city_s_entities_and_a_partial_failure(region: Region) -> None:
    with signed_in(region.gateway, "citizen", region.password, "/cities/search", lang="en") as http:
        form = http.get("/cities/search")
        found = http.get("/cities/search", params={"tab": "entities", "type": PARKING})
        by_id = http.get("/cities/search", params={"tab": "entities", "text": "malie", "type": PARKING})
        refused = http.get("/cities/search", params={"tab": "entities", "type": PARKING, "q": "name=="})
    assert form.status_code == 200 and f'<option value="{PARKING}">' in form.text
    assert found.status_code == 200 and "2 found" in found.text
    assert "From den-haag" in found.text and "From rotterdam" in found.text
    assert "urn:ngsi-ld:OffStreetParking:markthal" in found.text and "Malieveld" in found.text
    assert "availableSpotNumber" in found.text
    assert "Not every city answered" in found.text and "leiden did not answer" in found.text
    assert "1 found" in by_id.text and "markthal" not in by_id.text
    # This city's own refusal is the person's query to fix: said beside the query field, not a city down.
    assert refused.status_code == 400 and 'role="alert"' in refused.text and 'aria-invalid="true"' in refused.text
    assert "rotterdam did not answer" not in refused.text


def test_the_region_pages_pass_the_audit(region: Region, page: Page) -> None:
    page.goto(f"{region.gateway}/cities/search?tab=datasets")
    audit(page, "region-search-datasets")
    page.goto(f"{region.gateway}/cities")
    assert page.locator("table caption").count() == 1
    audit(page, "region-cities")
    page.goto(f"{region.gateway}/auth/login?next=/cities/search")
    sign_in_in_browser(page, "citizen", region.password, f"{region.gateway}/cities/search")
    page.select_option("#type", PARKING)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "2 found" in page.inner_text("main")
    audit(page, "region-search-entities")
