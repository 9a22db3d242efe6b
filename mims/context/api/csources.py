"""Context sources (CIM 009 V1.8.1): registrations (clauses 6.8, 6.9), context source
subscriptions (clauses 6.12, 6.13: /csourceSubscriptions) and the distributed
reads of /entities (clause 4.3).

Register (5.9.2), Update (5.9.3), Delete (5.9.4), Retrieve (5.10.1) and Query (5.10.2) Context
Source Registrations; Create (5.11.2), Update (5.11.3), Retrieve (5.11.4), Query (5.11.5) and
Delete (5.11.6) Context Source Subscriptions, whose notifications (5.11.7) follow every
registration change. :func:`federated_query` and :func:`federated_retrieve` are what the
entity read routes call to include the context sources.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from mims.context.api.common import (
    PREFIX,
    RESULTS_COUNT_HEADER,
    json_response,
    link_header,
    query_context,
    read_body,
    tenant,
    tenant_headers,
)
from mims.context.api.openapi import REGISTRATION, SUBSCRIPTION, ppi_ref, request_body
from mims.context.api.paths import RawPathRoute, path_segment
from mims.context.ngsild import csource_subscriptions as subs
from mims.context.ngsild.context import ActiveContext, context_link
from mims.context.ngsild.csources import (
    Registration,
    Target,
    check_conflicts,
    csf_filter,
    new_registration,
    registration_filter,
    render_registration,
    updated_registration,
)
from mims.context.ngsild.distributed import (
    WARNING_HEADER,
    Federation,
    ForwardedRead,
    Outcome,
    distributed_query,
    distributed_retrieve,
)
from mims.context.ngsild.entity import check_entity_id, utc_now
from mims.context.ngsild.errors import (
    AlreadyExists,
    NonexistentTenant,
    ResourceNotFound,
)
from mims.context.ngsild.mediatypes import negotiate
from mims.context.ngsild.params import expanded_names, names, paging
from mims.context.ngsild.selection import parse_type_expression
from mims.context.storage import EntityQuery, SqlEntityStore, TenantNotFound
from mims.context.storage.base import Entity, Page
from mims.context.storage.csources import (
    DocumentExists,
    DocumentStore,
    forget_status,
    record_answers,
    registration_statuses,
    registrations,
    subscriptions,
)
from mims.context.storage.tenants import tenant_exists
from mims.kit.auth import require_scopes

REGISTRATIONS = f"{PREFIX}/csourceRegistrations"
SUBSCRIPTIONS = f"{PREFIX}/csourceSubscriptions"
_SYSTEM = ("createdAt", "modifiedAt")

router = APIRouter(prefix=PREFIX, tags=["context sources"], route_class=RawPathRoute)
Tenant = Annotated[str, Depends(tenant)]
READ = [Depends(require_scopes("context:read"))]
WRITE = [Depends(require_scopes("context:write"))]


@asynccontextmanager
async def federation_worker(app: FastAPI) -> AsyncIterator[None]:
    """The shared HTTP client of distributed operations and csource notifications, for the app's life."""
    settings = app.state.settings
    broker_id = settings.broker_id or f"context-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(follow_redirects=False) as client:
        federation = Federation(
            broker_id, client, settings.csource_timeout, settings.csource_concurrency
        )
        app.state.federation = federation
        try:
            yield
        finally:
            await federation.drain(settings.csource_timeout)


def _registrations(request: Request) -> DocumentStore:
    return DocumentStore(request.app.state.engine, registrations)


def _subscriptions(request: Request) -> DocumentStore:
    return DocumentStore(request.app.state.engine, subscriptions)


# --- registrations ------------------------------------------------------------------------------


@router.post(
    "/csourceRegistrations",
    status_code=201,
    summary="Register Context Source (clause 6.8.3.1)",
    dependencies=WRITE,
    openapi_extra=request_body(ppi_ref(REGISTRATION)),
)
async def register_csource(request: Request, tenant_name: Tenant) -> Response:
    body, context = await read_body(request)
    registration = new_registration(body, context, utc_now())
    store = _registrations(request)
    try:
        await store.create(
            tenant_name, registration, guard=partial(check_conflicts, registration)
        )
    except DocumentExists:
        raise AlreadyExists(
            f"Registration {registration['id']} already exists."
        ) from None
    await _notify_change(request, tenant_name, None, registration)
    headers = {
        "Location": f"{REGISTRATIONS}/{path_segment(registration['id'])}",
        **tenant_headers(request),
    }
    return Response(status_code=201, headers=headers)


@router.get(
    "/csourceRegistrations",
    summary="Query Context Source Registrations (clause 6.8.3.2)",
    dependencies=READ,
)
async def query_csources(request: Request, tenant_name: Tenant) -> Response:
    async def matching(context: ActiveContext) -> list[Registration]:
        wanted = registration_filter(request.query_params, context)
        return [
            registration
            for registration in await _known(request, tenant_name)
            if wanted(registration)
        ]

    return await _listing(request, matching, _rendered)


@router.get(
    "/csourceRegistrations/{registrationId}",
    summary="Retrieve Context Source Registration (clause 6.9.3.1)",
    dependencies=READ,
)
async def retrieve_csource(
    request: Request, registrationId: str, tenant_name: Tenant
) -> Response:
    status = await registration_statuses(request.app.state.engine, tenant_name, registrationId)

    def rendered(document: dict[str, Any], context: ActiveContext, params: Any) -> dict[str, Any]:
        return _rendered({**document, **status.get(document["id"], {})}, context, params)

    return await _document(
        request,
        _registrations(request),
        tenant_name,
        registrationId,
        "Registration",
        rendered,
    )


@router.patch(
    "/csourceRegistrations/{registrationId}",
    status_code=204,
    summary="Update Context Source Registration (clause 6.9.3.2)",
    dependencies=WRITE,
    openapi_extra=request_body({"type": "object"}),
)
async def update_csource(
    request: Request, registrationId: str, tenant_name: Tenant
) -> Response:
    store = _registrations(request)
    current = await _existing(store, tenant_name, registrationId, "Registration")
    fragment, context = await read_body(request)
    registration = updated_registration(current, fragment, context, utc_now())
    if not await store.replace(
        tenant_name, registration, guard=partial(check_conflicts, registration)
    ):
        raise ResourceNotFound(f"Registration {registrationId} does not exist.")
    await _notify_change(request, tenant_name, current, registration)
    return Response(status_code=204, headers=tenant_headers(request))


@router.delete(
    "/csourceRegistrations/{registrationId}",
    status_code=204,
    summary="Delete Context Source Registration (clause 6.9.3.3)",
    dependencies=WRITE,
)
async def delete_csource(
    request: Request, registrationId: str, tenant_name: Tenant
) -> Response:
    removed = await _existing(
        _registrations(request),
        tenant_name,
        registrationId,
        "Registration",
        pointer="/registrationId",
        delete=True,
    )
    await forget_status(request.app.state.engine, tenant_name, registrationId)
    await _notify_change(request, tenant_name, removed, None)
    return Response(status_code=204, headers=tenant_headers(request))


def _rendered(
    document: dict[str, Any],
    context: ActiveContext,
    params: Any,
    render: Any = render_registration,
) -> dict[str, Any]:
    """A registration or subscription body; system members only with ``options=sysAttrs`` (clause 6.3.7)."""
    body = render(document, context)
    if "sysAttrs" not in (names(params.get("options"), "options") or ()):
        for member in _SYSTEM:
            body.pop(member, None)
    return body


async def _known(request: Request, tenant_name: str) -> list[Registration]:
    """The tenant's registrations with their status members (clause 5.2.9)."""
    if not await tenant_exists(request.app.state.engine, tenant_name):
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.")
    status = await registration_statuses(request.app.state.engine, tenant_name)
    return [{**registration, **status.get(registration["id"], {})}
            for registration in await _registrations(request).all(tenant_name)]


async def _listing(
    request: Request,
    found: Callable[[ActiveContext], Awaitable[list[dict[str, Any]]]],
    render: Callable[[dict[str, Any], ActiveContext, Any], dict[str, Any]],
) -> Response:
    """One page of the documents ``found`` in the request's @context, counted with ``count=true``."""
    media_type = negotiate(request.headers.get("accept"))
    context = await query_context(request)
    params = request.query_params
    settings = request.app.state.settings
    page = paging(
        params.get("limit"),
        params.get("offset"),
        params.get("count"),
        settings.default_limit,
        settings.max_limit,
    )
    documents = await found(context)
    body = [
        render(document, context, params)
        for document in documents[page.offset : page.offset + page.limit]
    ]
    headers = {RESULTS_COUNT_HEADER: str(len(documents))} if page.count else {}
    return json_response(request, body, context, media_type, headers)


async def _document(
    request: Request,
    store: DocumentStore,
    tenant_name: str,
    document_id: str,
    kind: str,
    render: Callable[[dict[str, Any], ActiveContext, Any], dict[str, Any]],
) -> Response:
    """One stored registration or subscription, rendered in the request's @context."""
    media_type = negotiate(request.headers.get("accept"))
    context = await query_context(request)
    document = await _existing(store, tenant_name, document_id, kind)
    return json_response(
        request, render(document, context, request.query_params), context, media_type
    )


async def _existing(
    store: DocumentStore,
    tenant_name: str,
    document_id: str,
    kind: str,
    *,
    pointer: str = "/id",
    delete: bool = False,
) -> dict[str, Any]:
    """The stored registration or subscription, removed from the store with ``delete``;
    ``pointer`` names the id's parameter in a bad-id error."""
    check_entity_id(document_id, pointer)
    operation = store.delete if delete else store.get
    try:
        document = await operation(tenant_name, document_id)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    if document is None:
        raise ResourceNotFound(f"{kind} {document_id} does not exist.")
    return document


# --- context source subscriptions --------------------------------------------------------------


@router.post(
    "/csourceSubscriptions",
    status_code=201,
    summary="Create Context Source Subscription (clause 6.12.3.1)",
    dependencies=WRITE,
    openapi_extra=request_body(ppi_ref(SUBSCRIPTION)),
)
async def create_csource_subscription(
    request: Request, tenant_name: Tenant
) -> Response:
    body, context = await read_body(request)
    subscription = subs.new_subscription(body, context, utc_now())
    subscription["@context"] = list(context.user)
    try:
        await _subscriptions(request).create(tenant_name, subscription)
    except DocumentExists:
        raise AlreadyExists(
            f"Subscription {subscription['id']} already exists."
        ) from None
    headers = {
        "Location": f"{SUBSCRIPTIONS}/{path_segment(subscription['id'])}",
        **tenant_headers(request),
    }
    return Response(status_code=201, headers=headers)


@router.get(
    "/csourceSubscriptions",
    summary="Query Context Source Subscriptions (clause 6.12.3.2)",
    dependencies=READ,
)
async def query_csource_subscriptions(
    request: Request, tenant_name: Tenant
) -> Response:
    store = _subscriptions(request)

    async def every(context: ActiveContext) -> list[dict[str, Any]]:
        return await store.all(tenant_name)

    return await _listing(request, every, _subscription_body)


@router.get(
    "/csourceSubscriptions/{subscriptionId}",
    summary="Retrieve Context Source Subscription (clause 6.13.3.1)",
    dependencies=READ,
)
async def retrieve_csource_subscription(
    request: Request, subscriptionId: str, tenant_name: Tenant
) -> Response:
    return await _document(
        request,
        _subscriptions(request),
        tenant_name,
        subscriptionId,
        "Subscription",
        _subscription_body,
    )


@router.patch(
    "/csourceSubscriptions/{subscriptionId}",
    status_code=204,
    summary="Update Context Source Subscription (clause 6.13.3.2)",
    dependencies=WRITE,
    openapi_extra=request_body({"type": "object"}),
)
async def update_csource_subscription(
    request: Request, subscriptionId: str, tenant_name: Tenant
) -> Response:
    store = _subscriptions(request)
    current = await _existing(store, tenant_name, subscriptionId, "Subscription")
    fragment, context = await read_body(request)
    subscription = subs.updated_subscription(
        _without_context(current), fragment, context, utc_now()
    )
    subscription["@context"] = list(context.user)
    if not await store.replace(tenant_name, subscription):
        raise ResourceNotFound(f"Subscription {subscriptionId} does not exist.")
    return Response(status_code=204, headers=tenant_headers(request))


@router.delete(
    "/csourceSubscriptions/{subscriptionId}",
    status_code=204,
    summary="Delete Context Source Subscription (clause 6.13.3.3)",
    dependencies=WRITE,
)
async def delete_csource_subscription(
    request: Request, subscriptionId: str, tenant_name: Tenant
) -> Response:
    await _existing(
        _subscriptions(request),
        tenant_name,
        subscriptionId,
        "Subscription",
        pointer="/subscriptionId",
        delete=True,
    )
    return Response(status_code=204, headers=tenant_headers(request))


def _without_context(subscription: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in subscription.items() if key != "@context"}


def _subscription_body(
    subscription: dict[str, Any], context: ActiveContext, params: Any
) -> dict[str, Any]:
    return _rendered(
        _without_context(subscription), context, params, subs.render_subscription
    )


async def _notify_change(
    request: Request,
    tenant_name: str,
    before: Registration | None,
    after: Registration | None,
) -> None:
    """Queue a CSourceNotification (clause 5.11.7) for every subscription the change concerns."""
    federation: Federation = request.app.state.federation
    resolver = request.app.state.context_resolver
    now = utc_now()
    for subscription in await _subscriptions(request).all(tenant_name):
        if "expiresAt" in subscription and subscription["expiresAt"] <= now:
            continue
        context = await resolver.resolve(subscription["@context"])
        reason = subs.trigger_reason(
            before is not None
            and subs.subscription_matches(subscription, before, context),
            after is not None
            and subs.subscription_matches(subscription, after, context),
        )
        if reason is None:
            continue
        shown = render_registration(after if after is not None else before, context)
        for member in _SYSTEM:
            shown.pop(member, None)
        notification = {
            "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "Notification",
            "subscriptionId": subscription["id"],
            "notifiedAt": now,
            "data": [shown],
            "triggerReason": reason,
        }
        headers = {
            "Content-Type": "application/json",
            "Link": context_link(context.link_url),
            **tenant_headers(request),
        }
        federation.spawn(
            _deliver(
                federation,
                subscription["notification"]["endpoint"]["uri"],
                notification,
                headers,
            )
        )


async def _deliver(
    federation: Federation,
    uri: str,
    notification: dict[str, Any],
    headers: dict[str, str],
) -> None:
    """One notification POST within the csource timeout; a failed delivery is dropped (clause 5.11.7)."""
    try:
        await federation.client.post(
            uri, json=notification, headers=headers, timeout=federation.timeout
        )
    except httpx.HTTPError:
        return


# --- distributed entity reads (clause 4.3) -----------------------------------------------------


def _forwarding(request: Request, context: ActiveContext) -> ForwardedRead:
    return ForwardedRead(
        params=request.query_params,
        context=context,
        link=link_header(request),
        via=request.headers.get("via"),
        attrs=expanded_names(request.query_params.get("attrs"), "attrs", context),
    )


async def federated_query(
    request: Request,
    entities: SqlEntityStore,
    tenant_name: str,
    selection: EntityQuery,
    context: ActiveContext,
    limit: int,
    offset: int,
    count: bool,
) -> tuple[Outcome, dict[str, str]]:
    """Query Entities over this broker and, unless ``local=true``, its context sources.

    Only GET /entities is distributed: the selection of POST /entityOperations/query is in its
    body, not in the parameters forwarded. Returns the outcome and the response headers it adds
    (``NGSILD-Warning``); raises :class:`TenantNotFound` like the store does.
    """

    async def local(window: int, skip: int, counting: bool) -> Page:
        return await entities.query(tenant_name, selection, window, skip, counting)

    params = request.query_params
    if params.get("local") == "true" or request.method != "GET":
        page = await local(limit, offset, count)
        return Outcome(page.entities, page.count), {}
    known = _filtered(await _registrations(request).all(tenant_name), params, context)
    types = None
    if params.get("type") is not None:
        types = frozenset(_type_names(parse_type_expression(params["type"], context)))
    ids = names(params.get("id"), "id")
    forwarded = _forwarding(request, context)
    target = Target(
        ids=None if ids is None else frozenset(ids),
        types=types,
        id_pattern=params.get("idPattern"),
        attrs=forwarded.attrs,
    )
    outcome = await distributed_query(
        request.app.state.federation,
        known,
        forwarded,
        target,
        local,
        limit,
        offset,
        count,
    )
    await record_answers(request.app.state.engine, tenant_name, outcome.answered, datetime.now(UTC))
    return outcome, _warning_headers(outcome)


async def federated_retrieve(
    request: Request,
    entities: SqlEntityStore,
    tenant_name: str,
    entity_id: str,
    context: ActiveContext,
) -> tuple[Entity | None, dict[str, str]]:
    """Retrieve Entity from this broker and, unless ``local=true``, its context sources."""
    local = await entities.get(tenant_name, entity_id)
    if request.query_params.get("local") == "true":
        return local, {}
    known = _filtered(await _registrations(request).all(tenant_name), request.query_params, context)
    if not known:
        return local, {}
    outcome = await distributed_retrieve(
        request.app.state.federation,
        known,
        _forwarding(request, context),
        entity_id,
        local,
    )
    await record_answers(request.app.state.engine, tenant_name, outcome.answered, datetime.now(UTC))
    return (outcome.entities[0] if outcome.entities else None), _warning_headers(
        outcome
    )


def _filtered(known: list[Registration], params: Any, context: ActiveContext) -> list[Registration]:
    """The registrations a request's ``csf`` (clause 4.3.6.3) lets its sources be asked through."""
    if params.get("csf") is None:
        return known
    allowed = csf_filter(params["csf"], context)
    return [registration for registration in known if allowed(registration)]


def _type_names(expression: tuple[str, Any]) -> set[str]:
    kind, value = expression
    if kind == "name":
        return {value}
    return set().union(*(_type_names(operand) for operand in value))


def _warning_headers(outcome: Outcome) -> dict[str, str]:
    return {WARNING_HEADER: ", ".join(outcome.warnings)} if outcome.warnings else {}
