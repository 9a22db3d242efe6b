"""Harvesting another city's DCAT-AP catalogue over real HTTP: a second marketplace (Den Haag)
served on a loopback port, and a stand-in server answering whatever a test needs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response

from mims.marketplace.service import create_app
from tests.marketplace.conftest import PUBLIC_URL
from tests.serving import closed_port, free_port, served

DEN_HAAG = "https://data.denhaag.example/marketplace"
ISPARTOF = "http://purl.org/dc/terms/isPartOf"
DCAT_KEYS = ("@id", "@type", "identifier", "title", "description", "contactPoint", "releaseDate", "modificationDate",
             "keyword", "theme", "geographicalCoverage", "temporalCoverage", "conformsTo", "datasetDistribution")
EXAMPLES = ("parking-csv-download", "air-quality-geo-filtered", "rotterdam-buildings-digital-twin")


@dataclass
class StandIn:
    """A server answering ``GET /catalog`` with the body, media type and status set by the test."""

    url: str = ""
    body: bytes = b""
    media_type: str = "text/turtle"
    status: int = 200

    def answer(self, body: bytes, media_type: str, status: int = 200) -> str:
        self.body, self.media_type, self.status = body, media_type, status
        return self.url + "/catalog"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    state = StandIn()
    app = FastAPI()

    @app.get("/catalog")
    async def catalog() -> Response:
        return Response(state.body, status_code=state.status, media_type=state.media_type)

    with served(app, free_port()) as url:
        state.url = url
        yield state


@dataclass
class Peer:
    url: str

    def publish(self, document: dict[str, Any]) -> str:
        answer = httpx.post(self.url + "/datasets", json=document)
        assert answer.status_code == 201, answer.text
        return answer.json()["@id"]

    def get(self, path: str, accept: str = "application/ld+json") -> httpx.Response:
        return httpx.get(self.url + path, headers={"Accept": accept})


@pytest.fixture
def peer(tmp_path: Path, example: Any) -> Iterator[Peer]:
    """Den Haag's marketplace, with the PPI's three examples published."""
    app = create_app(data_dir=tmp_path / "den-haag", public_url=DEN_HAAG, gateway_url="https://api.denhaag.example")
    with served(app, free_port()) as url:
        city = Peer(url)
        for name in EXAMPLES:
            city.publish(example(name))
        yield city


def harvest(http: Any, url: str, status: int = 200) -> dict[str, Any]:
    answer = http.post("/harvests", json={"url": url})
    assert answer.status_code == status, answer.text
    return answer.json()


def local(http: Any) -> dict[str, dict[str, Any]]:
    """This catalogue's datasets by IRI, as harvesters get them."""
    return {d["@id"]: d for d in http.get("/catalog").json()["dataset"]}


def test_harvested_datasets_keep_their_iris_and_name_their_catalogue(http, peer):
    summary = harvest(http, peer.url + "/catalog")
    assert (summary["harvested"], summary["updated"], summary["unchanged"], summary["skipped"]) == (3, 0, 0, [])
    assert summary["catalogue"] == DEN_HAAG + "/catalog"
    originals = {d["@id"]: d for d in peer.get("/catalog").json()["dataset"]}
    copies = local(http)
    assert set(copies) == set(originals) and all(iri.startswith(DEN_HAAG + "/datasets/") for iri in copies)
    for iri, copy in copies.items():
        assert copy.pop(ISPARTOF) == [{"@id": DEN_HAAG + "/catalog"}]
        if "digital-twin" not in str(originals[iri]):  # everything the publisher said, read back unchanged
            assert {k: copy[k] for k in DCAT_KEYS if k in copy} == {k: originals[iri][k] for k in DCAT_KEYS
                                                                    if k in originals[iri]}
    # Found by search, facets included, and listed as a source.
    found = http.get("/datasets", params={"q": "parkeergarages"}).json()
    assert [d["@id"] for d in found["items"]] == [d["iri"] for d in summary["datasets"]
                                                  if "Parkeergarages" in str(copies[d["iri"]])]
    assert {"value": "Gemeente Den Haag", "count": 1} in found["facets"]["publisher"]
    sources = http.get("/harvests").json()["harvests"]
    assert [(s["source"], s["harvested"]) for s in sources] == [(peer.url + "/catalog", 3)]


def test_digital_twin_data_becomes_a_distribution_at_the_source_gateway(http, peer):
    summary = harvest(http, peer.url + "/catalog")
    twin = next(d for d in local(http).values() if "Luchtkwaliteit" in str(d))
    urls = [d["accessUrl"][0]["@id"] for d in twin["datasetDistribution"]]
    assert urls and all(u.startswith("https://api.denhaag.example/ngsi-ld/v1/entities?type=AirQualityObserved")
                        for u in urls)
    original = next(d for d in peer.get("/catalog").json()["dataset"] if d["@id"] == twin["@id"])
    for key in ("title", "description", "keyword", "theme", "temporalCoverage", "contactPoint", "releaseDate"):
        assert twin[key] == original[key], key
    assert sorted(map(str, twin["conformsTo"])) == sorted(map(str, original["conformsTo"]))
    notes = next(n["notKept"] for n in summary["notes"] if n["iri"] == twin["@id"])
    assert any("accessService" in note for note in notes)


def test_harvesting_again_updates_in_place_and_withdraws_what_is_gone(http, peer, example):
    first = {d["iri"]: d["id"] for d in harvest(http, peer.url + "/catalog")["datasets"]}
    again = harvest(http, peer.url + "/catalog")
    assert (again["harvested"], again["updated"], again["unchanged"], again["withdrawn"]) == (0, 0, 3, 0)
    parking_iri = next(iri for iri, copy in local(http).items() if "Parkeergarages" in str(copy))
    changed = example("parking-csv-download") | {"keywords": ["parkeren"]}
    assert httpx.put(parking_iri.replace(DEN_HAAG, peer.url), json=changed).status_code == 200
    gone = next(iri for iri in first if iri != parking_iri)
    assert httpx.delete(gone.replace(DEN_HAAG, peer.url)).status_code == 204
    third = harvest(http, peer.url + "/catalog")
    assert (third["harvested"], third["updated"], third["unchanged"], third["withdrawn"]) == (0, 1, 1, 1)
    assert {d["iri"]: d["id"] for d in third["datasets"]} == {iri: i for iri, i in first.items() if iri != gone}
    copy = http.get(f"/datasets/{first[parking_iri]}").json()
    assert copy["@id"] == parking_iri and copy["keyword"] == ["parkeren"]
    assert http.get(f"/datasets/{first[gone]}").status_code == 404


def test_a_harvested_dataset_cannot_be_edited_here(http, peer, example):
    summary = harvest(http, peer.url + "/catalog")
    dataset_id = summary["datasets"][0]["id"]
    answer = http.put(f"/datasets/{dataset_id}", json=example("parking-csv-download"))
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["source"] == DEN_HAAG + "/catalog"
    assert http.get(f"/datasets/{dataset_id}").json()["@id"] == summary["datasets"][0]["iri"]


@pytest.mark.parametrize("media_type", ["application/ld+json", "application/rdf+xml", "application/n-triples"])
def test_every_rdf_serialization_gives_the_same_datasets(http, peer, stand_in, media_type):
    assert harvest(http, peer.url + "/catalog")["harvested"] == 3  # Turtle, the harvester's first choice
    url = stand_in.answer(peer.get("/catalog", accept=media_type).content, media_type)
    # The stand-in serves the same catalogue (same dcat:Catalog IRI), so it is the same source.
    summary = harvest(http, url)
    assert (summary["harvested"], summary["updated"], summary["unchanged"]) == (0, 0, 3)


FOREIGN = """
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> . @prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
<https://delft.example/catalog> a dcat:Catalog ; dcat:dataset <https://delft.example/d/trees> .
<https://delft.example/d/trees> a dcat:Dataset ;
  dct:title "Bomen"@nl, "Bäume"@de ; dct:description "Alle bomen in Delft" ;
  dct:publisher [ foaf:name "Gemeente Delft" ] ;
  dcat:contactPoint [ vcard:fn "Groen" ; vcard:hasEmail <mailto:groen@delft.example> ] ;
  dcat:theme <http://publications.europa.eu/resource/authority/data-theme/ENVI>, <https://delft.example/themes/trees> ;
  dcat:landingPage <https://delft.example/bomen> ;
  dcat:distribution [ dcat:accessURL <https://delft.example/bomen.csv> ;
                      dct:license <https://creativecommons.org/publicdomain/zero/1.0/> ] .
<https://delft.example/d/german> a dcat:Dataset ; dct:title "Nur Deutsch"@de .
<https://delft.example/d/no-contact> a dcat:Dataset ; dct:title "Zonder contact"@nl ; dct:description "x"@nl ;
  dct:publisher [ foaf:name "Delft" ] ; dcat:distribution [ dcat:accessURL <https://delft.example/x> ] .
[] a dcat:Dataset ; dct:title "Zonder IRI"@nl .
<https://data.rotterdam.example/marketplace/datasets/abc> a dcat:Dataset ; dct:title "Ons eigen"@nl .
"""


def test_what_cannot_be_mapped_is_reported_per_dataset(http, stand_in):
    summary = harvest(http, stand_in.answer(FOREIGN.encode(), "text/turtle"))
    assert summary["catalogue"] == "https://delft.example/catalog"
    assert [d["iri"] for d in summary["datasets"]] == ["https://delft.example/d/trees"]
    reasons = {s["iri"]: s["reason"] for s in summary["skipped"]}
    assert reasons["https://delft.example/d/german"] == "no dct:title in Dutch, English or without a language tag"
    assert "dcat:contactPoint" in reasons["https://delft.example/d/no-contact"]
    assert "no IRI" in next(r for iri, r in reasons.items() if iri.startswith("_:"))
    assert "own namespace" in reasons[PUBLIC_URL + "/datasets/abc"]
    notes = summary["notes"][0]["notKept"]
    assert "dct:title in language 'de'" in notes
    assert "untagged dct:description taken as English" in notes
    assert "dcat:theme https://delft.example/themes/trees is not an EU data theme" in notes
    assert "http://www.w3.org/ns/dcat#landingPage is not kept" in notes
    trees = local(http)["https://delft.example/d/trees"]
    assert trees["title"] == [{"@value": "Bomen", "@language": "nl"}]
    assert [t["@id"] for t in trees["theme"]] == ["http://publications.europa.eu/resource/authority/data-theme/ENVI"]
    assert trees["datasetDistribution"][0]["licence"]["@id"] == "https://creativecommons.org/publicdomain/zero/1.0/"


def test_a_catalogue_does_not_harvest_itself(http, stand_in, example):
    http.post("/datasets", json=example("parking-csv-download"))
    url = stand_in.answer(http.get("/catalog", headers={"Accept": "text/turtle"}).content, "text/turtle")
    summary = harvest(http, url)
    assert summary["harvested"] == 0
    assert [s["reason"] for s in summary["skipped"]] == ["the source is this catalogue itself"]


def test_a_dataset_harvested_from_one_source_is_not_taken_from_another(http, stand_in):
    harvest(http, stand_in.answer(FOREIGN.encode(), "text/turtle"))
    other = FOREIGN.replace("https://delft.example/catalog", "https://mirror.example/catalog")
    summary = harvest(http, stand_in.answer(other.encode(), "text/turtle"))
    reasons = {s["iri"]: s["reason"] for s in summary["skipped"]}
    assert reasons["https://delft.example/d/trees"] == "already harvested from https://delft.example/catalog"


def test_an_unreachable_source_is_a_bad_gateway(http):
    with closed_port() as port:
        problem = harvest(http, f"http://127.0.0.1:{port}/catalog", status=422)
    assert "unreachable" in problem["errors"][0]["detail"] and problem["errors"][0]["pointer"] == "/url"


@pytest.mark.parametrize(("body", "media_type", "status", "says"), [
    (b"<html>catalogue</html>", "text/html", 422, "not RDF"),
    (b"<https://x.example/a> <https://x.example/b", "text/turtle", 422, "not valid turtle"),
    (b"<https://x.example/a> <https://x.example/b> <https://x.example/c> .", "text/turtle", 422, "neither"),
    (b'{"@context": "https://example.org/unknown.jsonld", "@id": "https://x.example/a"}', "application/ld+json",
     422, "unknown.jsonld"),
    (b"{}", "application/json", 422, "HTTP 500"),
])
def test_a_source_that_gives_no_catalogue_is_refused_with_the_reason(http, stand_in, body, media_type, status, says):
    url = stand_in.answer(body, media_type, status=500 if says == "HTTP 500" else 200)
    problem = harvest(http, url, status=status)
    assert says in problem["detail"]
    assert http.get("/harvests").json()["harvests"] == []


@pytest.mark.parametrize("url", ["ftp://data.example/catalog", "http://xn--/catalog", "http://@/catalog"])
def test_the_request_must_name_an_http_url(http, url):
    problem = harvest(http, url, status=400)
    assert problem["errors"][0]["pointer"] == "/url"


def test_harvesting_needs_the_publish_scope(secured, token):
    assert secured.post("/harvests", json={"url": "https://x.example/catalog"}).status_code == 401
    answer = secured.post("/harvests", json={"url": "https://x.example/catalog"}, headers=token("marketplace:read"))
    assert answer.status_code == 403
    assert secured.get("/harvests").status_code == 200
