"""PPI metadata as RDF (DCAT 3, Dublin Core, ADMS), so the catalogue of contracts is itself FAIR.

Each PPI version is a ``dcat:Dataset`` and a ``dct:Standard`` at
``https://w3id.org/oup/ppi/<name>/<version>``, a version of the unversioned PPI
``https://w3id.org/oup/ppi/<name>`` (a ``dcat:DatasetSeries``). Its two distributions are the JSON
Schema and the JSON-LD context, each declaring the standard it conforms to. Only what the
``ppi.json`` states is published: no publisher, dates or provenance activity are invented.
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, PROV, RDF

from ppi_schemas.registry import PPI, Catalogue, catalogue

PPI_BASE = "https://w3id.org/oup/ppi/"
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3 terms (version, inSeries) postdate rdflib's
ADMS_STATUS = Namespace("http://purl.org/adms/status/")
OUP = Namespace("https://w3id.org/oup/vocab#")
SPDX_LICENSES = Namespace("http://spdx.org/licenses/")
IANA_MEDIA_TYPES = Namespace("https://www.iana.org/assignments/media-types/")
JSON_SCHEMA_2020_12 = URIRef("https://json-schema.org/draft/2020-12/schema")
JSON_LD_1_1 = URIRef("https://www.w3.org/TR/json-ld11/")

_STATUS = {
    "draft": ADMS_STATUS.UnderDevelopment,
    "stable": ADMS_STATUS.Completed,
    "deprecated": ADMS_STATUS.Deprecated,
}


def ppi_iri(ppi: PPI) -> URIRef:
    return URIRef(f"{PPI_BASE}{ppi.name}/{ppi.version}")


def series_iri(name: str) -> URIRef:
    return URIRef(f"{PPI_BASE}{name}")


def ppi_to_graph(ppi: PPI, within: Catalogue | None = None) -> Graph:
    """Describe one PPI version; ``within`` (default: the shipped catalogue) supplies its predecessor."""
    graph = _new_graph()
    _describe(graph, ppi, within if within is not None else catalogue())
    return graph


def catalogue_to_graph(within: Catalogue | None = None) -> Graph:
    """Describe every PPI of a catalogue, linked from one ``dcat:Catalog``."""
    source = within if within is not None else catalogue()
    graph = _new_graph()
    root = URIRef(PPI_BASE)
    graph.add((root, RDF.type, DCAT.Catalog))
    graph.add((root, DCTERMS.title, Literal("OUP PPI catalogue", lang="en")))
    summary = "Versioned contracts between Open Urban Platform components."
    graph.add((root, DCTERMS.description, Literal(summary, lang="en")))
    for ppi in source:
        graph.add((root, DCAT.dataset, ppi_iri(ppi)))
        _describe(graph, ppi, source)
    return graph


def _new_graph() -> Graph:
    graph = Graph()
    prefixes = {"dcat": DCAT, "dct": DCTERMS, "owl": OWL, "prov": PROV, "adms": ADMS, "oup": OUP}
    for prefix, namespace in prefixes.items():
        graph.bind(prefix, namespace)
    return graph


def _describe(graph: Graph, ppi: PPI, within: Catalogue) -> None:
    subject = ppi_iri(ppi)
    series = series_iri(ppi.name)
    graph.add((subject, RDF.type, DCAT.Dataset))
    graph.add((subject, RDF.type, DCTERMS.Standard))
    graph.add((subject, DCTERMS.identifier, Literal(ppi.ref)))
    graph.add((subject, DCTERMS.title, Literal(ppi.title, lang="en")))
    graph.add((subject, DCTERMS.description, Literal(ppi.description, lang="en")))
    graph.add((subject, OWL.versionInfo, Literal(ppi.version)))
    graph.add((subject, DCAT.version, Literal(ppi.version)))
    graph.add((subject, ADMS.status, _STATUS[ppi.status]))
    for licence in ppi.license.split(" AND "):
        graph.add((subject, DCTERMS.license, SPDX_LICENSES[licence]))
        graph.add((SPDX_LICENSES[licence], RDF.type, DCTERMS.LicenseDocument))
    for keyword in ppi.keywords:
        graph.add((subject, DCAT.keyword, Literal(keyword, lang="en")))
    for source in ppi.based_on:
        graph.add((subject, PROV.wasDerivedFrom, URIRef(source)))
    for component in ppi.producers:
        graph.add((subject, OUP.producedBy, Literal(component)))
    for component in ppi.consumers:
        graph.add((subject, OUP.consumedBy, Literal(component)))
    graph.add((subject, OUP.payloadMediaType, IANA_MEDIA_TYPES[ppi.media_type]))
    _distribution(graph, subject, URIRef(ppi.schema_id), "application/schema+json", JSON_SCHEMA_2020_12)
    _distribution(graph, subject, URIRef(ppi.context_url), "application/ld+json", JSON_LD_1_1)
    graph.add((series, RDF.type, DCAT.DatasetSeries))
    graph.add((series, DCTERMS.title, Literal(ppi.name)))
    graph.add((subject, DCTERMS.isVersionOf, series))
    graph.add((subject, DCAT.inSeries, series))
    previous = within.predecessor(ppi) if ppi.name in within.names() else None
    if previous is not None:
        graph.add((subject, DCAT.previousVersion, ppi_iri(previous)))


def _distribution(graph: Graph, dataset: URIRef, url: URIRef, media_type: str, standard: URIRef) -> None:
    distribution = BNode()
    graph.add((dataset, DCAT.distribution, distribution))
    graph.add((distribution, RDF.type, DCAT.Distribution))
    graph.add((distribution, DCAT.accessURL, url))
    graph.add((distribution, DCAT.downloadURL, url))
    graph.add((distribution, DCAT.mediaType, IANA_MEDIA_TYPES[media_type]))
    graph.add((distribution, DCTERMS.conformsTo, standard))
