"""NGSI-LD batch entity operations (profile ``standard``): create, upsert and delete, with 207
Multi-Status and a per-entity error when only part of a batch succeeds (clause 6.14-6.17)."""

from __future__ import annotations

from typing import Any

import httpx

from conformance.checks.common import body
from conformance.checks.context_api import BATCH, ENTITIES, ERRORS, SPEC, Created, call, entity_id, prop, unique_type
from conformance.registry import check
from conformance.session import Session


def _multi_status(session: Session, answer: httpx.Response, succeeded: set[str], failed: dict[str, str],
                  what: str) -> None:
    """``answer`` is 207 with a BatchOperationResult: ``succeeded`` in success, and each id of
    ``failed`` in errors with its NGSI-LD error type (clause 5.2.16, 5.2.17)."""
    session.expect(answer.status_code == 207, f"{what}: answered {answer.status_code} {answer.text[:200]!r}; "
                   "expected 207 Multi-Status for a batch that partly failed")
    result = body(answer)
    session.expect(isinstance(result, dict), f"{what}: the 207 body is not a BatchOperationResult object")
    success = {str(one) for one in result.get("success") or []}
    session.expect(succeeded <= success, f"{what}: success lists {sorted(success)}; expected {sorted(succeeded)}")
    errors: dict[str, Any] = {str(e.get("entityId")): e.get("error") for e in result.get("errors") or []
                              if isinstance(e, dict)}
    for one, name in failed.items():
        session.expect(one in errors, f"{what}: errors does not name {one}: {result.get('errors')!r}")
        given = (errors[one] or {}).get("type") if isinstance(errors[one], dict) else None
        session.expect(given == ERRORS + name,
                       f"{what}: the error for {one} has type {given!r}; expected {ERRORS + name}")
        session.expect(one not in success, f"{what}: {one} is listed both as success and as error")


async def _status_of(session: Session, one: str) -> int:
    return (await call(session, "GET", f"{ENTITIES}/{one}")).status_code


@check("context.batch.create", "Batch create: 201 when all are created, 207 with errors when some exist",
       mim="context", source=f"{SPEC} §5.6.7, §6.14.3.1")
async def batch_create(session: Session) -> None:
    entity_type = unique_type("BatchCreate")
    first, second, third = (entity_id(entity_type, name) for name in ("first", "second", "third"))
    async with Created(session) as created:
        created.entities += [first, second, third]
        answer = await call(session, "POST", f"{BATCH}/create",
                            [{"id": one, "type": entity_type, "n": prop(i)} for i, one in enumerate((first, second))])
        session.expect(answer.status_code == 201, f"batch create of two new entities answered {answer.status_code} "
                       f"{answer.text[:200]!r}; expected 201 Created")
        answer = await call(session, "POST", f"{BATCH}/create",
                            [{"id": first, "type": entity_type}, {"id": third, "type": entity_type}])
        _multi_status(session, answer, {third}, {first: "AlreadyExists"}, "batch create with one existing entity")
        session.expect(await _status_of(session, third) == 200, "the new entity of the 207 batch cannot be retrieved")


@check("context.batch.upsert", "Batch upsert creates the new entities and updates the existing ones",
       mim="context", source=f"{SPEC} §5.6.8, §6.15.3.1")
async def batch_upsert(session: Session) -> None:
    entity_type = unique_type("BatchUpsert")
    old, new = entity_id(entity_type, "old"), entity_id(entity_type, "new")
    async with Created(session) as created:
        await created.entity({"id": old, "type": entity_type, "level": prop(1)})
        created.entities.append(new)
        answer = await call(session, "POST", f"{BATCH}/upsert", [{"id": old, "type": entity_type, "level": prop(2)},
                                                                 {"id": new, "type": entity_type, "level": prop(3)}])
        session.expect(answer.status_code in (201, 204), f"batch upsert answered {answer.status_code} "
                       f"{answer.text[:200]!r}; expected 201 (some created) or 204")
        if answer.status_code == 204:
            session.note("batch upsert that created an entity answered 204; clause 6.15.3.1 says 201 with its id")
        for one, level in ((old, 2), (new, 3)):
            got = await call(session, "GET", f"{ENTITIES}/{one}")
            session.expect(got.status_code == 200, f"{one} after the upsert: GET answered {got.status_code}")
            value = (body(got).get("level") or {}).get("value")
            session.expect(value == level, f"{one} after the upsert has level {value!r}; expected {level}")


@check("context.batch.delete", "Batch delete removes the entities and reports unknown ones with 207",
       mim="context", source=f"{SPEC} §5.6.10, §6.17.3.1")
async def batch_delete(session: Session) -> None:
    entity_type = unique_type("BatchDelete")
    first, second, missing = (entity_id(entity_type, name) for name in ("first", "second", "missing"))
    async with Created(session) as created:
        for one in (first, second):
            await created.entity({"id": one, "type": entity_type})
        answer = await call(session, "POST", f"{BATCH}/delete", [first, second, missing])
        _multi_status(session, answer, {first, second}, {missing: "ResourceNotFound"},
                      "batch delete with one unknown entity")
        for one in (first, second):
            status = await _status_of(session, one)
            session.expect(status == 404, f"{one} still answers {status} after the batch delete; expected 404")
