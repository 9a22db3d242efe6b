"""The graph of a catalogue document built directly from the DCAT-AP context is the graph pyld's
JSON-LD to RDF algorithm makes (isomorphic: equal up to blank-node labels), for every example of
the ``dcat-dataset`` PPI, variants of them, harvested datasets and whole catalogues; and what the
direct path does not cover still goes through pyld."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rdflib
from rdflib.compare import isomorphic, to_isomorphic

import ppi_schemas
from mims.marketplace import rdf
from mims.marketplace.dcat import Dataset
from mims.marketplace.harvest import parse
from mims.marketplace.harvest_reading import read_catalogue
from tests.marketplace.conftest import GATEWAY_URL, PUBLIC_URL
from tests.marketplace.test_marketplace_harvest import FOREIGN

SITE = rdf.Site(PUBLIC_URL, GATEWAY_URL)
INFO = rdf.CatalogueInfo("Rotterdam", "Open data of Rotterdam", "Gemeente Rotterdam")
ISSUED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXAMPLES = {e.name: e.payload for e in ppi_schemas.get("dcat-dataset@1").examples_valid}


def variants() -> dict[str, dict[str, Any]]:
    """Every valid example, and each with the optional members it lacks added or taken away."""
    found = {name: copy.deepcopy(payload) for name, payload in EXAMPLES.items()}
    for name, payload in EXAMPLES.items():
        bare = {k: copy.deepcopy(v) for k, v in payload.items()
                if k not in ("keywords", "themes", "spatial", "temporal", "conformsTo", "digitalTwin")}
        found[f"{name} without optional members"] = bare
        rich = copy.deepcopy(payload)
        rich["temporal"] = {"start": "2024-01-01T00:00:00Z", "end": "2025-12-31T23:59:59Z"}
        rich["publisher"] = {**rich["publisher"], "url": "https://www.rotterdam.nl"}
        rich.setdefault("spatial", {"geometry": {"type": "Point", "coordinates": [4.47, 51.92]}})
        found[f"{name} with more members"] = rich
    return found


def own(name: str, document: dict[str, Any], number: int = 0) -> Dataset:
    moment = ISSUED + timedelta(days=number)
    return Dataset(id=f"{number:032x}", document=document, issued=moment, modified=moment + timedelta(hours=1))


def harvested() -> list[Dataset]:
    """Datasets as harvesting keeps them: read back from this catalogue's Turtle and from another's."""
    datasets = [own(name, document, n) for n, (name, document) in enumerate(variants().items())]
    turtle = rdf.serialize(rdf.catalogue_document(datasets, INFO, rdf.Site("https://data.denhaag.example/m",
                                                                           GATEWAY_URL)), "text/turtle")
    found = []
    for body, source in ((turtle, "https://data.denhaag.example/m/catalog"),
                         (FOREIGN.encode(), "https://delft.example/catalog")):
        _, mapped = read_catalogue(parse(body, "turtle", source))
        found += [Dataset(id=f"h{n:031x}", document=m.document, issued=m.issued or ISSUED,
                          modified=m.modified or ISSUED, iri=m.iri, source=source)
                  for n, m in enumerate(mapped) if m.document is not None]
    assert len(found) > len(datasets) / 2 and found[-1].iri == "https://delft.example/d/trees"
    return found


def assert_same_graph(document: dict[str, Any]) -> None:
    direct, reference = rdf._direct_graph(document), rdf.pyld_graph(document)
    assert len(direct) == len(reference) > 5
    assert isomorphic(direct, reference), set(to_isomorphic(direct)) ^ set(to_isomorphic(reference))


@pytest.mark.parametrize("name", list(variants()))
def test_a_dataset_has_the_graph_pyld_makes(name):
    assert_same_graph(rdf.dataset_document(own(name, variants()[name]), SITE))


def test_harvested_datasets_have_the_graph_pyld_makes():
    for dataset in harvested():
        assert dataset.iri is not None and dataset.source is not None
        assert_same_graph(rdf.dataset_document(dataset, SITE))


def test_a_catalogue_has_the_graph_pyld_makes():
    datasets = [own(name, document, n) for n, (name, document) in enumerate(variants().items())] + harvested()
    assert_same_graph(rdf.catalogue_document(datasets, INFO, SITE))
    assert_same_graph(rdf.catalogue_document([], INFO, SITE))


def test_the_serializations_say_what_pyld_says():
    document = rdf.catalogue_document([own("twin", EXAMPLES["rotterdam-buildings-digital-twin"])], INFO, SITE)
    reference = rdf.pyld_graph(document)
    for media_type, rdf_format in (("text/turtle", "turtle"), ("application/rdf+xml", "xml"),
                                   ("application/n-triples", "nt")):
        assert isomorphic(rdflib.Graph().parse(data=rdf.serialize(document, media_type), format=rdf_format), reference)


@pytest.mark.parametrize("change", [
    lambda d: d.update({"@context": [rdf.DCAT_AP_CONTEXT_URL, {"x": "https://example.org/x"}], "x": "y"}),
    lambda d: d.update({"@reverse": {"http://purl.org/dc/terms/hasPart": {"@id": "https://example.org/c"}}}),
    lambda d: d.update({"http://purl.org/dc/terms/extent": 3}),
    lambda d: d["datasetDistribution"][0].update({"byteSize": 12}),
    lambda d: d.update({"http://purl.org/dc/terms/relation": {"@id": "relative/path"}}),
])
def test_what_the_direct_path_does_not_cover_goes_through_pyld(change):
    document = rdf.dataset_document(own("parking", EXAMPLES["parking-csv-download"]), SITE)
    change(document)
    with pytest.raises(rdf._Unsupported):
        rdf._direct_graph(document)
    assert isomorphic(rdf.to_graph(document), rdf.pyld_graph(document))


def test_language_tags_are_lower_case_as_pyld_makes_them():
    document = rdf.dataset_document(own("parking", EXAMPLES["parking-csv-download"]), SITE)
    document["keyword"] = [{"@value": "parkeren", "@language": "NL"}]
    assert_same_graph(document)
    assert rdflib.Literal("parkeren", lang="nl") in set(rdf.to_graph(document).objects())


def test_turtle_is_byte_for_byte_what_rdflib_writes():
    datasets = [own(name, document, n) for n, (name, document) in enumerate(variants().items())] + harvested()
    prefixed = copy.deepcopy(EXAMPLES["parking-csv-download"])  # IRIs in bound namespaces get prefixed names
    prefixed["distributions"][0]["accessURL"] = "http://www.w3.org/ns/dcat#someData"
    prefixed["publisher"]["url"] = "http://xmlns.com/foaf/0.1/publisher"
    datasets.append(own("prefixed", prefixed, 99))
    graph = rdf.to_graph(rdf.catalogue_document(datasets, INFO, SITE))
    copies = []
    for _ in range(2):
        copy_of_graph = rdflib.Graph()
        copy_of_graph += graph  # the same blank nodes, on which rdflib's order of statements depends
        copies.append(rdf.with_prefixes(copy_of_graph))
    ours = rdf.turtle(copies[0])
    assert ours == copies[1].serialize(format="turtle", encoding="utf-8")
    assert b"dcat:someData" in ours and b"foaf:publisher" in ours


@pytest.mark.parametrize("document", [
    [{"@context": rdf.DCAT_AP_CONTEXT_URL, "@id": "https://example.org/d", "@type": "Dataset"}],
    {"@context": rdf.DCAT_AP_CONTEXT_URL, "@id": "https://example.org/d", "@type": None},
    {"@context": rdf.DCAT_AP_CONTEXT_URL, "@id": "https://example.org/d", "@type": "Dataset", "title": None},
    {"@context": rdf.DCAT_AP_CONTEXT_URL, "@id": "https://example.org/d", "@type": "Dataset", "unknownTerm": "x"},
    {"@context": rdf.DCAT_AP_CONTEXT_URL, "@id": 7, "@type": "Dataset"},
    {"@context": rdf.DCAT_AP_CONTEXT_URL, "@type": "Dataset", "title": {"@value": "x", "@language": 3}},
])
def test_another_catalogue_s_odd_json_ld_is_read_as_pyld_reads_it(document):
    """Harvesting reads other catalogues' JSON-LD with to_graph: what pyld accepts gives its graph,
    what it rejects is rejected."""
    try:
        reference = rdf.pyld_graph(document)
    except Exception as error:  # noqa: BLE001 - whatever pyld raises, to_graph raises too
        with pytest.raises(type(error)):
            rdf.to_graph(document)
    else:
        assert isomorphic(rdf.to_graph(document), reference)
