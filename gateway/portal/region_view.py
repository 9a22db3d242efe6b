"""What the region pages show, shaped from the gateway's own state and the region APIs' answers.

The cities and their status are read from this gateway's state (its settings, its federation
peers and the region's circuit breakers), as ``GET /region/status`` reads them: that API needs
``context:read``, but which cities a platform federates with and whether they answer is what
every visitor of the region page is told. Search results come from ``/region/...`` answers,
whose ``OUP-Region-Answered`` / ``OUP-Region-Failed`` headers say which cities answered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.peers import Peer
from gateway.portal import marketplace_view
from gateway.region import PeerStatus, Region

#: What this city routes, by upstream name, in the order the page lists it.
SERVED = ("context", "marketplace", "permit-check")
#: What every peer gateway serves to a region: its NGSI-LD API and its data catalogue.
PEER_SERVES = ("context", "marketplace")
#: The failure reasons the region endpoints name (``OUP-Region-Failed``), which the page words.
REASONS = frozenset({"timeout", "unreachable", "circuit-open", "token", "invalid-response", "no-marketplace"})
_FAILED = re.compile(r'\s*([^;,\s]+)\s*;\s*reason="([^"]*)"\s*(?:,|$)')


@dataclass(frozen=True)
class City:
    """A city of the region as the page shows it; ``here``: this platform itself."""

    name: str
    title: str | None
    url: str
    here: bool
    serves: tuple[str, ...]
    circuit: str | None = None  # closed, open or half-open (peers only)
    auth: str | None = None  # how this gateway is let in: token-exchange, client-credentials or None
    last_result: str | None = None  # "ok", a failure reason, or None: not asked yet
    last_at: datetime | None = None
    last_ok_at: datetime | None = None
    retry_in: int = 0  # whole seconds until an open circuit is tried again


def cities(city: str, own_upstreams: Mapping[str, str], peers: Iterable[Peer], region: Region | None) -> list[City]:
    """This city first, then every peer by name, with its circuit and its last answer."""
    own = City(name=city, title=None, url="", here=True,
               serves=tuple(name for name in SERVED if name in own_upstreams))
    shown = [own]
    for peer in peers:
        status = region.status.get(peer.name, PeerStatus()) if region is not None else PeerStatus()
        breaker = region.circuits[peer.name] if region is not None else None
        shown.append(City(
            name=peer.name, title=peer.document.get("title"), url=peer.base_url, here=False, serves=PEER_SERVES,
            circuit=breaker.state if breaker is not None else None,
            auth=peer.auth.get("method") if peer.auth else None,
            last_result=status.last_result, last_at=status.last_at, last_ok_at=status.last_ok_at,
            retry_in=math.ceil(breaker.retry_in()) if breaker is not None else 0,
        ))
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
                   link=f"/data/{marketplace_view.dataset_id(iri)}" if own
                   else iri if iri.startswith(("https://", "http://")) else None)


def id_pattern(text: str) -> str:
    """An NGSI-LD ``idPattern`` (a regular expression) matching ids that contain ``text`` as typed."""
    return f".*{re.escape(text)}.*"
