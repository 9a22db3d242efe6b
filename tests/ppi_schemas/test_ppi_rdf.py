"""PPI metadata as RDF: the Turtle parses back and says what ppi.json says, in DCAT terms."""

from __future__ import annotations

import json
from pathlib import Path

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF

import ppi_schemas
from ppi_schemas.rdf import catalogue_to_graph, ppi_to_graph

DCAT = Namespace("http://www.w3.org/ns/dcat#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
BASE = "https://w3id.org/oup/ppi/"


def round_trip(graph: Graph) -> Graph:
    return Graph().parse(data=graph.serialize(format="turtle"), format="turtle")


def test_ppi_turtle_describes_the_contract() -> None:
    ppi = ppi_schemas.get("problem-details@1.0.0")
    graph = round_trip(ppi_to_graph(ppi))
    subject = URIRef(f"{BASE}problem-details/1.0.0")
    assert (subject, RDF.type, DCAT.Dataset) in graph
    assert (subject, RDF.type, DCTERMS.Standard) in graph
    assert (subject, DCTERMS.title, Literal(ppi.title, lang="en")) in graph
    assert (subject, DCTERMS.description, Literal(ppi.description, lang="en")) in graph
    assert (subject, OWL.versionInfo, Literal("1.0.0")) in graph
    assert (subject, DCTERMS.license, URIRef("http://spdx.org/licenses/EUPL-1.2")) in graph
    assert (subject, ADMS.status, URIRef("http://purl.org/adms/status/Completed")) in graph
    assert (subject, DCAT.keyword, Literal("RFC 9457", lang="en")) in graph
    assert (subject, DCTERMS.isVersionOf, URIRef(f"{BASE}problem-details")) in graph
    assert (subject, PROV.wasDerivedFrom, URIRef("https://www.rfc-editor.org/rfc/rfc9457")) in graph
    assert (subject, DCAT.previousVersion, None) not in graph


def test_distributions_name_media_type_and_standard() -> None:
    graph = round_trip(ppi_to_graph(ppi_schemas.get("mim-description")))
    subject = URIRef(f"{BASE}mim-description/1.0.0")
    found = {
        (
            graph.value(distribution, DCAT.downloadURL),
            graph.value(distribution, DCAT.mediaType),
            graph.value(distribution, DCTERMS.conformsTo),
        )
        for distribution in graph.objects(subject, DCAT.distribution)
    }
    assert found == {
        (
            URIRef(f"{BASE}mim-description/1.0.0/schema.json"),
            URIRef("https://www.iana.org/assignments/media-types/application/schema+json"),
            URIRef("https://json-schema.org/draft/2020-12/schema"),
        ),
        (
            URIRef(f"{BASE}mim-description/1.0.0/context.jsonld"),
            URIRef("https://www.iana.org/assignments/media-types/application/ld+json"),
            URIRef("https://www.w3.org/TR/json-ld11/"),
        ),
    }


def test_compound_licence_gives_one_licence_each() -> None:
    graph = round_trip(ppi_to_graph(ppi_schemas.get("ngsi-ld-entity")))
    licences = set(graph.objects(URIRef(f"{BASE}ngsi-ld-entity/1.0.0"), DCTERMS.license))
    assert licences == {URIRef("http://spdx.org/licenses/EUPL-1.2"), URIRef("http://spdx.org/licenses/CC-BY-4.0")}


def test_later_version_links_its_predecessor(tmp_path: Path) -> None:
    shipped = ppi_schemas.get("problem-details@1.0.0").path
    for version in ("1.0.0", "1.1.0"):
        folder = tmp_path / "problem-details" / version
        folder.mkdir(parents=True)
        metadata = json.loads((shipped / "ppi.json").read_text())
        schema = json.loads((shipped / "schema.json").read_text())
        schema["$id"] = schema["$id"].replace("1.0.0", version)
        (folder / "ppi.json").write_text(json.dumps({**metadata, "version": version, "status": "draft"}))
        (folder / "schema.json").write_text(json.dumps(schema))
        (folder / "context.jsonld").write_text((shipped / "context.jsonld").read_text())
    (tmp_path / "problem-details" / "CHANGELOG.md").write_text("# problem-details\n")
    catalogue = ppi_schemas.load_catalogue(tmp_path)
    graph = round_trip(ppi_to_graph(catalogue.get("problem-details", "1.1.0"), catalogue))
    newer = URIRef(f"{BASE}problem-details/1.1.0")
    assert (newer, DCAT.previousVersion, URIRef(f"{BASE}problem-details/1.0.0")) in graph
    assert (newer, ADMS.status, URIRef("http://purl.org/adms/status/UnderDevelopment")) in graph


def test_catalogue_graph_lists_every_ppi() -> None:
    graph = round_trip(catalogue_to_graph())
    root = URIRef(BASE)
    assert (root, RDF.type, DCAT.Catalog) in graph
    assert set(graph.objects(root, DCAT.dataset)) == {
        URIRef(f"{BASE}{ppi.name}/{ppi.version}") for ppi in ppi_schemas.catalogue()
    }
