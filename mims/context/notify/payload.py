"""The Notification data type (CIM 009 V1.8.1, clause 5.3.1) and how it travels (6.3.6, 7.2).

Entities are rendered as the subscription's ``notification`` member asks (clause 5.2.14:
format, attributes, pick/omit, sysAttrs; plus the subscription's lang and datasetId) and
compacted with the subscription's @context. Over HTTP the @context is in a Link header for
``application/json`` or inline for ``application/ld+json``; over MQTT (clause 7.2) the message is
``{"metadata": {...}, "body": notification}`` with what would have been headers as metadata.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from mims.context.ngsild.context import ActiveContext, context_link
from mims.context.ngsild.mediatypes import JSON_LD
from mims.context.ngsild.render import Representation, render_entity
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL

Entity = Mapping[str, Any]


def representation(doc: Mapping[str, Any]) -> Representation:
    """How a subscription wants its entities rendered (clause 5.2.14)."""
    params = doc["notification"]

    def optional(name: str) -> frozenset[str] | None:
        return frozenset(params[name]) if name in params else None

    return Representation(
        format=params.get("format", "normalized"),
        sys_attrs=params.get("sysAttrs", False),
        attrs=optional("attributes"),
        pick=optional("pick"),
        omit=optional("omit"),
        lang=doc.get("lang"),
        dataset_ids=frozenset(doc["datasetId"]) if "datasetId" in doc else None,
    )


def notified_entity(entity: Entity, context: ActiveContext, how: Representation) -> dict[str, Any]:
    """One entity of ``data``: projected, but always with its id and type (clause 5.3.1)."""
    rendered = render_entity(entity, context, how)
    types = [context.compact_iri(iri) for iri in entity["type"]]
    return {"id": entity["id"], "type": types[0] if len(types) == 1 else types, **rendered}


def deleted_entity(entity: Entity, context: ActiveContext, deleted_at: str) -> dict[str, Any]:
    """A deleted entity in ``data``: its id, type and deletion time."""
    types = [context.compact_iri(iri) for iri in entity["type"]]
    return {"id": entity["id"], "type": types[0] if len(types) == 1 else types, "deletedAt": deleted_at}


def notification(
    doc: Mapping[str, Any], data: Sequence[dict[str, Any]], context: ActiveContext, notified_at: str,
    trigger_reason: str | None,
) -> dict[str, Any]:
    """A Notification (clause 5.3.1); inline @context when the endpoint accepts JSON-LD."""
    body: dict[str, Any] = {}
    if doc["notification"]["endpoint"].get("accept") == JSON_LD:
        body["@context"] = context.document_context
    body.update({
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": doc["id"],
        "notifiedAt": notified_at,
        "data": list(data),
    })
    if trigger_reason is not None:
        body["triggerReason"] = trigger_reason
    return body


def context_url(contexts: Sequence[Any]) -> str:
    """The @context a Link header names for a subscription's user contexts (clause 6.3.5)."""
    if len(contexts) == 1 and isinstance(contexts[0], str):
        return contexts[0]
    return NGSI_LD_CORE_CONTEXT_URL


def metadata(doc: Mapping[str, Any], contexts: Sequence[Any], tenant: str) -> dict[str, str]:
    """What accompanies a notification: media type, @context link, tenant and receiverInfo."""
    endpoint = doc["notification"]["endpoint"]
    accept = endpoint.get("accept", "application/json")
    headers = {"Content-Type": accept}
    if accept != JSON_LD:
        headers["Link"] = context_link(context_url(contexts))
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    for pair in endpoint.get("receiverInfo", ()):
        headers[pair["key"]] = pair["value"]
    return headers
