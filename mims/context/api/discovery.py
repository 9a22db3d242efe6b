"""Discovery (CIM 009 V1.8.1): entity types (clause 6.25, 6.26) and attributes (6.27, 6.28).

Retrieve Available Entity Types (5.7.5) as an EntityTypeList, or EntityType objects with
``details=true``; Retrieve Details of an Entity Type (5.7.6) as EntityTypeInformation;
Retrieve Available Attributes (5.7.7) as an AttributeList, or Attribute objects with
``details=true``; Retrieve Details of an Attribute (5.7.8) as an Attribute. Type and attribute
names are compacted with the request's @context (clause 5.2.24-5.2.28).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from mims.context.api.common import PREFIX, json_response, query_context, tenant
from mims.context.api.paths import RawPathRoute
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import (
    BadRequestData,
    NonexistentTenant,
    ResourceNotFound,
)
from mims.context.ngsild.mediatypes import negotiate
from mims.context.storage import TenantNotFound
from mims.context.storage.discovery import AttributeDetails, Discovery, TypeDetails
from mims.kit.auth import require_scopes

router = APIRouter(
    prefix=PREFIX, tags=["discovery"], dependencies=[Depends(require_scopes("context:read"))], route_class=RawPathRoute
)

Tenant = Annotated[str, Depends(tenant)]
Text = Annotated[str | None, Query()]


async def _discovery(request: Request) -> Discovery:
    return Discovery(request.app.state.engine)


Reader = Annotated[Discovery, Depends(_discovery)]


@router.get("/types", summary="Retrieve Available Entity Types (clause 6.25.3.1)")
async def retrieve_types(request: Request, reader: Reader, tenant_name: Tenant, details: Text = None) -> Response:
    return await _available(
        request, reader.types, tenant_name, details,
        detailed=_entity_type, kind="EntityTypeList", member="typeList", name=lambda item: item.type,
    )


@router.get("/types/{type_name}", summary="Retrieve Details of an Entity Type (clause 6.26.3.1)")
async def retrieve_type(request: Request, type_name: str, reader: Reader, tenant_name: Tenant) -> Response:
    media_type = negotiate(request.headers.get("accept"))
    context = await query_context(request)
    found = await _read(reader.types(tenant_name, context.expand_term(type_name)), tenant_name)
    if not found:
        raise ResourceNotFound(f"No entity has type {type_name}.")
    item = found[0]
    body = {
        "id": item.type,
        "type": "EntityTypeInformation",
        "typeName": context.compact_iri(item.type),
        "entityCount": item.entity_count,
        "attributeDetails": [
            {"id": name, "type": "Attribute", "attributeName": context.compact_iri(name), "attributeTypes": list(kinds)}
            for name, kinds in item.attributes.items()
        ],
    }
    return json_response(request, body, context, media_type)


@router.get("/attributes", summary="Retrieve Available Attributes (clause 6.27.3.1)")
async def retrieve_attributes(request: Request, reader: Reader, tenant_name: Tenant, details: Text = None) -> Response:
    return await _available(
        request, reader.attributes, tenant_name, details,
        detailed=_attribute, kind="AttributeList", member="attributeList", name=lambda item: item.attribute,
    )


@router.get("/attributes/{attr_id}", summary="Retrieve Details of an Attribute (clause 6.28.3.1)")
async def retrieve_attribute(request: Request, attr_id: str, reader: Reader, tenant_name: Tenant) -> Response:
    media_type = negotiate(request.headers.get("accept"))
    context = await query_context(request)
    found = await _read(reader.attributes(tenant_name, context.expand_term(attr_id)), tenant_name)
    if not found:
        raise ResourceNotFound(f"No entity has attribute {attr_id}.")
    return json_response(request, _attribute(found[0], context), context, media_type)


async def _available(
    request: Request,
    read: Callable[[str], Awaitable[list[Any]]],
    tenant_name: str,
    details: str | None,
    *,
    detailed: Callable[[Any, ActiveContext], dict[str, Any]],
    kind: str,
    member: str,
    name: Callable[[Any], str],
) -> Response:
    """An EntityTypeList / AttributeList of the names read, or with ``details=true`` each item ``detailed``."""
    media_type = negotiate(request.headers.get("accept"))
    context = await query_context(request)
    found = await _read(read(tenant_name), tenant_name)
    if _flag(details, "details"):
        body: Any = [detailed(item, context) for item in found]
    else:
        body = {"id": _list_id(kind), "type": kind, member: [context.compact_iri(name(item)) for item in found]}
    return json_response(request, body, context, media_type)


def _entity_type(item: TypeDetails, context: ActiveContext) -> dict[str, Any]:
    """EntityType (clause 5.2.25)."""
    return {"id": item.type, "type": "EntityType", "typeName": context.compact_iri(item.type),
            "attributeNames": [context.compact_iri(name) for name in item.attributes]}


def _attribute(item: AttributeDetails, context: ActiveContext) -> dict[str, Any]:
    """Attribute (clause 5.2.28)."""
    return {"id": item.attribute, "type": "Attribute", "attributeName": context.compact_iri(item.attribute),
            "attributeCount": item.instance_count, "attributeTypes": list(item.attribute_types),
            "typeNames": [context.compact_iri(name) for name in item.type_names]}


def _list_id(kind: str) -> str:
    """EntityTypeList / AttributeList ids are fresh URNs: the lists are not stored resources."""
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4()}"


def _flag(value: str | None, parameter: str) -> bool:
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequestData(f"{parameter} must be true or false; got {value!r}.")


async def _read(pending: Any, tenant_name: str) -> Any:
    try:
        return await pending
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
