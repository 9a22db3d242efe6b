"""What the marketplace pages show, shaped from the marketplace's answers: DCAT-AP 3 JSON-LD
datasets, search facets, FAIR scores, ODRL 2.2 offers and Dataspace Protocol negotiations.

Plain functions without HTTP, so the shaping is tested on its own. Words are not chosen here: an
ODRL term or a state comes out as a locale key with its fields, which the template puts in the
person's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.portal.links import web_link

#: Results per search page.
PAGE_SIZE = 10
#: The search API's facets, in the order the page shows them.
FACETS = ("theme", "publisher", "licence", "format", "keyword")
#: Values shown per facet (the most frequent; chosen ones always): a long keyword list helps nobody.
FACET_VALUES = 12
EU_DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
PROV = "http://www.w3.org/ns/prov#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
#: Licences people know by name (SPDX short names); any other is shown as its IRI.
LICENCE_NAMES = {
    "https://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
    "http://creativecommons.org/licenses/by/4.0/": "CC BY 4.0",
    "https://creativecommons.org/licenses/by-sa/4.0/": "CC BY-SA 4.0",
    "http://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0",
    "https://creativecommons.org/publicdomain/zero/1.0/": "CC0 1.0",
    "https://opendatacommons.org/licenses/odbl/1-0/": "ODbL 1.0",
}
#: The themes of the EU vocabulary the page has words for (``data.theme.<code>``).
THEME_CODES = frozenset({"AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "OP_DATPRO",
                         "REGI", "SOCI", "TECH", "TRAN"})
#: ODRL actions the page has words for (``data.action.<action>``).
ACTIONS = frozenset({"use", "read", "distribute", "sell", "attribute", "inform", "reproduce", "modify"})
#: Dataspace Protocol negotiation states (``data.state.<STATE>`` and ``data.state.<STATE>.means``).
STATES = ("REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED", "TERMINATED")


@dataclass(frozen=True)
class Words:
    """A locale key and its fields: ``t(key, **fields)`` in the template."""

    key: str
    fields: Mapping[str, Any] = field(default_factory=dict)


def text(values: Any, lang: str) -> str:
    """A JSON-LD language map (``[{"@value", "@language"}]``) in ``lang``, else English, else any."""
    if isinstance(values, str):
        return values
    items = values if isinstance(values, list) else [values] if values else []
    by_language = {item.get("@language"): item.get("@value", "") for item in items if isinstance(item, Mapping)}
    plain = [item for item in items if isinstance(item, str)]
    for choice in (lang, "en"):
        if by_language.get(choice):
            return str(by_language[choice])
    return str(next(iter(by_language.values()), plain[0] if plain else ""))


def excerpt(value: str, length: int = 220) -> str:
    """``value`` cut at a word boundary near ``length`` characters."""
    if len(value) <= length:
        return value
    return value[:length].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def dataset_id(iri: str) -> str:
    """The catalogue's id of a dataset: the last segment of its IRI."""
    return iri.rstrip("/").rsplit("/", 1)[-1]


def licence_name(iri: str) -> str:
    return LICENCE_NAMES.get(iri, iri)


def short_code(iri: str, namespace: str) -> str:
    """``JSON_LD`` for the EU file type IRI ending in it; an IRI outside ``namespace`` as it is."""
    return iri.removeprefix(namespace) if iri.startswith(namespace) else iri


def facet_label(facet: str, value: str) -> Words | str:
    """How a facet value reads: a theme by its name, a licence by its short name."""
    if facet == "theme":
        code = short_code(value, EU_DATA_THEME)
        return Words(f"data.theme.{code}") if code in THEME_CODES else code
    if facet == "licence":
        return licence_name(value)
    if facet == "format":
        return short_code(value, EU_FILE_TYPE).replace("_", "-")  # JSON_LD reads as JSON-LD
    return value


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: Words | str
    count: int
    chosen: bool


@dataclass(frozen=True)
class Facet:
    name: str
    values: list[FacetValue]


def facets(answer: Mapping[str, Any], chosen: Mapping[str, Sequence[str]]) -> list[Facet]:
    """The search answer's facets with their counts, the most frequent :data:`FACET_VALUES` of each;
    a chosen value is always listed, even without matches, so it can be unticked."""
    shown = []
    for name in FACETS:
        entries = sorted(answer.get("facets", {}).get(name, []), key=lambda entry: -entry["count"])
        counted = {entry["value"]: entry["count"] for entry in entries[:FACET_VALUES]}
        counted.update({entry["value"]: entry["count"] for entry in entries if entry["value"] in chosen.get(name, ())})
        for value in chosen.get(name, ()):
            counted.setdefault(value, 0)
        values = [FacetValue(value, facet_label(name, value), count, value in chosen.get(name, ()))
                  for value, count in counted.items()]
        if values:
            shown.append(Facet(name, values))
    return shown


@dataclass(frozen=True)
class Distribution:
    title: str
    access_url: str
    download_url: str | None
    format: str | None
    media_type: str | None


@dataclass(frozen=True)
class Dataset:
    """A ``dcat:Dataset`` as the pages show it."""

    id: str
    iri: str
    title: str
    description: str
    publisher: str
    publisher_url: str | None
    licence: str | None
    themes: list[Words | str]
    keywords: list[str]
    contact_name: str | None
    contact_email: str | None
    spatial: list[str]
    temporal: list[tuple[str | None, str | None]]
    issued: str | None
    modified: str | None
    access_rights: str | None
    conforms_to: list[str]
    distributions: list[Distribution]
    provenance: str | None
    source: str | None


def dataset(node: Mapping[str, Any], lang: str) -> Dataset:
    """The dataset of a DCAT-AP 3 JSON-LD node (as ``GET /datasets/{id}`` and search answer it)."""
    iri = str(node.get("@id", ""))
    publisher = node.get("publisher") or {}
    contacts = node.get("contactPoint") or [{}]
    distributions = [_distribution(item, lang) for item in node.get("datasetDistribution", [])]
    licences = [_iri(item.get("licence")) for item in node.get("datasetDistribution", [])]
    licence = _iri(node.get("licence")) or next((found for found in licences if found), None)
    email = _iri(contacts[0].get(VCARD + "hasEmail"))
    return Dataset(
        id=dataset_id(iri), iri=iri, title=text(node.get("title"), lang),
        description=text(node.get("description"), lang),
        publisher=", ".join(str(name) for name in publisher.get("name", [])) if isinstance(publisher, Mapping) else "",
        publisher_url=web_link(publisher.get("@id")) if isinstance(publisher, Mapping) else None,
        licence=licence,
        themes=[facet_label("theme", _iri(theme) or "") for theme in node.get("theme", [])],
        keywords=[str(keyword) for keyword in node.get("keyword", [])],
        contact_name=contacts[0].get(VCARD + "fn"),
        contact_email=email.removeprefix("mailto:") if email else None,
        spatial=[_literal(place.get("bbox")) for place in node.get("geographicalCoverage", []) if place.get("bbox")],
        temporal=[(_day(_literal(period.get("startDate"))), _day(_literal(period.get("endDate"))))
                  for period in node.get("temporalCoverage", [])],
        issued=_day(_literal(node.get("releaseDate"))), modified=_day(_literal(node.get("modificationDate"))),
        access_rights=_iri(node.get("accessRights")),
        conforms_to=[_iri(standard) or "" for standard in node.get("conformsTo", [])],
        distributions=distributions,
        provenance=next((text(statement.get(RDFS_LABEL), lang) for statement in node.get("provenance", [])), None),
        source=next((_iri(part) for part in node.get("http://purl.org/dc/terms/isPartOf", [])), None),
    )


def _distribution(node: Mapping[str, Any], lang: str) -> Distribution:
    media_type = _iri(node.get("mediaType"))
    file_type = _iri(node.get("format"))
    return Distribution(
        title=text(node.get("title"), lang),
        access_url=next((_iri(url) or "" for url in node.get("accessUrl", [])), ""),
        download_url=next((_iri(url) for url in node.get("downloadUrl", [])), None),
        format=facet_label("format", file_type) if file_type else None,
        media_type=media_type.removeprefix(IANA_MEDIA_TYPES) if media_type else None,
    )


def _iri(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return value.get("@id")
    return value if isinstance(value, str) else None


def _literal(value: Any) -> str:
    return str(value.get("@value", "")) if isinstance(value, Mapping) else str(value or "")


def _day(moment: str) -> str | None:
    """The date of an ``xsd:dateTime`` (the day is what a reader needs); other text as it is."""
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment).date().isoformat()
    except ValueError:
        return moment


@dataclass(frozen=True)
class Principle:
    name: str
    earned: float
    total: float
    percent: float


@dataclass(frozen=True)
class FairScore:
    percent: float
    earned: float
    total: float
    principles: list[Principle]
    #: Per principle letter: (metric id, metric name, what to change, who can change it).
    hints: dict[str, list[tuple[str, str, str, str]]]


def fair_score(answer: Mapping[str, Any]) -> FairScore:
    """The FAIR answer (``GET /datasets/{id}/fair``) per principle, each with the hints of its misses."""
    names = {metric["id"]: metric.get("name", "") for metric in answer.get("metrics", [])}
    hints: dict[str, list[tuple[str, str, str, str]]] = {}
    seen: set[tuple[str, str]] = set()
    for hint in answer.get("hints", []):
        metric = hint["metric"]
        if (metric, hint["text"]) in seen:  # one metric's tests may miss for the same reason
            continue
        seen.add((metric, hint["text"]))
        letter = metric.removeprefix("FsF-")[:1]
        hints.setdefault(letter, []).append((metric, names.get(metric, ""), hint["text"], hint.get("remedy", "")))
    score = answer.get("score", {})
    return FairScore(
        percent=score.get("percent", 0.0), earned=score.get("earned", 0.0), total=score.get("total", 0.0),
        principles=[Principle(letter, value.get("earned", 0.0), value.get("total", 0.0), value.get("percent", 0.0))
                    for letter, value in answer.get("principles", {}).items()],
        hints=hints,
    )


@dataclass(frozen=True)
class Offer:
    """An ODRL offer in words, and what its request form must ask for."""

    uid: str
    open: bool
    terms: list[Words]
    purposes: list[tuple[str, str]]
    asks_location: bool


def offer(odrl: Mapping[str, Any]) -> Offer:
    """``odrl`` (PPI ``odrl-offer``) explained: open, or restricted by purpose, count, period, area
    or recipient; its duties and prohibitions."""
    terms: list[Words] = []
    purposes: list[tuple[str, str]] = []
    asks_location = False
    constrained = False
    for permission in odrl.get("permission", []):
        terms.append(Words("data.offer.permission", {"action": action(permission.get("action"))}))
        for constraint in permission.get("constraint", []):
            constrained = True
            terms.append(constraint_words(constraint))
            if constraint.get("leftOperand") == "purpose":
                purposes += [(value, purpose_name(value)) for value in _listed(constraint.get("rightOperand"))]
            asks_location = asks_location or constraint.get("leftOperand") == "spatial"
        terms += [Words("data.offer.duty", {"action": action(duty.get("action"))}) for duty in permission.get("duty", [])]
    for duty in odrl.get("obligation", []):
        terms.append(Words("data.offer.duty", {"action": action(duty.get("action"))}))
    for prohibition in odrl.get("prohibition", []):
        terms.append(Words("data.offer.prohibition", {"action": action(prohibition.get("action"))}))
        terms += [constraint_words(constraint) for constraint in prohibition.get("constraint", [])]
    return Offer(uid=str(odrl.get("uid", "")), open=not constrained, terms=terms,
                 purposes=list(dict.fromkeys(purposes)), asks_location=asks_location)


def action(name: Any) -> Words | str:
    name = str(name or "use").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return Words(f"data.action.{name}") if name in ACTIONS else name


def constraint_words(constraint: Mapping[str, Any]) -> Words:
    """One ODRL constraint as a sentence (``count lteq 1000``: "at most 1000 uses")."""
    left, operator, right = constraint.get("leftOperand"), constraint.get("operator"), constraint.get("rightOperand")
    if left == "purpose":
        names = ", ".join(purpose_name(value) for value in _listed(right))
        return Words("data.offer.purpose_not" if operator == "neq" else "data.offer.purpose", {"purposes": names})
    if left == "count" and operator in ("lteq", "lt") and isinstance(right, int):
        return Words("data.offer.count", {"count": right - (1 if operator == "lt" else 0)})
    if left == "dateTime" and operator in ("gt", "gteq"):
        return Words("data.offer.from", {"moment": _day(str(right))})
    if left == "dateTime" and operator in ("lt", "lteq"):
        return Words("data.offer.until", {"moment": _day(str(right))})
    if left == "spatial":
        return Words("data.offer.area", {"area": right if isinstance(right, str) else "GeoJSON"})
    if left == "recipient":
        return Words("data.offer.recipient", {"recipients": ", ".join(map(str, _listed(right)))})
    return Words("data.offer.other", {"left": left, "operator": operator, "right": right})


def purpose_name(iri: str) -> str:
    """A Data Privacy Vocabulary purpose by its name: ``dpv#AcademicResearch`` -> "Academic Research"."""
    name = re.split(r"[#/]", str(iri).rstrip("/#"))[-1]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name) or str(iri)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Contract:
    """A negotiation of the portal client with, when made, its agreement and metered use."""

    negotiation: str
    state: str
    dataset: str
    dataset_id: str
    started: str | None
    changed: str | None
    agreement: str | None
    agreement_status: str | None
    calls: int | None
    entities: int | None
    bytes: int | None
    remaining: int | None
    last_use: str | None


def contracts(negotiations: Iterable[Mapping[str, Any]], agreements: Iterable[Mapping[str, Any]],
              usage: Iterable[Mapping[str, Any]]) -> list[Contract]:
    """The portal client's negotiations, newest first, each with its agreement's status and usage."""
    status = {agreement["uid"]: agreement.get("status") for agreement in agreements}
    used = {entry["agreement"]: entry for entry in usage}
    rows = []
    for negotiation in negotiations:
        history = negotiation.get("history") or [{}]
        agreement = negotiation.get("agreement")
        metered = used.get(agreement, {}) if agreement else {}
        rows.append(Contract(
            negotiation=negotiation.get("providerPid", ""), state=negotiation.get("state", ""),
            dataset=negotiation.get("dataset", ""), dataset_id=dataset_id(negotiation.get("dataset", "")),
            started=_minute(history[0].get("at")),
            changed=_minute(history[-1].get("at")), agreement=agreement,
            agreement_status=(status.get(agreement) or metered.get("status")) if agreement else None,
            calls=metered.get("calls"), entities=metered.get("entities"), bytes=metered.get("bytes"),
            remaining=metered.get("remaining"), last_use=_minute(metered.get("last_use")),
        ))
    return sorted(rows, key=lambda row: row.started or "", reverse=True)


def _minute(moment: str | None) -> str | None:
    """``2026-11-22 02:00`` of an ISO date-time (UTC as the API gives it)."""
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return moment
