"""The region's data catalogue: one search over this city's marketplace and every peer's.

``GET /region/marketplace/datasets`` is public, like the catalogue it searches. It asks this
city's marketplace (``<marketplace_url>/datasets``) and every peer gateway
(``<base_url>/marketplace/datasets``) at once with the caller's search parameters (``q``,
``theme``, ``keyword``, ``publisher``, ``licence``, ``format``, ``bbox``), each within its own
timeout and circuit breaker (those of :mod:`gateway.region`), and merges what arrived:

- each dataset carries the city it came from as ``city``;
- ``total`` and every facet value's ``count`` are summed over the cities that answered;
- datasets are ordered by city name, then in each city's own order (its marketplace's:
  publication order); ``limit`` (1..100) and ``offset`` page that merged list, so every city is
  asked for its first ``offset + limit`` datasets (in pages of 100) and ``offset + limit`` is at
  most ``REGION_MAX_WINDOW``;
- ``OUP-Region-Answered`` / ``OUP-Region-Failed`` say which cities answered and why others did
  not, as for the NGSI-LD region view; this city's own 400 (a bad search) is the answer as is.

Peers are asked without a token: their catalogue is public, and the caller's token never
leaves this city.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request, Response

from gateway.peers import peer_store
from gateway.region import (
    BAD_REQUEST_DATA,
    Answer,
    AuditedRoute,
    PeerFailure,
    Region,
    Source,
    _bounded_int,
    _client_error,
    _json,
    _record,
    _region,
    _report,
    guarded,
)
from mims.kit.problems import ProblemError

SEARCH = "/datasets"
PEER_SEARCH = "/marketplace/datasets"
PASSED_ON = ("q", "theme", "keyword", "publisher", "licence", "format", "bbox")
FACETS = ("theme", "keyword", "publisher", "licence", "format")
PAGE = 100  # the marketplace's largest page
DEFAULT_LIMIT = 20

router = APIRouter(prefix="/region", tags=["region"], route_class=AuditedRoute)


class Found:
    """What one city's marketplace answered: its first datasets, total and facet counts."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.total = 0
        self.facets: dict[str, list[tuple[str, int]]] = {}


@router.get("/marketplace/datasets", summary="Search the data catalogues of every city in the region")
async def search_region(request: Request) -> Response:
    settings = request.app.state.settings
    limit = _bounded_int(request, "limit", DEFAULT_LIMIT)
    offset = _bounded_int(request, "offset", 0)
    if not 1 <= limit <= PAGE:
        raise ProblemError(400, "Bad Request", f"limit must be between 1 and {PAGE}", type=BAD_REQUEST_DATA)
    if offset + limit > settings.region_max_window:
        raise ProblemError(400, "Bad Request",
                           f"offset + limit must be at most {settings.region_max_window} in region searches",
                           type=BAD_REQUEST_DATA)
    region = _region(request)
    params = [(name, value) for name, value in request.query_params.multi_items() if name in PASSED_ON]
    sources = sorted(await _sources(request), key=lambda source: source.city)
    outcomes = await asyncio.gather(*(_ask(region, s, params, offset + limit, s.city == settings.city)
                                      for s in sources))
    answers = [answer for answer, _ in outcomes]
    error = _client_error(answers, settings.city)
    if error is not None:
        return _report(request, answers, error)
    merged: list[dict[str, Any]] = []
    total = 0
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for answer, found in outcomes:
        if found is None:
            continue
        merged += [item | {"city": answer.city} for item in found.items]
        total += found.total
        for name, values in found.facets.items():
            for value, count in values:
                counts[name][value] += count
    body = {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": merged[offset:offset + limit],
        "facets": {name: [{"value": value, "count": count}
                          for value, count in sorted(counts[name].items(), key=lambda vc: (-vc[1], vc[0]))]
                   for name in FACETS},
    }
    return _report(request, answers, Response(orjson.dumps(body), media_type="application/json"))


async def _sources(request: Request) -> list[Source]:
    """This city's marketplace (an empty URL when none is configured) and every peer's."""
    settings = request.app.state.settings
    own_url = (settings.marketplace_url or "").rstrip("/")
    own = Source(settings.city, own_url + SEARCH if own_url else "", settings.upstream_timeout)
    peers = [Source(p.name, p.base_url.rstrip("/") + PEER_SEARCH, p.timeout, p) for p in await peer_store(request).all()]
    return [own, *peers]


async def _ask(region: Region, source: Source, params: list[tuple[str, str]], window: int,
               own: bool) -> tuple[Answer, Found | None]:
    """One city's first ``window`` matches, or why there are none (``Answer.failure``)."""
    answer = Answer(source.city)
    if not source.base_url:
        answer.failure = "no-marketplace"
        return answer, None
    breaker = region.circuits[source.city] if source.peer is not None else None
    if breaker is not None and not breaker.allow():
        answer.failure = "circuit-open"
        return _record(region, source, answer, None), None
    started = time.perf_counter()
    found: Found | None = None
    async with guarded(answer, breaker, source.timeout):
        found = await _pages(region.http, source, params, window, answer, own)
    return _record(region, source, answer, (time.perf_counter() - started) * 1000), found


async def _pages(http: httpx.AsyncClient, source: Source, params: list[tuple[str, str]], window: int,
                 answer: Answer, own: bool) -> Found | None:
    """Page through the city's search until ``window`` datasets or its last match."""
    found = Found()
    while True:
        page = [*params, ("limit", str(min(PAGE, window - len(found.items)))), ("offset", str(len(found.items)))]
        response = await http.get(source.base_url, params=page, timeout=source.timeout)
        if own and 400 <= response.status_code < 500:
            answer.response = response  # a bad search: the region's answer is this city's problem
            return None
        if response.status_code != 200:
            raise PeerFailure(f"status-{response.status_code}", counts=response.status_code >= 500)
        body = _json(response)
        if not _is_search_result(body):
            raise PeerFailure("invalid-response")
        if not found.items:
            found.total = body["total"]
            found.facets = {name: [(str(v["value"]), v["count"]) for v in body["facets"].get(name, [])
                                   if isinstance(v, dict) and isinstance(v.get("count"), int)]
                            for name in FACETS if isinstance(body["facets"].get(name), list)}
        found.items += [item for item in body["items"] if isinstance(item, dict)]
        if not body["items"] or len(found.items) >= min(window, found.total):
            found.items = found.items[:window]
            return found


def _is_search_result(body: Any) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("total"), int) and isinstance(body.get("items"), list)
            and isinstance(body.get("facets"), dict))
