"""PPI validation at the gateway (OUP contract, profile ``mim``): a route bound to a PPI refuses a
body breaking it with 400 problem+json naming the problem, before anything reaches the upstream,
and passes a valid one on. Shown with the ``ngsi-ld-entity@1.0.0`` examples on entity creation and
the ``ngsi-ld-subscription@1.0.0`` ones on subscription creation."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx

import ppi_schemas
from conformance.checks.common import conforms, problem
from conformance.checks.gateway_support import (
    READ_SCOPE,
    WRITE_SCOPE,
    bearer_header,
    token_or_fail,
)
from conformance.registry import check
from conformance.session import Session

ENTITY = "ngsi-ld-entity@1.0.0"
SUBSCRIPTION = "ngsi-ld-subscription@1.0.0"
PROBLEM = "problem-details@1.0.0"
COLLECTIONS = {ENTITY: ("entities_path", "/ngsi-ld/v1/entities"),
               SUBSCRIPTION: ("subscriptions_path", "/ngsi-ld/v1/subscriptions")}
"""Where the gateway takes each PPI: ``--option entities_path=...`` / ``subscriptions_path=...``."""


def collection(session: Session, ppi: str) -> str:
    option, default = COLLECTIONS[ppi]
    return session.target.options.get(option, default)


def entities_path(session: Session) -> str:
    return collection(session, ENTITY)


def unique(payload: Any, run: str) -> Any:
    """``payload`` with a URN ``id`` made unique to this run, so reruns never collide; any other
    ``id`` (absent, or not a URN: what an invalid example may be about) stays as it is."""
    if isinstance(payload, dict) and isinstance(payload.get("id"), str) and payload["id"].startswith("urn:"):
        return {**payload, "id": f"{payload['id']}:conformance-{run}"}
    return payload


async def post_to(session: Session, path: str, payload: Any, token: str) -> httpx.Response:
    """NGSI-LD wants a body carrying ``@context`` as JSON-LD, one without as plain JSON (6.3.5)."""
    media_type = "application/ld+json" if isinstance(payload, dict) and "@context" in payload else "application/json"
    return await session.http.post(path, json=payload, headers={**bearer_header(token), "Content-Type": media_type})


async def post_entity(session: Session, payload: Any, token: str) -> httpx.Response:
    return await post_to(session, entities_path(session), payload, token)


def entity_url(session: Session, entity_id: str) -> str:
    return f"{entities_path(session)}/{quote(entity_id, safe='')}"


def names_the_problem(session: Session, document: dict[str, Any], name: str, pointer: str | None) -> str | None:
    """None when the problem's ``errors`` point at ``pointer`` (where the PPI's example breaks
    it) or at a member holding it (a validator may report a missing ``value`` at its owner, say:
    noted); else what is wrong."""
    pointers = {e.get("pointer") for e in document.get("errors", []) if isinstance(e, dict)} - {None}
    if pointer is None or pointer in pointers:
        return None
    holders = sorted(p for p in pointers if isinstance(p, str) and p and pointer.startswith(p + "/"))
    if holders:
        session.note(f"{name}: the problem points at {holders[0]}, the PPI's example at {pointer}")
        return None
    return f"{name}: the problem's errors do not point at {pointer} (they point at: {sorted(map(str, pointers)) or 'none'})"


@check("gateway.ppi.invalid-refused", "A body breaking the route's PPI is refused 400 problem+json, never forwarded",
       mim="gateway", source=f"PPI {ENTITY}, {SUBSCRIPTION} (invalid examples); PPI {PROBLEM}; OUP gateway PPI "
       "validation", profile="mim")
async def invalid_refused(session: Session) -> None:
    write = await token_or_fail(session, WRITE_SCOPE, "posting entities through the gateway")
    read = await token_or_fail(session, READ_SCOPE, "looking for entities that must not exist")
    run = uuid.uuid4().hex[:12]
    faults = []
    for ppi in COLLECTIONS:
        path = collection(session, ppi)
        for example in ppi_schemas.get(ppi).examples_invalid:
            payload = unique(example.payload, run)
            answer = await post_to(session, path, payload, write)
            what = f"POST {path} with invalid example {example.name} ({example.reason})"
            if answer.status_code != 400:
                faults.append(f"{ppi} {example.name}: {answer.status_code} {answer.text[:120]!r}")
            else:
                document = problem(session, answer, (400,), what)
                conforms(session, document, PROBLEM, f"the refusal of {what}")
                fault = names_the_problem(session, document, f"{ppi} {example.name}", example.pointer)
                if fault:
                    faults.append(fault)
            made = payload.get("id") if isinstance(payload, dict) else None
            if isinstance(made, str) and made.startswith("urn:"):
                url = f"{path}/{quote(made, safe='')}"
                if (await session.http.get(url, headers=bearer_header(read))).status_code == 200:
                    faults.append(f"{ppi} {example.name}: {made} exists upstream after the refusal: it was forwarded")
                    await session.http.delete(url, headers=bearer_header(write))
    session.expect(not faults, "invalid examples not refused with 400 before the upstream: " + "; ".join(faults))


@check("gateway.ppi.valid-forwarded", "A body valid against the route's PPI is forwarded: created, then deleted",
       mim="gateway", source=f"PPI {ENTITY} (valid examples); NGSI-LD 5.6.1, 5.6.6", profile="mim")
async def valid_forwarded(session: Session) -> None:
    write = await token_or_fail(session, WRITE_SCOPE, "posting entities through the gateway")
    run = uuid.uuid4().hex[:12]
    faults = []
    for example in ppi_schemas.get(ENTITY).examples_valid:
        payload = unique(example.payload, run)
        created = await post_entity(session, payload, write)
        if created.status_code != 201:
            faults.append(f"{example.name}: create answered {created.status_code} {created.text[:160]!r}")
            continue
        deleted = await session.http.delete(entity_url(session, payload["id"]), headers=bearer_header(write))
        if deleted.status_code != 204:
            faults.append(f"{example.name}: delete answered {deleted.status_code} {deleted.text[:160]!r}")
    session.expect(not faults, f"valid {ENTITY} examples not created and deleted through the gateway: "
                   + "; ".join(faults))
