"""What every NGSI-LD route does alike: tenant, @context, request bodies and JSON responses.

Clause 6.3.14 (the ``NGSILD-Tenant`` header, echoed on responses), clause 6.3.5 (@context from
the Link header or the body), clause 6.3.4 (media types) and clause 6.3.6 (responses: Link header
for ``application/json``, inline @context for ``application/ld+json``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response

from mims.context.ngsild.context import ActiveContext, ContextResolver, context_link, request_contexts
from mims.context.ngsild.errors import BadRequestData, InvalidRequest, NonexistentTenant, ResourceNotFound
from mims.context.ngsild.mediatypes import BODY_MEDIA_TYPES, JSON_LD, body_media_type
from mims.context.storage import SqlEntityStore, TenantNotFound
from mims.context.storage.base import DEFAULT_TENANT, Entity
from mims.context.storage.sql import EntityNotFound, Plan

PREFIX = "/ngsi-ld/v1"
TENANT_HEADER = "NGSILD-Tenant"
RESULTS_COUNT_HEADER = "NGSILD-Results-Count"
_TENANT = re.compile(r"[A-Za-z0-9_.:/-]{1,256}")


async def tenant(request: Request) -> str:
    """The tenant a request addresses (clause 6.3.14); the default tenant when the header is absent."""
    value = request.headers.get(TENANT_HEADER)
    if value is None:
        return DEFAULT_TENANT
    if not _TENANT.fullmatch(value):
        raise BadRequestData(f"{TENANT_HEADER} must be 1 to 256 letters, digits or _ . : / -; got {value!r}.")
    return value


def tenant_headers(request: Request) -> dict[str, str]:
    value = request.headers.get(TENANT_HEADER)
    return {TENANT_HEADER: value} if value is not None else {}


async def store(request: Request) -> SqlEntityStore:
    return SqlEntityStore(request.app.state.engine, request.app.state.entity_listeners)


async def change_entity(entities: SqlEntityStore, tenant_name: str, entity_id: str, plan: Plan) -> Entity | None:
    """Apply ``plan`` to one existing entity; 404 NonexistentTenant / ResourceNotFound otherwise."""
    try:
        return await entities.update(tenant_name, entity_id, plan)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    except EntityNotFound:
        raise ResourceNotFound(f"Entity {entity_id} does not exist.") from None


def resolver(request: Request) -> ContextResolver:
    return request.app.state.context_resolver


def link_header(request: Request) -> str | None:
    links = request.headers.getlist("link")
    return ", ".join(links) if links else None


async def read_body(request: Request, accepted: Sequence[str] = BODY_MEDIA_TYPES) -> tuple[Any, ActiveContext]:
    """The parsed JSON body and the @context in effect for it (clauses 6.3.4 and 6.3.5).

    ``accepted`` are the body media types the operation takes.
    """
    kind = body_media_type(request.headers.get("content-type"), accepted)
    body = parse_json(await request.body())
    contexts = request_contexts(kind, link_header(request), body)
    return body, await resolver(request).resolve(contexts)


def parse_json(raw: bytes) -> Any:
    """A JSON request body; refused when it is not JSON or holds U+0000, which no store keeps
    (PostgreSQL text and jsonb cannot hold it)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"The request body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.") from None
    # Cheap test first: U+0000 can only arrive escaped, and then this byte sequence is present.
    if b"\\u0000" in raw and _holds_nul(body):
        raise InvalidRequest("The request body contains the character U+0000, which cannot be stored.")
    return body


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


async def query_context(request: Request) -> ActiveContext:
    """The @context of a request without a body: its Link header, else the core context."""
    return await resolver(request).resolve(request_contexts(None, link_header(request)))


def json_response(
    request: Request, body: Any, context: ActiveContext, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    """A JSON, JSON-LD or GeoJSON response with the @context where clause 6.3.6 puts it."""
    all_headers = {**tenant_headers(request), **(headers or {})}
    if media_type == JSON_LD:
        body = _with_context(body, context)
    else:
        all_headers["Link"] = context_link(context.link_url)
    return Response(orjson.dumps(body), media_type=media_type, headers=all_headers)


def _with_context(body: Any, context: ActiveContext) -> Any:
    if isinstance(body, list):
        return [_with_context(item, context) for item in body]
    return {"@context": context.document_context, **body}

