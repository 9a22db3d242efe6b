"""Entities (CIM 009 V1.8.1, clause 6.4: /entities and clause 6.5: /entities/{entityId}).

Create (5.6.1), Retrieve (5.7.1), Query (5.7.2), Delete (5.6.6), Merge (5.6.17, PATCH) and
Replace (5.6.18, PUT) Entity and Purge Entities (DELETE /entities), mapped to HTTP as clauses
6.4.3 and 6.5.3 say: 201 with Location, 409 AlreadyExists, 404 ResourceNotFound, 204 on
changes and deletes, paging with NGSILD-Results-Count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from mims.context.api.common import (
    PREFIX,
    RESULTS_COUNT_HEADER,
    change_entity,
    json_response,
    query_context,
    read_body,
    store,
    tenant,
    tenant_headers,
)
from mims.context.api.csources import federated_query, federated_retrieve
from mims.context.api.openapi import entity_fragment, ppi_ref, request_body
from mims.context.api.paths import RawPathRoute, path_segment
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.entity import check_entity_id, normalize_entity, utc_now
from mims.context.ngsild.errors import AlreadyExists, NonexistentTenant, ResourceNotFound
from mims.context.ngsild.linked import INLINE, Join, inlined, linked_entities, parse_join
from mims.context.ngsild.mediatypes import BODY_MEDIA_TYPES, ENTITY_MEDIA_TYPES, GEO_JSON, MERGE_PATCH, negotiate
from mims.context.ngsild.mutations import merge_entity, normalize_fragment, normalize_replacement, replace_entity
from mims.context.ngsild.params import paging, representation
from mims.context.ngsild.render import LOCATION, feature_collection, render_entity, render_feature
from mims.context.ngsild.selection import entity_query
from mims.context.storage import EntityExists, EntityQuery, SqlEntityStore, TenantNotFound
from mims.context.storage.base import Entity
from mims.kit.auth import require_scopes

ENTITY_PPI = "ngsi-ld-entity@1.0.0"

router = APIRouter(prefix=PREFIX, tags=["entities"], route_class=RawPathRoute)

Store = Annotated[SqlEntityStore, Depends(store)]
Tenant = Annotated[str, Depends(tenant)]
Text = Annotated[str | None, Query()]
# Clause 6.3.4: Merge Entity also takes JSON Merge Patch (RFC 7396) bodies.
MERGE_MEDIA_TYPES = (*BODY_MEDIA_TYPES, MERGE_PATCH)


def entity_location(entity_id: str) -> str:
    return f"{PREFIX}/entities/{path_segment(entity_id)}"


@router.post(
    "/entities",
    status_code=201,
    summary="Create Entity (clause 6.4.3.1)",
    dependencies=[Depends(require_scopes("context:write"))],
    openapi_extra=request_body(ppi_ref(ENTITY_PPI)),
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
    join: Text = None,
    joinLevel: Text = None,  # noqa: N803
    containedBy: Text = None,  # noqa: N803
    csf: Text = None,
    local: Text = None,
) -> Response:
    check_entity_id(entityId, "/entityId")
    media_type = negotiate(request.headers.get("accept"), ENTITY_MEDIA_TYPES)
    context = await query_context(request)
    how = representation(request.query_params, context)
    linking = parse_join(join, joinLevel, containedBy)
    try:
        entity, federation_headers = await federated_retrieve(request, entities, tenant_name, entityId, context)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    if entity is None:
        raise ResourceNotFound(f"Entity {entityId} does not exist.", headers=federation_headers)
    shown = await joined(entities, tenant_name, [entity], linking)
    if media_type == GEO_JSON:
        geometry = context.expand_term(geometryProperty) if geometryProperty else LOCATION
        features = [render_feature(item, context, how, geometry) for item in shown]
        body = features[0] if len(shown) == 1 else feature_collection(features)
        return json_response(request, body, context, media_type, federation_headers)
    rendered = [render_entity(item, context, how) for item in shown]
    body = rendered[0] if linking is None or linking.mode == INLINE else rendered  # flat: an array
    return json_response(request, body, context, media_type, federation_headers)


async def joined(entities: SqlEntityStore, tenant_name: str, found: list[Entity], linking: Join | None) -> list[Entity]:
    """``found`` with the linked entities ``join`` asks for (clause 4.5.23): inlined into their
    Relationships, or after ``found`` for ``flat``. Linked entities are looked up locally."""
    if linking is None:
        return found

    async def fetch(ids: list[str]) -> dict[str, Entity]:
        page = await entities.query(tenant_name, EntityQuery(ids=tuple(ids)), len(ids), 0, False)
        return {item["id"]: item for item in page.entities}

    linked = await linked_entities(found, linking, fetch)
    if linking.mode == INLINE:
        return [inlined(entity, linked, linking) for entity in found]
    return [*found, *linked.values()]


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
    csf: Text = None,
    join: Text = None,
    joinLevel: Text = None,  # noqa: N803
    containedBy: Text = None,  # noqa: N803
) -> Response:
    context = await query_context(request)
    params = request.query_params
    return await query_response(request, entities, tenant_name, context, entity_query(params, context), params)


async def query_response(
    request: Request,
    entities: SqlEntityStore,
    tenant_name: str,
    context: ActiveContext,
    selection: EntityQuery,
    params: Mapping[str, Any],
) -> Response:
    """The page of entities ``selection`` finds, as Query Entities answers (clause 6.4.3.2).

    ``params`` choose the representation and the page (the URL's, or with POST
    entityOperations/query those merged with the Query body's).
    """
    settings = request.app.state.settings
    media_type = negotiate(request.headers.get("accept"), ENTITY_MEDIA_TYPES)
    how = representation(params, context)
    linking = parse_join(params.get("join"), params.get("joinLevel"), params.get("containedBy"))
    page = paging(params.get("limit"), params.get("offset"), params.get("count"), settings.default_limit, settings.max_limit)
    try:
        found, headers = await federated_query(
            request, entities, tenant_name, selection, context, page.limit, page.offset, page.count
        )
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    if found.count is not None:
        headers[RESULTS_COUNT_HEADER] = str(found.count)
    shown = await joined(entities, tenant_name, list(found.entities), linking)
    if media_type == GEO_JSON:
        geometry_property = params.get("geometryProperty")
        geometry_iri = context.expand_term(geometry_property) if geometry_property else LOCATION
        body = feature_collection([render_feature(e, context, how, geometry_iri) for e in shown])
        return json_response(request, body, context, media_type, headers)
    body = [render_entity(entity, context, how) for entity in shown]
    return json_response(request, body, context, media_type, headers)


@router.patch(
    "/entities/{entityId}",
    status_code=204,
    summary="Merge Entity (clause 6.5.3.4)",
    dependencies=[Depends(require_scopes("context:write"))],
    openapi_extra=request_body(entity_fragment(), merge_patch=True),
)
async def merge_entity_route(request: Request, entityId: str, entities: Store, tenant_name: Tenant) -> Response:  # noqa: N803
    check_entity_id(entityId, "/entityId")
    body, context = await read_body(request, MERGE_MEDIA_TYPES)
    now = utc_now()
    fragment = normalize_fragment(body, context, now, entityId, nulls=True)
    await change_entity(entities, tenant_name, entityId, lambda entity: merge_entity(_present(entity), fragment, now))
    return Response(status_code=204, headers=tenant_headers(request))


@router.put(
    "/entities/{entityId}",
    status_code=204,
    summary="Replace Entity (clause 6.5.3.3)",
    dependencies=[Depends(require_scopes("context:write"))],
    openapi_extra=request_body(entity_fragment()),
)
async def replace_entity_route(request: Request, entityId: str, entities: Store, tenant_name: Tenant) -> Response:  # noqa: N803
    check_entity_id(entityId, "/entityId")
    body, context = await read_body(request)
    now = utc_now()
    replacement = normalize_replacement(body, context, now, entityId)
    await change_entity(entities, tenant_name, entityId, lambda entity: replace_entity(_present(entity), replacement, now))
    return Response(status_code=204, headers=tenant_headers(request))


@router.delete(
    "/entities",
    status_code=204,
    summary="Purge Entities (DELETE /entities, clause 6.4.3)",
    dependencies=[Depends(require_scopes("context:write"))],
)
async def purge_entities(request: Request, entities: Store, tenant_name: Tenant) -> Response:
    """Delete every entity the query parameters of Query Entities select (at least one selector)."""
    context = await query_context(request)
    # local=true alone selects everything; a purge must name what it deletes.
    selection = entity_query({k: v for k, v in request.query_params.items() if k != "local"}, context)
    try:
        await entities.purge(tenant_name, selection)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    return Response(status_code=204, headers=tenant_headers(request))


def _present(entity: Entity | None) -> Entity:
    assert entity is not None  # change_entity only runs plans on existing entities
    return entity
