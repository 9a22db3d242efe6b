"""Seed a city's demo through the platform's public HTTP APIs, all at the gateway: NGSI-LD
(``/ngsi-ld/v1``: Batch Entity Upsert, clause 6.15; Create or Update Temporal Representation,
clause 6.18.3.1), the permit check's zoning plans (``PUT /permit-check/v1/zoning-plans/{idn}``)
and the marketplace (``/marketplace/datasets`` and their offers).

Idempotent by adding only what is missing: entities whose id the twin already holds, a zoning
plan already there, a dataset whose English title the catalogue already lists (with the demo
keyword) and an offer whose ``uid`` is taken (409) are left as they are. A second seed
therefore writes nothing, and says so. A new entity's history is written before the entity
itself, and only when the history holds nothing of it yet, so an interrupted seed completes on
the next one without doubling any history.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from mims.cli.demo import catalogue, den_haag, rotterdam, zuid_holland
from mims.cli.demo.city import CityDemo, Layer
from mims.kit.geo.twin_entities import ZONING_PLAN, entity_id

CITIES: Mapping[str, Callable[[datetime, str], CityDemo]] = {
    rotterdam.CITY: rotterdam.demo, den_haag.CITY: den_haag.demo, zuid_holland.CITY: zuid_holland.demo}
SCOPES = ("context:read", "context:write", "marketplace:publish", "permit:zoning")
"""What the seeding client needs: to see what is there, to write the twin, the catalogue and zoning."""
NGSI_LD = "/ngsi-ld/v1"
BATCH_SIZE = 250
PAGE_SIZE = 1000
TIMEOUT = 60.0
JSON_LD = "application/ld+json"
T = TypeVar("T")


class SeedError(Exception):
    """A request of the seed the platform refused or could not answer: what, and why."""


@dataclass(slots=True)
class Count:
    created: int = 0
    present: int = 0


@dataclass(slots=True)
class Summary:
    """Per kind of data, how much the seed created and how much was already there."""

    city: str
    counts: dict[str, Count] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(count.created for count in self.counts.values())

    def count(self, kind: str) -> Count:
        return self.counts.setdefault(kind, Count())

    def as_json(self) -> dict[str, Any]:
        return {"city": self.city, "seconds": round(self.seconds, 2),
                "counts": {kind: {"created": c.created, "present": c.present} for kind, c in self.counts.items()}}


def seed(city: str, gateway: str, client_id: str, client_secret: str, *, now: datetime | None = None,
         progress: Callable[[str], None] = lambda step: None, transport: httpx.BaseTransport | None = None) -> Summary:
    """Seed ``city`` (one of :data:`CITIES`) through ``gateway`` with a client of :data:`SCOPES`
    (over ``transport`` when given, else the network)."""
    started = time.monotonic()
    gateway = gateway.rstrip("/")
    demo = CITIES[city](now or datetime.now(UTC), gateway)
    summary = Summary(city)
    with httpx.Client(base_url=gateway, timeout=TIMEOUT, transport=transport) as client:
        client.headers["Authorization"] = f"Bearer {_token(client, client_id, client_secret)}"
        for layer in demo.layers:
            progress(layer.kind)
            _seed_layer(client, layer, summary.count(layer.kind))
        for plan in demo.zoning_plans:
            progress(f"zoning plan {plan['id']}")
            _seed_zoning_plan(client, plan, summary.count("zoning plans"))
        progress("catalogue")
        _seed_catalogue(client, demo, summary)
    summary.seconds = time.monotonic() - started
    return summary


def _token(client: httpx.Client, client_id: str, client_secret: str) -> str:
    """A client-credentials access token (RFC 6749 4.4) from the token endpoint the gateway's
    RFC 8414 metadata names."""
    answer = _send(client, "GET", "/.well-known/oauth-authorization-server")
    token_endpoint = _member(answer, _json(answer), "token_endpoint", str)
    answer = _send(client, "POST", token_endpoint, auth=(client_id, client_secret),
                   data={"grant_type": "client_credentials", "scope": " ".join(SCOPES)})
    return _member(answer, _json(answer), "access_token", str)


def _seed_layer(client: httpx.Client, layer: Layer, count: Count) -> None:
    present = _ids_of_type(client, layer.type_iri)
    missing = [entity for entity in layer.entities if entity["id"] not in present]
    count.present += len(layer.entities) - len(missing)
    new = {entity["id"] for entity in missing}
    for history in layer.histories:
        if history["id"] in new and not _has_history(client, history["id"]):
            _send(client, "POST", f"{NGSI_LD}/temporal/entities", json=history, headers=_content_type(history))
    for batch in _chunks(missing, BATCH_SIZE):
        _send(client, "POST", f"{NGSI_LD}/entityOperations/upsert", json=batch, headers=_content_type(batch[0]))
        count.created += len(batch)


def _has_history(client: httpx.Client, entity: str) -> bool:
    """Whether the temporal representation of ``entity`` holds anything (an earlier seed wrote it)."""
    answer = _send(client, "GET", f"{NGSI_LD}/temporal/entities/{quote(entity, safe='')}", params={"lastN": 1},
                   expect=(200, 404))
    return answer.status_code == 200


def _ids_of_type(client: httpx.Client, type_iri: str) -> set[str]:
    """The ids of every entity of the type (a full IRI, so no @context is needed)."""
    ids: set[str] = set()
    offset = 0
    while True:
        answer = _send(client, "GET", f"{NGSI_LD}/entities",
                       params={"type": type_iri, "pick": "id", "limit": PAGE_SIZE, "offset": offset})
        page = _json(answer)
        if not isinstance(page, list) or not all(isinstance(entity, Mapping) for entity in page):
            raise _malformed(answer, "no array of entities")
        ids.update(_member(answer, entity, "id", str) for entity in page)
        if len(page) < PAGE_SIZE:
            return ids
        offset += PAGE_SIZE


def _seed_zoning_plan(client: httpx.Client, plan: dict[str, Any], count: Count) -> None:
    answer = _send(client, "GET", f"{NGSI_LD}/entities/{quote(entity_id(ZONING_PLAN, plan['id']), safe='')}",
                   params={"pick": "id"}, expect=(200, 404))
    if answer.status_code == 200:
        count.present += 1
        return
    _send(client, "PUT", f"/permit-check/v1/zoning-plans/{plan['id']}", json=plan)
    count.created += 1


def _seed_catalogue(client: httpx.Client, demo: CityDemo, summary: Summary) -> None:
    listed = _demo_datasets(client)
    datasets, offers = summary.count("datasets"), summary.count("offers")
    for entry in demo.datasets:
        iri = listed.get(entry.title)
        if iri is None:
            answer = _send(client, "POST", "/marketplace/datasets", json=entry.document, expect=(201,))
            iri = answer.headers.get("Location", "")
            if "/" not in iri.rstrip("/"):
                raise _malformed(answer, f"no Location of the dataset it made (Location: {iri!r})")
            datasets.created += 1
        else:
            datasets.present += 1
        dataset_id = iri.rstrip("/").rsplit("/", 1)[1]
        for role in entry.offers:
            body = catalogue.offer(entry, role, iri, entry.document["publisher"]["url"])
            answer = _send(client, "POST", f"/marketplace/datasets/{dataset_id}/offers", json=body, expect=(201, 409))
            if answer.status_code == 409:
                offers.present += 1
            else:
                offers.created += 1


def _demo_datasets(client: httpx.Client) -> dict[str, str]:
    """English title -> IRI of every dataset in the catalogue with the demo keyword."""
    found: dict[str, str] = {}
    offset = 0
    while True:
        answer = _send(client, "GET", "/marketplace/datasets",
                       params={"keyword": catalogue.DEMO_KEYWORD, "limit": 100, "offset": offset})
        page = _json(answer)
        items, total = _member(answer, page, "items", list), _member(answer, page, "total", int)
        for item in items:
            if not isinstance(item, Mapping):
                raise _malformed(answer, "a dataset that is no JSON object")
            for title in item.get("title", []):
                if isinstance(title, Mapping) and title.get("@language") == "en":
                    found[str(title.get("@value"))] = _member(answer, item, "@id", str)
        offset += len(items)
        if not items or offset >= total:
            return found


def _content_type(entity: Mapping[str, Any]) -> dict[str, str]:
    """JSON-LD when the body carries its @context; plain JSON (the core context) otherwise."""
    return {"Content-Type": JSON_LD if "@context" in entity else "application/json"}


def _chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def _send(client: httpx.Client, method: str, url: str, *, expect: Sequence[int] = (200, 201, 204),
          **kwargs: Any) -> httpx.Response:
    """The answer to the request, when its status is one of ``expect``; SeedError otherwise (a 207 is
    a batch with failed entities)."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        raise SeedError(f"{method} {client.base_url.join(url)}: the platform did not answer ({error!r})") from None
    if response.status_code not in expect:
        raise _refused(response)
    return response


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise _malformed(response, f"no JSON body: {response.text[:200]!r}") from None


def _member(response: httpx.Response, document: Any, name: str, kind: type[T]) -> T:
    """``document[name]`` of the answer, which must be a ``kind``."""
    value = document.get(name) if isinstance(document, Mapping) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _malformed(response, f"no {kind.__name__} member {name!r}")
    return value


def _malformed(response: httpx.Response, what: str) -> SeedError:
    request = response.request
    return SeedError(f"{request.method} {request.url.path} answered {response.status_code} with {what}")


def _refused(response: httpx.Response) -> SeedError:
    """What the platform said, from its problem+json (RFC 9457) or NGSI-LD error, or the batch's
    first failed entity (207)."""
    try:
        body = response.json()
    except ValueError:
        body = response.text[:300]
    if isinstance(body, Mapping):
        errors = body.get("errors") or []
        first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
        reason = body.get("detail") or body.get("title") or first.get("error", {}).get("detail") or str(body)[:300]
        if first.get("pointer") or first.get("entityId"):
            reason += f" (at {first.get('pointer') or first.get('entityId')}: {first.get('detail', first.get('error', ''))})"
    else:
        reason = str(body)
    request = response.request
    return SeedError(f"{request.method} {request.url.path} answered {response.status_code}: {reason}")
