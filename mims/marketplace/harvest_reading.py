"""Reading DCAT-AP back: each ``dcat:Dataset`` of an RDF graph as a ``dcat-dataset`` document
valid against the PPI, with what it says that the PPI cannot hold (``notes``), or the reason it
cannot be one at all. Plain Python on rdflib graphs; used by ``harvest.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, PROV, RDF
from shapely import wkt
from shapely.errors import ShapelyError

import ppi_schemas
from mims.marketplace.dcat import (
    DATA_THEME,
    DATA_THEME_LABELS,
    DATASET_PPI,
    InvalidDataset,
    check_references,
)

LANGUAGES = ("nl", "en")
LOCN = rdflib.Namespace("http://www.w3.org/ns/locn#")
VCARD = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
GEOSPARQL = rdflib.Namespace("http://www.opengis.net/ont/geosparql#")
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
GEOMETRY_TYPES = ("Point", "Polygon", "MultiPolygon")
MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
# What the reading below takes from a dataset and a distribution; anything else is reported.
DATASET_READ = {RDF.type, DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCAT.contactPoint,
                DCAT.keyword, DCAT.theme, DCTERMS.spatial, DCTERMS.temporal, DCTERMS.license,
                DCTERMS.conformsTo, DCAT.distribution, DCTERMS.issued, DCTERMS.modified,
                DCTERMS.identifier, DCTERMS.isPartOf,
                # This catalogue states a harvested dataset's provenance itself (naming the source).
                PROV.wasAttributedTo, PROV.generatedAtTime, PROV.qualifiedAttribution, DCTERMS.provenance}
DISTRIBUTION_READ = {RDF.type, DCTERMS.title, DCAT.accessURL, DCAT.downloadURL, DCTERMS.format,
                     DCAT.mediaType, DCTERMS.conformsTo, DCTERMS.license}


class NotACatalogue(ValueError):
    """The graph holds neither a catalogue nor a dataset."""


@dataclass(slots=True)
class Mapped:
    """One source dataset read back: its document (None when skipped) and what was left out."""

    iri: str
    document: dict[str, Any] | None = None
    issued: datetime | None = None
    modified: datetime | None = None
    notes: list[str] = field(default_factory=list)
    reason: str | None = None


class Skip(Exception):
    pass


def read_catalogue(graph: rdflib.Graph) -> tuple[str | None, list[Mapped]]:
    """The graph's catalogue IRI (when one ``dcat:Catalog`` is named) and every dataset in it."""
    catalogues = sorted(str(c) for c in graph.subjects(RDF.type, DCAT.Catalog) if isinstance(c, URIRef))
    subjects = sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str)
    if not subjects and not catalogues:
        raise NotACatalogue("the document has neither a dcat:Catalog nor a dcat:Dataset")
    return (catalogues[0] if len(catalogues) == 1 else None), [map_dataset(graph, s) for s in subjects]


def map_dataset(graph: rdflib.Graph, subject: rdflib.term.Node) -> Mapped:
    """``subject`` as a ``dcat-dataset`` document valid against the PPI, or the reason it is not."""
    if not isinstance(subject, URIRef):
        return Mapped(f"_:{subject}", reason="the dataset has no IRI: without a persistent identifier it cannot be kept")
    mapped = Mapped(str(subject))
    try:
        document = _document(_Reader(graph, mapped.notes), subject)
        check_references(document)
    except Skip as skip:
        mapped.reason = str(skip)
        return mapped
    except InvalidDataset as error:
        mapped.reason = f"{error.pointer}: {error.reason}"
        return mapped
    problems = ppi_schemas.validate(document, ppi_schemas.get(DATASET_PPI))
    if problems:
        mapped.reason = f"does not fit {DATASET_PPI}: " + "; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems)
        return mapped
    mapped.document = document
    mapped.issued = _moment(graph.value(subject, DCTERMS.issued))
    mapped.modified = _moment(graph.value(subject, DCTERMS.modified))
    return mapped


@dataclass(slots=True)
class _Reader:
    graph: rdflib.Graph
    notes: list[str]

    def texts(self, node: rdflib.term.Node, predicate: URIRef, name: str) -> dict[str, str]:
        """A language map (nl, en); an untagged text stands in for English when there is none."""
        found: dict[str, str] = {}
        untagged: list[str] = []
        for value in sorted(self.graph.objects(node, predicate), key=str):
            if not isinstance(value, Literal):
                self.notes.append(f"{name} {value} is not a text")
            elif value.language is None:
                untagged.append(str(value))
            elif value.language.lower() in LANGUAGES and value.language.lower() not in found:
                found[value.language.lower()] = str(value)
            else:
                self.notes.append(f"{name} in language {value.language!r}")
        if untagged:
            if "en" not in found:
                found["en"] = untagged.pop(0)
                self.notes.append(f"untagged {name} taken as English")
            self.notes += [f"untagged {name} {text!r}" for text in untagged]
        return found

    def iris(self, node: rdflib.term.Node, predicate: URIRef, name: str) -> list[str]:
        """The http(s) IRIs among the values."""
        result = []
        for value in sorted(self.graph.objects(node, predicate), key=str):
            if isinstance(value, URIRef) and str(value).startswith(("http://", "https://")):
                result.append(str(value))
            else:
                self.notes.append(f"{name} {value} is not an http(s) IRI")
        return result

    def one(self, node: rdflib.term.Node, predicate: URIRef, name: str) -> rdflib.term.Node | None:
        values = sorted(self.graph.objects(node, predicate), key=str)
        self.notes += [f"further {name} {value}" for value in values[1:]]
        return values[0] if values else None

    def unread(self, node: rdflib.term.Node, read: set[URIRef], where: str) -> None:
        for predicate in sorted({p for p in self.graph.predicates(node) if p not in read}, key=str):
            self.notes.append(f"{where}{predicate} is not kept")


def _document(reader: _Reader, subject: URIRef) -> dict[str, Any]:
    graph = reader.graph
    reader.unread(subject, DATASET_READ, "")
    document: dict[str, Any] = {}
    for key, predicate in (("title", DCTERMS.title), ("description", DCTERMS.description)):
        document[key] = reader.texts(subject, predicate, f"dct:{key}")
        if not document[key]:
            raise Skip(f"no dct:{key} in Dutch, English or without a language tag")
    document["publisher"] = _publisher(reader, subject)
    document["contactPoint"] = _contact_point(reader, subject)
    keywords = sorted({str(k) for k in graph.objects(subject, DCAT.keyword)})
    reader.notes += [f"dcat:keyword {k[:40]!r}: longer than 100 characters" for k in keywords if len(k) > 100]
    keywords = [k for k in keywords if 0 < len(k) <= 100]
    reader.notes += [f"dcat:keyword {k!r}: beyond the first 50" for k in keywords[50:]]
    if keywords:
        document["keywords"] = keywords[:50]
    themes = []
    for theme in reader.iris(subject, DCAT.theme, "dcat:theme"):
        if theme.removeprefix(DATA_THEME) in DATA_THEME_LABELS and theme.startswith(DATA_THEME):
            themes.append(theme)
        else:
            reader.notes.append(f"dcat:theme {theme} is not an EU data theme")
    if themes:
        document["themes"] = themes
    spatial = _spatial(reader, subject)
    if spatial is not None:
        document["spatial"] = spatial
    temporal = _temporal(reader, subject)
    if temporal:
        document["temporal"] = temporal
    # Ordered by content: blank-node distributions have no stable name between harvests.
    distributions = sorted((d for d in map(lambda node: _distribution(reader, node), graph.objects(
        subject, DCAT.distribution)) if d), key=canonical)
    licence = _licence(reader, subject)
    conforms = reader.iris(subject, DCTERMS.conformsTo, "dct:conformsTo")
    if conforms:
        document["conformsTo"] = conforms
    if not distributions:
        raise Skip("no dcat:distribution with a dcat:accessURL")
    if len(distributions) > 20:
        reader.notes.append(f"{len(distributions) - 20} distributions beyond the first 20")
    document["license"] = licence
    document["distributions"] = distributions[:20]
    return document


def _publisher(reader: _Reader, subject: URIRef) -> dict[str, str]:
    agent = reader.one(subject, DCTERMS.publisher, "dct:publisher")
    # A name is no text to translate: untagged first, then English, Dutch, any other.
    names = sorted((n for n in reader.graph.objects(agent, FOAF.name) if isinstance(n, Literal)),
                   key=lambda n: (["", "en", "nl"].index(n.language or "") if (n.language or "") in ("", "en", "nl")
                                  else 3, str(n))) if agent is not None else []
    if not names:
        raise Skip("no dct:publisher with a foaf:name")
    publisher = {"name": str(names[0])}
    if isinstance(agent, URIRef) and str(agent).startswith(("http://", "https://")):
        publisher["url"] = str(agent)
    return publisher


def _contact_point(reader: _Reader, subject: URIRef) -> dict[str, str]:
    kind = reader.one(subject, DCAT.contactPoint, "dcat:contactPoint")
    if kind is None:
        raise Skip("no dcat:contactPoint")
    name = reader.one(kind, VCARD.fn, "vcard:fn")
    email = reader.one(kind, VCARD.hasEmail, "vcard:hasEmail")
    if name is None or email is None:
        raise Skip("the dcat:contactPoint has no vcard:fn or no vcard:hasEmail")
    return {"name": str(name), "email": str(email).removeprefix("mailto:")}


def _licence(reader: _Reader, subject: URIRef) -> str:
    """The dataset's dct:license, else its distributions' (DCAT-AP puts it there)."""
    own = reader.iris(subject, DCTERMS.license, "dct:license")
    given = sorted({str(lic) for d in reader.graph.objects(subject, DCAT.distribution)
                    for lic in reader.graph.objects(d, DCTERMS.license) if isinstance(lic, URIRef)})
    licences = own or given
    if not licences:
        raise Skip("no dct:license on the dataset or its distributions")
    reader.notes += [f"further dct:license {other}" for other in licences[1:]]
    return licences[0]


def _spatial(reader: _Reader, subject: URIRef) -> dict[str, Any] | None:
    location = reader.one(subject, DCTERMS.spatial, "dct:spatial")
    if location is None:
        return None
    graph = reader.graph
    geometry_node = graph.value(location, LOCN.geometry)
    if geometry_node is not None:
        text = graph.value(geometry_node, GEOSPARQL.asGeoJSON) if not isinstance(geometry_node, Literal) else None
        try:
            geometry = orjson.loads(str(text)) if text is not None else None
        except orjson.JSONDecodeError:
            geometry = None
        if isinstance(geometry, dict) and geometry.get("type") in GEOMETRY_TYPES:
            return {"geometry": geometry}
        reader.notes.append("dct:spatial locn:geometry is not a GeoJSON Point, Polygon or MultiPolygon")
    box = graph.value(location, DCAT.bbox)
    if box is not None:
        try:
            return {"bbox": list(wkt.loads(str(box)).bounds)}
        except (ShapelyError, ValueError, TypeError):
            reader.notes.append(f"dct:spatial dcat:bbox {str(box)[:80]!r} is not WKT")
            return None
    reader.notes.append(f"dct:spatial {location} has no geometry or box")
    return None


def _temporal(reader: _Reader, subject: URIRef) -> dict[str, str]:
    period = reader.one(subject, DCTERMS.temporal, "dct:temporal")
    if period is None:
        return {}
    result = {}
    for key, predicate in (("start", DCAT.startDate), ("end", DCAT.endDate)):
        value = reader.graph.value(period, predicate)
        moment = _moment(value)
        if moment is not None:  # UTC written with "Z", as publishers usually write it
            text = moment.isoformat()
            result[key] = text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        elif value is not None:
            reader.notes.append(f"dct:temporal {predicate} {value} is not a date or date-time")
    return result


def _distribution(reader: _Reader, node: rdflib.term.Node) -> dict[str, Any] | None:
    graph = reader.graph
    label = node if isinstance(node, URIRef) else graph.value(node, DCAT.accessURL) or "without dcat:accessURL"
    where = f"distribution {label}: "
    reader.unread(node, DISTRIBUTION_READ, where)
    access = reader.iris(node, DCAT.accessURL, where + "dcat:accessURL")
    if not access:
        reader.notes.append(where + "no dcat:accessURL, left out")
        return None
    result: dict[str, Any] = {"accessURL": access[0]}
    title = reader.texts(node, DCTERMS.title, where + "dct:title")
    if title:
        result["title"] = title
    download = reader.iris(node, DCAT.downloadURL, where + "dcat:downloadURL")
    if download:
        result["downloadURL"] = download[0]
    fmt = graph.value(node, DCTERMS.format)
    if fmt is not None:
        if str(fmt).startswith(FILE_TYPE) and isinstance(fmt, URIRef):
            result["format"] = str(fmt)
        else:
            reader.notes.append(f"{where}dct:format {fmt} is not an EU file type")
    media = graph.value(node, DCAT.mediaType)
    if media is not None:
        text = str(media).split("/media-types/", 1)[-1]
        if MEDIA_TYPE.fullmatch(text):
            result["mediaType"] = text
        else:
            reader.notes.append(f"{where}dcat:mediaType {media} is not an IANA media type")
    conforms = reader.iris(node, DCTERMS.conformsTo, where + "dct:conformsTo")
    if conforms:
        result["conformsTo"] = conforms
    return result


def _moment(value: rdflib.term.Node | None) -> datetime | None:
    """An xsd:dateTime or xsd:date literal as an aware datetime (UTC when no offset is given)."""
    if not isinstance(value, Literal):
        return None
    python = value.toPython()
    if isinstance(python, datetime):
        return python if python.tzinfo else python.replace(tzinfo=UTC)
    if isinstance(python, date):
        return datetime(python.year, python.month, python.day, tzinfo=UTC)
    return None


def canonical(document: Mapping[str, Any]) -> bytes:
    """One byte string per JSON value, whatever the order of its members."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
