"""FAIR assessment of a catalogue dataset, with the F-UJI metrics as the reference.

The metrics are the FAIRsFAIR Data Object Assessment Metrics, version 0.5
(https://doi.org/10.5281/zenodo.6461229), as F-UJI implements them (``metrics_v0.5.yaml``): their
ids, FAIR principles, tests, test points and scoring (``cumulative``: the points of every passed
test add up; ``alternative``: the best passed test counts). All 17 are assessed:

    FsF-F1-01D  FsF-F1-02D  FsF-F2-01M  FsF-F3-01M  FsF-F4-01M
    FsF-A1-01M  FsF-A1-02M  FsF-A1-03D  FsF-A2-01M
    FsF-I1-01M  FsF-I2-01M  FsF-I3-01M
    FsF-R1-01MD FsF-R1.1-01M FsF-R1.2-01M FsF-R1.3-01M FsF-R1.3-02D

F-UJI harvests a landing page over the network; here the subject is the dataset as this catalogue
holds it and serves it: its IRI, the media types its IRI is served in, and the RDF graph of its
DCAT-AP document (the very graph every serialization is written from), compared with the
controlled lists in ``fair_vocabularies.json`` (licences with their SPDX ids, EU file types).
Plain Python, deterministic, no network. What only a request elsewhere could show (a PID
resolving, the data links answering, a registry harvesting the catalogue, data matching its
description) is reported as *not evaluated* with the reason, and counts neither as earned nor in
the total: the score is over what was checked. Every missed point comes with a hint saying what
to change, where (a JSON pointer into the publisher's document when the publisher can fix it),
and who can: the ``publisher`` or the ``platform`` (when the ``dcat-dataset`` PPI or the
deployment has no way to say it yet).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import rdflib
from rdflib import RDF, URIRef
from rdflib.namespace import DCTERMS

from mims.marketplace import rdf
from mims.marketplace.dcat import DATA_THEME, Dataset

METRIC_VERSION = "0.5"
METRIC_SPECIFICATION = "https://doi.org/10.5281/zenodo.6461229"

PASSED, FAILED, NOT_EVALUATED = "passed", "failed", "not evaluated"
PUBLISHER, PLATFORM = "publisher", "platform"
PRINCIPLES = ("F", "A", "I", "R")

DCAT = rdflib.Namespace(rdf.DCAT)
PROV = rdflib.Namespace(rdf.PROV)
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
# Hosts and schemes of persistent-identifier systems (F-UJI's PID schemes that name a resolver).
PID_HOSTS = frozenset({"doi.org", "dx.doi.org", "hdl.handle.net", "n2t.net", "purl.org", "w3id.org", "identifiers.org"})
PID_SCHEMES = frozenset({"doi", "hdl", "ark", "urn"})
# PID systems whose registries keep the metadata of a withdrawn object (DataCite, Handle).
PRESERVING_PID_HOSTS = frozenset({"doi.org", "dx.doi.org", "hdl.handle.net"})
_HASH = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Hint:
    text: str
    remedy: str  # PUBLISHER or PLATFORM
    pointer: str | None = None  # where in the publisher's dcat-dataset document

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "remedy": self.remedy, **({"pointer": self.pointer} if self.pointer else {})}


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    evidence: str = ""  # what was found, or why it was not evaluated
    hints: tuple[Hint, ...] = ()


@dataclass(frozen=True, slots=True)
class TestResult:
    id: str
    name: str
    points: float
    outcome: Outcome

    @property
    def status(self) -> str:
        return self.outcome.status


@dataclass(frozen=True, slots=True)
class MetricResult:
    id: str
    principle: str
    name: str
    scoring: str
    tests: tuple[TestResult, ...]

    @property
    def evaluated(self) -> tuple[TestResult, ...]:
        return tuple(t for t in self.tests if t.status != NOT_EVALUATED)

    @property
    def earned(self) -> float:
        points = [t.points for t in self.evaluated if t.status == PASSED]
        return _combine(self.scoring, points)

    @property
    def total(self) -> float:
        return _combine(self.scoring, [t.points for t in self.evaluated])

    @property
    def missed(self) -> tuple[TestResult, ...]:
        """The failed tests whose points are not earned (another passed alternative may cover one)."""
        earned = self.earned
        return tuple(
            t for t in self.evaluated
            if t.status == FAILED and t.points > 0 and (self.scoring == "cumulative" or t.points > earned)
        )

    def as_json(self) -> dict[str, Any]:
        missed = {t.id for t in self.missed}
        return {
            "id": self.id,
            "principle": self.principle,
            "name": self.name,
            "scoring": self.scoring,
            "status": "evaluated" if self.evaluated else NOT_EVALUATED,
            "score": {"earned": self.earned, "total": self.total},
            "tests": [
                {
                    "id": t.id, "name": t.name, "points": t.points, "status": t.status,
                    **({"evidence": t.outcome.evidence} if t.outcome.evidence else {}),
                    **({"hints": [h.as_json() for h in t.outcome.hints]} if t.id in missed else {}),
                }
                for t in self.tests
            ],
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    """One dataset's FAIR score: per metric, per principle (F, A, I, R) and overall."""

    dataset_id: str
    iri: str
    metrics: tuple[MetricResult, ...]

    def score(self, principle: str | None = None) -> dict[str, float]:
        chosen = [m for m in self.metrics if principle is None or m.principle.startswith(principle)]
        earned, total = sum(m.earned for m in chosen), sum(m.total for m in chosen)
        return {"earned": earned, "total": total, "percent": _percent(earned, total)}

    @property
    def missed(self) -> list[tuple[MetricResult, TestResult]]:
        return [(m, t) for m in self.metrics for t in m.missed]

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset": self.iri,
            "metricVersion": METRIC_VERSION,
            "metricSpecification": METRIC_SPECIFICATION,
            "score": self.score(),
            "principles": {p: self.score(p) for p in PRINCIPLES},
            "hints": [
                {"metric": m.id, "test": t.id, **h.as_json()} for m, t in self.missed for h in t.outcome.hints
            ],
            "notEvaluated": [
                {"metric": m.id, "test": t.id, "reason": t.outcome.evidence}
                for m in self.metrics for t in m.tests if t.status == NOT_EVALUATED
            ],
            "metrics": [m.as_json() for m in self.metrics],
        }


def assess(dataset: Dataset, site: rdf.Site) -> Assessment:
    """Score ``dataset`` as the catalogue at ``site`` serves it."""
    document = rdf.dataset_document(dataset, site)
    view = _View(dataset, document, rdf.to_graph(document))
    return Assessment(
        dataset_id=dataset.id,
        iri=str(view.iri),
        metrics=tuple(
            MetricResult(metric.id, metric.principle, metric.name, metric.scoring,
                         tuple(TestResult(t.id, t.name, t.points, t.check(view)) for t in metric.tests))
            for metric in METRICS
        ),
    )


@dataclass(frozen=True, slots=True)
class Scorecard:
    """What the catalogue's summary needs of one assessment: overall and per-principle percent, and
    each missed test as (metric id, test id, principle, test name, who can remedy it)."""

    percent: float
    principles: tuple[float, ...]
    missed: tuple[tuple[str, str, str, str, frozenset[str]], ...]

    @classmethod
    def of(cls, assessment: Assessment) -> Scorecard:
        return cls(
            percent=assessment.score()["percent"],
            principles=tuple(assessment.score(p)["percent"] for p in PRINCIPLES),
            missed=tuple((m.id, t.id, m.principle, t.name, frozenset(h.remedy for h in t.outcome.hints))
                         for m, t in assessment.missed),
        )


def summarize(assessments: Sequence[Assessment | Scorecard], most_common: int = 10) -> dict[str, Any]:
    """The catalogue-wide picture: how many datasets, their overall percent (mean, min, max), the
    mean percent per principle, and the tests most often missed."""
    cards = [a if isinstance(a, Scorecard) else Scorecard.of(a) for a in assessments]
    overall = [c.percent for c in cards]
    misses = Counter((metric, test) for c in cards for metric, test, *_ in c.missed)
    names = {(metric, test): (principle, name, remedies) for c in cards for metric, test, principle, name, remedies
             in c.missed}
    return {
        "metricVersion": METRIC_VERSION,
        "metricSpecification": METRIC_SPECIFICATION,
        "count": len(cards),
        "score": {
            "mean": _mean(overall),
            "min": min(overall) if overall else None,
            "max": max(overall) if overall else None,
        },
        "principles": {p: _mean([c.principles[n] for c in cards]) for n, p in enumerate(PRINCIPLES)},
        "mostCommonMisses": [
            {
                "metric": metric, "test": test, "principle": names[metric, test][0], "name": names[metric, test][1],
                "count": count, "remedy": sorted(names[metric, test][2]),
            }
            for (metric, test), count in sorted(misses.items(), key=lambda item: (-item[1], item[0]))[:most_common]
        ],
    }


# --- scores kept between requests ---------------------------------------------------------------
#
# A score is a pure function of the dataset as stored (id, IRI, source, dates, document), the site
# it is served from, and this module's checks and lists. So scores are kept in memory under a key
# made of exactly those: SCORING_VERSION (raise it whenever a check, a point or a vocabulary
# changes), the site, and the dataset's id, IRI, source, dates and a digest of its canonical
# document. A publish, update, withdrawal or harvest changes the dataset, hence the key, so a
# stale score is never found; a withdrawn dataset is no longer asked for. Unlike a score stored
# with the dataset, this needs no migration, no write on every change path (publish, update,
# harvest) and no re-scoring pass when the public URL or the checks change, and every worker
# process stays correct on its own. The price: a process starts cold (the first GET /fair scores
# everything once), and the memory is bounded by evicting the least recently used entries.

SCORING_VERSION = 1


def fingerprint(dataset: Dataset, site: rdf.Site) -> tuple[Any, ...]:
    """Everything ``assess(dataset, site)`` depends on, as a hashable key."""
    digest = hashlib.blake2b(orjson.dumps(dataset.document, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
    return (SCORING_VERSION, site, dataset.id, dataset.iri, dataset.source, dataset.issued, dataset.modified, digest)


class ScoreCache:
    """Assessments (as JSON, not to be changed by callers) and scorecards of datasets, by
    :func:`fingerprint`; safe to share between threads."""

    def __init__(self, max_scorecards: int = 200_000, max_assessments: int = 2_000) -> None:
        self._scorecards = _Recent(max_scorecards)
        self._assessments = _Recent(max_assessments)

    def kept(self, dataset: Dataset, site: rdf.Site) -> dict[str, Any] | None:
        """The kept ``assess(dataset, site).as_json()``, or None (cheap: no scoring)."""
        return self._assessments.get(fingerprint(dataset, site))

    def assessment(self, dataset: Dataset, site: rdf.Site) -> dict[str, Any]:
        """``assess(dataset, site).as_json()``."""
        key = fingerprint(dataset, site)
        found = self._assessments.get(key)
        if found is None:
            assessment = assess(dataset, site)
            found = assessment.as_json()
            self._assessments.put(key, found)
            self._scorecards.put(key, Scorecard.of(assessment))
        return found

    def summary(self, datasets: Iterable[Dataset], site: rdf.Site, most_common: int = 10) -> dict[str, Any]:
        """``summarize`` over the datasets' assessments, scoring only those not seen as they are."""
        cards = []
        for dataset in datasets:
            key = fingerprint(dataset, site)
            card = self._scorecards.get(key)
            if card is None:
                card = Scorecard.of(assess(dataset, site))
                self._scorecards.put(key, card)
            cards.append(card)
        return summarize(cards, most_common)


class _Recent:
    """A mapping of at most ``maxsize`` entries that forgets the least recently used first."""

    def __init__(self, maxsize: int) -> None:
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def _combine(scoring: str, points: Iterable[float]) -> float:
    points = list(points)
    if scoring == "cumulative":
        return float(sum(points))
    return float(max(points, default=0))


def _percent(earned: float, total: float) -> float:
    return round(100 * earned / total, 2) if total else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


# --- what the catalogue serves --------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    dataset: Dataset
    document: Mapping[str, Any]
    graph: rdflib.Graph
    iri: URIRef = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "iri", URIRef(self.document["@id"]))

    def values(self, predicate: URIRef, subject: rdflib.term.Node | None = None) -> list[rdflib.term.Node]:
        return list(self.graph.objects(self.iri if subject is None else subject, predicate))

    @property
    def own(self) -> bool:
        """True when this catalogue minted the IRI (a harvested dataset keeps its source's)."""
        return self.dataset.iri is None

    @property
    def distributions(self) -> list[URIRef]:
        return sorted(self.values(DCAT.distribution), key=str)

    def pointer(self, distribution: rdflib.term.Node, member: str = "") -> str | None:
        """The publisher's member behind a distribution; None for the digital twin's (the
        catalogue makes that one)."""
        number = str(distribution).rpartition("/distributions/")[2]
        if not number.isdigit():
            return None
        return f"/distributions/{number}" + (f"/{member}" if member else "")

    def is_twin(self, distribution: rdflib.term.Node) -> bool:
        return bool(self.values(DCAT.accessService, distribution))


def _passed(evidence: str) -> Outcome:
    return Outcome(PASSED, evidence)


def _failed(*hints: Hint, evidence: str = "") -> Outcome:
    return Outcome(FAILED, evidence, hints)


def _not_evaluated(reason: str) -> Outcome:
    return Outcome(NOT_EVALUATED, reason)


@cache
def _vocabularies() -> dict[str, Any]:
    return orjson.loads(Path(__file__).with_name("fair_vocabularies.json").read_bytes())


def licence_spdx(iri: str) -> tuple[str, bool] | None:
    """The SPDX id of a licence IRI in the shipped list, and whether it is an open licence."""
    licences = _vocabularies()["licences"]
    key = re.sub(r"^https?://", "", iri.strip()).rstrip("/")
    key = re.sub(r"/(legalcode(\.[a-z-]+)?|deed\.[a-z-]+)$", "", key, flags=re.IGNORECASE)
    if key.startswith("spdx.org/licenses/"):
        spdx = key.removeprefix("spdx.org/licenses/").removesuffix(".html").removesuffix(".json")
        known = {entry["spdx"]: entry["open"] for entry in licences.values()}
        return (spdx, known[spdx]) if spdx in known else None
    entry = licences.get(key)
    return (entry["spdx"], entry["open"]) if entry else None


def open_file_type(iri: str) -> bool:
    return iri.startswith(FILE_TYPE) and iri.removeprefix(FILE_TYPE) in _vocabularies()["fileTypes"]


def _pid(iri: str, hosts: frozenset[str] = PID_HOSTS) -> bool:
    parts = urlsplit(iri)
    return parts.scheme.lower() in PID_SCHEMES or (parts.scheme in ("http", "https") and parts.hostname in hosts)


# --- the metrics ------------------------------------------------------------------------------------

_NO_NETWORK = "the catalogue makes no requests elsewhere to score a dataset"


def _f1_01d_1(v: _View) -> Outcome:
    if urlsplit(str(v.iri)).scheme not in ("http", "https"):
        return _failed(Hint(f"The IRI {v.iri} is no HTTP(S) IRI.", PLATFORM))
    if not v.own:
        return _not_evaluated(f"the IRI was minted by the source catalogue {v.dataset.source}; resolving it "
                              f"needs a request there, and {_NO_NETWORK}")
    return _passed(f"{v.iri}: an HTTP IRI minted by this catalogue, which serves the dataset at it")


def _f1_01d_2(v: _View) -> Outcome:
    last = str(v.iri).rstrip("/").rpartition("/")[2]
    if _HASH.match(last):
        return _passed(f"the IRI ends in the UUID/hash {last}")
    return _failed(Hint("The IRI follows neither a resolvable IRI syntax nor a UUID or hash.", PLATFORM))


def _f1_02d_1(v: _View) -> Outcome:
    if _pid(str(v.iri)):
        return _passed(f"{v.iri} is in a persistent-identifier system")
    return _failed(Hint(
        f"The dataset IRI {v.iri} is a URL of this deployment, not a persistent identifier: set the "
        "marketplace's public_url to a persistent-identifier namespace (w3id.org, purl.org) that redirects "
        "to it, so every dataset IRI is a PID.", PLATFORM))


def _f1_02d_2(v: _View) -> Outcome:
    return _not_evaluated(f"resolving a persistent identifier needs a request to its resolver; {_NO_NETWORK}")


def _rdf_media_types() -> list[str]:
    return [t for t, fmt in rdf.SERIALIZATIONS.items() if t != "application/json"]


def _f2_01m_1(v: _View) -> Outcome:
    return _passed("content negotiation on the dataset IRI: " + ", ".join(_rdf_media_types()))


_CORE: dict[str, tuple[Callable[[_View], bool], Hint]] = {
    "creator": (
        lambda v: bool(v.values(DCTERMS.creator)),
        Hint("Name the dataset's creator (dct:creator): the dcat-dataset PPI 1.0.0 has no member for it, so the "
             "catalogue cannot state one yet.", PLATFORM),
    ),
    "title": (lambda v: bool(v.values(DCTERMS.title)), Hint("Give the dataset a title.", PUBLISHER, "/title")),
    "identifier": (lambda v: bool(v.values(DCTERMS.identifier)), Hint("State the identifier.", PLATFORM)),
    "publication date": (lambda v: bool(v.values(DCTERMS.issued)), Hint("State dct:issued.", PLATFORM)),
    "publisher": (lambda v: bool(v.values(DCTERMS.publisher)), Hint("Name the publisher.", PUBLISHER, "/publisher")),
    "object type": (lambda v: DCAT.Dataset in v.values(RDF.type), Hint("Type the dataset.", PLATFORM)),
    "summary": (
        lambda v: bool(v.values(DCTERMS.description)), Hint("Describe the dataset.", PUBLISHER, "/description")
    ),
    "keywords": (
        lambda v: bool(v.values(DCAT.keyword)),
        Hint("Add keywords (dcat:keyword) a search should find the dataset by.", PUBLISHER, "/keywords"),
    ),
}
_CITATION = ("creator", "title", "identifier", "publication date", "publisher", "object type")


def _core(elements: Iterable[str]) -> Callable[[_View], Outcome]:
    def check(v: _View) -> Outcome:
        found = [e for e in elements if _CORE[e][0](v)]
        missing = [e for e in elements if e not in found]
        if not missing:
            return _passed("found: " + ", ".join(found))
        return _failed(*(_CORE[e][1] for e in missing), evidence="missing: " + ", ".join(missing))

    return check


def _f3_01m_1(v: _View) -> Outcome:
    untyped = [d for d in v.distributions if not v.values(DCTERMS.format, d) and not v.values(DCAT.mediaType, d)]
    if v.distributions and not untyped:
        return _passed("every distribution states its file type (dct:format, dcat:mediaType)")
    return _failed(*(
        Hint("Give this distribution a format (an EU file type) and a mediaType.", PUBLISHER, v.pointer(d, "format"))
        for d in untyped
    ))


def _f3_01m_2(v: _View) -> Outcome:
    for d in v.distributions:
        if v.values(DCAT.downloadURL, d):
            return _passed(f"downloadURL {v.values(DCAT.downloadURL, d)[0]}")
        if v.is_twin(d):
            return _passed(f"the digital twin's NGSI-LD query returns the data: {v.values(DCAT.accessURL, d)[0]}")
    return _failed(Hint("Give a downloadURL where the data itself can be fetched (accessURL may be a landing page).",
                        PUBLISHER, "/distributions/0/downloadURL"))


def _f4_01m_1(v: _View) -> Outcome:
    return _passed("DCAT-AP as JSON-LD (application/ld+json), the form search engines ingest")


def _f4_01m_2(v: _View) -> Outcome:
    return _not_evaluated("whether a data registry (e.g. data.europa.eu, data.overheid.nl) harvests this catalogue is "
                          "not known to it; GET /catalog serves the whole DCAT-AP catalogue for harvesters")


def _licences(v: _View) -> list[str]:
    found = {str(o) for d in v.distributions for o in v.values(DCTERMS.license, d)}
    return sorted(found | {str(o) for o in v.values(DCTERMS.license)})


def _a1_01m_1(v: _View) -> Outcome:
    rights = v.values(DCTERMS.accessRights) + v.values(DCTERMS.rights)
    found = [str(r) for r in rights] + _licences(v)
    if found:
        return _passed("rights information: " + ", ".join(found))
    return _failed(Hint("State a licence.", PUBLISHER, "/license"))


def _a1_01m_2(v: _View) -> Outcome:
    for right in v.values(DCTERMS.accessRights):
        if str(right).startswith(ACCESS_RIGHT):
            return _passed(f"access rights {right} (EU access-right authority)")
    open_licences = [iri for iri in _licences(v) if (known := licence_spdx(iri)) and known[1]]
    if open_licences:
        return _passed(f"public access, derived from the open licence {open_licences[0]} (as F-UJI derives it when "
                       "no dct:accessRights is given)")
    return _failed(Hint(
        "The access level cannot be told: the licence is not a known open licence, and the dcat-dataset PPI 1.0.0 "
        "has no accessRights member. Use an open licence (e.g. https://creativecommons.org/licenses/by/4.0/) if the "
        "data is public.", PUBLISHER, "/license"))


def _a1_02m_1(v: _View) -> Outcome:
    scheme = urlsplit(str(v.iri)).scheme
    if scheme in ("http", "https"):
        return _passed(f"the metadata is served over {scheme.upper()} at its IRI")
    return _failed(Hint("Serve the metadata over HTTP(S).", PLATFORM))


def _a1_03d_1(v: _View) -> Outcome:
    links = [str(o) for d in v.distributions for p in (DCAT.accessURL, DCAT.downloadURL) for o in v.values(p, d)]
    schemes = sorted({urlsplit(link).scheme for link in links})
    return _not_evaluated(
        f"whether the data links resolve needs a request to each (the digital twin's goes through the gateway with "
        f"a token); {_NO_NETWORK}. The links use: {', '.join(schemes) or 'none'}")


def _a2_01m_1(v: _View) -> Outcome:
    if _pid(str(v.iri), PRESERVING_PID_HOSTS):
        return _passed(f"{v.iri} is a DOI or Handle; its registry keeps the metadata")
    return _failed(Hint(
        "A withdrawn dataset's metadata is gone (its IRI answers 404): register DataCite DOIs for datasets, or keep "
        "a tombstone record of withdrawn ones.", PLATFORM))


def _i1_01m_1(v: _View) -> Outcome:
    return _failed(Hint(
        "The dataset IRI serves no HTML landing page: serve one with the DCAT-AP JSON-LD embedded "
        "(<script type=\"application/ld+json\">) for web crawlers.", PLATFORM))


def _i1_01m_2(v: _View) -> Outcome:
    if (v.iri, RDF.type, DCAT.Dataset) in v.graph:
        return _passed(f"an RDF graph of {len(v.graph)} triples, served as " + ", ".join(_rdf_media_types()))
    return _failed(Hint("The served JSON-LD does not parse to a dcat:Dataset.", PLATFORM))


_NAMESPACES = {
    "dcat": rdf.DCAT, "dct": str(DCTERMS), "foaf": "http://xmlns.com/foaf/0.1/", "vcard": rdf.VCARD,
    "prov": rdf.PROV, "locn": "http://www.w3.org/ns/locn#", "geosparql": rdf.GEOSPARQL,
    "skos": "http://www.w3.org/2004/02/skos/core#", "adms": "http://www.w3.org/ns/adms#",
}


def _i2_01m_1(v: _View) -> Outcome:
    predicates = {str(pred) for pred in v.graph.predicates(unique=True)}
    used = {p for p, ns in _NAMESPACES.items() if any(pred.startswith(ns) for pred in predicates)}
    return _passed("vocabularies: " + ", ".join(sorted(used))) if used else _failed()


def _i2_01m_2(v: _View) -> Outcome:
    themes = [str(t) for t in v.values(DCAT.theme) if str(t).startswith(DATA_THEME)]
    formats = sorted({str(f) for d in v.distributions for f in v.values(DCTERMS.format, d) if str(f).startswith(FILE_TYPE)})
    if themes or formats:
        return _passed("terms of controlled vocabularies: " + ", ".join(themes + formats))
    return _failed(
        Hint("Add EU data themes (dcat:theme) the dataset is about.", PUBLISHER, "/themes"),
        Hint("Or give a distribution a format from the EU file-type authority.", PUBLISHER, "/distributions/0/format"),
    )


def _standards_and_services(v: _View) -> list[str]:
    found = v.values(DCTERMS.conformsTo) + v.values(DCTERMS.relation) + v.values(DCTERMS.source)
    for d in v.distributions:
        found += v.values(DCTERMS.conformsTo, d) + v.values(DCAT.accessService, d)
    return sorted({str(o) for o in found if isinstance(o, URIRef)})


def _i3_01m_1(v: _View) -> Outcome:
    related = _standards_and_services(v)
    if related:
        return _passed("linked: " + ", ".join(related))
    return _failed(Hint("Name the standards the data follows (conformsTo, IRIs).", PUBLISHER, "/conformsTo"))


def _i3_01m_2(v: _View) -> Outcome:
    agents = [a for a in v.values(DCTERMS.publisher) if isinstance(a, URIRef)]
    if agents:
        return _passed(f"the publisher is identified by {agents[0]}")
    return _failed(Hint("Identify the publisher by an IRI (its homepage or registry entry).", PUBLISHER,
                        "/publisher/url"))


def _r1_01md_1(v: _View) -> Outcome:
    links = [d for d in v.distributions if v.values(DCAT.accessURL, d)]
    if DCAT.Dataset in v.values(RDF.type) and links:
        return _passed(f"a dcat:Dataset with {len(links)} distribution(s) and their access URLs")
    return _failed(Hint("Give the dataset a distribution.", PUBLISHER, "/distributions"))


def _r1_01md_2(v: _View) -> Outcome:
    twin = v.dataset.document.get("digitalTwin")
    if twin is not None:
        return _passed(f"observation types: NGSI-LD entity types {', '.join(twin['entityTypes'])}, "
                       f"described by the PPI {twin['ppi']}")
    return _failed(Hint(
        "Neither file sizes nor observed variables are stated: the dcat-dataset PPI 1.0.0 has no byteSize member, "
        "and only digital-twin datasets name their entity types (a PPI describes their attributes).", PLATFORM))


def _r1_01md_3(v: _View) -> Outcome:
    return _not_evaluated(f"comparing file type and size with the data needs downloading it; {_NO_NETWORK}")


def _r1_01md_4(v: _View) -> Outcome:
    return _not_evaluated("comparing the observation types with the data needs a query to the digital twin through "
                          f"the gateway with a token; {_NO_NETWORK}")


def _r1_1_01m_1(v: _View) -> Outcome:
    licences = _licences(v)
    if licences:
        return _passed("dct:license " + ", ".join(licences))
    return _failed(Hint("State a licence.", PUBLISHER, "/license"))


def _r1_1_01m_2(v: _View) -> Outcome:
    known = [(iri, licence_spdx(iri)) for iri in _licences(v)]
    recognised = [f"{iri} ({spdx[0]})" for iri, spdx in known if spdx]
    if known and len(recognised) == len(known):
        return _passed("SPDX: " + ", ".join(recognised))
    return _failed(Hint(
        f"The licence {v.dataset.document['license']} is not one of the SPDX-registered licences known here; use "
        "one such as https://creativecommons.org/licenses/by/4.0/ (CC-BY-4.0) or "
        "http://creativecommons.org/publicdomain/zero/1.0/ (CC0-1.0).", PUBLISHER, "/license"))


def _r1_2_01m_1(v: _View) -> Outcome:
    elements = {"publisher": DCTERMS.publisher, "issued": DCTERMS.issued, "modified": DCTERMS.modified,
                "creator": DCTERMS.creator, "source": DCTERMS.source, "provenance": DCTERMS.provenance}
    found = [name for name, predicate in elements.items() if v.values(predicate)]
    if {"publisher", "issued"} <= set(found):
        return _passed("provenance elements mappable to PROV: " + ", ".join(found))
    return _failed(Hint("State the publisher and the issue date.", PLATFORM))


def _r1_2_01m_2(v: _View) -> Outcome:
    terms = sorted({str(p).removeprefix(rdf.PROV) for p in v.graph.predicates(v.iri) if str(p).startswith(rdf.PROV)})
    if terms:
        return _passed("PROV-O: prov:" + ", prov:".join(terms))
    return _failed(Hint("Describe the dataset's provenance in PROV-O.", PLATFORM))


def _r1_3_01m_1(v: _View) -> Outcome:
    if v.document.get("@context") == rdf.DCAT_AP_CONTEXT_URL and DCAT.Dataset in v.values(RDF.type):
        return _passed("DCAT-AP 3.0.1, the metadata standard of the European public-sector data community (SEMIC), "
                       "detected by its JSON-LD context")
    return _failed(Hint("Describe the dataset in DCAT-AP.", PLATFORM))


def _r1_3_02d_1(v: _View) -> Outcome:
    formats = {d: [str(f) for f in v.values(DCTERMS.format, d)] for d in v.distributions}
    open_formats = sorted({f for found in formats.values() for f in found if open_file_type(f)})
    if open_formats:
        return _passed("open long-term format(s): " + ", ".join(open_formats))
    hints = [
        Hint(f"{', '.join(found)} is not an open long-term format known here; offer the data (also) as e.g. CSV, "
             "GeoJSON or JSON-LD.", PUBLISHER, v.pointer(d, "format")) if found else
        Hint("Give the distribution a format from the EU file-type authority (e.g. .../file-type/CSV).", PUBLISHER,
             v.pointer(d, "format"))
        for d, found in formats.items()
    ]
    return _failed(*hints)


@dataclass(frozen=True, slots=True)
class _Test:
    id: str
    name: str
    points: float
    check: Callable[[_View], Outcome]


@dataclass(frozen=True, slots=True)
class _Metric:
    id: str
    principle: str
    name: str
    scoring: str
    tests: tuple[_Test, ...]


METRICS: tuple[_Metric, ...] = (
    _Metric("FsF-F1-01D", "F1", "Data is assigned a globally unique identifier.", "alternative", (
        _Test("FsF-F1-01D-1", "Identifier is resolvable and follows a defined unique identifier syntax (IRI, URL)",
              1, _f1_01d_1),
        _Test("FsF-F1-01D-2", "Identifier is not resolvable but follows an UUID or HASH type syntax", 0.5, _f1_01d_2),
    )),
    _Metric("FsF-F1-02D", "F1", "Data is assigned a persistent identifier.", "alternative", (
        _Test("FsF-F1-02D-1", "Identifier follows a defined persistent identifier syntax", 0.5, _f1_02d_1),
        _Test("FsF-F1-02D-2", "Persistent identifier is resolvable", 1, _f1_02d_2),
    )),
    _Metric("FsF-F2-01M", "F2", "Metadata includes descriptive core elements (creator, title, data identifier, "
            "publisher, publication date, summary and keywords) to support data findability.", "cumulative", (
        _Test("FsF-F2-01M-1", "Metadata has been made available via common web methods", 0.5, _f2_01m_1),
        _Test("FsF-F2-01M-2", "Core data citation metadata is available", 0.5, _core(_CITATION)),
        _Test("FsF-F2-01M-3", "Core descriptive metadata is available", 1, _core((*_CITATION, "summary", "keywords"))),
    )),
    _Metric("FsF-F3-01M", "F3", "Metadata includes the identifier of the data it describes.", "cumulative", (
        _Test("FsF-F3-01M-1", "Metadata contains data content related information (file name, size, type)", 0.5,
              _f3_01m_1),
        _Test("FsF-F3-01M-2", "Metadata contains a PID or URL which indicates the location of the downloadable data "
              "content", 0.5, _f3_01m_2),
    )),
    _Metric("FsF-F4-01M", "F4", "Metadata is offered in such a way that it can be retrieved programmatically.",
            "cumulative", (
        _Test("FsF-F4-01M-1", "Metadata is given in a way major search engines can ingest it for their catalogues "
              "(JSON-LD, Dublin Core, RDFa)", 1, _f4_01m_1),
        _Test("FsF-F4-01M-2", "Metadata is registered in major research data registries (DataCite)", 1, _f4_01m_2),
    )),
    _Metric("FsF-A1-01M", "A1", "Metadata contains access level and access conditions of the data.", "alternative", (
        _Test("FsF-A1-01M-1", "Information about access restrictions or rights can be identified in metadata", 0.5,
              _a1_01m_1),
        _Test("FsF-A1-01M-2", "Data access information is machine readable", 1, _a1_01m_2),
    )),
    _Metric("FsF-A1-02M", "A1", "Metadata is accessible through a standardized communication protocol.",
            "cumulative", (
        _Test("FsF-A1-02M-1", "Landing page link is based on standardized web communication protocols.", 1,
              _a1_02m_1),
    )),
    _Metric("FsF-A1-03D", "A1", "Data is accessible through a standardized communication protocol.", "cumulative", (
        _Test("FsF-A1-03D-1", "Metadata includes a resolvable link to data based on standardized web communication "
              "protocols.", 1, _a1_03d_1),
    )),
    _Metric("FsF-A2-01M", "A2", "Metadata remains available, even if the data is no longer available.",
            "cumulative", (
        _Test("FsF-A2-01M-1", "The persistent identifier system used guarantees the preservation of associated "
              "metadata", 1, _a2_01m_1),
    )),
    _Metric("FsF-I1-01M", "I1", "Metadata is represented using a formal knowledge representation language.",
            "cumulative", (
        _Test("FsF-I1-01M-1", "Parsable, structured metadata (JSON-LD, RDFa) is embedded in the landing page "
              "XHTML/HTML code", 1, _i1_01m_1),
        _Test("FsF-I1-01M-2", "Parsable, graph data (RDF, JSON-LD) is accessible through content negotiation, typed "
              "links or sparql endpoint", 1, _i1_01m_2),
    )),
    _Metric("FsF-I2-01M", "I2", "Metadata uses semantic resources", "cumulative", (
        _Test("FsF-I2-01M-1", "Vocabulary namespace URIs can be identified in metadata", 0, _i2_01m_1),
        _Test("FsF-I2-01M-2", "Namespaces of known semantic resources can be identified in metadata", 1, _i2_01m_2),
    )),
    _Metric("FsF-I3-01M", "I3", "Metadata includes links between the data and its related entities.",
            "alternative", (
        _Test("FsF-I3-01M-1", "Related resources are explicitly mentioned in metadata", 1, _i3_01m_1),
        _Test("FsF-I3-01M-2", "Related resources are indicated by machine readable links or identifiers", 1,
              _i3_01m_2),
    )),
    _Metric("FsF-R1-01MD", "R1", "Metadata specifies the content of the data.", "cumulative", (
        _Test("FsF-R1-01MD-1", "Minimal information about available data content is given in metadata", 1,
              _r1_01md_1),
        _Test("FsF-R1-01MD-2", "Verifiable data descriptors (file info, measured variables or observation types) are "
              "specified in metadata", 1, _r1_01md_2),
        _Test("FsF-R1-01MD-3", "Data content matches file type and size specified in metadata", 1, _r1_01md_3),
        _Test("FsF-R1-01MD-4", "Data content matches measured variables or observation types specified in metadata",
              1, _r1_01md_4),
    )),
    _Metric("FsF-R1.1-01M", "R1.1", "Metadata includes license information under which data can be reused.",
            "cumulative", (
        _Test("FsF-R1.1-01M-1", "Licence information is given in an appropriate metadata element", 1, _r1_1_01m_1),
        _Test("FsF-R1.1-01M-2", "Recognized licence is valid and registered at SPDX", 1, _r1_1_01m_2),
    )),
    _Metric("FsF-R1.2-01M", "R1.2", "Metadata includes provenance information about data creation or generation.",
            "cumulative", (
        _Test("FsF-R1.2-01M-1", "Metadata contains elements which hold provenance information and can be mapped to "
              "PROV", 1, _r1_2_01m_1),
        _Test("FsF-R1.2-01M-2", "Metadata contains provenance information using formal provenance ontologies "
              "(PROV-O)", 1, _r1_2_01m_2),
    )),
    _Metric("FsF-R1.3-01M", "R1.3", "Metadata follows a standard recommended by the target research community of "
            "the data.", "alternative", (
        _Test("FsF-R1.3-01M-1", "Community specific metadata standard is detected using namespaces or schemas found "
              "in provided metadata or metadata services outputs", 1, _r1_3_01m_1),
    )),
    _Metric("FsF-R1.3-02D", "R1.3", "Data is available in a file format recommended by the target research "
            "community.", "alternative", (
        _Test("FsF-R1.3-02D-1", "The format of a data file given in the metadata is listed in the long term file "
              "formats, open file formats or scientific file formats controlled list", 1, _r1_3_02d_1),
    )),
)
