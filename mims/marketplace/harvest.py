"""Harvesting another city's DCAT-AP catalogue: fetch it, read each ``dcat:Dataset`` back into a
``dcat-dataset`` document (``harvest_reading``), and keep it here under its original IRI.

Plain Python, no web framework. A harvested dataset keeps the IRI it has at its source (a
persistent identifier is never replaced), is stored once per IRI (harvesting again updates it in
place; datasets gone from the source are withdrawn) and names the catalogue it came from. What a
dataset says that the ``dcat-dataset`` PPI cannot hold is reported per dataset (``notes``); a
dataset that cannot be made a valid document at all is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import orjson
import rdflib

from mims.marketplace import rdf
from mims.marketplace.dcat import Dataset
from mims.marketplace.harvest_reading import (
    Mapped,
    NotACatalogue,
    canonical,
    read_catalogue,
)
from ppi_schemas.jsonld.loader import ContextNotAvailable

ACCEPT = "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8, application/n-triples;q=0.7"
RDF_FORMATS = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/json": "json-ld",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
}
MAX_BYTES = 16 * 1024 * 1024



class HarvestFailed(Exception):
    """The source gave no catalogue: ``status`` 400 when the URL is no URL, 422 when it could not
    be reached, answered an error or answered something that is not a DCAT-AP catalogue (the
    caller's URL is what cannot be processed; the marketplace itself did not fail)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def fetch(http: httpx.AsyncClient, url: str) -> rdflib.Graph:
    """The RDF graph ``url`` answers, asked for in Turtle, JSON-LD or RDF/XML."""
    try:
        parsed = httpx.URL(url)
        usable = parsed.scheme in ("http", "https") and bool(parsed.host)
    except (httpx.InvalidURL, ValueError):  # IDNA errors are ValueErrors too
        usable = False
    if not usable:
        raise HarvestFailed(400, f"{url} is not an http(s) URL with a valid host")
    try:
        async with http.stream("GET", url, headers={"Accept": ACCEPT}, follow_redirects=True) as response:
            if response.status_code != 200:
                raise HarvestFailed(422, f"{url} answered HTTP {response.status_code}")
            media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type not in RDF_FORMATS:
                raise HarvestFailed(422, f"{url} answered {media_type or 'no content type'}, not RDF "
                                         f"(served: {', '.join(RDF_FORMATS)})")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise HarvestFailed(422, f"{url} answered more than {MAX_BYTES} bytes")
    except httpx.TimeoutException:
        raise HarvestFailed(422, f"{url} did not answer in time") from None
    except httpx.TransportError as error:
        raise HarvestFailed(422, f"{url} is unreachable ({type(error).__name__}: {error})") from None
    except (httpx.InvalidURL, UnicodeError) as error:  # e.g. a host that is no valid IDNA name
        raise HarvestFailed(400, f"{url} is not a valid URL ({error})") from None
    return await asyncio.to_thread(parse, bytes(body), RDF_FORMATS[media_type], url)


def parse(body: bytes, rdf_format: str, url: str) -> rdflib.Graph:
    """``body`` read as ``rdf_format``; JSON-LD contexts resolve locally only (the DCAT-AP context)."""
    try:
        if rdf_format == "json-ld":
            return rdf.to_graph(orjson.loads(body))
        return rdflib.Graph().parse(data=body, format=rdf_format, publicID=url)
    except ContextNotAvailable as error:
        raise HarvestFailed(422, f"{url}: {error}") from None
    except Exception as error:  # rdflib and pyld raise many kinds of parse errors
        raise HarvestFailed(422, f"{url} is not valid {rdf_format}: {error}".strip()) from None


def local_id(iri: str) -> str:
    """The harvested dataset's id here: derived from its IRI, so every harvest finds the same."""
    return hashlib.sha256(iri.encode()).hexdigest()[:32]


class HarvestStore(Protocol):
    async def by_iri(self, iri: str) -> Dataset | None: ...

    async def ids_from(self, source: str) -> list[str]: ...

    async def add(self, dataset: Dataset) -> None: ...

    async def replace(self, dataset: Dataset) -> bool: ...

    async def delete(self, dataset_id: str) -> bool: ...

    async def record(self, url: str, catalogue: str | None, at: datetime, summary: Mapping[str, Any]) -> None: ...


@dataclass(slots=True)
class Summary:
    source: str
    catalogue: str | None
    at: datetime
    harvested: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    datasets: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "catalogue": self.catalogue, "harvestedAt": self.at.isoformat(),
                "harvested": self.harvested, "updated": self.updated, "unchanged": self.unchanged,
                "withdrawn": self.withdrawn, "skipped": self.skipped, "notes": self.notes,
                "datasets": self.datasets}


class Harvester:
    """Keeps the datasets of a source catalogue; ``site`` (this catalogue's addresses) tells local
    datasets and this catalogue itself from foreign ones."""

    def __init__(self, store: HarvestStore, site: rdf.Site,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._own_catalogue = site.catalogue_iri
        self._own_base = site.public_url.rstrip("/") + "/"
        self._own_prefix = site.dataset_iri("")
        self._clock = clock

    async def harvest(self, url: str, graph: rdflib.Graph) -> Summary:
        try:
            catalogue, found = read_catalogue(graph)
        except NotACatalogue as error:
            raise HarvestFailed(422, str(error)) from None
        source = catalogue or url
        summary = Summary(source=url, catalogue=catalogue, at=self._clock())
        itself = catalogue == self._own_catalogue or url.startswith(self._own_base)
        kept: set[str] = set()
        for mapped in found:
            reason = await self._conflict(mapped.iri, source, itself) or mapped.reason
            if reason is not None:
                summary.skipped.append({"iri": mapped.iri, "reason": reason})
                continue
            assert mapped.document is not None
            outcome, dataset_id = await self._keep(mapped, source)
            kept.add(dataset_id)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            summary.datasets.append({"iri": mapped.iri, "id": dataset_id, "outcome": outcome})
            if mapped.notes:
                summary.notes.append({"iri": mapped.iri, "notKept": mapped.notes})
        for gone in sorted(set(await self._store.ids_from(source)) - kept):
            if await self._store.delete(gone):
                summary.withdrawn += 1
        await self._store.record(url, catalogue, summary.at, summary.to_dict())
        return summary

    async def _conflict(self, iri: str, source: str, itself: bool) -> str | None:
        if itself:
            return "the source is this catalogue itself"
        if iri.startswith(self._own_prefix):
            return f"the IRI {iri} is in this catalogue's own namespace: it would collide with a local dataset"
        existing = await self._store.by_iri(iri)
        if existing is not None and existing.source != source:
            return f"already harvested from {existing.source}"
        return None

    async def _keep(self, mapped: Mapped, source: str) -> tuple[str, str]:
        """Add or update the dataset; the outcome is 'harvested', 'updated' or 'unchanged'."""
        assert mapped.document is not None
        now = self._clock()
        existing = await self._store.by_iri(mapped.iri)
        if existing is None:
            dataset = Dataset(id=local_id(mapped.iri), document=mapped.document, issued=mapped.issued or now,
                              modified=mapped.modified or now, iri=mapped.iri, source=source)
            await self._store.add(dataset)
            return "harvested", dataset.id
        same = canonical(existing.document) == canonical(mapped.document)
        dataset = Dataset(
            id=existing.id, document=mapped.document, issued=mapped.issued or existing.issued,
            modified=mapped.modified or (existing.modified if same else now), iri=mapped.iri, source=source,
        )
        if same and (dataset.issued, dataset.modified) == (existing.issued, existing.modified):
            return "unchanged", existing.id
        await self._store.replace(dataset)
        return "updated", existing.id


def sources(rows: Iterable[tuple[str, str | None, datetime, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """``GET /harvests``: each source, when it was last harvested and what that did."""
    return [{"source": url, "catalogue": catalogue, "harvestedAt": at.isoformat(),
             **{k: summary[k] for k in ("harvested", "updated", "unchanged", "withdrawn")},
             "skipped": len(summary["skipped"])} for url, catalogue, at, summary in rows]
