"""Datasets and the catalogue in DCAT-AP 3.0.1: the JSON-LD documents, their RDF graphs, and the
serializations a client can ask for.

The JSON-LD document is the one rendering written by hand, in the terms of the official DCAT-AP
JSON-LD context (shipped in ``dcat_ap/``, never fetched); every other serialization is its RDF
graph as rdflib writes it, so JSON-LD, Turtle, RDF/XML and N-Triples always say the same thing.
Referenced resources (licences, themes, formats, standards) are typed with the classes DCAT-AP's
range shapes expect, so a harvester validating with the official SHACL shapes finds no violation.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import rdflib
from rdflib.plugins.serializers.turtle import TurtleSerializer

import ppi_schemas
from mims.marketplace.dcat import (
    DATA_THEME,
    DATA_THEME_LABELS,
    JSON_LD_FILE_TYPE,
    BoundingBox,
    Dataset,
    digital_twin_query_url,
)
from ppi_schemas.jsonld import DocumentLoader, to_rdf
from ppi_schemas.rdf import ppi_iri

DCAT_AP_DIR = Path(__file__).with_name("dcat_ap")
DCAT_AP_CONTEXT_URL = "https://semiceu.github.io/DCAT-AP/releases/3.0.1/context/dcat-ap.jsonld"

XSD = "http://www.w3.org/2001/XMLSchema#"
VCARD = "http://www.w3.org/2006/vcard/ns#"
GEOSPARQL = "http://www.opengis.net/ont/geosparql#"
PROV = "http://www.w3.org/ns/prov#"
DCAT = "http://www.w3.org/ns/dcat#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
# The role of a dataset's publisher in its qualified attribution (INSPIRE responsible-party roles).
PUBLISHER_ROLE = "http://inspire.ec.europa.eu/metadata-codelist/ResponsiblePartyRole/publisher"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
NGSI_LD_API = "https://www.etsi.org/deliver/etsi_gs/CIM/001_099/009/01.08.01_60/gs_cim009v010801p.pdf"

# Only the DCAT-AP context is loaded, and only from disk.
_LOADER = DocumentLoader(preload_dir=DCAT_AP_DIR, catalogue=False, allow_remote=False)


@dataclass(frozen=True, slots=True)
class Site:
    """Where IRIs are minted and data is reached: the marketplace's public URL and the gateway's."""

    public_url: str
    gateway_url: str

    def dataset_iri(self, dataset_id: str) -> str:
        """The dataset's persistent identifier: it depends on the id only, so updates keep it."""
        return f"{self.public_url.rstrip('/')}/datasets/{dataset_id}"

    @property
    def catalogue_iri(self) -> str:
        return f"{self.public_url.rstrip('/')}/catalog"

    @property
    def ngsi_ld_service_iri(self) -> str:
        return f"{self.public_url.rstrip('/')}/data-services/ngsi-ld"


@dataclass(frozen=True, slots=True)
class CatalogueInfo:
    title: str
    description: str
    publisher: str


def dataset_document(dataset: Dataset, site: Site) -> dict[str, Any]:
    """The dataset as a DCAT-AP JSON-LD document."""
    return {"@context": DCAT_AP_CONTEXT_URL, **_dataset_node(dataset, site)}


def catalogue_document(datasets: Sequence[Dataset], info: CatalogueInfo, site: Site) -> dict[str, Any]:
    """The whole catalogue as one DCAT-AP document, for harvesters: the dcat:Catalog, every dataset
    and the data service through which digital-twin data is reached."""
    catalogue: dict[str, Any] = {
        "@context": DCAT_AP_CONTEXT_URL,
        "@id": site.catalogue_iri,
        "@type": "Catalogue",
        "title": [{"@value": info.title, "@language": "en"}],
        "description": [{"@value": info.description, "@language": "en"}],
        "publisher": _agent(info.publisher, None),
        "dataset": [_dataset_node(dataset, site) for dataset in datasets],
    }
    if any("digitalTwin" in dataset.document for dataset in datasets):
        catalogue["service"] = [_ngsi_ld_service(site, [d for d in datasets if "digitalTwin" in d.document])]
    if datasets:
        catalogue["modificationDate"] = _date_time(max(dataset.modified for dataset in datasets))
    return catalogue


def to_graph(document: Mapping[str, Any]) -> rdflib.Graph:
    """The RDF graph of a document made here (its context resolves from ``dcat_ap/``).

    The documents made here use a small part of JSON-LD, so their graph is built directly from the
    DCAT-AP context's term table (about ten times faster than pyld); a document using anything
    else goes through pyld. Both give the same graph (up to blank-node labels), which the tests
    check for every example of the ``dcat-dataset`` PPI, harvested datasets and the catalogue."""
    try:
        return _direct_graph(document)
    except _Unsupported:
        return pyld_graph(document)


def pyld_graph(document: Mapping[str, Any]) -> rdflib.Graph:
    """The RDF graph of ``document`` as pyld's JSON-LD to RDF algorithm makes it."""
    return to_rdf(document, loader=_LOADER)


# --- the direct graph ------------------------------------------------------------------------------
#
# JSON-LD 1.1 as the DCAT-AP context uses it: class terms at the top, each with a type-scoped
# context of property terms (``@id``, an optional ``@type`` coercion, ``@container: @set``). A
# type-scoped context applies to its node only (it does not propagate), so a node's terms are the
# top-level ones plus those of its own types. Anything outside this subset raises _Unsupported.


class _Unsupported(Exception):
    """The document uses JSON-LD the direct graph does not handle; pyld makes its graph."""


@dataclass(frozen=True, slots=True)
class _Term:
    iri: rdflib.URIRef
    coercion: str | None  # "@id", a datatype IRI, or None


_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")  # pyld's test, which its to-RDF applies
_XSD_STRING = XSD + "string"
_LITERAL_COERCIONS_REFUSED = frozenset({"@vocab", "@json", "@none", XSD + "double"})


@cache
def _context() -> tuple[dict[str, str], dict[str, dict[str, _Term]]]:
    """The DCAT-AP context as (class term -> IRI, class term -> its scoped property terms)."""
    files = orjson.loads((DCAT_AP_DIR / "contexts.json").read_bytes())
    context = orjson.loads((DCAT_AP_DIR / files[DCAT_AP_CONTEXT_URL]).read_bytes())["@context"]
    classes: dict[str, str] = {}
    scoped: dict[str, dict[str, _Term]] = {}
    for term, definition in context.items():
        if isinstance(definition, str):
            classes[term] = definition
            continue
        if not isinstance(definition, dict) or set(definition) - {"@id", "@context"}:
            continue  # unknown to the direct graph: a document using it goes through pyld
        classes[term] = definition["@id"]
        properties: dict[str, _Term] = {}
        for name, entry in definition.get("@context", {}).items():
            if isinstance(entry, str):
                entry = {"@id": entry}
            if (not isinstance(entry, dict) or set(entry) - {"@id", "@type", "@container"}
                    or entry.get("@container", "@set") != "@set" or entry.get("@type") in _LITERAL_COERCIONS_REFUSED
                    or not _ABSOLUTE_IRI.match(entry["@id"])):
                continue
            properties[name] = _Term(rdflib.URIRef(entry["@id"]), entry.get("@type"))
        scoped[term] = properties
    if any(":" in term for term in classes):
        raise _Unsupported("compact IRIs in the context")
    return classes, scoped


def _direct_graph(document: Mapping[str, Any]) -> rdflib.Graph:
    if not isinstance(document, Mapping) or document.get("@context") != DCAT_AP_CONTEXT_URL:
        raise _Unsupported("another context")
    graph = rdflib.Graph()
    triples: list[tuple[rdflib.term.Node, rdflib.term.Node, rdflib.term.Node]] = []
    _node({k: v for k, v in document.items() if k != "@context"}, triples, {})
    graph.addN((*triple, graph) for triple in triples)
    return graph


def _node(node: Mapping[str, Any], triples: list, blanks: dict[str, rdflib.BNode]) -> rdflib.term.Node:
    """Adds the triples of a node object; its subject."""
    classes, scoped = _context()
    subject = _resource(node["@id"], blanks) if "@id" in node else rdflib.BNode()
    types = node.get("@type", [])
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list):
        raise _Unsupported("@type")
    terms: dict[str, _Term] = {}
    for name in sorted(types):
        if not isinstance(name, str):
            raise _Unsupported("@type")
        terms.update(scoped.get(name, {}))
        triples.append((subject, rdflib.RDF.type, _resource(classes.get(name, name), blanks)))
    for key, value in node.items():
        if key in ("@id", "@type"):
            continue
        if key in terms:
            term = terms[key]
        elif ":" in key and not key.startswith("@") and key.split(":", 1)[0] not in terms.keys() | classes.keys():
            term = _Term(rdflib.URIRef(key), None)
            if not _ABSOLUTE_IRI.match(key) or key.startswith("_:"):
                raise _Unsupported(key)
        else:
            raise _Unsupported(key)
        for item in value if isinstance(value, list) else [value]:
            triples.append((subject, term.iri, _object(item, term, triples, blanks)))
    return subject


def _object(item: Any, term: _Term, triples: list, blanks: dict[str, rdflib.BNode]) -> rdflib.term.Node:
    if isinstance(item, str):
        if term.coercion == "@id":
            return _resource(item, blanks)
        return _literal(item, term.coercion, None)
    if not isinstance(item, Mapping):
        raise _Unsupported("a value that is no string or object")
    if "@value" in item:
        if set(item) - {"@value", "@type", "@language"} or ("@type" in item and "@language" in item):
            raise _Unsupported("value object")
        language = item.get("@language")
        datatype = item.get("@type")
        if (language is not None and not isinstance(language, str)) or (
                datatype is not None and (not isinstance(datatype, str) or not _ABSOLUTE_IRI.match(datatype)
                                          or datatype in _LITERAL_COERCIONS_REFUSED)):
            raise _Unsupported("value object")
        return _literal(item["@value"], datatype, language)
    if any(key.startswith("@") and key not in ("@id", "@type") for key in item):
        raise _Unsupported("keyword")
    return _node(item, triples, blanks)


def _literal(value: Any, datatype: str | None, language: str | None) -> rdflib.Literal:
    if not isinstance(value, str):
        raise _Unsupported("a literal that is no string")  # pyld canonicalizes numbers and booleans
    if language is not None:
        return rdflib.Literal(value, lang=language.lower())
    if datatype in (None, _XSD_STRING):
        return rdflib.Literal(value)
    return rdflib.Literal(value, datatype=rdflib.URIRef(datatype))


def _resource(iri: Any, blanks: dict[str, rdflib.BNode]) -> rdflib.term.Node:
    if not isinstance(iri, str) or not _ABSOLUTE_IRI.match(iri):
        raise _Unsupported("a relative IRI")  # pyld drops triples with those
    if iri.startswith("_:"):
        return blanks.setdefault(iri, rdflib.BNode())
    return rdflib.URIRef(iri)


# Media types served (rdflib format names), in order of preference when a client accepts several
# equally; plain JSON clients get the JSON-LD document.
JSON_LD = "application/ld+json"
SERIALIZATIONS = {
    JSON_LD: "json-ld",
    "application/json": "json-ld",
    "text/turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
}


def negotiate(accept: str | None) -> str | None:
    """The served media type an ``Accept`` header (RFC 9110, 12.5.1) prefers, or None for none.

    Each served type takes the quality of the most specific range that matches it, so
    ``*/*, text/turtle;q=0`` refuses Turtle; no header means JSON-LD; among equal qualities the
    order of :data:`SERIALIZATIONS` decides.
    """
    if not accept or not accept.strip():
        return JSON_LD
    ranges = [_media_range(item) for item in accept.split(",")]
    best: tuple[float, int, str] | None = None
    for rank, served in enumerate(SERIALIZATIONS):
        matching = [(specificity, quality) for media_range, quality in ranges
                    if (specificity := _specificity(media_range, served)) is not None]
        if not matching:
            continue
        quality = max(matching)[1]
        if quality > 0 and (best is None or (quality, -rank) > best[:2]):
            best = (quality, -rank, served)
    return best[2] if best else None


def _media_range(item: str) -> tuple[str, float]:
    """``type/subtype`` and its q-value; a q-value that is no number in [0, 1] refuses the range."""
    media_range, *params = (part.strip() for part in item.split(";"))
    quality = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
            if not 0 <= quality <= 1:
                quality = 0.0
    return media_range.lower(), quality


def _specificity(media_range: str, media_type: str) -> int | None:
    """How closely ``media_range`` names ``media_type`` (2 exactly, 1 by type, 0 ``*/*``), or None."""
    if media_range == media_type:
        return 2
    kind, _, subtype = media_range.partition("/")
    if subtype == "*" and media_type.startswith(kind + "/"):
        return 1
    return 0 if media_range == "*/*" else None


def serialize(document: Mapping[str, Any], media_type: str) -> bytes:
    """``document`` in ``media_type`` (one of :data:`SERIALIZATIONS`)."""
    if SERIALIZATIONS[media_type] == "json-ld":
        return orjson.dumps(document)
    graph = with_prefixes(to_graph(document))
    if SERIALIZATIONS[media_type] == "turtle":
        return turtle(graph)
    return graph.serialize(format=SERIALIZATIONS[media_type], encoding="utf-8")


def with_prefixes(graph: rdflib.Graph) -> rdflib.Graph:
    """``graph`` with the prefixes of the DCAT-AP vocabularies bound, for Turtle and RDF/XML."""
    graph.bind("dcat", "http://www.w3.org/ns/dcat#")
    graph.bind("dct", "http://purl.org/dc/terms/")
    graph.bind("foaf", "http://xmlns.com/foaf/0.1/")
    graph.bind("vcard", VCARD)
    graph.bind("locn", "http://www.w3.org/ns/locn#")
    graph.bind("prov", PROV)
    return graph


def turtle(graph: rdflib.Graph) -> bytes:
    """``graph`` in Turtle, as rdflib writes it."""
    stream = io.BytesIO()
    _Turtle(graph).serialize(stream, encoding="utf-8")
    return stream.getvalue()


class _Turtle(TurtleSerializer):
    """rdflib's Turtle, byte for byte, without its cost growing with the square of the datasets.

    For a subject or object IRI, rdflib looks for a prefix by adding the IRI's namespace to a trie
    of every namespace seen; each dataset has namespaces of its own (``.../datasets/{id}/...``),
    so that trie's top level grows with the catalogue. Such an IRI gets no prefixed name unless a
    bound namespace starts it (no prefix is ever made for subjects and objects), so one C-level
    ``startswith`` over the bound namespaces answers the common case the way rdflib would."""

    def __init__(self, store: rdflib.Graph) -> None:
        super().__init__(store)
        self._bound: tuple[str, ...] | None = None
        self._generating: set[rdflib.term.Node] = set()

    def get_pname(self, uri: rdflib.term.Node, gen_prefix: bool = True) -> str | None:
        if gen_prefix:
            if uri not in self._generating:  # a new predicate or datatype may bind a prefix
                self._generating.add(uri)
                self._bound = None
        elif isinstance(uri, rdflib.URIRef):
            if self._bound is None:
                self._bound = tuple(str(namespace) for _, namespace in self.store.namespaces())
            if not str.startswith(uri, self._bound):
                return None
        return super().get_pname(uri, gen_prefix)


def _dataset_node(dataset: Dataset, site: Site) -> dict[str, Any]:
    doc = dataset.document
    iri = dataset.iri or site.dataset_iri(dataset.id)  # a harvested dataset keeps its own IRI
    licence = _typed(doc["license"], "LicenceDocument")
    publisher = _agent(doc["publisher"]["name"], doc["publisher"].get("url"))
    publisher.setdefault("@id", f"_:publisher-{dataset.id}")  # PROV-O statements below name it too
    node: dict[str, Any] = {
        "@id": iri,
        "@type": "Dataset",
        "identifier": [iri],
        "title": _language_values(doc["title"]),
        "description": _language_values(doc["description"]),
        "publisher": publisher,
        "contactPoint": [_contact_point(doc["contactPoint"])],
        "releaseDate": _date_time(dataset.issued),
        "modificationDate": _date_time(dataset.modified),
        **_provenance(dataset, publisher["@id"]),
    }
    if doc.get("keywords"):
        node["keyword"] = list(doc["keywords"])
    if doc.get("themes"):
        node["theme"] = [_theme(theme) for theme in doc["themes"]]
    box = dataset.bbox
    if box is not None:
        node["geographicalCoverage"] = [_location(box, doc["spatial"].get("geometry"))]
    if "temporal" in doc:
        node["temporalCoverage"] = [_period(doc["temporal"])]
    standards = list(doc.get("conformsTo", ()))
    distributions = [
        _distribution(f"{iri}/distributions/{n}", given, licence) for n, given in enumerate(doc.get("distributions", ()))
    ]
    twin = doc.get("digitalTwin")
    if twin is not None:
        standard = str(ppi_iri(ppi_schemas.get(twin["ppi"])))
        standards.append(standard)
        distributions.append(_twin_distribution(f"{iri}/distributions/digital-twin", twin, standard, licence, site))
    if standards:
        node["conformsTo"] = [_typed(standard, "Standard") for standard in dict.fromkeys(standards)]
    node["datasetDistribution"] = distributions
    if dataset.source is not None:
        # Listed in the catalogue it was harvested from (the inverse of DCAT 3's dcat:Catalog
        # dct:hasPart); DCAT-AP's dct:source would have to name a dcat:Dataset.
        node["http://purl.org/dc/terms/isPartOf"] = [{"@id": dataset.source}]
    return node


def _distribution(iri: str, given: Mapping[str, Any], licence: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": iri,
        "@type": "Distribution",
        "accessUrl": [{"@id": given["accessURL"]}],
        "licence": licence,
    }
    if "title" in given:
        node["title"] = _language_values(given["title"])
    if "downloadURL" in given:
        node["downloadUrl"] = [{"@id": given["downloadURL"]}]
    if "format" in given:
        node["format"] = _typed(given["format"], "MediaTypeOrExtent")
    if "mediaType" in given:
        node["mediaType"] = _typed(IANA_MEDIA_TYPES + given["mediaType"], "MediaType")
    if given.get("conformsTo"):
        node["linkedSchemas"] = [_typed(standard, "Standard") for standard in given["conformsTo"]]
    return node


def _twin_distribution(
    iri: str, twin: Mapping[str, Any], standard: str, licence: dict[str, Any], site: Site
) -> dict[str, Any]:
    """The digital-twin data as a distribution: the gateway's NGSI-LD query for these entities."""
    types = ", ".join(twin["entityTypes"])
    return {
        "@id": iri,
        "@type": "Distribution",
        "title": [
            {"@value": f"NGSI-LD entities ({types}) from the digital twin", "@language": "en"},
            {"@value": f"NGSI-LD-entiteiten ({types}) uit de digital twin", "@language": "nl"},
        ],
        "accessUrl": [{"@id": digital_twin_query_url(site.gateway_url, twin)}],
        "accessService": [{"@id": site.ngsi_ld_service_iri}],
        "format": _typed(JSON_LD_FILE_TYPE, "MediaTypeOrExtent"),
        "mediaType": _typed(IANA_MEDIA_TYPES + "application/ld+json", "MediaType"),
        "linkedSchemas": [_typed(standard, "Standard")],
        "licence": licence,
    }


def _provenance(dataset: Dataset, agent: str) -> dict[str, Any]:
    """PROV-O on the dataset, as DCAT-AP 3 places it: who it is attributed to and in which role
    (``prov:qualifiedAttribution``), when it was issued (``prov:generatedAtTime``, next to
    ``dct:issued``), and a ``dct:provenance`` statement of its lineage in words."""
    doc, issued = dataset.document, dataset.issued.date().isoformat()
    name = doc["publisher"]["name"]
    en = f"Described by {name} and published in this catalogue on {issued}."
    nl = f"Beschreven door {name} en in deze catalogus gepubliceerd op {issued}."
    if dataset.source is not None:
        en = f"Described by {name}; harvested from the catalogue {dataset.source} on {issued}."
        nl = f"Beschreven door {name}; geoogst uit de catalogus {dataset.source} op {issued}."
    twin = doc.get("digitalTwin")
    if twin is not None:
        types, ppi = ", ".join(twin["entityTypes"]), twin["ppi"]
        en += f" The data is served live by the city's digital twin: NGSI-LD entities ({types}) conforming to {ppi}."
        nl += f" De data komt rechtstreeks uit de digital twin van de stad: NGSI-LD-entiteiten ({types}) volgens {ppi}."
    return {
        PROV + "wasAttributedTo": {"@id": agent},
        PROV + "generatedAtTime": _date_time(dataset.issued),
        "qualifiedAttribution": [
            {"@type": "Attribution", PROV + "agent": {"@id": agent}, DCAT + "hadRole": _typed(PUBLISHER_ROLE, "Role")}
        ],
        "provenance": [
            {"@type": "ProvenanceStatement", RDFS + "label": [{"@value": en, "@language": "en"}, {"@value": nl, "@language": "nl"}]}
        ],
    }


def _ngsi_ld_service(site: Site, datasets: Sequence[Dataset]) -> dict[str, Any]:
    """The context MIM's NGSI-LD API behind the gateway, as the dcat:DataService serving the
    digital-twin datasets."""
    return {
        "@id": site.ngsi_ld_service_iri,
        "@type": "DataService",
        "title": [
            {"@value": "NGSI-LD API of the digital twin", "@language": "en"},
            {"@value": "NGSI-LD-API van de digital twin", "@language": "nl"},
        ],
        "endpointUrl": [_typed(f"{site.gateway_url.rstrip('/')}/ngsi-ld/v1", "Resource")],
        "conformsTo": [_typed(NGSI_LD_API, "Standard")],
        "servesDataset": [{"@id": site.dataset_iri(dataset.id)} for dataset in datasets],
    }


def _agent(name: str, url: str | None) -> dict[str, Any]:
    """A foaf:Agent: its own IRI when the publisher gave one, else a blank node."""
    agent: dict[str, Any] = {"@type": "Agent", "name": [name]}
    if url is not None:
        agent["@id"] = url
    return agent


def _contact_point(contact: Mapping[str, str]) -> dict[str, Any]:
    return {
        "@type": "Kind",
        VCARD + "fn": contact["name"],
        VCARD + "hasEmail": {"@id": f"mailto:{contact['email']}"},
    }


def _location(box: BoundingBox, geometry: Mapping[str, Any] | None) -> dict[str, Any]:
    """A dct:Location with its dcat:bbox (WKT) and, when one was given, its GeoJSON geometry."""
    location: dict[str, Any] = {"@type": "Location", "bbox": {"@value": box.wkt(), "@type": GEOSPARQL + "wktLiteral"}}
    if geometry is not None:
        location["geometry"] = {
            "@type": "Geometry",
            GEOSPARQL + "asGeoJSON": {"@value": orjson.dumps(geometry).decode(), "@type": GEOSPARQL + "geoJSONLiteral"},
        }
    return location


def _period(temporal: Mapping[str, str]) -> dict[str, Any]:
    period: dict[str, Any] = {"@type": "PeriodOfTime"}
    if "start" in temporal:
        period["startDate"] = {"@value": temporal["start"], "@type": XSD + "dateTime"}
    if "end" in temporal:
        period["endDate"] = {"@value": temporal["end"], "@type": XSD + "dateTime"}
    return period


def _theme(iri: str) -> dict[str, Any]:
    labels = DATA_THEME_LABELS[iri.removeprefix(DATA_THEME)]
    return {"@id": iri, "@type": "Concept", "preferredLabel": _language_values(labels)}


def _language_values(language_map: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"@value": text, "@language": language} for language, text in language_map.items()]


def _typed(iri: str, dcat_ap_class: str) -> dict[str, Any]:
    return {"@id": iri, "@type": dcat_ap_class}


def _date_time(moment: datetime) -> dict[str, str]:
    return {"@value": moment.isoformat(), "@type": XSD + "dateTime"}
