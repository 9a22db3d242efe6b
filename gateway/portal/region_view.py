"""What the region pages show, shaped from the gateway's own state and the region APIs' answers.

The cities and their status are this gateway's own (``gateway.region.peer_reports``, which
``GET /region/status`` answers with ``context:read``): every visitor is told which cities the
platform federates with, whether they answer and when they last did; how a peer is reached
(its address, circuit, access and last failure) only a person who may read that status.

Search results come from ``/region/...`` answers, whose ``OUP-Region-Answered`` /
``OUP-Region-Failed`` headers say which cities answered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.portal import links, marketplace_view
from gateway.region import PeerReport

#: What this city routes, by upstream name, in the order the page lists it.
SERVED = ("context", "marketplace", "permit-check")
#: What every peer gateway serves to a region: its NGSI-LD API and its data catalogue.
PEER_SERVES = ("context", "marketplace")
#: The failure reasons the region endpoints name (``OUP-Region-Failed``), which the page words.
REASONS = frozenset({"timeout", "unreachable", "circuit-open", "token", "invalid-response", "no-marketplace"})
_FAILED = re.compile(r'\s*([^;,\s]+)\s*;\s*reason="([^"]*)"\s*(?:,|$)')


@dataclass(frozen=True)
class Connection:
    """How this gateway reaches a peer: for people who may read the region's status (``context:read``)."""

    url: str
    link: str | None  # the address when it is an http(s) one
    circuit: str | None  # closed, open or half-open
    auth: str | None  # how this gateway is let in: token-exchange, client-credentials or None
    last_result: str | None  # "ok", a failure reason, or None: not asked yet
    last_at: datetime | None
    retry_in: int  # whole seconds until an open circuit is tried again


@dataclass(frozen=True)
class City:
    """A city of the region as the page shows it; ``here``: this platform itself. Every visitor
    sees whether a peer answers and when it last did; ``connection`` only a reader of the status."""

    name: str
    title: str | None
    here: bool
    serves: tuple[str, ...]
    asked: bool = False
    answering: bool = False
    last_ok_at: datetime | None = None
    connection: Connection | None = None


def cities(city: str, own_upstreams: Mapping[str, str], reports: Iterable[PeerReport], *,
           detailed: bool) -> list[City]:
    """This city first, then every peer by name; with ``detailed``, how each peer is reached."""
    shown = [City(name=city, title=None, here=True, serves=tuple(name for name in SERVED if name in own_upstreams))]
    for report in reports:
        peer, last = report.peer, report.last
        connection = Connection(
            url=peer.base_url, link=links.web_link(peer.base_url), circuit=report.circuit, auth=peer.auth.get("method") if peer.auth else None,
            last_result=last.last_result, last_at=last.last_at, retry_in=math.ceil(report.retry_in),
        ) if detailed else None
        shown.append(City(name=peer.name, title=peer.document.get("title"), here=False, serves=PEER_SERVES,
                          asked=last.last_result is not None, answering=report.answering,
                          last_ok_at=last.last_ok_at, connection=connection))
    return shown


@dataclass(frozen=True)
class Outcome:
    """Which cities answered a region request and why the others did not (city, reason)."""

    answered: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]


def outcome(headers: Mapping[str, str]) -> Outcome:
    """The ``OUP-Region-Answered`` and ``OUP-Region-Failed`` headers (RFC 8941 lists) of an answer."""
    answered = tuple(name.strip() for name in headers.get("oup-region-answered", "").split(",") if name.strip())
    failed = tuple((match.group(1), match.group(2)) for match in _FAILED.finditer(headers.get("oup-region-failed", "")))
    return Outcome(answered, failed)


def reason_key(reason: str) -> str:
    """The words key of a failure reason (``status-503`` and the like share one; a 4xx means
    the city did not accept the search itself)."""
    if reason.startswith("status-4"):
        return "region.reason.refused"
    if reason.startswith("status-"):
        return "region.reason.status"
    return f"region.reason.{reason}" if reason in REASONS else "region.reason.other"


@dataclass(frozen=True)
class Entity:
    id: str
    type: str
    name: str | None
    attributes: tuple[str, ...]


@dataclass
class Group:
    """The results one city contributed, in the order the region answered them."""

    city: str
    items: list[Any] = field(default_factory=list)


def entity(document: Mapping[str, Any]) -> Entity:
    """An entity in ``keyValues`` form: its id, type, name (when it has one) and other attributes."""
    name = document.get("name")
    hidden = {"id", "type", "@context", "city", "name"}
    return Entity(id=str(document.get("id", "")), type=str(document.get("type", "")),
                  name=str(name) if isinstance(name, str | int | float) else None,
                  attributes=tuple(sorted(key for key in document if key not in hidden)))


def grouped(documents: Sequence[Any], shape: Any) -> list[Group]:
    """``documents`` (each tagged with its ``city``) grouped by city, each shaped by ``shape``."""
    groups: dict[str, Group] = {}
    for document in documents:
        if isinstance(document, Mapping):
            city = str(document.get("city", ""))
            groups.setdefault(city, Group(city)).items.append(shape(document))
    return list(groups.values())


@dataclass(frozen=True)
class Dataset:
    title: str
    description: str
    link: str | None  # this city's portal page for its own datasets, else the dataset's IRI (http(s) only)


def dataset(node: Mapping[str, Any], lang: str, own_city: str) -> Dataset:
    """A dataset of a region catalogue answer; this city's own link to its portal page."""
    iri = str(node.get("@id", ""))
    own = node.get("city") == own_city
    return Dataset(title=marketplace_view.text(node.get("title"), lang) or iri,
                   description=marketplace_view.excerpt(marketplace_view.text(node.get("description"), lang)),
                   link=links.dataset_page(marketplace_view.dataset_id(iri)) if own else links.web_link(iri))


def id_pattern(text: str) -> str:
    """An NGSI-LD ``idPattern`` (a regular expression) matching ids that contain ``text`` as typed."""
    return f".*{re.escape(text)}.*"
