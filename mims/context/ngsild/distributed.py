"""Distributed operations (CIM 009 V1.8.1, clause 4.3): entity reads answered together with
the registered context sources.

For Retrieve Entity (5.7.1) and Query Entities (5.7.2) the broker finds the tenant's current
registrations that support the operation and can contribute (clause 4.3.6.1), forwards the
request to each endpoint (``GET /ngsi-ld/v1/entities``) with a shared HTTP client, a timeout per
source and bounded concurrency, and merges the answers with its own (clause 4.3.6):

* entities merge by id; attribute instances by datasetId, the latest ``observedAt`` winning;
* attributes an exclusive or redirect registration names for an entity come only from that
  source (clause 4.3.6.3), local copies are ignored;
* auxiliary sources only fill in attributes nobody else provides (clause 4.3.6.4).

A request whose ``Via`` header already names this broker is answered locally (loop prevention,
clause 6.3.18); every forwarded request appends the broker to ``Via``. A source that fails or
times out does not fail the request: its part is missing and an ``NGSILD-Warning`` (clause
6.3.17, RFC 7234 warning syntax) says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.csources import (
    AUXILIARY,
    EXCLUSIVE,
    REDIRECT,
    Registration,
    Target,
    attribute_names,
    is_current,
    registration_matches,
    supports,
)
from mims.context.ngsild.entity import normalize_entity, utc_now
from mims.context.ngsild.errors import BadRequestData
from mims.context.storage.base import Entity, Page

WARNING_HEADER = "NGSILD-Warning"
RESULTS_COUNT_HEADER = "NGSILD-Results-Count"
TENANT_HEADER = "NGSILD-Tenant"
API_ROOT = "/ngsi-ld/v1"
_MISCELLANEOUS = 199  # RFC 7234 warn-code "Miscellaneous Warning"
#: Query parameters that select entities, forwarded as they came (attrs and paging are set per source).
_SELECTORS = (
    "id",
    "idPattern",
    "type",
    "q",
    "scopeQ",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
)


@dataclass
class Federation:
    """The broker's side of distributed operations: its identity, HTTP client and limits."""

    broker_id: str
    client: httpx.AsyncClient
    timeout: float
    concurrency: int
    _slots: asyncio.Semaphore = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    def loops_back(self, via: str | None) -> bool:
        """True when ``via`` shows the request already passed through this broker."""
        return self.broker_id in _via_names(via)

    def via(self, incoming: str | None) -> str:
        """The Via header of a forwarded request: the incoming hops, then this broker (RFC 9110, 7.6.3)."""
        hop = f"1.1 {self.broker_id}"
        return f"{incoming}, {hop}" if incoming else hop

    async def get(
        self,
        url: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        timeout: float,
    ) -> httpx.Response:
        async with self._slots:
            return await self.client.get(
                url, params=params, headers=headers, timeout=timeout
            )

    def spawn(self, work: Awaitable[None]) -> None:
        """Run fire-and-forget work (notifications) that :meth:`drain` waits for at shutdown."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


@dataclass(frozen=True, slots=True)
class ForwardedRead:
    """What a read carried that forwarding needs: its parameters, @context and headers."""

    params: Mapping[str, str]
    context: ActiveContext
    link: str | None
    via: str | None
    attrs: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Contribution:
    """One source's view of an entity; ``owned`` are the attributes it provides exclusively."""

    mode: str
    entity: Entity
    owned: frozenset[str] = frozenset()


@dataclass
class Outcome:
    """The merged answer and the warnings of sources that did not answer."""

    entities: list[Entity]
    count: int | None = None
    warnings: list[str] = field(default_factory=list)
    answered: dict[str, bool] = field(default_factory=dict)  # registration id -> its source answered


async def distributed_query(
    federation: Federation,
    registrations: list[Registration],
    request: ForwardedRead,
    target: Target,
    local: Callable[[int, int, bool], Awaitable[Page]],
    limit: int,
    offset: int,
    count: bool,
) -> Outcome:
    """Query Entities over this broker and the matching context sources (clause 5.7.2.4).

    ``local(limit, offset, count)`` queries this broker's own store. Each source is asked for
    the first ``offset + limit`` matches, so the merged page is exact; with ``count`` the total
    is the sum of every source's count less the entities seen from more than one source, exact
    whenever the overlapping entities are all within the fetched window.
    """
    chosen = _matching(federation, registrations, request, target, "queryEntity")
    if not chosen:
        page = await local(limit, offset, count)
        return Outcome(page.entities, page.count)
    window = offset + limit
    page = await local(window, 0, count)
    answers = await asyncio.gather(
        *(
            _query_source(federation, registration, request, window, count)
            for registration in chosen
        )
    )
    merged, warnings, overlaps = _merge_all(page.entities, chosen, answers)
    total = None
    if page.count is not None:
        remote = sum(
            answer.count if answer.count is not None else len(answer.entities)
            for answer in answers
        )
        total = page.count + remote - overlaps
    return Outcome(merged[offset:window], total, warnings, _answered(chosen, answers))


async def distributed_retrieve(
    federation: Federation,
    registrations: list[Registration],
    request: ForwardedRead,
    entity_id: str,
    local: Entity | None,
) -> Outcome:
    """Retrieve Entity over this broker and the matching context sources (clause 5.7.1.4).

    ``local`` is this broker's own copy, if any; the outcome holds at most one entity.
    """
    target = Target(ids=frozenset([entity_id]), attrs=request.attrs)
    chosen = _matching(federation, registrations, request, target, "retrieveEntity")
    answers = await asyncio.gather(
        *(
            _retrieve_source(federation, registration, request, entity_id)
            for registration in chosen
        )
    )
    merged, warnings, _ = _merge_all(
        [local] if local is not None else [], chosen, answers
    )
    return Outcome(merged[:1], None, warnings, _answered(chosen, answers))


def _answered(registrations: list[Registration], answers: list[Answer]) -> dict[str, bool]:
    """Whether each registration's source gave a usable answer (clause 5.2.9 status)."""
    return {registration["id"]: answer.warning is None
            for registration, answer in zip(registrations, answers, strict=True)}


def _matching(
    federation: Federation,
    registrations: list[Registration],
    request: ForwardedRead,
    target: Target,
    operation: str,
) -> list[Registration]:
    if federation.loops_back(request.via):
        return []
    now = utc_now()
    return [
        registration
        for registration in registrations
        if is_current(registration, now)
        and supports(registration, operation)
        and registration_matches(registration, target)
    ]


@dataclass(frozen=True, slots=True)
class Answer:
    """One source's part: its entities in stored form and its count, or a warning instead."""

    entities: list[Entity] = field(default_factory=list)
    warning: str | None = None
    count: int | None = None


async def _query_source(
    federation: Federation,
    registration: Registration,
    request: ForwardedRead,
    window: int,
    count: bool,
) -> Answer:
    params = {
        name: request.params[name] for name in _SELECTORS if name in request.params
    }
    attrs = _forwarded_attrs(registration, request.attrs)
    if attrs:
        params["attrs"] = ",".join(sorted(attrs))
    params["limit"] = str(window)
    if count:
        params["count"] = "true"
    if registration.get("management", {}).get("localOnly"):
        params["local"] = "true"
    url = f"{_api_root(registration)}/entities"
    response, warning = await _fetch(federation, registration, request, url, params)
    if response is None:
        return Answer(warning=warning)
    body, warning = _json(registration, response, list)
    if warning is not None:
        return Answer(warning=warning)
    answer = _normalized(registration, body, request.context)
    total = response.headers.get(RESULTS_COUNT_HEADER, "")
    return Answer(
        answer.entities, answer.warning, int(total) if total.isdigit() else None
    )


async def _retrieve_source(
    federation: Federation,
    registration: Registration,
    request: ForwardedRead,
    entity_id: str,
) -> Answer:
    params: dict[str, str] = {}
    attrs = _forwarded_attrs(registration, request.attrs)
    if attrs:
        params["attrs"] = ",".join(sorted(attrs))
    if registration.get("management", {}).get("localOnly"):
        params["local"] = "true"
    url = f"{_api_root(registration)}/entities/{quote(entity_id, safe=':')}"
    response, warning = await _fetch(
        federation, registration, request, url, params, allow_missing=True
    )
    if response is None or response.status_code == 404:
        return Answer(warning=warning)  # a source without the entity has nothing to add
    body, warning = _json(registration, response, dict)
    if warning is not None:
        return Answer(warning=warning)
    return _normalized(registration, [body], request.context)


def _forwarded_attrs(
    registration: Registration, wanted: frozenset[str] | None
) -> set[str]:
    """The attributes to ask a source for: those it registered, narrowed to those asked for."""
    registered = {
        name for info in registration["information"] for name in attribute_names(info)
    }
    if any(not attribute_names(info) for info in registration["information"]):
        registered = set()  # some RegistrationInfo provides every attribute
    if wanted is None:
        return registered
    return set(wanted) & registered if registered else set(wanted)


async def _fetch(
    federation: Federation,
    registration: Registration,
    request: ForwardedRead,
    url: str,
    params: dict[str, str],
    allow_missing: bool = False,
) -> tuple[httpx.Response | None, str | None]:
    """The source's response (200, or 404 which a retrieval reads as no entity), or a warning."""
    headers = {"Accept": "application/json", "Via": federation.via(request.via)}
    for pair in registration.get("contextSourceInfo", ()):
        headers[pair["key"]] = pair["value"]
    if request.link:
        headers["Link"] = request.link
    if "tenant" in registration:
        headers[TENANT_HEADER] = registration["tenant"]
    timeout = (
        registration.get("management", {}).get("timeout", federation.timeout * 1000)
        / 1000
    )
    try:
        response = await federation.get(url, params, headers, timeout)
    except httpx.TimeoutException:
        return None, _warning(registration, f"did not answer within {timeout:g} s")
    except httpx.HTTPError as error:
        return None, _warning(
            registration, f"could not be reached ({type(error).__name__})"
        )
    if response.status_code != 200 and not (
        allow_missing and response.status_code == 404
    ):
        return None, _warning(registration, f"answered HTTP {response.status_code}")
    return response, None


def _json(
    registration: Registration, response: httpx.Response, expected: type
) -> tuple[Any, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, _warning(registration, "answered with a body that is not JSON")
    if not isinstance(body, expected):
        kind = "an array" if expected is list else "an object"
        return None, _warning(registration, f"answered with JSON that is not {kind}")
    return body, None


def _normalized(
    registration: Registration, bodies: list[Any], context: ActiveContext
) -> Answer:
    now = utc_now()
    try:
        return Answer([normalize_entity(body, context, now) for body in bodies])
    except BadRequestData as error:
        return Answer(
            warning=_warning(
                registration, f"answered with an invalid entity: {error.detail}"
            )
        )


def _merge_all(
    local: list[Entity], registrations: list[Registration], answers: list[Answer]
) -> tuple[list[Entity], list[str], int]:
    """Entities merged by id in order of first appearance, local ones first; the warnings; and
    how many of the entities received were further views of an entity already seen."""
    parts: dict[str, list[Contribution]] = {
        entity["id"]: [Contribution("local", entity)] for entity in local
    }
    warnings = []
    overlaps = 0
    for registration, answer in zip(registrations, answers, strict=True):
        if answer.warning is not None:
            warnings.append(answer.warning)
        for entity in answer.entities:
            overlaps += entity["id"] in parts
            parts.setdefault(entity["id"], []).append(
                Contribution(
                    registration["mode"], entity, _owned(registration, entity["id"])
                )
            )
    return (
        [merge_entity(contributions) for contributions in parts.values()],
        warnings,
        overlaps,
    )


def _owned(registration: Registration, entity_id: str) -> frozenset[str]:
    if registration["mode"] not in (EXCLUSIVE, REDIRECT):
        return frozenset()
    return frozenset(
        name
        for info in registration["information"]
        if any(entity.get("id") == entity_id for entity in info.get("entities", ()))
        for name in attribute_names(info)
    )


def merge_entity(contributions: list[Contribution]) -> Entity:
    """One entity from several sources' views of it (clause 4.3.6)."""
    first = contributions[0].entity
    merged: Entity = {key: value for key, value in first.items() if key != "attributes"}
    merged["type"] = list(
        dict.fromkeys(iri for part in contributions for iri in part.entity["type"])
    )
    scopes = [scope for part in contributions for scope in part.entity.get("scope", ())]
    if scopes:
        merged["scope"] = list(dict.fromkeys(scopes))
    owners = {name: part for part in contributions for name in part.owned}
    attributes: dict[str, list[dict[str, Any]]] = {}
    for part in contributions:
        if part.mode == AUXILIARY:
            continue
        for iri, instances in part.entity["attributes"].items():
            owner = owners.get(iri)
            if owner is None or owner is part:
                attributes[iri] = _merge_instances(attributes.get(iri, []), instances)
    for part in contributions:
        if part.mode == AUXILIARY:
            for iri, instances in part.entity["attributes"].items():
                if iri not in attributes and iri not in owners:
                    attributes[iri] = list(instances)
    merged["attributes"] = attributes
    return merged


def _merge_instances(
    current: list[dict[str, Any]], incoming: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Instances keyed by datasetId (clause 4.5.5); for one datasetId the later observedAt wins."""
    by_dataset = {instance.get("datasetId"): instance for instance in current}
    for instance in incoming:
        key = instance.get("datasetId")
        held = by_dataset.get(key)
        if held is None or instance.get("observedAt", "") > held.get("observedAt", ""):
            by_dataset[key] = instance
    return list(by_dataset.values())


def _api_root(registration: Registration) -> str:
    endpoint = registration["endpoint"].rstrip("/")
    return endpoint if endpoint.endswith(API_ROOT) else endpoint + API_ROOT


def _warning(registration: Registration, text: str) -> str:
    """An RFC 7234 warning-value naming the source by its host and the registration by id."""
    agent = urlsplit(registration["endpoint"]).netloc or "-"
    message = f"Context source {registration['id']} {text}".replace('"', "'").replace(
        "\\", "/"
    )
    return f'{_MISCELLANEOUS} {agent} "{message}"'


def _via_names(via: str | None) -> set[str]:
    """The received-by names of a Via header (RFC 9110, 7.6.3)."""
    names = set()
    for hop in (via or "").split(","):
        parts = hop.split()
        if len(parts) >= 2:
            names.add(parts[1])
    return names
