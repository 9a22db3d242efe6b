"""@context management (CIM 009 V1.8.1, clause 5.13; HTTP binding clauses 6.29 and 6.30).

Add @context (5.13.2, POST /jsonldContexts: 201 with Location), List @contexts (5.13.3, GET
/jsonldContexts, ``details`` and ``kind``), Serve @context (5.13.4, GET
/jsonldContexts/{contextId}: the content of Hosted and ImplicitlyCreated @contexts, 422 for
Cached ones, metadata for all with ``details=true``) and Delete and Reload @context (5.13.5,
DELETE /jsonldContexts/{contextId}, ``reload=true`` downloads a Cached @context again; 504 when
that fails). The NGSI-LD core @context is never stored here and cannot be deleted (400).
The store is the broker's, shared by all tenants: @contexts are public documents named by URL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, ClassVar

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.responses import Response

from mims.context.api.common import PREFIX, parse_json, resolver, tenant, tenant_headers
from mims.context.api.openapi import local_context, request_body
from mims.context.api.paths import RawPathRoute
from mims.context.ngsild.errors import (
    BadRequestData,
    LdContextNotAvailable,
    OperationNotSupported,
    ResourceNotFound,
)
from mims.context.ngsild.jsonld_contexts import CORE_URLS, ContextRegistry
from mims.context.ngsild.mediatypes import JSON, JSON_LD, body_media_type, negotiate
from mims.context.storage.contexts import CACHED, KINDS, StoredContext
from mims.kit.auth import require_scopes
from mims.kit.periodic import every
from ppi_schemas.jsonld import ContextNotAvailable
from ppi_schemas.jsonld.loader import NGSI_LD_CORE_CONTEXT_URL

router = APIRouter(
    prefix=PREFIX, tags=["@context management"], dependencies=[Depends(tenant)], route_class=RawPathRoute
)

Text = Annotated[str | None, Query()]
logger = logging.getLogger(__name__)


class ContextReloadFailed(LdContextNotAvailable):
    """Re-downloading a Cached @context failed: LdContextNotAvailable, with the 504 of clause 6.30.3.2."""

    http_status: ClassVar[int] = 504


async def registry(request: Request) -> ContextRegistry:
    found = resolver(request).registry
    assert found is not None, "the broker resolves @contexts through its @context store"
    return found


Registry = Annotated[ContextRegistry, Depends(registry)]


@router.post(
    "/jsonldContexts",
    status_code=201,
    summary="Add @context (clause 6.29.3.1)",
    dependencies=[Depends(require_scopes("context:write"))],
    openapi_extra=request_body(local_context()),
)
async def add_context(request: Request, contexts: Registry) -> Response:
    body_media_type(request.headers.get("content-type"))
    body = parse_json(await request.body())
    if not isinstance(body, dict) or "@context" not in body:
        raise BadRequestData("The body must be a JSON object with an @context member holding a JSON-LD local context.")
    extra = sorted(key for key in body if key != "@context")
    if extra:
        raise BadRequestData(f"The body may only hold @context; remove {', '.join(extra)}.")
    value = body["@context"]
    entries = value if isinstance(value, list) else [value]
    if not entries or not all(isinstance(entry, (str, dict)) for entry in entries):
        raise BadRequestData("@context must be a URL, a context object, or a non-empty array of those.")
    await resolver(request).check(entries)
    record = await contexts.add_hosted({"@context": value})
    headers = {"Location": contexts.url_for(record.local_id, _base(request)), **tenant_headers(request)}
    return Response(status_code=201, headers=headers)


@router.get(
    "/jsonldContexts",
    summary="List @contexts (clause 6.29.3.2)",
    dependencies=[Depends(require_scopes("context:read"))],
)
async def list_contexts(request: Request, contexts: Registry, details: Text = None, kind: Text = None) -> Response:
    with_details = _flag(details, "details")
    if kind is not None and kind not in KINDS:
        raise BadRequestData(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    await contexts.flush_usage()
    store = contexts.store()
    assert store is not None
    records = await store.list(kind)
    base = _base(request)
    if with_details:
        body: list[Any] = [_metadata(contexts, record, base) for record in records]
    else:
        body = [contexts.public_url_of(record, base) for record in records]
    return _json(request, body)


@router.get(
    "/jsonldContexts/{contextId:path}",
    summary="Serve @context (clause 6.30.3.1)",
    dependencies=[Depends(require_scopes("context:read"))],
)
async def serve_context(request: Request, contextId: str, contexts: Registry, details: Text = None) -> Response:  # noqa: N803
    with_details = _flag(details, "details")
    await contexts.flush_usage()
    record = await _find(contexts, contextId)
    if with_details:
        return _json(request, _metadata(contexts, record, _base(request)))
    if record.kind == CACHED:
        raise OperationNotSupported(
            f"@context {contextId} is a cached copy of {record.url}; fetch it there, or ask for details=true."
        )
    return _json(request, record.document)


@router.delete(
    "/jsonldContexts/{contextId:path}",
    status_code=204,
    summary="Delete and Reload @context (clause 6.30.3.2)",
    dependencies=[Depends(require_scopes("context:write"))],
)
async def delete_context(request: Request, contextId: str, contexts: Registry, reload: Text = None) -> Response:  # noqa: N803
    reloading = _flag(reload, "reload")
    if contextId in CORE_URLS:
        raise BadRequestData(f"The NGSI-LD core @context {NGSI_LD_CORE_CONTEXT_URL} cannot be deleted or reloaded.")
    record = await _find(contexts, contextId)
    if reloading:
        if record.kind != CACHED:
            raise BadRequestData(f"Only Cached @contexts can be reloaded; {contextId} is {record.kind}.")
        try:
            await contexts.reload(record)
        except ContextNotAvailable as error:
            raise ContextReloadFailed(str(error), extensions={"context": error.url}) from None
    else:
        await contexts.delete(record)
    return Response(status_code=204, headers=tenant_headers(request))


@asynccontextmanager
async def usage_reporter(app: FastAPI) -> AsyncIterator[None]:
    """Background worker: adds the hits counted in memory to the store, and the last ones on exit."""
    contexts: ContextRegistry = app.state.context_resolver.registry
    interval = app.state.settings.jsonld_usage_interval

    try:  # a database hiccup loses the counts of one round, never the worker
        async with every(interval, contexts.flush_usage, logger, "could not record @context usage"):
            yield
    finally:
        await contexts.flush_usage()


async def _find(contexts: ContextRegistry, context_id: str) -> StoredContext:
    store = contexts.store()
    assert store is not None
    record = await store.get(context_id)
    if record is None:
        raise ResourceNotFound(f"No @context {context_id} is stored by this broker.")
    return record


def _metadata(contexts: ContextRegistry, record: StoredContext, base: str) -> dict[str, Any]:
    """The metadata of one stored @context (clause 5.13.3.5)."""
    value = record.document.get("@context")
    shape = "array" if isinstance(value, list) else "url" if isinstance(value, str) else "object"
    info: dict[str, Any] = {
        "URL": contexts.public_url_of(record, base),
        "localId": record.local_id,
        "kind": record.kind,
        "timestamp": _timestamp(record.created_at),
        "extraInfo": {"type": shape},
    }
    if record.last_usage is not None:
        info["lastUsage"] = _timestamp(record.last_usage)
    info["numberOfHits"] = record.hits
    return info


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _flag(value: str | None, name: str) -> bool:
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise BadRequestData(f"{name} must be true or false; got {value!r}.")


def _base(request: Request) -> str:
    """The broker's base URL: the configured public URL, else the one this request reached."""
    configured = request.app.state.settings.public_url
    return str(configured if configured is not None else request.base_url).rstrip("/")


def _json(request: Request, body: Any) -> Response:
    """JSON, or JSON-LD when the client prefers it (clause 6.3.4); these bodies carry no terms to compact."""
    media_type = negotiate(request.headers.get("accept"), (JSON, JSON_LD))
    return Response(orjson.dumps(body), media_type=media_type, headers=tenant_headers(request))
