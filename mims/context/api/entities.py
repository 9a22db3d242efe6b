"""Entities (CIM 009 V1.8.1, clause 6.4: /entities and clause 6.5: /entities/{entityId}).

Create (5.6.1), Retrieve (5.7.1), Query (5.7.2) and Delete (5.6.6) Entity, mapped to HTTP as
clauses 6.4.3 and 6.5.3 say: 201 with Location, 409 AlreadyExists, 404 ResourceNotFound,
204 on delete, paging with NGSILD-Results-Count.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from mims.context.api.common import (
    PREFIX,
    RESULTS_COUNT_HEADER,
    json_response,
    query_context,
    read_body,
    store,
    tenant,
    tenant_headers,
)
from mims.context.ngsild.entity import check_entity_id, normalize_entity
from mims.context.ngsild.errors import AlreadyExists, NonexistentTenant, ResourceNotFound
from mims.context.ngsild.mediatypes import ENTITY_MEDIA_TYPES, GEO_JSON, negotiate
from mims.context.ngsild.params import paging, representation
from mims.context.ngsild.render import LOCATION, feature_collection, render_entity, render_feature
from mims.context.ngsild.selection import entity_query
from mims.context.storage import EntityExists, SqlEntityStore, TenantNotFound
from mims.kit.auth import require_scopes

ENTITY_PPI = "ngsi-ld-entity@1.0.0"

router = APIRouter(prefix=PREFIX, tags=["entities"])

Store = Annotated[SqlEntityStore, Depends(store)]
Tenant = Annotated[str, Depends(tenant)]
Text = Annotated[str | None, Query()]


def entity_location(entity_id: str) -> str:
    return f"{PREFIX}/entities/{quote(entity_id, safe=':')}"


@router.post(
    "/entities",
    status_code=201,
    summary="Create Entity (clause 6.4.3.1)",
    dependencies=[Depends(require_scopes("context:write"))],
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {}, "application/ld+json": {}}}},
)
async def create_entity(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    body, context = await read_body(request)
    entity = normalize_entity(body, context)
    try:
        await entities.create(tenant_name, entity)
    except EntityExists:
        raise AlreadyExists(f"Entity {entity['id']} already exists.") from None
    headers = {"Location": entity_location(entity["id"]), **tenant_headers(request)}
    return Response(status_code=201, headers=headers)


@router.get(
    "/entities/{entityId}",
    summary="Retrieve Entity (clause 6.5.3.1)",
    dependencies=[Depends(require_scopes("context:read"))],
)
async def retrieve_entity(
    request: Request,
    entityId: str,  # noqa: N803 - the spec's name
    entities: Store,
    tenant_name: Tenant,
    attrs: Text = None,
    pick: Text = None,
    omit: Text = None,
    options: Text = None,
    format: Text = None,  # noqa: A002 - the spec's name
    lang: Text = None,
    datasetId: Text = None,  # noqa: N803
    geometryProperty: Text = None,  # noqa: N803
) -> Response:
    check_entity_id(entityId, "/entityId")
    media_type = negotiate(request.headers.get("accept"), ENTITY_MEDIA_TYPES)
    context = await query_context(request)
    how = representation(request.query_params, context)
    try:
        entity = await entities.get(tenant_name, entityId)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    if entity is None:
        raise ResourceNotFound(f"Entity {entityId} does not exist.")
    if media_type == GEO_JSON:
        geometry = context.expand_term(geometryProperty) if geometryProperty else LOCATION
        return json_response(request, render_feature(entity, context, how, geometry), context, media_type)
    return json_response(request, render_entity(entity, context, how), context, media_type)


@router.delete(
    "/entities/{entityId}",
    status_code=204,
    summary="Delete Entity (clause 6.5.3.2)",
    dependencies=[Depends(require_scopes("context:write"))],
)
async def delete_entity(request: Request, entityId: str, entities: Store, tenant_name: Tenant) -> Response:  # noqa: N803
    check_entity_id(entityId, "/entityId")
    try:
        deleted = await entities.delete(tenant_name, entityId)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    if not deleted:
        raise ResourceNotFound(f"Entity {entityId} does not exist.")
    return Response(status_code=204, headers=tenant_headers(request))


@router.get(
    "/entities",
    summary="Query Entities (clause 6.4.3.2)",
    dependencies=[Depends(require_scopes("context:read"))],
)
async def query_entities(
    request: Request,
    entities: Store,
    tenant_name: Tenant,
    id: Text = None,  # noqa: A002 - the spec's name
    idPattern: Text = None,  # noqa: N803
    type: Text = None,  # noqa: A002
    attrs: Text = None,
    pick: Text = None,
    omit: Text = None,
    q: Text = None,
    scopeQ: Text = None,  # noqa: N803
    georel: Text = None,
    geometry: Text = None,
    coordinates: Text = None,
    geoproperty: Text = None,
    geometryProperty: Text = None,  # noqa: N803
    lang: Text = None,
    options: Text = None,
    format: Text = None,  # noqa: A002
    limit: Text = None,
    offset: Text = None,
    count: Text = None,
    local: Text = None,
) -> Response:
    settings = request.app.state.settings
    media_type = negotiate(request.headers.get("accept"), ENTITY_MEDIA_TYPES)
    context = await query_context(request)
    params = request.query_params
    how = representation(params, context)
    selection = entity_query(params, context)
    page = paging(limit, offset, count, settings.default_limit, settings.max_limit)
    try:
        found = await entities.query(tenant_name, selection, page.limit, page.offset, page.count)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    headers = {RESULTS_COUNT_HEADER: str(found.count)} if found.count is not None else {}
    if media_type == GEO_JSON:
        geometry_iri = context.expand_term(geometryProperty) if geometryProperty else LOCATION
        body = feature_collection([render_feature(e, context, how, geometry_iri) for e in found.entities])
        return json_response(request, body, context, media_type, headers)
    body = [render_entity(entity, context, how) for entity in found.entities]
    return json_response(request, body, context, media_type, headers)
