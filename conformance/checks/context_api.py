"""What the context checks share: the NGSI-LD API paths, requests with the right media type and
token, unique test data, NGSI-LD error types, and cleanup of what a check created."""

from __future__ import annotations

import copy
import uuid
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import httpx

from conformance.checks.common import body, problem
from conformance.session import Session

API = "/ngsi-ld/v1"
ENTITIES = f"{API}/entities"
SUBSCRIPTIONS = f"{API}/subscriptions"
REGISTRATIONS = f"{API}/csourceRegistrations"
BATCH = f"{API}/entityOperations"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
SCOPE = "context:read context:write"
SPEC = "ETSI GS CIM 009 V1.8.1"
SAMPLER = ("This is a sampler of NGSI-LD behaviour (ETSI GS CIM 009 V1.8.1), not a replacement for the "
           "ETSI NGSI-LD conformance test suite.")


def unique_type(purpose: str) -> str:
    """An entity type no other run uses, so queries by type see only this check's entities."""
    return f"Conformance{purpose}{uuid.uuid4().hex[:12]}"


def entity_id(entity_type: str, name: str | None = None) -> str:
    return f"urn:ngsi-ld:{entity_type}:{name or uuid.uuid4().hex}"


def with_unique_id(payload: Any) -> Any:
    """A copy of an example payload whose ``id`` (if it has one) carries a fresh suffix, so reruns
    against the same target do not collide."""
    copied = copy.deepcopy(payload)
    if isinstance(copied, dict) and isinstance(copied.get("id"), str):
        copied["id"] = f"{copied['id']}-{uuid.uuid4().hex[:12]}"
    return copied


def media_type(payload: Any) -> str:
    """NGSI-LD: a body carrying ``@context`` is sent as application/ld+json, otherwise as
    application/json (clause 6.3.5)."""
    return "application/ld+json" if isinstance(payload, dict) and "@context" in payload else "application/json"


async def call(session: Session, method: str, path: str, payload: Any = None, *,
               params: dict[str, str] | None = None, accept: str = "application/json") -> httpx.Response:
    """One request to the broker with the context token (if any) and the right media types."""
    headers = {"Accept": accept, **await session.bearer(SCOPE)}
    if payload is None:
        return await session.http.request(method, path, params=params, headers=headers)
    headers["Content-Type"] = media_type(payload)
    return await session.http.request(method, path, params=params, headers=headers, json=payload)


def location_id(session: Session, response: httpx.Response, collection: str, what: str) -> str:
    """The id a 201 response's Location header names under ``collection`` (clause 6.3.4)."""
    location = response.headers.get("location")
    session.expect(location, f"{what}: 201 without a Location header")
    path = unquote(urlsplit(location).path)
    session.expect(path.startswith(f"{collection}/") and len(path) > len(collection) + 1,
                   f"{what}: Location {location!r} is not under {collection}/")
    return path[len(collection) + 1:]


def ngsi_error(session: Session, response: httpx.Response, status: int, names: tuple[str, ...], what: str) -> str:
    """``response`` is an NGSI-LD error with ``status`` and one of the error types ``names``
    (clause 5.5.2, type URIs under https://uri.etsi.org/ngsi-ld/errors/); the name it gave."""
    document = problem(session, response, (status,), what)
    given = str(document.get("type", ""))
    wanted = [ERRORS + name for name in names]
    session.expect(given in wanted, f"{what}: error type {given or '(none)'}; expected {' or '.join(wanted)}")
    return given.removeprefix(ERRORS)


def ids_of(session: Session, response: httpx.Response, what: str) -> set[str]:
    """The entity ids of a 200 query answer (an array of entities)."""
    session.expect(response.status_code == 200, f"{what}: answered {response.status_code} "
                   f"{response.text[:200]!r}; expected 200 with an array of entities")
    document = body(response)
    session.expect(isinstance(document, list), f"{what}: the answer is not a JSON array: {response.text[:200]!r}")
    return {str(item.get("id")) for item in document if isinstance(item, dict)}


class Created:
    """``async with Created(session) as created``: entities, subscriptions and registrations a check made, deleted
    at the end whatever happened (a failed deletion is noted, never a failure of the check)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.entities: list[str] = []
        self.subscriptions: list[str] = []
        self.registrations: list[str] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for collection, ids in self.made().items():
            for one in ids:
                try:
                    answer = await call(self.session, "DELETE", f"{collection}/{one}")
                except httpx.HTTPError as error:
                    self.session.note(f"cleanup: DELETE {collection}/{one} failed: {error}")
                    continue
                if answer.status_code not in (204, 404):
                    self.session.note(f"cleanup: DELETE {collection}/{one} answered {answer.status_code}")

    def made(self) -> dict[str, list[str]]:
        """The ids made, by collection, in the order they are deleted."""
        return {SUBSCRIPTIONS: self.subscriptions, REGISTRATIONS: self.registrations, ENTITIES: self.entities}

    async def entity(self, payload: dict[str, Any], what: str = "POST /entities") -> httpx.Response:
        """Create ``payload`` and require 201 (clause 6.4.3.1)."""
        answer = await call(self.session, "POST", ENTITIES, payload)
        if answer.status_code == 201:
            self.entities.append(str(payload.get("id")))
        self.session.expect(answer.status_code == 201, f"{what} of {payload.get('id')} answered "
                            f"{answer.status_code} {answer.text[:200]!r}; expected 201 Created")
        return answer

    async def subscription(self, payload: dict[str, Any], what: str = "POST /subscriptions") -> str:
        """Create ``payload``, require 201 with a Location; the subscription's id."""
        answer = await call(self.session, "POST", SUBSCRIPTIONS, payload)
        if answer.status_code == 201 and answer.headers.get("location"):
            self.subscriptions.append(location_id(self.session, answer, SUBSCRIPTIONS, what))
        self.session.expect(answer.status_code == 201, f"{what} answered {answer.status_code} "
                            f"{answer.text[:200]!r}; expected 201 Created")
        return location_id(self.session, answer, SUBSCRIPTIONS, what)


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def point(longitude: float, latitude: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [longitude, latitude]}}
