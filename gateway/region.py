"""Region endpoints: one NGSI-LD view over this city and every federation peer.

``/region/ngsi-ld/v1/entities``, ``/types`` and ``/entities/{id}`` ask this city's context MIM
(``context_url``) and every peer gateway (``<base_url>/ngsi-ld/v1/...``) at once, each within
its own timeout, and answer with what arrived:

- every entity carries the city it came from as the Property ``city`` (a plain value with
  ``options=keyValues``/``concise``); ids are left as they are, so the same id from two cities
  gives two entities told apart by ``city``;
- entities are ordered by city name, then in each city's own order, and ``limit``/``offset``
  apply to that merged list; ``count=true`` sums the cities' ``NGSILD-Results-Count``;
- ``OUP-Region-Answered`` lists the cities that answered and ``OUP-Region-Failed`` those that
  did not, each with its reason (``timeout``, ``unreachable``, ``circuit-open``, ``status-503``,
  ``token``, ``invalid-response``); ``/region/status`` shows each peer's circuit and last answer.

A peer that keeps failing is skipped by its circuit breaker (``gateway.circuit``). The caller's
token is verified here and never sent to a peer: a peer gets a token from its own identity MIM,
either by RFC 8693 token exchange of the caller's token or as this gateway's service token
(client credentials), as its federation-peer ``auth`` says.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.routing import APIRoute

from gateway.audit import AuditRecord
from gateway.circuit import CircuitBreaker, Circuits
from gateway.metrics import Metrics
from gateway.peers import Peer, peer_store
from gateway.pep import admit, entity_types, refusal_reason
from gateway.proxy import cookieless
from mims.kit.auth import bearer_token, require_scopes
from mims.kit.auth.rfc6750 import OPENAPI_BEARER
from mims.kit.problems import ProblemError

NGSI_LD = "/ngsi-ld/v1"
BAD_REQUEST_DATA = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
DEFAULT_LIMIT = 20
# Query parameters passed on unchanged (limit, offset and count are the region's own).
PASSED_ON = ("type", "id", "idPattern", "q", "attrs", "options", "format", "lang",
             "georel", "geometry", "coordinates", "geoproperty", "csf", "details")
QUERY_REFUSED = frozenset({400, 413, 414, 422})
"""What this city's broker answers to a query the caller must mend (not to the caller's rights,
nor to the broker being unwell): passed on as the region's answer."""
FORWARDED_HEADERS = ("accept", "link", "ngsild-tenant")
# Tokens obtained for peers are renewed this many seconds before they expire.
TOKEN_MARGIN = 30.0
TOKEN_CACHE_SIZE = 1024


class PeerFailure(Exception):
    """Why a city gave no answer; ``reason`` goes into ``OUP-Region-Failed``."""

    def __init__(self, reason: str, counts: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.counts = counts  # whether it counts against the peer's circuit breaker


@dataclass(frozen=True, slots=True)
class Source:
    """A city asked for a region answer: this one (``peer`` None) or a peer."""

    city: str
    base_url: str
    timeout: float
    peer: Peer | None = None


@dataclass(slots=True)
class Answer:
    """One city's answer, or why there is none; ``counts``: a failure its circuit breaker learns of."""

    city: str
    response: httpx.Response | None = None
    failure: str | None = None
    counts: bool = True


@dataclass(slots=True)
class PeerStatus:
    last_at: datetime | None = None
    last_result: str | None = None  # "ok" or the failure reason
    last_duration_ms: float | None = None
    last_ok_at: datetime | None = None


@dataclass(slots=True)
class TokenCache:
    """Tokens this gateway obtained at peers' identity MIMs, until shortly before they expire."""

    clock: Any
    entries: OrderedDict[tuple[str, str], tuple[str, float]] = field(default_factory=OrderedDict)

    def get(self, key: tuple[str, str]) -> str | None:
        entry = self.entries.get(key)
        if entry is None or entry[1] <= self.clock():
            self.entries.pop(key, None)
            return None
        self.entries.move_to_end(key)
        return entry[0]

    def put(self, key: tuple[str, str], token: str, expires_in: float) -> None:
        self.entries[key] = (token, self.clock() + max(0.0, expires_in - TOKEN_MARGIN))
        while len(self.entries) > TOKEN_CACHE_SIZE:
            self.entries.popitem(last=False)


@dataclass(slots=True)
class Region:
    """What the region endpoints share: one HTTP client, the breakers, peer tokens, statuses."""

    http: httpx.AsyncClient
    circuits: Circuits
    tokens: TokenCache
    metrics: Metrics | None = None
    status: dict[str, PeerStatus] = field(default_factory=dict)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Background context for ``MimSpec.background``: the region's client and breakers.
    ``app.state.clock`` (a monotonic clock, for tests) replaces ``time.monotonic`` when set."""
    settings = app.state.settings
    clock = getattr(app.state, "clock", time.monotonic)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=256), cookies=cookieless()) as http:
        app.state.region = Region(
            http=http,
            circuits=Circuits(settings.peer_failure_threshold, settings.peer_cooldown, clock),
            tokens=TokenCache(clock),
            metrics=getattr(app.state, "metrics", None),
        )
        try:
            yield
        finally:
            app.state.region = None


router = APIRouter(prefix="/region", tags=["region"])
READ = Depends(require_scopes("context:read", always=True))


async def _admit_region_read(request: Request, _: Any = Depends(OPENAPI_BEARER)) -> None:
    """A region read is admitted as the same read of this city would be: by the route table's entry
    for ``GET /ngsi-ld/v1/...`` (its scopes, per-type scopes and data-access grants)."""
    gateway = request.app.state.gateway
    local_path = request.url.path.removeprefix(router.prefix)
    route = gateway.routes.match("GET", local_path)
    if route is None or route.upstream != "context":
        raise ProblemError(404, "Not Found", f"the route table has no context entry for GET {local_path}")
    if not route.public:
        types = entity_types(request.query_params.get("type", ""))
        await admit(request, route, types, gateway.grants)


ADMIT = Depends(_admit_region_read)


async def _sources(request: Request) -> list[Source]:
    settings = request.app.state.settings
    own = Source(settings.city, settings.context_url.rstrip("/"), settings.upstream_timeout)
    peers = [Source(p.name, p.base_url.rstrip("/"), p.timeout, p) for p in await peer_store(request).all()]
    return [own, *peers]


def _region(request: Request) -> Region:
    region = getattr(request.app.state, "region", None)
    if region is None:
        raise ProblemError(503, "Service Unavailable", "the region endpoints are not running")
    return region


async def _peer_token(region: Region, request: Request, peer: Peer) -> str | None:
    """A token for ``peer`` from its identity MIM, or None when the peer is asked without one."""
    auth = peer.auth
    if auth is None:
        return None
    secret = request.app.state.settings.peer_client_secrets.get(peer.name)
    if secret is None:
        raise PeerFailure("token", counts=False)
    form = {"scope": auth.get("scope", "context:read")}
    if "audience" in auth:
        form["audience"] = auth["audience"]
    if auth["method"] == "token-exchange":
        caller = bearer_token(request)
        if caller is None:
            raise PeerFailure("token", counts=False)
        key = (peer.name, hashlib.sha256(caller.encode()).hexdigest())
        form |= {"grant_type": TOKEN_EXCHANGE, "subject_token": caller, "subject_token_type": ACCESS_TOKEN_TYPE}
    else:
        key = (peer.name, "")
        form["grant_type"] = "client_credentials"
    cached = region.tokens.get(key)
    if cached is not None:
        return cached
    try:
        answer = await region.http.post(
            auth["token_endpoint"], data=form, auth=(auth["client_id"], secret.get_secret_value())
        )
    except httpx.TransportError:
        raise PeerFailure("token") from None
    try:
        body = answer.json()
        token, expires_in = body["access_token"], float(body.get("expires_in", 60))
    except (ValueError, KeyError, TypeError):
        token, expires_in = None, 0.0
    if answer.status_code != 200 or not isinstance(token, str):
        raise PeerFailure("token", counts=answer.status_code >= 500)
    caller_token = getattr(request.state, "token", None)
    if auth["method"] == "token-exchange" and caller_token is not None and "exp" in caller_token.claims:
        # An exchanged token is not reused beyond the life of the token it was exchanged for.
        expires_in = min(expires_in, float(caller_token.claims["exp"]) - time.time() + TOKEN_MARGIN)
    region.tokens.put(key, token, expires_in)
    return token


@asynccontextmanager
async def guarded(answer: Answer, breaker: CircuitBreaker | None, timeout: float) -> AsyncIterator[None]:
    """Run one call to a city within ``timeout``: a timeout, an unreachable city or a
    :class:`PeerFailure` becomes ``answer.failure`` (not raised), and the city's ``breaker``
    learns whether it answered; a cancelled call is neither success nor failure."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except (TimeoutError, httpx.TimeoutException):
        answer.failure = "timeout"
    except httpx.TransportError:
        answer.failure = "unreachable"
    except PeerFailure as failure:
        answer.failure, answer.counts = failure.reason, failure.counts
    except asyncio.CancelledError:
        if breaker is not None:
            breaker.abandoned()
        raise
    if breaker is not None:
        if answer.failure is None or not answer.counts:
            breaker.succeeded()
        else:
            breaker.failed()


async def _ask(region: Region, request: Request, source: Source, path: str,
               params: Mapping[str, str], found: frozenset[int]) -> Answer:
    """One city's answer to ``GET <NGSI-LD path>``, or why there is none."""
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    settings = request.app.state.settings
    if source.peer is None and settings.forward_authorization and "authorization" in request.headers:
        headers["authorization"] = request.headers["authorization"]
    breaker = region.circuits[source.city] if source.peer is not None else None
    if breaker is not None and not breaker.allow():
        return _record(region, source, Answer(source.city, failure="circuit-open"), None)
    started = time.perf_counter()
    answer = Answer(source.city)
    async with guarded(answer, breaker, source.timeout):
        if source.peer is not None:
            token = await _peer_token(region, request, source.peer)
            if token is not None:
                headers["authorization"] = f"Bearer {token}"
        response = await region.http.get(
            source.base_url + NGSI_LD + path, params=params, headers=headers, timeout=source.timeout
        )
        if response.status_code in found or response.status_code < 300 or (
                source.peer is None and response.status_code in QUERY_REFUSED):
            answer.response = response  # this city refused the query itself: the caller's error (_client_error)
        else:
            answer.failure = f"status-{response.status_code}"
            answer.counts = response.status_code >= 500
    return _record(region, source, answer, (time.perf_counter() - started) * 1000)


def _record(region: Region, source: Source, answer: Answer, duration_ms: float | None) -> Answer:
    if source.peer is not None:
        if region.metrics is not None:
            region.metrics.observe_peer(source.city, answer.failure or "ok",
                                        None if duration_ms is None else duration_ms / 1000,
                                        region.circuits[source.city].state == "open")
        status = region.status.setdefault(source.city, PeerStatus())
        status.last_at = datetime.now(UTC)
        status.last_result = answer.failure or "ok"
        status.last_duration_ms = duration_ms
        if answer.failure is None:
            status.last_ok_at = status.last_at
    return answer


async def _fan_out(request: Request, path: str, params: Mapping[str, str],
                   found: frozenset[int] = frozenset(), only: str | None = None) -> list[Answer]:
    """Every city's answer (or only city ``only``'s), in city-name order."""
    region = _region(request)
    sources = sorted(await _sources(request), key=lambda source: source.city)
    if only is not None:
        sources = [source for source in sources if source.city == only]
        if not sources:
            raise ProblemError(404, "Not Found", f"no city named {only!r} in this region")
    return list(await asyncio.gather(*(_ask(region, request, s, path, params, found) for s in sources)))


def _report(request: Request, answers: list[Answer], response: Response) -> Response:
    """The per-city outcome as headers (RFC 8941 lists)."""
    answered = [a.city for a in answers if a.failure is None]
    failed = [f'{a.city};reason="{a.failure}"' for a in answers if a.failure is not None]
    response.headers["OUP-Region-Answered"] = ", ".join(answered)
    if failed:
        response.headers["OUP-Region-Failed"] = ", ".join(failed)
    return response


def _audit(request: Request, at: datetime, started: float, status: int, bytes_out: int,
           refusal: ProblemError | None) -> None:
    """One audit record per region read, like every data access through the gateway."""
    audit = getattr(request.app.state, "audit", None)
    if audit is None:
        return
    audit.append(AuditRecord.of(
        request, getattr(request.state, "token", None), started,
        at=at,
        route="region",
        entity_type=request.query_params.get("type"),
        dataset=None,
        decision="deny" if refusal is not None else "allow",
        reason=refusal_reason(refusal) if refusal is not None else None,
        status=status,
        bytes_in=0,
        bytes_out=bytes_out,
    ))


class AuditedRoute(APIRoute):
    """A region route whose every request is audited, refusals by its dependencies included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def audited(request: Request) -> Response:
            at, started = datetime.now(UTC), time.perf_counter()
            try:
                response = await handler(request)
            except ProblemError as problem:
                _audit(request, at, started, problem.status, 0, problem)
                raise
            _audit(request, at, started, response.status_code, len(response.body), None)
            return response

        return audited


def _client_error(answers: list[Answer], own_city: str) -> Response | None:
    """This city's refusal of the query itself is the region's answer too: the client must fix it."""
    for answer in answers:
        if answer.city == own_city and answer.response is not None and answer.response.status_code in QUERY_REFUSED:
            return _passed_on(answer.response)
    return None


def _passed_on(upstream: httpx.Response) -> Response:
    headers = {name: upstream.headers[name] for name in ("content-type", "link") if name in upstream.headers}
    return Response(upstream.content, status_code=upstream.status_code, headers=headers)


def _json(upstream: httpx.Response) -> Any:
    try:
        return orjson.loads(upstream.content)
    except orjson.JSONDecodeError:
        return None


def _tag(entity: dict[str, Any], city: str, simplified: bool) -> dict[str, Any]:
    entity["city"] = city if simplified else {"type": "Property", "value": city}
    return entity


def _bounded_int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise ProblemError(400, "Bad Request", f"query parameter {name} must be a non-negative integer, got {text!r}",
                           type=BAD_REQUEST_DATA)
    return int(text)


def _passed_params(request: Request) -> dict[str, str]:
    return {name: request.query_params[name] for name in PASSED_ON if name in request.query_params}


#: The region's data routes: each request audited.
data_router = APIRouter(prefix="/region", tags=["region"], route_class=AuditedRoute)


@data_router.get("/ngsi-ld/v1/entities", summary="Query entities across the region", dependencies=[ADMIT])
async def query_entities(request: Request) -> Response:
    settings = request.app.state.settings
    limit = _bounded_int(request, "limit", DEFAULT_LIMIT)
    offset = _bounded_int(request, "offset", 0)
    count = request.query_params.get("count") == "true"
    if limit == 0 and not count:
        raise ProblemError(400, "Bad Request", "limit=0 is only allowed with count=true", type=BAD_REQUEST_DATA)
    if offset + limit > settings.region_max_window:
        raise ProblemError(400, "Bad Request",
                           f"offset + limit must be at most {settings.region_max_window} in region queries",
                           type=BAD_REQUEST_DATA)
    params = _passed_params(request)
    # Every city is asked for its first offset + limit entities: the merged page can hold no others.
    params["limit"] = str(offset + limit)
    if count:
        params["count"] = "true"
    answers = await _fan_out(request, "/entities", params)
    error = _client_error(answers, settings.city)
    if error is not None:
        return _report(request, answers, error)
    options = request.query_params.get("options", "").split(",")
    simplified = bool({"keyValues", "concise"} & set(options)) or request.query_params.get("format") in (
        "keyValues", "simplified", "concise")
    merged: list[Any] = []
    total = 0
    first: httpx.Response | None = None
    for answer in answers:
        if answer.response is None:
            continue
        entities = _json(answer.response)
        if not isinstance(entities, list):
            answer.failure, answer.response = "invalid-response", None
            continue
        counted = answer.response.headers.get("ngsild-results-count", str(len(entities)))
        if not counted.isdigit():
            answer.failure, answer.response = "invalid-response", None
            continue
        first = answer.response if first is None else first
        merged += [_tag(e, answer.city, simplified) for e in entities if isinstance(e, dict)]
        total += int(counted)
    headers = {"content-type": first.headers.get("content-type", "application/json") if first else "application/json"}
    if first is not None and "link" in first.headers:
        headers["link"] = first.headers["link"]
    if count:
        headers["NGSILD-Results-Count"] = str(total)
    return _report(request, answers, Response(orjson.dumps(merged[offset:offset + limit]), headers=headers))


@data_router.get("/ngsi-ld/v1/types", summary="Entity types available across the region", dependencies=[ADMIT])
async def retrieve_types(request: Request) -> Response:
    answers = await _fan_out(request, "/types", _passed_params(request))
    error = _client_error(answers, request.app.state.settings.city)
    if error is not None:
        return _report(request, answers, error)
    names: set[str] = set()
    details: dict[str, set[str]] = {}
    for answer in answers:
        body = _json(answer.response) if answer.response is not None else None
        if isinstance(body, dict) and isinstance(body.get("typeList"), list):
            names.update(str(name) for name in body["typeList"])
        elif isinstance(body, list):
            for item in body:
                if isinstance(item, dict) and "typeName" in item:
                    details.setdefault(item["typeName"], set()).update(item.get("attributeNames", []))
        elif answer.response is not None:
            answer.failure, answer.response = "invalid-response", None
    if request.query_params.get("details") == "true":
        payload: Any = [
            {"id": name, "type": "EntityType", "typeName": name, "attributeNames": sorted(attributes)}
            for name, attributes in sorted(details.items())
        ]
    else:
        payload = {"id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}", "type": "EntityTypeList",
                   "typeList": sorted(names)}
    return _report(request, answers, Response(orjson.dumps(payload), media_type="application/json"))


@data_router.get("/ngsi-ld/v1/entities/{entity_id:path}", summary="One entity, from whichever city holds it",
            dependencies=[ADMIT])
async def retrieve_entity(entity_id: str, request: Request) -> Response:
    """Asked of every city (or only ``city``, when given); found in several, the caller must say which."""
    city = request.query_params.get("city")
    answers = await _fan_out(request, f"/entities/{quote(entity_id, safe=':')}", _passed_params(request),
                             found=frozenset({404}), only=city)
    error = _client_error([a for a in answers if a.response is not None and a.response.status_code != 404],
                          request.app.state.settings.city)
    if error is not None:
        return _report(request, answers, error)
    holders = [a for a in answers if a.response is not None and a.response.status_code == 200]
    if not holders:
        failed = [a.city for a in answers if a.failure is not None]
        detail = f"entity {entity_id} was not found in the region"
        if failed:
            detail += f" (not asked or no answer: {', '.join(failed)})"
        return _report(request, answers, _problem(404, "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound", "Not Found", detail))
    if len(holders) > 1:
        cities = ", ".join(a.city for a in holders)
        return _report(request, answers, _problem(
            409, "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists", "Conflict",
            f"entity {entity_id} exists in several cities ({cities}): ask with ?city=<name>",
            cities=[a.city for a in holders]))
    holder = holders[0]
    entity = _json(holder.response)
    if not isinstance(entity, dict):
        raise ProblemError(502, "Bad Gateway", f"city {holder.city} answered entity {entity_id} with invalid JSON")
    simplified = bool({"keyValues", "concise"} & set(request.query_params.get("options", "").split(",")))
    headers = {"content-type": holder.response.headers.get("content-type", "application/json")}
    if "link" in holder.response.headers:
        headers["link"] = holder.response.headers["link"]
    return _report(request, answers, Response(orjson.dumps(_tag(entity, holder.city, simplified)), headers=headers))


def _problem(status: int, type_: str, title: str, detail: str, **extensions: Any) -> Response:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extensions}
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


@dataclass(frozen=True, slots=True)
class PeerReport:
    """One peer as this gateway last saw it: its circuit and its last answer."""

    peer: Peer
    circuit: str | None  # closed, open or half-open; None when the region endpoints are not running
    consecutive_failures: int
    retry_in: float  # seconds until an open circuit is tried again
    last: PeerStatus

    @property
    def answering(self) -> bool:
        """Whether the peer answered when last asked and is asked again in every request."""
        return self.last.last_result == "ok" and self.circuit in (None, "closed")


def peer_reports(region: Region | None, peers: Iterable[Peer]) -> list[PeerReport]:
    """Each peer's circuit and last answer, as ``GET /region/status`` and the portal show them."""
    reports = []
    for peer in peers:
        breaker = region.circuits[peer.name] if region is not None else None
        last = region.status.get(peer.name, PeerStatus()) if region is not None else PeerStatus()
        reports.append(PeerReport(peer=peer, circuit=breaker.state if breaker else None,
                                  consecutive_failures=breaker.failures if breaker else 0,
                                  retry_in=breaker.retry_in() if breaker else 0.0, last=last))
    return reports


@router.get("/status", summary="Each peer's circuit and last answer", dependencies=[READ])
async def region_status(request: Request) -> dict[str, Any]:
    region = _region(request)
    peers = [{
        "name": report.peer.name,
        "base_url": report.peer.base_url,
        "source": report.peer.source,
        "circuit": report.circuit,
        "consecutive_failures": report.consecutive_failures,
        "retry_in": round(report.retry_in, 3),
        "last_result": report.last.last_result,
        "last_at": report.last.last_at.isoformat() if report.last.last_at else None,
        "last_ok_at": report.last.last_ok_at.isoformat() if report.last.last_ok_at else None,
        "last_duration_ms": None if report.last.last_duration_ms is None else round(report.last.last_duration_ms, 3),
    } for report in peer_reports(region, await peer_store(request).all())]
    return {"city": request.app.state.settings.city, "peers": peers}
