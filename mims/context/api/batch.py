"""Batch entity operations (CIM 009 V1.8.1, clauses 6.14 to 6.17 and 6.23: /entityOperations).

Create (5.6.7), Upsert (5.6.8, ``options=replace|update``), Update (5.6.9, ``options=noOverwrite``,
with the behaviour of Append Entity Attributes), Delete (5.6.10) and Merge (5.6.20) run every
entity of the batch in ONE storage transaction, yet each entity on its own terms: an entity that
fails (invalid, already there, not there) is reported in a BatchOperationResult (clause 5.2.16,
HTTP 207) and does not stop the others, and no entity is ever half-written. All done is 201 with
the created ids (create, upsert creating) or 204 (the rest). Query (5.7.2 via clause 6.23) takes
the Query of clause 5.2.23 as its body and answers as GET /entities does.

With ``application/ld+json`` every entity carries its own @context (clause 6.3.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from mims.context.api.attributes import options_set
from mims.context.api.common import (
    PREFIX,
    link_header,
    parse_json,
    read_body,
    resolver,
    store,
    tenant,
    tenant_headers,
)
from mims.context.api.entities import query_response
from mims.context.api.openapi import entity_ids, entity_list, query, request_body
from mims.context.api.paths import RawPathRoute
from mims.context.ngsild.context import ActiveContext, request_contexts
from mims.context.ngsild.entity import check_entity_id, normalize_entity, utc_now
from mims.context.ngsild.errors import (
    AlreadyExists,
    BadRequestData,
    NgsiLdError,
    NonexistentTenant,
    ResourceNotFound,
)
from mims.context.ngsild.mediatypes import JSON, body_media_type
from mims.context.ngsild.mutations import (
    Fragment,
    append_attributes,
    merge_entity,
    normalize_fragment,
    replace_entity,
)
from mims.context.ngsild.query_body import query_selection
from mims.context.storage import SqlEntityStore, TenantNotFound
from mims.context.storage.base import Entity
from mims.context.storage.sql import Plan, Written
from mims.kit.auth import require_scopes

router = APIRouter(prefix=f"{PREFIX}/entityOperations", tags=["batch operations"], route_class=RawPathRoute)

Store = Annotated[SqlEntityStore, Depends(store)]
Tenant = Annotated[str, Depends(tenant)]
WRITE = [Depends(require_scopes("context:write"))]
ENTITIES = request_body(entity_list())
# Turns one parsed entity into its plan; raises NgsiLdError for that entity alone.
Planner = Callable[[Any], Plan]


@dataclass(slots=True)
class _Item:
    """One entity of a batch: its id, and either its request form with @context or its error."""

    entity_id: str
    body: Any = None
    context: ActiveContext | None = None
    error: NgsiLdError | None = None


@router.post("/create", summary="Batch Entity Creation (clause 6.14.3.1)", dependencies=WRITE, openapi_extra=ENTITIES)
async def batch_create(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    now = utc_now()

    def planner(item: _Item) -> Plan:
        entity = normalize_entity(item.body, item.context, now)

        def plan(current: Entity | None) -> Entity | None:
            if current is not None:
                raise AlreadyExists(f"Entity {entity['id']} already exists.")
            return entity

        return plan

    batch = await _run(request, entities, tenant_name, await _entities(request), planner, create_tenant=True)
    return batch.response(request, created_status=201)


@router.post("/upsert", summary="Batch Entity Creation or Update (clause 6.15.3.1)", dependencies=WRITE, openapi_extra=ENTITIES)
async def batch_upsert(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    chosen = options_set(request.query_params.get("options"), frozenset({"replace", "update"}))
    if len(chosen) > 1:
        raise BadRequestData("options is either replace or update, not both.")
    update = "update" in chosen
    now = utc_now()

    def planner(item: _Item) -> Plan:
        entity = normalize_entity(item.body, item.context, now)
        fragment = Fragment(entity["type"], entity.get("scope"), entity["attributes"])

        def plan(current: Entity | None) -> Entity | None:
            if current is None:
                return entity
            if update:
                return append_attributes(current, fragment, now, no_overwrite=False)[0]
            return replace_entity(current, entity, now)

        return plan

    batch = await _run(request, entities, tenant_name, await _entities(request), planner, create_tenant=True)
    return batch.response(request, created_status=201)


@router.post("/update", summary="Batch Entity Update (clause 6.16.3.1)", dependencies=WRITE, openapi_extra=ENTITIES)
async def batch_update(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    no_overwrite = "noOverwrite" in options_set(request.query_params.get("options"), frozenset({"noOverwrite"}))
    now = utc_now()

    def planner(item: _Item) -> Plan:
        fragment = normalize_fragment(item.body, item.context, now, item.entity_id)
        return _existing(item.entity_id, lambda current: append_attributes(current, fragment, now, no_overwrite=no_overwrite)[0])

    batch = await _run(request, entities, tenant_name, await _entities(request), planner, create_tenant=False)
    return batch.response(request)


@router.post("/merge", summary="Batch Entity Merge (clause 5.6.20)", dependencies=WRITE, openapi_extra=ENTITIES)
async def batch_merge(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    now = utc_now()

    def planner(item: _Item) -> Plan:
        fragment = normalize_fragment(item.body, item.context, now, item.entity_id, nulls=True)
        return _existing(item.entity_id, lambda current: merge_entity(current, fragment, now))

    batch = await _run(request, entities, tenant_name, await _entities(request), planner, create_tenant=False)
    return batch.response(request)


@router.post("/delete", summary="Batch Entity Delete (clause 6.17.3.1)", dependencies=WRITE, openapi_extra=request_body(entity_ids()))
async def batch_delete(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    body = await _array(request)
    items = []
    for index, value in enumerate(body):
        try:
            items.append(_Item(check_entity_id(value, f"/{index}")))
        except NgsiLdError as error:
            items.append(_Item(value if isinstance(value, str) else "", error=error))
    wanted = [item.entity_id for item in items if item.error is None]
    try:
        deleted = await entities.delete_many(tenant_name, wanted) if wanted else set()
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    seen: set[str] = set()
    for item in items:
        if item.error is None and (item.entity_id not in deleted or item.entity_id in seen):
            item.error = ResourceNotFound(f"Entity {item.entity_id} does not exist.")
        seen.add(item.entity_id)
    return _Batch(items, []).response(request)


@router.post("/query", summary="Query Entities via POST (clause 6.23.3.1)", dependencies=[Depends(require_scopes("context:read"))], openapi_extra=request_body(query()))
async def batch_query(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    body, context = await read_body(request)
    selection, params = query_selection(body, request.query_params, context)
    return await query_response(request, entities, tenant_name, context, selection, params)


# -- running a batch -------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    """The items of a batch and what storage did with the valid ones."""

    items: list[_Item]
    written: list[Written]

    def response(self, request: Request, created_status: int = 204) -> Response:
        """201 with created ids / 204 when all succeeded, else 207 with a BatchOperationResult."""
        headers = tenant_headers(request)
        if any(item.error is not None for item in self.items):
            result = {
                "success": [item.entity_id for item in self.items if item.error is None],
                "errors": [
                    {"entityId": item.entity_id, "error": item.error.to_dict(request.url.path)}
                    for item in self.items
                    if item.error is not None
                ],
            }
            return Response(orjson.dumps(result), status_code=207, media_type=JSON, headers=headers)
        created = list(dict.fromkeys(w.entity_id for w in self.written if w.outcome == "created"))
        if created and created_status == 201:
            return Response(orjson.dumps(created), status_code=201, media_type=JSON, headers=headers)
        return Response(status_code=204, headers=headers)


async def _run(
    request: Request, entities: SqlEntityStore, tenant_name: str, items: list[_Item], planner: Planner, *, create_tenant: bool
) -> _Batch:
    """Plan every valid item, write them all in one transaction, and record each one's failure."""
    plans: list[tuple[str, Plan]] = []
    planned: list[_Item] = []
    for item in items:
        if item.error is not None:
            continue
        try:
            plan = planner(item)
        except NgsiLdError as error:
            item.error = error
            continue
        plans.append((item.entity_id, _guarded(item, plan)))
        planned.append(item)
    try:
        written = await entities.write_many(tenant_name, plans, create_tenant=create_tenant) if plans else []
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    return _Batch(items, written)


def _guarded(item: _Item, plan: Plan) -> Plan:
    """``plan``, with an entity's own failure recorded on its item instead of failing the batch.

    Storage may run a plan again (a retried transaction), so each run starts from no error.
    """

    def guarded(current: Entity | None) -> Entity | None:
        item.error = None
        try:
            return plan(current)
        except NgsiLdError as error:
            item.error = error
            return None

    return guarded


def _existing(entity_id: str, change: Callable[[Entity], Entity | None]) -> Plan:
    def plan(current: Entity | None) -> Entity | None:
        if current is None:
            raise ResourceNotFound(f"Entity {entity_id} does not exist.")
        return change(current)

    return plan


async def _array(request: Request) -> list[Any]:
    body_media_type(request.headers.get("content-type"))
    body = parse_json(await request.body())
    if not isinstance(body, list) or not body:
        raise BadRequestData("The body of a batch operation is a non-empty JSON array.")
    return body


async def _entities(request: Request) -> list[_Item]:
    """The entities of a batch body, each with its own @context (or its own error)."""
    kind = body_media_type(request.headers.get("content-type"))
    body = await _array(request)
    link = link_header(request)
    contexts = resolver(request)
    items = []
    for index, value in enumerate(body):
        raw_id = value.get("id", value.get("@id")) if isinstance(value, dict) else None
        item = _Item(raw_id if isinstance(raw_id, str) else "", value)
        try:
            if not isinstance(value, dict):
                raise BadRequestData(f"Item {index} of the batch is not a JSON object (an entity).")
            check_entity_id(raw_id, f"/{index}/id")
            item.context = await contexts.resolve(request_contexts(kind, link, value))
        except NgsiLdError as error:
            item.error = error
        items.append(item)
    return items


# -- POST /entityOperations/query ------------------------------------------------------------


