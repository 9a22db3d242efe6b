"""The portal's data marketplace pages against a whole running platform: search with facets, a
dataset's DCAT-AP metadata, FAIR score and offers, requesting access (Dataspace Protocol
negotiation) and the agreements page; over HTTP as a browser without JavaScript sends it, and
in Chromium with a WCAG 2.2 AA audit of each kind of page.

Each module publishes its own datasets (titled with a word no other data holds) through the
gateway as the demo publisher, so no test depends on the demo data or on another test.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from urllib.parse import quote

import httpx
import pytest
from audit import audit
from oup_platform import Platform
from playwright.sync_api import Page, expect
from signing_in import csrf, sign_in, sign_in_in_browser

from gateway.portal import marketplace_view as view

THEMES = "http://publications.europa.eu/resource/authority/data-theme/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
RESEARCH = "https://w3id.org/dpv#AcademicResearch"
MARKETING = "https://w3id.org/dpv#Marketing"


@dataclass(frozen=True)
class Published:
    """What this module put in the catalogue: two datasets, one offer on each."""

    word: str
    trees: str
    trees_title: str
    open_offer: str
    parking: str
    parking_title: str
    restricted_offer: str


def _dataset(word: str, title: str, theme: str, licence: str) -> dict[str, object]:
    return {
        "title": {"en": f"{title} {word}", "nl": f"{title} {word} (nl)"},
        "description": {"en": f"{title} of the city centre, for the portal's tests.",
                        "nl": f"{title} van het centrum, voor de tests van het portaal."},
        "publisher": {"name": "Gemeente Rotterdam", "url": "https://www.rotterdam.nl"},
        "contactPoint": {"name": "Data team", "email": "data@rotterdam.example"},
        "keywords": [word, title.lower()],
        "themes": [THEMES + theme],
        "spatial": {"bbox": [4.46, 51.9, 4.5, 51.93]},
        "license": licence,
        "distributions": [{"title": {"en": "CSV file"}, "accessURL": f"https://data.example/{word}.csv",
                           "mediaType": "text/csv"}],
    }


def _offer(target: str, permission: dict[str, object]) -> dict[str, object]:
    return {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer", "uid": uuid.uuid4().urn,
            "assigner": "https://www.rotterdam.nl", "target": target, "permission": [permission]}


@pytest.fixture(scope="module")
def published(platform: Platform) -> Published:
    word = "t" + uuid.uuid4().hex[:10]
    with httpx.Client(base_url=platform.gateway, timeout=60) as client:
        token = client.post("/identity/token", data={"grant_type": "client_credentials", "scope": "marketplace:publish"},
                            auth=("demo-publisher", platform.secret("demo-publisher")))
        assert token.status_code == 200, token.text
        client.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        made = {}
        for name, title, theme, licence, permission in (
            ("trees", "Street trees", "ENVI", CC0, {"action": "use"}),
            ("parking", "Parking garages", "TRAN", CC_BY, {
                "action": "use",
                "constraint": [{"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": [RESEARCH]},
                               {"leftOperand": "count", "operator": "lteq", "rightOperand": 100}],
                "duty": [{"action": "attribute"}]}),
        ):
            response = client.post("/marketplace/datasets", json=_dataset(word, title, theme, licence))
            assert response.status_code == 201, response.text
            iri = response.headers["location"]
            offer = _offer(iri, permission)
            answer = client.post(f"/marketplace/datasets/{view.dataset_id(iri)}/offers", json=offer)
            assert answer.status_code == 201, answer.text
            made[name] = (view.dataset_id(iri), f"{title} {word}", offer["uid"])
    return Published(word, *made["trees"], *made["parking"])


@pytest.fixture
def browser_client(platform: Platform) -> Iterator[httpx.Client]:
    """A client that keeps cookies like a browser (no JavaScript), in English."""
    with httpx.Client(base_url=platform.gateway, timeout=60, headers={"accept-language": "en"}) as client:
        yield client


def _signed_in_at(client: httpx.Client, platform: Platform, next_path: str) -> httpx.Response:
    """Sign ``client`` in as the demo citizen; the page the portal sends it back to."""
    back = sign_in(client, "citizen", platform.passwords["citizen"], next_path)
    assert back.status_code == 303 and back.headers["location"] == next_path, back.text
    page = client.get(next_path)
    assert page.status_code == 200, page.text
    return page


def _main(html: str) -> str:
    """The text of the page's <main>, without tags, whitespace collapsed."""
    main = re.search(r"<main.*?</main>", html, re.DOTALL)[0]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


# --- HTTP: the pages as a browser without JavaScript gets them -------------------------------------

def test_a_facet_filter_narrows_the_search(browser_client: httpx.Client, published: Published) -> None:
    both = browser_client.get("/data", params={"q": published.word})
    assert both.status_code == 200
    assert "2 datasets" in _main(both.text)
    assert published.trees_title in both.text and published.parking_title in both.text
    assert 'name="theme" value="' + THEMES + 'TRAN"' in both.text  # the facet, as a checkbox

    narrowed = browser_client.get("/data", params={"q": published.word, "theme": THEMES + "TRAN"})
    text = _main(narrowed.text)
    assert "1 dataset" in text and published.parking_title in text and published.trees_title not in text
    assert re.search(r'value="' + re.escape(THEMES) + r'TRAN" checked', narrowed.text)


def test_a_search_without_matches_says_so(browser_client: httpx.Client, published: Published) -> None:
    answer = browser_client.get("/data", params={"q": published.word, "licence": "https://licence.example/none"})
    assert answer.status_code == 200
    assert "0 datasets" in _main(answer.text) and "No dataset matches" in _main(answer.text)


def test_a_page_number_that_is_no_number_is_a_clear_error(browser_client: httpx.Client) -> None:
    answer = browser_client.get("/data", params={"page": "two"})
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text and "There is no page" in _main(answer.text)


def test_the_dataset_page_shows_licence_fair_score_and_offers(browser_client: httpx.Client,
                                                              published: Published) -> None:
    answer = browser_client.get(f"/data/{published.parking}")
    assert answer.status_code == 200
    text = _main(answer.text)
    assert f'<a href="{CC_BY}">CC BY 4.0</a>' in answer.text
    assert re.search(r"FAIR score: \d+% \([\d.]+ of [\d.]+ points", text), text
    assert all(name in text for name in ("Findable", "Accessible", "Interoperable", "Reusable"))
    assert "Only for these purposes: Academic Research." in text and "At most 100 uses." in text
    assert "Sign in to request access" in text  # signed out: a link, no form
    assert 'action="/data/' not in answer.text


def test_the_rdf_forms_are_served_by_plain_links(browser_client: httpx.Client, published: Published) -> None:
    turtle = browser_client.get(f"/data/{published.trees}/turtle")
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    assert "dcat:Dataset" in turtle.text
    assert browser_client.get(f"/data/{published.trees}/rdfxml").status_code == 404


def test_an_unknown_dataset_is_a_not_found_page(browser_client: httpx.Client) -> None:
    answer = browser_client.get("/data/no-such-dataset")
    assert answer.status_code == 404 and "Not found" in _main(answer.text)


def test_requesting_access_signed_out_leads_to_sign_in(browser_client: httpx.Client, published: Published) -> None:
    answer = browser_client.post(f"/data/{published.trees}/offers/{published.open_offer}/request", data={})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/auth/login?next={quote('/data/' + published.trees, safe='')}"


def test_a_refused_request_shows_the_reason(browser_client: httpx.Client, platform: Platform,
                                            published: Published) -> None:
    page = _signed_in_at(browser_client, platform, f"/data/{published.parking}")
    assert str(page.url).endswith(f"/data/{published.parking}") and "Request access" in page.text
    answer = browser_client.post(f"/data/{published.parking}/offers/{published.restricted_offer}/request",
                                 data={"csrf": csrf(page.text), "purpose": MARKETING})
    assert answer.status_code == 403
    text = _main(answer.text)
    assert "Access was refused" in text and "constraint purpose isAnyOf" in text
    assert re.search(r'<div class="notice error" role="alert" id="refusal-1">', answer.text)


def test_a_request_without_the_form_token_is_refused(browser_client: httpx.Client, platform: Platform,
                                                     published: Published) -> None:
    _signed_in_at(browser_client, platform, f"/data/{published.trees}")
    answer = browser_client.post(f"/data/{published.trees}/offers/{published.open_offer}/request",
                                 data={"csrf": "forged"})
    assert answer.status_code == 400 and "This form has expired" in _main(answer.text)


def test_a_restricted_request_waits_for_the_provider(browser_client: httpx.Client, platform: Platform,
                                                     published: Published) -> None:
    page = _signed_in_at(browser_client, platform, f"/data/{published.parking}")
    answer = browser_client.post(f"/data/{published.parking}/offers/{published.restricted_offer}/request",
                                 data={"csrf": csrf(page.text), "purpose": RESEARCH})
    assert answer.status_code == 201
    assert "requested" in _main(answer.text) and "waiting for the provider" in _main(answer.text)


# --- the shaping of API answers, without HTTP ------------------------------------------------------

def test_an_offer_is_explained_in_words() -> None:
    offer = view.offer({
        "uid": "urn:uuid:1",
        "permission": [{"action": "use", "constraint": [
            {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": [RESEARCH]},
            {"leftOperand": "count", "operator": "lt", "rightOperand": 10},
            {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2028-01-01T00:00:00Z"},
            {"leftOperand": "spatial", "operator": "isPartOf", "rightOperand": "POLYGON ((0 0, 1 0, 1 1, 0 0))"}]}],
        "prohibition": [{"action": "sell"}],
    })
    assert not offer.open and offer.asks_location and offer.purposes == [(RESEARCH, "Academic Research")]
    keys = [term.key for term in offer.terms]
    assert keys == ["data.offer.permission", "data.offer.purpose", "data.offer.count", "data.offer.until",
                    "data.offer.area", "data.offer.prohibition"]
    assert offer.terms[2].fields == {"count": 9}
    assert view.offer({"uid": "u", "permission": [{"action": "use"}]}).open


def test_a_chosen_facet_value_stays_listed_without_matches() -> None:
    answer = {"facets": {"theme": [{"value": THEMES + "ENVI", "count": 3}]}}
    facets = view.facets(answer, {"theme": [THEMES + "TRAN"]})
    values = {item.value: (item.count, item.chosen) for item in facets[0].values}
    assert values == {THEMES + "ENVI": (3, False), THEMES + "TRAN": (0, True)}


def test_agreements_carry_their_metered_use() -> None:
    negotiation = {"providerPid": "urn:uuid:n", "state": "FINALIZED", "dataset": "http://x/datasets/abc",
                   "agreement": "urn:uuid:a", "history": [{"at": "2026-01-02T03:04:05+00:00"}]}
    rows = view.contracts([negotiation], [{"uid": "urn:uuid:a", "status": "active"}],
                          [{"agreement": "urn:uuid:a", "calls": 4, "entities": 40, "bytes": 4096, "remaining": 96}])
    assert [(row.dataset_id, row.agreement_status, row.calls, row.remaining, row.started) for row in rows] == [
        ("abc", "active", 4, 96, "2026-01-02 03:04")]


# --- in Chromium, with the accessibility audit -----------------------------------------------------

def test_search_scenario(platform: Platform, page: Page, published: Published) -> None:
    page.goto(f"{platform.gateway}/data")
    audit(page, "data-search")
    page.fill("#q", published.word)
    with page.expect_navigation():
        page.press("#q", "Enter")
    expect(page.locator("#result-count")).to_have_text("2 datasets")
    page.get_by_label(re.compile(r"^Transport")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#result-count")).to_have_text("1 dataset")
    with page.expect_navigation():
        page.get_by_role("link", name=published.parking_title).click()
    expect(page.locator("h1")).to_have_text(published.parking_title)
    expect(page.get_by_role("link", name="CC BY 4.0")).to_be_visible()
    audit(page, "data-dataset")


def test_request_access_scenario(platform: Platform, page: Page, published: Published) -> None:
    page.goto(f"{platform.gateway}/data/{published.trees}")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in to request access").click()
    sign_in_in_browser(page, "citizen", platform.passwords["citizen"], re.compile(rf"/data/{published.trees}$"))
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^Request access")).click()
    expect(page.get_by_role("status")).to_contain_text("agreed and in force")
    expect(page.locator("main")).to_contain_text("The agreement")
    audit(page, "data-request")
    with page.expect_navigation():
        page.get_by_role("link", name="Your requests and agreements").click()
    row = page.get_by_role("row").filter(has_text=published.trees_title).first
    expect(row).to_contain_text("agreed and in force")
    expect(row).to_contain_text("active")
    audit(page, "data-agreements")
