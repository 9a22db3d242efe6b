"""NGSI-LD subscriptions: the suite subscribes its own loopback receiver
(:mod:`conformance.receiver`), changes an entity and requires the notification to arrive.

``--option receiver_host=HOST`` when the broker cannot reach this machine at 127.0.0.1;
``--option notification_timeout=SECONDS`` (default 20) for a broker that notifies slowly."""

from __future__ import annotations

from typing import Any

from conformance.checks.common import conforms, no_dropped_terms
from conformance.checks.context_api import SPEC, Created, entity_id, prop, unique_type
from conformance.receiver import LOOPBACK, Delivery, NotificationReceiver
from conformance.registry import check
from conformance.session import Session

NOTIFICATION_PPI = "ngsi-ld-notification@1.0.0"


async def notified(session: Session, accept: str = "application/json") -> Delivery:
    """Subscribe the receiver to a fresh entity type, create an entity of it and return the
    notification the broker sent about it; a failure if none arrives in time."""
    options = session.target.options
    timeout = float(options.get("notification_timeout", "20"))
    entity_type = unique_type("Notified")
    entity = {"id": entity_id(entity_type), "type": entity_type, "level": prop(7)}
    async with NotificationReceiver(options.get("receiver_host", LOOPBACK)) as receiver, Created(session) as created:
        endpoint = receiver.endpoint()
        subscription_id = await created.subscription({
            "type": "Subscription", "entities": [{"type": entity_type}],
            "notification": {"endpoint": {"uri": endpoint, "accept": accept}}})
        await created.entity(entity)
        path = endpoint.split("/", 3)[3]

        def about_ours(delivery: Delivery) -> bool:
            return delivery.path == f"/{path}" and _names(delivery.body, entity["id"])

        delivery = await receiver.wait_for(about_ours, timeout)
        if delivery is None:
            others = [d for d in receiver.deliveries if d.path == f"/{path}"]
            session.fail(f"no notification about {entity['id']} reached {endpoint} within {timeout:.0f} s of creating "
                         f"it (subscription {subscription_id}; {len(others)} other POSTs there: "
                         f"{[str(d.body)[:200] for d in others[:3]]})")
        document = delivery.body
        session.expect(isinstance(document, dict), f"the notification body is not a JSON object: {document!r}"[:300])
        session.expect(document.get("type") == "Notification",
                       f"the notification has type {document.get('type')!r}; expected 'Notification'")
        session.expect(document.get("subscriptionId") == subscription_id,
                       f"the notification names subscription {document.get('subscriptionId')!r}; "
                       f"expected {subscription_id!r}")
        return delivery


def _names(document: Any, wanted: str) -> bool:
    return isinstance(document, dict) and any(
        isinstance(item, dict) and item.get("id") == wanted for item in document.get("data") or [])


@check("context.subscriptions.notification", "A subscription's notification reaches its HTTP endpoint",
       mim="context", source=f"{SPEC} §5.8.1, §5.8.6, §7.2")
async def notification(session: Session) -> None:
    delivery = await notified(session)
    media_type = delivery.headers.get("content-type", "").split(";")[0].strip()
    session.expect(media_type in ("application/json", "application/ld+json"),
                   f"the notification came as {media_type or 'no Content-Type'}; expected application/json")


@check("context.ppi.notification", f"Notifications are valid {NOTIFICATION_PPI} and expand with no dropped term",
       mim="context", source=f"PPI {NOTIFICATION_PPI}; {SPEC} §5.3.1", profile="mim")
async def notification_ppi(session: Session) -> None:
    delivery = await notified(session, accept="application/ld+json")
    conforms(session, delivery.body, NOTIFICATION_PPI, "the notification")
    if "@context" in delivery.body:
        no_dropped_terms(session, delivery.body, "the notification")
    else:
        session.note("the endpoint asked for application/ld+json but the notification carries no @context")
