"""The catalogue over HTTP: publish, read, update, withdraw; PPI validation; content negotiation;
who may publish."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import rdflib
from rdflib import Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, RDF

from mims.marketplace.rdf import negotiate, to_graph
from tests.marketplace.conftest import GATEWAY_URL, PUBLIC_URL

BUILDINGS = "rotterdam-buildings-digital-twin"
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")  # rdflib's closed DCAT namespace warns when pytest inspects it


def path_of(iri: str) -> str:
    assert iri.startswith(PUBLIC_URL + "/")
    return iri.removeprefix(PUBLIC_URL)


def test_published_dataset_reads_back_as_dcat_ap_json_ld(http, example):
    created = http.post("/datasets", json=example(BUILDINGS))
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/ld+json"
    body = created.json()
    assert body["@type"] == "Dataset" and body["@id"] == created.headers["location"]
    assert body["@id"].startswith(PUBLIC_URL + "/datasets/")
    read = http.get(path_of(body["@id"]))
    assert read.status_code == 200 and read.json() == body
    graph = to_graph(body)
    dataset = URIRef(body["@id"])
    assert (dataset, RDF.type, DCAT.Dataset) in graph
    assert (dataset, DCTERMS.title, Literal("Gebouwen in Delfshaven", lang="nl")) in graph
    assert (dataset, DCTERMS.title, Literal("Buildings in Delfshaven", lang="en")) in graph
    assert (dataset, DCAT.theme, URIRef("http://publications.europa.eu/resource/authority/data-theme/REGI")) in graph


def test_digital_twin_becomes_an_ngsi_ld_query_through_the_gateway(http, example):
    body = http.post("/datasets", json=example(BUILDINGS)).json()
    graph = to_graph(body)
    dataset = URIRef(body["@id"])
    assert (dataset, DCTERMS.conformsTo, URIRef("https://w3id.org/oup/ppi/sdm-building/1.0.0")) in graph
    [distribution] = graph.objects(dataset, DCAT.distribution)
    access = str(graph.value(distribution, DCAT.accessURL))
    assert access.startswith(GATEWAY_URL + "/ngsi-ld/v1/entities?")
    assert parse_qs(urlsplit(access).query) == {"type": ["Building"], "q": ['category=="residential"']}
    service = graph.value(distribution, DCAT.accessService)
    assert service == URIRef(PUBLIC_URL + "/data-services/ngsi-ld")


def test_geo_filtered_twin_carries_the_geo_query(http, example):
    body = http.post("/datasets", json=example("air-quality-geo-filtered")).json()
    access = next(d["accessUrl"][0]["@id"] for d in body["datasetDistribution"])
    query = parse_qs(urlsplit(access).query)
    assert query["type"] == ["AirQualityObserved"] and query["georel"] == ["within"]
    assert query["geometry"] == ["Polygon"]
    assert orjson.loads(query["coordinates"][0])[0][0] == [4.0, 51.9]


def test_update_keeps_the_iri_and_issue_date(http, example):
    first = http.post("/datasets", json=example(BUILDINGS)).json()
    changed = example(BUILDINGS)
    changed["title"] = {"en": "All buildings"}
    updated = http.put(path_of(first["@id"]), json=changed)
    assert updated.status_code == 200
    body = updated.json()
    assert body["@id"] == first["@id"] and body["releaseDate"] == first["releaseDate"]
    assert body["title"] == [{"@value": "All buildings", "@language": "en"}]
    assert body["modificationDate"]["@value"] >= first["modificationDate"]["@value"]
    assert http.get(path_of(first["@id"])).json()["title"] == body["title"]


def test_withdrawn_dataset_is_gone(http, example):
    iri = http.post("/datasets", json=example(BUILDINGS)).json()["@id"]
    assert http.delete(path_of(iri)).status_code == 204
    assert http.get(path_of(iri)).status_code == 404
    assert http.delete(path_of(iri)).status_code == 404
    assert http.put(path_of(iri), json=example(BUILDINGS)).status_code == 404


def test_missing_mandatory_property_is_refused_naming_it(http, example):
    document = example(BUILDINGS)
    del document["title"]
    del document["contactPoint"]["email"]
    response = http.post("/datasets", json=document)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["ppi"] == "dcat-dataset@1.0.0"
    assert {error["pointer"] for error in problem["errors"]} == {"/title", "/contactPoint/email"}
    assert http.get("/datasets").json()["total"] == 0


def test_unknown_ppi_is_refused_at_its_pointer(http, example):
    document = example(BUILDINGS)
    document["digitalTwin"]["ppi"] = "sdm-spaceship@1"
    response = http.post("/datasets", json=document)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"pointer": "/digitalTwin/ppi", "detail": "there is no PPI 'sdm-spaceship@1'", "location": "body"}
    ]


def test_nul_characters_are_refused_not_stored(http, example):
    document = example(BUILDINGS)
    document["keywords"].append("bad\x00word")
    response = http.post("/datasets", json=document)
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/keywords/3"
    assert http.get("/datasets", params={"q": "a\x00b"}).status_code == 400
    assert http.get("/datasets", params={"publisher": "\x00"}).status_code == 400


@pytest.mark.parametrize(
    ("accept", "media_type", "rdflib_format"),
    [
        ("text/turtle", "text/turtle", "turtle"),
        ("application/rdf+xml", "application/rdf+xml", "xml"),
        ("application/n-triples", "application/n-triples", "nt"),
        ("text/html;q=0.9, text/turtle;q=0.5", "text/turtle", "turtle"),
        ("application/*", "application/ld+json", "json-ld"),
    ],
)
def test_serializations_say_the_same_as_json_ld(http, example, accept, media_type, rdflib_format):
    body = http.post("/datasets", json=example("parking-csv-download")).json()
    response = http.get(path_of(body["@id"]), headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    if rdflib_format == "json-ld":
        assert response.json() == body
        return
    parsed = rdflib.Graph().parse(data=response.content, format=rdflib_format)
    assert isomorphic(parsed, to_graph(body))


def test_unserved_media_type_is_406(http, example):
    body = http.post("/datasets", json=example(BUILDINGS)).json()
    for accept in ("text/html", "application/xml", "text/turtle;q=0"):
        response = http.get(path_of(body["@id"]), headers={"Accept": accept})
        assert response.status_code == 406, accept
        assert response.headers["content-type"] == "application/problem+json"
        assert "text/turtle" in response.json()["accepted"]
    assert http.post("/datasets", json=example(BUILDINGS), headers={"Accept": "text/html"}).status_code == 406
    assert http.get("/datasets").json()["total"] == 1


def test_catalog_is_one_document_with_every_dataset(http, example):
    iris = {http.post("/datasets", json=example(name)).json()["@id"] for name in (BUILDINGS, "parking-csv-download")}
    catalog = http.get("/catalog", headers={"Accept": "text/turtle"})
    assert catalog.status_code == 200
    graph = rdflib.Graph().parse(data=catalog.content, format="turtle")
    root = URIRef(PUBLIC_URL + "/catalog")
    assert (root, RDF.type, DCAT.Catalog) in graph
    assert {str(o) for o in graph.objects(root, DCAT.dataset)} == iris
    [service] = graph.objects(root, DCAT.service)
    assert (service, DCAT.endpointURL, URIRef(GATEWAY_URL + "/ngsi-ld/v1")) in graph


def test_publishing_needs_the_publish_scope_reading_needs_none(secured, example, token):
    assert secured.post("/datasets", json=example(BUILDINGS)).status_code == 401
    consumer = secured.post("/datasets", json=example(BUILDINGS), headers=token("marketplace:consume"))
    assert consumer.status_code == 403
    created = secured.post("/datasets", json=example(BUILDINGS), headers=token("marketplace:publish"))
    assert created.status_code == 201
    path = path_of(created.json()["@id"])
    assert secured.get(path).status_code == 200
    assert secured.get("/catalog").status_code == 200
    assert secured.get("/datasets").json()["total"] == 1
    assert secured.put(path, json=example(BUILDINGS)).status_code == 401
    assert secured.delete(path, headers=token("marketplace:consume")).status_code == 403
    assert secured.delete(path, headers=token("marketplace:publish")).status_code == 204


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/ld+json"),
        ("*/*", "application/ld+json"),
        ("*/*, application/ld+json;q=0", "application/json"),
        ("*/*;q=0.1, text/turtle", "text/turtle"),
        ("text/*", "text/turtle"),
        ("text/turtle;q=abc, application/rdf+xml;q=0.2", "application/rdf+xml"),
        ("text/turtle;q=2", None),
        ("text/turtle;q=0", None),
        ("image/png", None),
    ],
)
def test_accept_takes_the_most_specific_range(accept, chosen):
    assert negotiate(accept) == chosen


@pytest.mark.parametrize("path", ["/datasets/%00", "/datasets/a%00b/fair"])
def test_an_id_with_a_nul_byte_names_no_dataset(http, path) -> None:
    """PostgreSQL text cannot hold NUL: such an id is simply unknown, not a server error."""
    assert http.get(path).status_code == 404
    assert http.delete("/datasets/%00").status_code == 404
