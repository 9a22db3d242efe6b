"""Entity attributes (CIM 009 V1.8.1, clause 6.6: /entities/{entityId}/attrs and clause 6.7:
/entities/{entityId}/attrs/{attrId}).

Append (5.6.3, POST, ``options=noOverwrite``) and Update (5.6.2, PATCH) Entity Attributes answer
204 when every attribute was changed and 207 with an UpdateResult otherwise (clauses 6.6.3.1 and
6.6.3.2); Partial Attribute Update (5.6.4, PATCH), Replace Attribute (5.6.19, PUT) and Delete
Attribute (5.6.5, DELETE with ``datasetId`` or ``deleteAll``) answer 204 or 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from mims.context.api.common import (
    PREFIX,
    change_entity,
    json_response,
    query_context,
    read_body,
    store,
    tenant,
    tenant_headers,
)
from mims.context.api.openapi import ENTITY, entity_fragment, ppi_ref, request_body
from mims.context.api.paths import RawPathRoute
from mims.context.ngsild.attributes import is_uri
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.entity import check_entity_id, utc_now
from mims.context.ngsild.errors import BadRequestData
from mims.context.ngsild.mediatypes import JSON
from mims.context.ngsild.mutations import (
    UpdateResult,
    append_attributes,
    delete_attribute,
    normalize_attribute,
    normalize_fragment,
    partial_attribute_update,
    replace_attribute,
    update_attributes,
)
from mims.context.ngsild.params import names
from mims.context.storage import SqlEntityStore
from mims.context.storage.base import Entity
from mims.kit.auth import require_scopes

router = APIRouter(prefix=PREFIX, tags=["attributes"], route_class=RawPathRoute)

Store = Annotated[SqlEntityStore, Depends(store)]
Tenant = Annotated[str, Depends(tenant)]
Text = Annotated[str | None, Query()]
WRITE = [Depends(require_scopes("context:write"))]
FRAGMENT = request_body(entity_fragment())
ATTRIBUTE = request_body(ppi_ref(ENTITY, "Attribute"))
NO_OVERWRITE = "noOverwrite"


def options_set(value: str | None, allowed: frozenset[str]) -> set[str]:
    """The ``options`` of a write request, refusing any this operation does not know."""
    chosen = set(names(value, "options") or ())
    unknown = chosen - allowed
    if unknown:
        raise BadRequestData(f"Unknown options {', '.join(sorted(unknown))}; supported here: {', '.join(sorted(allowed)) or 'none'}.")
    return chosen


def update_response(request: Request, result: UpdateResult, context: ActiveContext) -> Response:
    """204 when every attribute was changed, else 207 with the UpdateResult (clause 6.6.3)."""
    if not result.not_updated:
        return Response(status_code=204, headers=tenant_headers(request))
    response = json_response(request, result.to_json(context), context, JSON)
    response.status_code = 207
    return response


@router.post(
    "/entities/{entityId}/attrs",
    summary="Append Entity Attributes (clause 6.6.3.1)",
    dependencies=WRITE,
    openapi_extra=FRAGMENT,
    status_code=204,
)
async def append_entity_attributes(
    request: Request, entityId: str, entities: Store, tenant_name: Tenant, options: Text = None
) -> Response:
    check_entity_id(entityId, "/entityId")
    no_overwrite = NO_OVERWRITE in options_set(options, frozenset({NO_OVERWRITE}))
    body, context = await read_body(request)
    now = utc_now()
    fragment = normalize_fragment(body, context, now, entityId)
    result = UpdateResult()

    def plan(entity: Entity | None) -> Entity | None:
        new, outcome = append_attributes(_present(entity), fragment, now, no_overwrite=no_overwrite)
        result.updated[:], result.not_updated[:] = outcome.updated, outcome.not_updated
        return new

    await change_entity(entities, tenant_name, entityId, plan)
    return update_response(request, result, context)


@router.patch(
    "/entities/{entityId}/attrs",
    summary="Update Entity Attributes (clause 6.6.3.2)",
    dependencies=WRITE,
    openapi_extra=FRAGMENT,
    status_code=204,
)
async def update_entity_attributes(request: Request, entityId: str, entities: Store, tenant_name: Tenant) -> Response:
    check_entity_id(entityId, "/entityId")
    body, context = await read_body(request)
    now = utc_now()
    fragment = normalize_fragment(body, context, now, entityId, nulls=True)
    result = UpdateResult()

    def plan(entity: Entity | None) -> Entity | None:
        new, outcome = update_attributes(_present(entity), fragment, now)
        result.updated[:], result.not_updated[:] = outcome.updated, outcome.not_updated
        return new

    await change_entity(entities, tenant_name, entityId, plan)
    return update_response(request, result, context)


@router.patch(
    "/entities/{entityId}/attrs/{attrId}",
    status_code=204,
    summary="Partial Attribute Update (clause 6.7.3.1)",
    dependencies=WRITE,
    openapi_extra=ATTRIBUTE,
)
async def partial_update(request: Request, entityId: str, attrId: str, entities: Store, tenant_name: Tenant) -> Response:
    check_entity_id(entityId, "/entityId")
    body, context = await read_body(request)
    now = utc_now()
    iri, _ = normalize_attribute(attrId, body, context, now, nulls=True)

    def plan(current: Entity | None) -> Entity | None:
        entity = _present(current)
        existing = _instance(entity, iri, body.get("datasetId") if isinstance(body, dict) else None)
        _, patch = normalize_attribute(attrId, body, context, now, existing=existing, nulls=True)
        return partial_attribute_update(entity, iri, patch, now)

    await change_entity(entities, tenant_name, entityId, plan)
    return Response(status_code=204, headers=tenant_headers(request))


@router.put(
    "/entities/{entityId}/attrs/{attrId}",
    status_code=204,
    summary="Replace Attribute (clause 6.7.3.3)",
    dependencies=WRITE,
    openapi_extra=ATTRIBUTE,
)
async def replace_entity_attribute(request: Request, entityId: str, attrId: str, entities: Store, tenant_name: Tenant) -> Response:
    check_entity_id(entityId, "/entityId")
    body, context = await read_body(request)
    now = utc_now()
    iri, replacement = normalize_attribute(attrId, body, context, now)
    await change_entity(entities, tenant_name, entityId, lambda entity: replace_attribute(_present(entity), iri, replacement, now))
    return Response(status_code=204, headers=tenant_headers(request))


@router.delete(
    "/entities/{entityId}/attrs/{attrId}",
    status_code=204,
    summary="Delete Entity Attribute (clause 6.7.3.2)",
    dependencies=WRITE,
)
async def delete_entity_attribute(
    request: Request,
    entityId: str,
    attrId: str,
    entities: Store,
    tenant_name: Tenant,
    datasetId: Text = None,
    deleteAll: Text = None,
) -> Response:
    check_entity_id(entityId, "/entityId")
    if datasetId is not None and not is_uri(datasetId):
        raise BadRequestData(f"datasetId must be a URI; got {datasetId!r}.")
    if deleteAll not in (None, "true", "false"):
        raise BadRequestData(f"deleteAll must be true or false; got {deleteAll!r}.")
    context = await query_context(request)
    iri = context.expand_term(attrId)
    now = utc_now()
    await change_entity(
        entities,
        tenant_name,
        entityId,
        lambda entity: delete_attribute(_present(entity), iri, now, dataset_id=datasetId, delete_all=deleteAll == "true"),
    )
    return Response(status_code=204, headers=tenant_headers(request))


def _present(entity: Entity | None) -> Entity:
    assert entity is not None  # change_entity only runs plans on existing entities
    return entity


def _instance(entity: Entity, iri: str, dataset_id: Any) -> dict[str, Any] | None:
    for instance in entity["attributes"].get(iri, ()):
        if instance.get("datasetId") == dataset_id:
            return instance
    return None
