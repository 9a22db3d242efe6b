"""to_rdf turns a JSON-LD payload into an rdflib graph, from local contexts."""

from __future__ import annotations

import rdflib
from pyld import jsonld
from rdflib import RDF, Literal, URIRef
from rdflib.compare import isomorphic

from ppi_schemas import catalogue
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL, DocumentLoader, to_rdf

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT = NGSI_LD + "default-context/"


def test_ngsi_ld_entity_becomes_triples() -> None:
    entity = {
        "@context": NGSI_LD_CORE_CONTEXT_URL,
        "id": "urn:ngsi-ld:Building:1",
        "type": "Building",
        "height": {"type": "Property", "value": 12.5, "unitCode": "MTR"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
        "settings": {"type": "JsonProperty", "json": {"b": 1, "a": [True]}},
    }
    graph = to_rdf(entity, loader=DocumentLoader(allow_remote=False))
    assert type(graph) is rdflib.Graph
    building = URIRef("urn:ngsi-ld:Building:1")
    assert (building, RDF.type, URIRef(DEFAULT + "Building")) in graph
    height = graph.value(building, URIRef(DEFAULT + "height"))
    assert graph.value(height, URIRef(NGSI_LD + "hasValue")).toPython() == 12.5
    assert graph.value(height, URIRef(NGSI_LD + "unitCode")) == Literal("MTR")
    owner = graph.value(building, URIRef(DEFAULT + "owner"))
    assert graph.value(owner, URIRef(NGSI_LD + "hasObject")) == URIRef("urn:ngsi-ld:Person:1")
    settings = graph.value(graph.value(building, URIRef(DEFAULT + "settings")), URIRef(NGSI_LD + "hasJSON"))
    assert str(settings) == '{"a":[true],"b":1}'
    assert settings.datatype == RDF.JSON


def test_named_graphs_give_a_dataset() -> None:
    document = {
        "@context": {"@vocab": "https://example.org/"},
        "@id": "https://example.org/g",
        "@graph": [{"@id": "https://example.org/a", "p": 1}],
    }
    dataset = to_rdf(document, loader=DocumentLoader(allow_remote=False))
    assert isinstance(dataset, rdflib.Dataset)
    named = dataset.graph(URIRef("https://example.org/g"))
    assert (URIRef("https://example.org/a"), URIRef("https://example.org/p"), Literal(1)) in named


def test_graph_equals_pyld_n_quads_for_every_entity_example() -> None:
    loader = DocumentLoader(allow_remote=False)
    examples = catalogue().get("ngsi-ld-entity", "1.0.0").examples_valid
    assert examples
    for example in examples:
        document = {"@context": NGSI_LD_CORE_CONTEXT_URL, **example.payload}
        nquads = jsonld.to_rdf(document, loader.pyld_options(format="application/n-quads"))
        expected = rdflib.Graph().parse(data=nquads, format="nt")
        assert isomorphic(to_rdf(document, loader=loader), expected), example.name
