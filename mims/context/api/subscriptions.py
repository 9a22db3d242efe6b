"""Subscriptions (CIM 009 V1.8.1, clause 6.10: /subscriptions and 6.11: /subscriptions/{subscriptionId}).

Create (5.8.1), Update (5.8.2), Retrieve (5.8.3), Query (5.8.4) and Delete (5.8.5)
Subscription: 201 with Location, 409 AlreadyExists, 404 ResourceNotFound, 204 on update and
delete, paging with NGSILD-Results-Count. A subscription keeps the @context it was created with
(or the one its ``jsonldContext`` names): its notifications are compacted with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from mims.context.api.common import (
    PREFIX,
    RESULTS_COUNT_HEADER,
    json_response,
    query_context,
    read_body,
    resolver,
    tenant,
    tenant_headers,
)
from mims.context.api.openapi import SUBSCRIPTION, ppi_ref, request_body
from mims.context.api.paths import RawPathRoute, path_segment
from mims.context.ngsild.attributes import is_uri
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import (
    AlreadyExists,
    BadRequestData,
    NonexistentTenant,
    ResourceNotFound,
)
from mims.context.ngsild.mediatypes import JSON_LD, negotiate
from mims.context.ngsild.params import paging
from mims.context.ngsild.subscriptions import (
    normalize_subscription,
    render_subscription,
    strip_read_only,
)
from mims.context.notify.payload import context_url
from mims.context.storage import TenantNotFound
from mims.context.storage.subscriptions import (
    SqlSubscriptionStore,
    SubscriptionExists,
    SubscriptionRecord,
)
from mims.kit.auth import require_scopes

router = APIRouter(prefix=PREFIX, tags=["subscriptions"], route_class=RawPathRoute)

Tenant = Annotated[str, Depends(tenant)]
Text = Annotated[str | None, Query()]
_MEDIA_TYPES = ("application/json", JSON_LD)


async def subscriptions(request: Request) -> SqlSubscriptionStore:
    return SqlSubscriptionStore(request.app.state.engine)


Store = Annotated[SqlSubscriptionStore, Depends(subscriptions)]


def _check_id(subscription_id: str) -> None:
    if not is_uri(subscription_id):
        raise BadRequestData(f"Subscription id {subscription_id!r} is not an absolute URI.")


async def _notification_contexts(request: Request, body: Any, context: ActiveContext) -> list[Any]:
    """The @context notifications use: ``jsonldContext`` if given (clause 5.2.12), else the request's.

    A named context is resolved now, so an unavailable one is a 503 at creation, not a silent
    failure of every notification.
    """
    named = body.get("jsonldContext") if isinstance(body, dict) else None
    if isinstance(named, str) and is_uri(named):
        await resolver(request).resolve([named])
        return [named]
    return list(context.user)


def _render(record: SubscriptionRecord, context: ActiveContext) -> dict[str, Any]:
    named = None if any(not isinstance(item, str) for item in record.contexts) else context_url(record.contexts)
    return render_subscription(record.doc, context, record.delivery, record.system, named, datetime.now(UTC))


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Create Subscription (clause 6.10.3.1)",
    dependencies=[Depends(require_scopes("context:write"))],
    openapi_extra=request_body(ppi_ref(SUBSCRIPTION)),
)
async def create_subscription(request: Request, store: Store, tenant_name: Tenant) -> Response:
    body, context = await read_body(request)
    contexts = await _notification_contexts(request, body, context)
    doc = normalize_subscription(body, context)
    try:
        await store.create(tenant_name, doc, contexts, datetime.now(UTC))
    except SubscriptionExists:
        raise AlreadyExists(f"Subscription {doc['id']} already exists.") from None
    location = f"{PREFIX}/subscriptions/{path_segment(doc['id'])}"
    return Response(status_code=201, headers={"Location": location, **tenant_headers(request)})


@router.get(
    "/subscriptions",
    summary="Query Subscriptions (clause 6.10.3.2)",
    dependencies=[Depends(require_scopes("context:read"))],
)
async def query_subscriptions(
    request: Request, store: Store, tenant_name: Tenant, limit: Text = None, offset: Text = None, count: Text = None
) -> Response:
    settings = request.app.state.settings
    media_type = negotiate(request.headers.get("accept"), _MEDIA_TYPES)
    context = await query_context(request)
    page = paging(limit, offset, count, settings.default_limit, settings.max_limit)
    try:
        records, total = await store.list(tenant_name, page.limit, page.offset, page.count)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    headers = {RESULTS_COUNT_HEADER: str(total)} if total is not None else {}
    return json_response(request, [_render(record, context) for record in records], context, media_type, headers)


@router.get(
    "/subscriptions/{subscriptionId}",
    summary="Retrieve Subscription (clause 6.11.3.1)",
    dependencies=[Depends(require_scopes("context:read"))],
)
async def retrieve_subscription(request: Request, subscriptionId: str, store: Store, tenant_name: Tenant) -> Response:
    _check_id(subscriptionId)
    media_type = negotiate(request.headers.get("accept"), _MEDIA_TYPES)
    context = await query_context(request)
    record = await _existing(store, tenant_name, subscriptionId)
    return json_response(request, _render(record, context), context, media_type)


@router.patch(
    "/subscriptions/{subscriptionId}",
    status_code=204,
    summary="Update Subscription (clause 6.11.3.2)",
    dependencies=[Depends(require_scopes("context:write"))],
    openapi_extra=request_body({"type": "object"}),
)
async def update_subscription(request: Request, subscriptionId: str, store: Store, tenant_name: Tenant) -> Response:
    """Clause 5.8.2: members of the fragment replace the subscription's; ``notification`` merges."""
    _check_id(subscriptionId)
    fragment, context = await read_body(request)
    if not isinstance(fragment, dict) or not fragment:
        raise BadRequestData("An update of a subscription is a non-empty JSON object.")
    if fragment.get("id", subscriptionId) != subscriptionId:
        raise BadRequestData("The id of a subscription cannot be changed.")
    record = await _existing(store, tenant_name, subscriptionId)
    current = strip_read_only(render_subscription(record.doc, context, {}, {}, None, datetime.now(UTC)))
    fragment = {key: value for key, value in fragment.items() if key != "@context"}
    if isinstance(fragment.get("notification"), dict):
        fragment["notification"] = {**current["notification"], **fragment["notification"]}
    doc = normalize_subscription({**current, **fragment}, context)
    if not await store.replace(tenant_name, doc, datetime.now(UTC)):
        raise ResourceNotFound(f"Subscription {subscriptionId} does not exist.")
    return Response(status_code=204, headers=tenant_headers(request))


@router.delete(
    "/subscriptions/{subscriptionId}",
    status_code=204,
    summary="Delete Subscription (clause 6.11.3.3)",
    dependencies=[Depends(require_scopes("context:write"))],
)
async def delete_subscription(request: Request, subscriptionId: str, store: Store, tenant_name: Tenant) -> Response:
    _check_id(subscriptionId)
    try:
        deleted = await store.delete(tenant_name, subscriptionId)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    if not deleted:
        raise ResourceNotFound(f"Subscription {subscriptionId} does not exist.")
    return Response(status_code=204, headers=tenant_headers(request))


async def _existing(store: SqlSubscriptionStore, tenant_name: str, subscription_id: str) -> SubscriptionRecord:
    try:
        record = await store.get(tenant_name, subscription_id)
    except TenantNotFound:
        raise NonexistentTenant(f"Tenant {tenant_name!r} does not exist.") from None
    if record is None:
        raise ResourceNotFound(f"Subscription {subscription_id} does not exist.")
    return record
