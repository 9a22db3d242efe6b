"""The context MIM's PPI contract (profile ``mim``): the examples of ngsi-ld-entity,
ngsi-ld-subscription and ngsi-ld-csource-registration accepted or refused as they say, and the
broker's answers valid against the PPIs and expanding with no dropped JSON-LD term."""

from __future__ import annotations

from typing import Any

import httpx

import ppi_schemas
from conformance.checks.common import Send, body, conforms, examples_accepted, examples_refused, no_dropped_terms
from conformance.checks.context_api import (
    ENTITIES, REGISTRATIONS, SPEC, SUBSCRIPTIONS, Created, call, location_id, ngsi_error, with_unique_id)
from conformance.registry import check
from conformance.session import Session

ENTITY_PPI = "ngsi-ld-entity@1.0.0"
SUBSCRIPTION_PPI = "ngsi-ld-subscription@1.0.0"
REGISTRATION_PPI = "ngsi-ld-csource-registration@1.0.0"


def _sender(session: Session, created: Created, collection: str, tolerate_unsupported: bool = False) -> Send:
    """Sends an example (its id made unique) to ``collection`` and remembers what it created.

    With ``tolerate_unsupported``, a 422 OperationNotSupported (clause 5.5.2: an optional feature
    the broker does not implement, e.g. temporalQ in subscriptions) is noted instead of failing."""

    async def send(payload: Any, name: str) -> httpx.Response:
        payload = with_unique_id(payload)
        answer = await call(session, "POST", collection, payload)
        if tolerate_unsupported and answer.status_code == 422:
            unsupported = ngsi_error(session, answer, 422, ("OperationNotSupported",), f"example {name}")
            session.note(f"example {name}: {unsupported}: {body(answer).get('detail', '')}")
            return httpx.Response(201, request=answer.request)
        if answer.status_code == 201:
            made = (location_id(session, answer, collection, f"example {name}") if answer.headers.get("location")
                    else str(payload.get("id")))
            created.made()[collection].append(made)
        return answer

    return send


def _examples_checks(name: str, ppi: str, collection: str, source: str, tolerate_unsupported: bool = False) -> None:
    """Register ``context.ppi.{name}_examples_accepted`` (every valid example of ``ppi`` POSTed to
    ``collection`` is created) and ``..._refused`` (every invalid one is refused with 4xx)."""

    @check(f"context.ppi.{name}_examples_accepted", f"Every valid {ppi} example is created (201)",
           mim="context", source=source, profile="mim")
    async def accepted(session: Session) -> None:
        async with Created(session) as created:
            await examples_accepted(session, ppi, _sender(session, created, collection, tolerate_unsupported),
                                    statuses=(201,))

    @check(f"context.ppi.{name}_examples_refused", f"Every invalid {ppi} example is refused with 4xx",
           mim="context", source=source, profile="mim")
    async def refused(session: Session) -> None:
        async with Created(session) as created:
            await examples_refused(session, ppi, _sender(session, created, collection))


_examples_checks("entity", ENTITY_PPI, ENTITIES, f"PPI {ENTITY_PPI}")
_examples_checks("subscription", SUBSCRIPTION_PPI, SUBSCRIPTIONS, f"PPI {SUBSCRIPTION_PPI}", tolerate_unsupported=True)
_examples_checks("registration", REGISTRATION_PPI, REGISTRATIONS, f"PPI {REGISTRATION_PPI}; {SPEC} §5.9.2")


def _example(ppi: str, name: str) -> Any:
    return next(e.payload for e in ppi_schemas.get(ppi).examples_valid if e.name == name)


@check("context.ppi.entity_responses", f"Retrieved and queried entities are valid {ENTITY_PPI} with no dropped term",
       mim="context", source=f"PPI {ENTITY_PPI}", profile="mim")
async def entity_responses(session: Session) -> None:
    entity = with_unique_id(_example(ENTITY_PPI, "building"))
    async with Created(session) as created:
        await created.entity(entity, f"POST /entities of the {ENTITY_PPI} example 'building'")
        for accept in ("application/json", "application/ld+json"):
            answer = await call(session, "GET", f"{ENTITIES}/{entity['id']}", accept=accept)
            session.expect(answer.status_code == 200, f"GET of the entity ({accept}) answered {answer.status_code}")
            conforms(session, body(answer), ENTITY_PPI, f"the retrieved entity ({accept})")
        no_dropped_terms(session, body(answer), "the retrieved entity (application/ld+json)")
        answer = await call(session, "GET", ENTITIES, params={"type": entity["type"], "id": entity["id"]})
        found = body(answer)
        session.expect(answer.status_code == 200 and isinstance(found, list) and len(found) == 1,
                       f"a query by its id answered {answer.status_code} {answer.text[:200]!r}; expected one entity")
        conforms(session, found[0], ENTITY_PPI, "the queried entity")


@check("context.ppi.subscription_responses", f"Retrieved subscriptions are valid {SUBSCRIPTION_PPI}",
       mim="context", source=f"PPI {SUBSCRIPTION_PPI}", profile="mim")
async def subscription_responses(session: Session) -> None:
    subscription = with_unique_id(_example(SUBSCRIPTION_PPI, "on-change-key-values"))
    async with Created(session) as created:
        made = await created.subscription(subscription, f"POST /subscriptions of the {SUBSCRIPTION_PPI} example")
        for accept in ("application/json", "application/ld+json"):
            answer = await call(session, "GET", f"{SUBSCRIPTIONS}/{made}", accept=accept)
            session.expect(answer.status_code == 200,
                           f"GET of the subscription ({accept}) answered {answer.status_code}")
            conforms(session, body(answer), SUBSCRIPTION_PPI, f"the retrieved subscription ({accept})")
        no_dropped_terms(session, body(answer), "the retrieved subscription (application/ld+json)")
