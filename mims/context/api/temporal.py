"""Temporal evolution of entities (CIM 009 V1.8.1, clauses 6.18 to 6.22).

``/temporal/entities`` (6.18: Create or Update Temporal Representation 5.6.11, Query Temporal
Evolution 5.7.4), ``/temporal/entities/{entityId}`` (6.19: Retrieve 5.7.3, Delete 5.6.16),
``.../attrs`` (6.20: Add Attributes 5.6.12), ``.../attrs/{attrId}`` (6.21: Delete Attribute
5.6.13), ``.../attrs/{attrId}/{instanceId}`` (6.22: Modify 5.6.14 and Delete 5.6.15 Attribute
Instance) and ``/temporal/entityOperations/query`` (6.24: Query Temporal Evolution via POST, a
Query with temporalQ as the body). Long histories come back as 206 Partial Content with a ``Content-Range`` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from mims.context.api.common import (
    PREFIX,
    RESULTS_COUNT_HEADER,
    json_response,
    query_context,
    read_body,
    tenant,
    tenant_headers,
)
from mims.context.api.openapi import ENTITY, entity_fragment, ppi_ref, query, request_body
from mims.context.api.paths import RawPathRoute, path_segment
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.entity import check_entity_id, utc_now
from mims.context.ngsild.errors import BadRequestData, NonexistentTenant, ResourceNotFound
from mims.context.ngsild.mediatypes import negotiate
from mims.context.ngsild.params import paging
from mims.context.ngsild.query_body import query_selection
from mims.context.ngsild.selection import entity_query
from mims.context.ngsild.temporal import (
    TemporalPage,
    normalize_instance,
    normalize_temporal_entity,
    normalize_temporal_fragment,
    render_temporal,
    temporal_request,
)
from mims.context.storage import EntityQuery, TenantNotFound
from mims.context.storage.temporal import TemporalEntityNotFound, TemporalStore
from mims.kit.auth import require_scopes

router = APIRouter(prefix=PREFIX, tags=["temporal"], route_class=RawPathRoute)

READ = [Depends(require_scopes("context:read"))]
WRITE = [Depends(require_scopes("context:write"))]
Text = Annotated[str | None, Query()]


async def history(request: Request) -> TemporalStore:
    return TemporalStore(request.app.state.engine)


History = Annotated[TemporalStore, Depends(history)]
Tenant = Annotated[str, Depends(tenant)]


def temporal_location(entity_id: str) -> str:
    return f"{PREFIX}/temporal/entities/{path_segment(entity_id)}"


def _no_content(request: Request, status: int = 204, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, headers={**(headers or {}), **tenant_headers(request)})


def _missing_tenant(tenant_name: str) -> NonexistentTenant:
    return NonexistentTenant(f"Tenant {tenant_name!r} does not exist.")


def _missing_entity(entity_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"Entity {entity_id} has no temporal representation.")


@router.post("/temporal/entities", summary="Create or Update Temporal Representation of Entity (clause 6.18.3.1)",
             dependencies=WRITE, openapi_extra=request_body(ppi_ref(ENTITY)), status_code=201)
async def upsert_temporal_entity(request: Request, store: History, tenant_name: Tenant) -> Response:
    body, context = await read_body(request)
    now = utc_now()
    entity = normalize_temporal_entity(body, context, now)
    if await store.upsert(tenant_name, entity, now):
        return _no_content(request, 201, {"Location": temporal_location(entity["id"])})
    return _no_content(request)


@router.get("/temporal/entities", summary="Query Temporal Evolution of Entities (clause 6.18.3.2)", dependencies=READ)
async def query_temporal_entities(
    request: Request,
    store: History,
    tenant_name: Tenant,
    id: Text = None,  # noqa: A002 - the spec's names
    idPattern: Text = None,  # noqa: N803
    type: Text = None,  # noqa: A002
    attrs: Text = None,
    q: Text = None,
    scopeQ: Text = None,  # noqa: N803
    georel: Text = None,
    geometry: Text = None,
    coordinates: Text = None,
    geoproperty: Text = None,
    timerel: Text = None,
    timeAt: Text = None,  # noqa: N803
    endTimeAt: Text = None,  # noqa: N803
    timeproperty: Text = None,
    lastN: Text = None,  # noqa: N803
    aggrMethods: Text = None,  # noqa: N803
    aggrPeriodDuration: Text = None,  # noqa: N803
    options: Text = None,
    format: Text = None,  # noqa: A002
    limit: Text = None,
    offset: Text = None,
    count: Text = None,
) -> Response:
    context = await query_context(request)
    params = request.query_params
    return await _temporal_query(request, store, tenant_name, context, entity_query(params, context), params)


@router.post("/temporal/entityOperations/query",
             summary="Query Temporal Evolution of Entities via POST (clause 6.24.3.1)", dependencies=READ,
             openapi_extra=request_body(query()))
async def query_temporal_entities_via_post(request: Request, store: History, tenant_name: Tenant) -> Response:
    body, context = await read_body(request)
    selection, params = query_selection(body, request.query_params, context)
    return await _temporal_query(request, store, tenant_name, context, selection, params)


async def _temporal_query(
    request: Request, store: TemporalStore, tenant_name: str, context: ActiveContext, selection: EntityQuery,
    params: Mapping[str, Any],
) -> Response:
    """The page of temporal entities ``selection`` finds, shaped by ``params`` (clause 6.18.3.2)."""
    settings = request.app.state.settings
    media_type = negotiate(request.headers.get("accept"))
    wanted = temporal_request(params, context)
    page = paging(params.get("limit"), params.get("offset"), params.get("count"), settings.default_limit,
                  settings.max_limit)
    try:
        found, total = await store.query(tenant_name, selection, wanted.instance_filter(), page.limit, page.offset, page.count)
    except TenantNotFound:
        raise _missing_tenant(tenant_name) from None
    rendered = render_temporal(found, context, wanted, settings.temporal_max_instances)
    headers = {RESULTS_COUNT_HEADER: str(total)} if total is not None else {}
    return _temporal_response(request, rendered, rendered.entities, context, media_type, headers)


@router.get("/temporal/entities/{entityId}", summary="Retrieve Temporal Evolution of an Entity (clause 6.19.3.1)",
            dependencies=READ)
async def retrieve_temporal_entity(
    request: Request,
    entityId: str,  # noqa: N803 - the spec's names
    store: History,
    tenant_name: Tenant,
    attrs: Text = None,
    timerel: Text = None,
    timeAt: Text = None,  # noqa: N803
    endTimeAt: Text = None,  # noqa: N803
    timeproperty: Text = None,
    lastN: Text = None,  # noqa: N803
    aggrMethods: Text = None,  # noqa: N803
    aggrPeriodDuration: Text = None,  # noqa: N803
    options: Text = None,
    format: Text = None,  # noqa: A002
    datasetId: Text = None,  # noqa: N803
) -> Response:
    check_entity_id(entityId, "/entityId")
    media_type = negotiate(request.headers.get("accept"))
    context = await query_context(request)
    wanted = temporal_request(request.query_params, context)
    try:
        entity = await store.get(tenant_name, entityId, wanted.instance_filter())
    except TenantNotFound:
        raise _missing_tenant(tenant_name) from None
    if entity is None:
        raise _missing_entity(entityId)
    rendered = render_temporal([entity], context, wanted, request.app.state.settings.temporal_max_instances)
    return _temporal_response(request, rendered, rendered.entities[0], context, media_type)


def _temporal_response(
    request: Request,
    rendered: TemporalPage,
    body: Any,
    context: ActiveContext,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """200, or 206 Partial Content with ``Content-Range`` when histories were cut (clause 6.3.10)."""
    all_headers = dict(headers or {})
    if rendered.content_range is not None:
        all_headers["Content-Range"] = rendered.content_range
    response = json_response(request, body, context, media_type, all_headers)
    if rendered.content_range is not None:
        response.status_code = 206
    return response


@router.delete("/temporal/entities/{entityId}", status_code=204, dependencies=WRITE,
               summary="Delete Temporal Representation of an Entity (clause 6.19.3.2)")
async def delete_temporal_entity(request: Request, entityId: str, store: History, tenant_name: Tenant) -> Response:  # noqa: N803
    check_entity_id(entityId, "/entityId")
    try:
        deleted = await store.delete(tenant_name, entityId)
    except TenantNotFound:
        raise _missing_tenant(tenant_name) from None
    if not deleted:
        raise _missing_entity(entityId)
    return _no_content(request)


@router.post("/temporal/entities/{entityId}/attrs", status_code=204, dependencies=WRITE, openapi_extra=request_body(entity_fragment()),
             summary="Add Attributes to Temporal Representation of an Entity (clause 6.20.3.1)")
async def append_temporal_attributes(request: Request, entityId: str, store: History, tenant_name: Tenant) -> Response:  # noqa: N803
    check_entity_id(entityId, "/entityId")
    body, context = await read_body(request)
    now = utc_now()
    attributes = normalize_temporal_fragment(body, context, now)
    try:
        await store.append(tenant_name, entityId, attributes, now)
    except TenantNotFound:
        raise _missing_tenant(tenant_name) from None
    except TemporalEntityNotFound:
        raise _missing_entity(entityId) from None
    return _no_content(request)


@router.delete("/temporal/entities/{entityId}/attrs/{attrId}", status_code=204, dependencies=WRITE,
               summary="Delete Attribute from Temporal Representation of an Entity (clause 6.21.3.1)")
async def delete_temporal_attribute(
    request: Request,
    entityId: str,  # noqa: N803 - the spec's names
    attrId: str,  # noqa: N803
    store: History,
    tenant_name: Tenant,
    datasetId: Text = None,  # noqa: N803
    deleteAll: Text = None,  # noqa: N803
) -> Response:
    check_entity_id(entityId, "/entityId")
    if deleteAll not in (None, "true", "false"):
        raise BadRequestData(f"deleteAll must be true or false; got {deleteAll!r}.")
    context = await query_context(request)
    attribute = context.expand_term(attrId)
    try:
        deleted = await store.delete_attribute(tenant_name, entityId, attribute, datasetId, deleteAll == "true")
    except TenantNotFound:
        raise _missing_tenant(tenant_name) from None
    except TemporalEntityNotFound:
        raise _missing_entity(entityId) from None
    if not deleted:
        which = f" with datasetId {datasetId}" if datasetId and deleteAll != "true" else ""
        raise ResourceNotFound(f"Entity {entityId} has no instances of attribute {attrId}{which}.")
    return _no_content(request)


@router.patch("/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}", status_code=204, dependencies=WRITE,
              openapi_extra=request_body(entity_fragment()), summary="Modify Attribute instance in Temporal Representation (clause 6.22.3.1)")
async def modify_temporal_instance(
    request: Request, entityId: str, attrId: str, instanceId: str, store: History, tenant_name: Tenant  # noqa: N803
) -> Response:
    check_entity_id(entityId, "/entityId")
    body, context = await read_body(request)
    attribute = context.expand_term(attrId)
    now = utc_now()
    instance = normalize_instance(body, attribute, context, now)
    try:
        replaced = await store.replace_instance(tenant_name, entityId, attribute, instanceId, instance, now)
    except TenantNotFound:
        raise _missing_tenant(tenant_name) from None
    except TemporalEntityNotFound:
        raise _missing_entity(entityId) from None
    if not replaced:
        raise ResourceNotFound(f"Attribute {attrId} of entity {entityId} has no instance {instanceId}.")
    return _no_content(request)


@router.delete("/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}", status_code=204, dependencies=WRITE,
               summary="Delete Attribute instance from Temporal Representation (clause 6.22.3.2)")
async def delete_temporal_instance(
    request: Request, entityId: str, attrId: str, instanceId: str, store: History, tenant_name: Tenant  # noqa: N803
) -> Response:
    check_entity_id(entityId, "/entityId")
    context = await query_context(request)
    attribute = context.expand_term(attrId)
    try:
        deleted = await store.delete_instance(tenant_name, entityId, attribute, instanceId)
    except TenantNotFound:
        raise _missing_tenant(tenant_name) from None
    except TemporalEntityNotFound:
        raise _missing_entity(entityId) from None
    if not deleted:
        raise ResourceNotFound(f"Attribute {attrId} of entity {entityId} has no instance {instanceId}.")
    return _no_content(request)
