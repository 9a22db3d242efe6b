"""A catalogue holding harvested datasets, as harvesters get it, against the official DCAT-AP
3.0.1 SHACL shapes: zero violations, the harvested datasets under their own IRIs."""

from __future__ import annotations

from rdflib import URIRef
from rdflib.namespace import DCTERMS

from mims.marketplace.rdf import to_graph
from tests.marketplace.test_marketplace_catalogue_shacl import shapes, violations  # noqa: F401  (fixture)
from tests.marketplace.test_marketplace_harvest import DEN_HAAG, FOREIGN, harvest, peer, stand_in  # noqa: F401


def test_a_catalogue_with_harvested_datasets_has_zero_violations(http, example, shapes, peer, stand_in):  # noqa: F811
    assert http.post("/datasets", json=example("parking-csv-download")).status_code == 201
    assert harvest(http, peer.url + "/catalog")["harvested"] == 3
    assert harvest(http, stand_in.answer(FOREIGN.encode(), "text/turtle"))["harvested"] == 1
    graph = to_graph(http.get("/catalog").json())
    assert violations(graph, shapes) == []
    harvested = set(graph.subjects(DCTERMS.isPartOf, URIRef(DEN_HAAG + "/catalog")))
    assert len(harvested) == 3 and all(str(iri).startswith(DEN_HAAG + "/datasets/") for iri in harvested)
    assert (URIRef("https://delft.example/d/trees"), DCTERMS.isPartOf, URIRef("https://delft.example/catalog")) in graph
