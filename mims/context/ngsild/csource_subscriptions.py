"""Context source subscriptions (CIM 009 V1.8.1, clauses 5.11 and 5.2.12; notifications 5.3.2).

A client subscribes to changes of the registrations themselves: whenever a registration it
matches (entities and watched attributes, clause 5.11.1, plus an optional ``csf``) is created,
updated or deleted, the broker POSTs a CSourceNotification to the subscription's endpoint with
``triggerReason`` newlyMatching, updated or noLongerMatching.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from mims.context.ngsild.attributes import is_uri, valid_name
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.csources import (
    Registration,
    Target,
    registration_filter,
    registration_matches,
)
from mims.context.ngsild.errors import BadRequestData
from mims.kit.problems import ProblemItem

SUBSCRIPTION_TYPE = "Subscription"
_ENDPOINT = re.compile(r"https?://[^\s/?#]+\S*")
_MEMBERS = frozenset(
    {
        "id",
        "type",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notification",
        "csf",
        "expiresAt",
        "isActive",
        "@context",
    }
)
_READ_ONLY = frozenset({"createdAt", "modifiedAt", "status"})

Subscription = dict[str, Any]


def new_subscription(body: Any, context: ActiveContext, now: str) -> Subscription:
    """The stored form of a Create Context Source Subscription body (clause 5.11.2)."""
    if isinstance(body, Mapping) and "id" not in body:
        body = {**body, "id": f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"}
    subscription = _normalized(body, context)
    subscription["createdAt"] = subscription["modifiedAt"] = now
    return subscription


def updated_subscription(
    current: Subscription, fragment: Any, context: ActiveContext, now: str
) -> Subscription:
    """Update Context Source Subscription (clause 5.11.3): the fragment's members replace the old ones."""
    if not isinstance(fragment, Mapping) or not fragment:
        raise BadRequestData("A subscription update is a non-empty JSON object.")
    if fragment.get("id", current["id"]) != current["id"]:
        raise BadRequestData(
            "The id of a subscription cannot change.",
            errors=[ProblemItem("/id", "cannot change")],
        )
    merged = {
        **render_subscription(current, context),
        **{k: v for k, v in fragment.items() if k != "@context"},
    }
    subscription = _normalized(merged, context)
    subscription["createdAt"], subscription["modifiedAt"] = current["createdAt"], now
    return subscription


def _normalized(body: Any, context: ActiveContext) -> Subscription:
    if not isinstance(body, Mapping):
        raise BadRequestData(
            "A subscription is a JSON object.",
            errors=[ProblemItem("", "expected a JSON object")],
        )
    problems: list[ProblemItem] = []
    body = {key: value for key, value in body.items() if key not in _READ_ONLY}
    problems.extend(
        ProblemItem(f"/{key}", "not a member of a context source subscription")
        for key in body
        if key not in _MEMBERS
    )
    if not is_uri(body["id"]):
        problems.append(ProblemItem("/id", "a subscription id is an absolute URI"))
    if body.get("type") != SUBSCRIPTION_TYPE:
        problems.append(ProblemItem("/type", "must be Subscription"))
    subscription: dict[str, Any] = {
        "id": body["id"],
        "type": SUBSCRIPTION_TYPE,
        "isActive": body.get("isActive", True),
    }
    if not isinstance(subscription["isActive"], bool):
        problems.append(ProblemItem("/isActive", "must be true or false"))
    for member in ("subscriptionName", "description", "expiresAt", "csf"):
        if member in body:
            if not isinstance(body[member], str) or not body[member]:
                problems.append(ProblemItem(f"/{member}", "must be a non-empty string"))
            subscription[member] = body[member]
    if "entities" not in body and "watchedAttributes" not in body:
        problems.append(
            ProblemItem(
                "/entities", "a subscription names entities, watchedAttributes or both"
            )
        )
    if "entities" in body:
        subscription["entities"] = _entities(body["entities"], context, problems)
    if "watchedAttributes" in body:
        subscription["watchedAttributes"] = _names(
            body["watchedAttributes"], "/watchedAttributes", context, problems
        )
    subscription["notification"] = _notification(body.get("notification"), problems)
    if "csf" in subscription and not problems:
        registration_filter({"csf": subscription["csf"]}, context)
    if problems:
        raise BadRequestData(
            f"{problems[0].pointer}: {problems[0].detail}", errors=problems
        )
    return subscription


def _entities(
    value: Any, context: ActiveContext, problems: list[ProblemItem]
) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        problems.append(ProblemItem("/entities", "a non-empty array of EntityInfo"))
        return []
    result = []
    for index, item in enumerate(value):
        where = f"/entities/{index}"
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("type"), str)
            or not valid_name(item["type"])
        ):
            problems.append(
                ProblemItem(
                    where, "an EntityInfo has a type and optionally an id or idPattern"
                )
            )
            continue
        iri = context.try_expand(item["type"])
        if iri is None:
            problems.append(ProblemItem(f"{where}/type", "does not expand to an IRI"))
        entity = {"type": iri or item["type"]}
        if "id" in item:
            if not is_uri(item["id"]):
                problems.append(
                    ProblemItem(f"{where}/id", "an entity id is an absolute URI")
                )
            entity["id"] = item["id"]
        if "idPattern" in item:
            try:
                re.compile(item["idPattern"])
            except (re.error, TypeError):
                problems.append(
                    ProblemItem(f"{where}/idPattern", "not a regular expression")
                )
            entity["idPattern"] = item["idPattern"]
        result.append(entity)
    return result


def _names(
    value: Any, where: str, context: ActiveContext, problems: list[ProblemItem]
) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(name, str) and valid_name(name) for name in value)
    ):
        problems.append(ProblemItem(where, "a non-empty array of attribute names"))
        return []
    return [context.try_expand(name) or name for name in value]


def _notification(value: Any, problems: list[ProblemItem]) -> dict[str, Any]:
    endpoint = value.get("endpoint") if isinstance(value, Mapping) else None
    uri = endpoint.get("uri") if isinstance(endpoint, Mapping) else None
    if not isinstance(uri, str) or not _ENDPOINT.fullmatch(uri):
        problems.append(
            ProblemItem(
                "/notification/endpoint/uri",
                "an http or https URI to POST notifications to",
            )
        )
        return {}
    return {
        "endpoint": {"uri": uri, "accept": endpoint.get("accept", "application/json")}
    }


def render_subscription(
    subscription: Subscription, context: ActiveContext
) -> dict[str, Any]:
    """The subscription as a response body, names compacted with ``context``."""
    body = dict(subscription)
    if "entities" in body:
        body["entities"] = [
            {**entity, "type": context.compact_iri(entity["type"])}
            for entity in body["entities"]
        ]
    if "watchedAttributes" in body:
        body["watchedAttributes"] = [
            context.compact_iri(name) for name in body["watchedAttributes"]
        ]
    return body


def subscription_matches(
    subscription: Subscription, registration: Registration, context: ActiveContext
) -> bool:
    """Clause 5.11.1: an active subscription matches a registration that can provide what it watches."""
    if not subscription["isActive"]:
        return False
    attrs = subscription.get("watchedAttributes")
    targets = [
        Target(
            ids=frozenset([entity["id"]]) if "id" in entity else None,
            types=frozenset([entity["type"]]),
            id_pattern=entity.get("idPattern"),
            attrs=None if attrs is None else frozenset(attrs),
        )
        for entity in subscription.get("entities", ())
    ] or [Target(attrs=frozenset(attrs or ()))]
    if not any(registration_matches(registration, target) for target in targets):
        return False
    return "csf" not in subscription or registration_filter(
        {"csf": subscription["csf"]}, context
    )(registration)


def trigger_reason(before: bool, after: bool) -> str | None:
    """Clause 5.11.7: how a registration change relates to a subscription, or ``None`` if it does not."""
    if after:
        return "updated" if before else "newlyMatching"
    return "noLongerMatching" if before else None
