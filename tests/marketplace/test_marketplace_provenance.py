"""PROV-O provenance on every dataset in its DCAT-AP output: attributed to its publisher (plainly and
qualified with the publisher role), generated at its issue date, with a provenance statement; it
stays within the DCAT-AP 3.0.1 shapes, and the shapes check it."""

from __future__ import annotations

import rdflib
from rdflib import RDF, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS

from mims.marketplace.rdf import PUBLISHER_ROLE, to_graph
from tests.marketplace.conftest import PUBLIC_URL
from tests.marketplace.test_marketplace_catalogue_shacl import shapes, violations  # noqa: F401 (fixture)

PROV = rdflib.Namespace("http://www.w3.org/ns/prov#")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
BUILDINGS = "rotterdam-buildings-digital-twin"


def provenance(graph: rdflib.Graph, dataset: URIRef) -> dict:
    [attribution] = graph.objects(dataset, PROV.qualifiedAttribution)
    [statement] = graph.objects(dataset, DCTERMS.provenance)
    return {
        "publisher": graph.value(dataset, DCTERMS.publisher),
        "attributed": list(graph.objects(dataset, PROV.wasAttributedTo)),
        "agent": graph.value(attribution, PROV.agent),
        "role": graph.value(attribution, DCAT.hadRole),
        "attribution_type": graph.value(attribution, RDF.type),
        "generated": graph.value(dataset, PROV.generatedAtTime),
        "issued": graph.value(dataset, DCTERMS.issued),
        "statement_type": graph.value(statement, RDF.type),
        "labels": {label.language: str(label) for label in graph.objects(statement, rdflib.RDFS.label)},
    }


def test_a_dataset_is_attributed_to_its_publisher_and_generated_when_issued(http, example):
    body = http.post("/datasets", json=example(BUILDINGS)).json()
    dataset = URIRef(body["@id"])
    facts = provenance(to_graph(body), dataset)
    assert facts["publisher"] == URIRef("https://www.rotterdam.nl")
    assert facts["attributed"] == [facts["publisher"]] and facts["agent"] == facts["publisher"]
    assert facts["role"] == URIRef(PUBLISHER_ROLE) and facts["attribution_type"] == PROV.Attribution
    assert facts["generated"] == facts["issued"] and facts["generated"].datatype == rdflib.XSD.dateTime
    assert facts["statement_type"] == DCTERMS.ProvenanceStatement
    assert facts["labels"]["en"].startswith("Described by Gemeente Rotterdam and published in this catalogue on ")
    assert "NGSI-LD entities (Building) conforming to sdm-building@1" in facts["labels"]["en"]
    assert "Gemeente Rotterdam" in facts["labels"]["nl"]


def test_a_publisher_without_iri_is_one_agent_named_by_all_statements(http, example):
    body = http.post("/datasets", json=example("parking-csv-download")).json()
    graph = to_graph(body)
    facts = provenance(graph, URIRef(body["@id"]))
    assert isinstance(facts["publisher"], rdflib.BNode)
    assert facts["attributed"] == [facts["publisher"]] == [facts["agent"]]
    assert graph.value(facts["publisher"], rdflib.FOAF.name) == Literal("Gemeente Den Haag")
    assert "NGSI-LD" not in facts["labels"]["en"]


def test_in_the_catalogue_each_dataset_keeps_its_own_publisher(http, example):
    first = example("parking-csv-download")
    second = example("parking-csv-download") | {"publisher": {"name": "Gemeente Delft"}}
    iris = [http.post("/datasets", json=document).json()["@id"] for document in (first, second)]
    graph = to_graph(http.get("/catalog").json())
    names = [str(graph.value(graph.value(URIRef(iri), PROV.wasAttributedTo), rdflib.FOAF.name)) for iri in iris]
    assert names == ["Gemeente Den Haag", "Gemeente Delft"]
    for iri in iris:
        assert graph.value(URIRef(iri), PROV.wasAttributedTo) == graph.value(URIRef(iri), DCTERMS.publisher)


def test_an_update_keeps_the_generation_time(http, example):
    body = http.post("/datasets", json=example(BUILDINGS)).json()
    changed = example(BUILDINGS) | {"title": {"en": "All buildings"}}
    updated = http.put(body["@id"].removeprefix(PUBLIC_URL), json=changed).json()
    dataset = URIRef(body["@id"])
    before, after = to_graph(body), to_graph(updated)
    assert after.value(dataset, PROV.generatedAtTime) == before.value(dataset, PROV.generatedAtTime)
    assert after.value(dataset, DCTERMS.modified) >= before.value(dataset, DCTERMS.modified)


def test_turtle_carries_the_same_provenance(http, example):
    body = http.post("/datasets", json=example(BUILDINGS)).json()
    turtle = http.get(body["@id"].removeprefix(PUBLIC_URL), headers={"Accept": "text/turtle"})
    assert "@prefix prov: <http://www.w3.org/ns/prov#>" in turtle.text
    assert isomorphic(rdflib.Graph().parse(data=turtle.text, format="turtle"), to_graph(body))


def test_the_shapes_check_the_provenance(http, example, shapes):  # noqa: F811 (fixture)
    iri = URIRef(http.post("/datasets", json=example(BUILDINGS)).json()["@id"])
    graph = to_graph(http.get("/catalog").json())
    assert violations(graph, shapes) == []
    [attribution] = graph.objects(iri, PROV.qualifiedAttribution)
    graph.remove((attribution, RDF.type, PROV.Attribution))
    [statement] = graph.objects(iri, DCTERMS.provenance)
    graph.remove((statement, RDF.type, DCTERMS.ProvenanceStatement))
    found = violations(graph, shapes)
    assert (str(iri), str(PROV.qualifiedAttribution)) in found
    assert (str(iri), str(DCTERMS.provenance)) in found
