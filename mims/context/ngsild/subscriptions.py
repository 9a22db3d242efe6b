"""NGSI-LD subscriptions, from a request body to the stored form and back (CIM 009 V1.8.1).

Clause 5.2.12 (Subscription), 5.2.14 (NotificationParams), 5.2.15 (Endpoint), 5.2.33
(EntitySelector), 5.2.13 (GeoQuery) and the checks of Create Subscription (5.8.1) and Update
Subscription (5.8.2). The structure is checked against the ``ngsi-ld-subscription`` PPI first,
so a client gets every structural problem at once with JSON pointers; what a schema cannot say
(q, scopeQ, geoQ, idPattern parse; types and attribute names expand; expiresAt lies ahead) is
checked here.

The stored form expands every term with the request's @context: entity type expressions,
``watchedAttributes``, ``notification.attributes``/``pick``/``omit`` and the geoQ
``geoproperty``. ``q`` keeps its text: q attribute paths are not IRIs in the query grammar, so
they are expanded with the subscription's kept @context whenever the subscription is evaluated
or rendered.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import ppi_schemas
from mims.context import geo, query
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import (
    BadRequestData,
    OperationNotSupported,
    TooComplexQuery,
)
from mims.context.ngsild.linked import parse_join
from mims.context.ngsild.params import ENTITY_MEMBERS
from mims.context.ngsild.selection import TypeExpression, parse_type_expression
from mims.kit.problems import ProblemItem

SUBSCRIPTION_PPI = "ngsi-ld-subscription@1.0.0"
NOTIFICATION_PPI = "ngsi-ld-notification@1.0.0"
ID_PREFIX = "urn:ngsi-ld:Subscription:"
TRIGGERS = ("entityCreated", "entityUpdated", "entityDeleted", "attributeCreated", "attributeUpdated", "attributeDeleted")
DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")  # clause 5.2.12
DEFAULT_GEOPROPERTY = "https://uri.etsi.org/ngsi-ld/location"
#: Members the broker maintains (clause 5.2.12, 5.2.14); ignored when a client sends them.
READ_ONLY = frozenset({"status", "createdAt", "modifiedAt"})
NOTIFICATION_READ_ONLY = frozenset({"status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure"})
#: Members this broker cannot honour yet, refused rather than silently ignored.
_UNSUPPORTED = ("temporalQ", "csf")
_COPIED = ("subscriptionName", "description", "timeInterval", "throttling", "q", "scopeQ", "lang", "datasetId",
           "expiresAt", "isActive", "localOnly")
_MAX_PATTERN = 256


def new_subscription_id() -> str:
    """A fresh subscription id (clause 5.8.1: the broker assigns one when the client did not)."""
    return f"{ID_PREFIX}{uuid.uuid4()}"


def strip_read_only(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` without the members the broker maintains itself."""
    cleaned = {key: value for key, value in body.items() if key not in READ_ONLY}
    notification = cleaned.get("notification")
    if isinstance(notification, Mapping):
        cleaned["notification"] = {k: v for k, v in notification.items() if k not in NOTIFICATION_READ_ONLY}
    return cleaned


def normalize_subscription(body: Any, context: ActiveContext, now: datetime | None = None) -> dict[str, Any]:
    """The stored form of a Subscription (clause 5.2.12); one :class:`BadRequestData` lists every problem."""
    if not isinstance(body, Mapping):
        raise BadRequestData("A subscription must be a JSON object.", errors=[ProblemItem("", "expected a JSON object")])
    body = strip_read_only({key: value for key, value in body.items() if key != "@context"})
    if "id" not in body:
        body["id"] = new_subscription_id()
    _check_schema(body)
    refused = [name for name in _UNSUPPORTED if name in body]
    if refused:
        raise OperationNotSupported(f"This broker does not support {', '.join(refused)} in subscriptions.")
    stored: dict[str, Any] = {"id": body["id"], "type": "Subscription"}
    stored.update({name: body[name] for name in _COPIED if name in body})
    if "entities" in body:
        stored["entities"] = [_selector(item, context, f"/entities/{i}") for i, item in enumerate(body["entities"])]
    if "watchedAttributes" in body:
        stored["watchedAttributes"] = _expanded(body["watchedAttributes"], context, "/watchedAttributes")
    stored["notificationTrigger"] = list(body.get("notificationTrigger", DEFAULT_TRIGGERS))
    if "q" in body:
        _check_q(body["q"], context)
    if "scopeQ" in body:
        _check_scope_q(body["scopeQ"])
    if "geoQ" in body:
        stored["geoQ"] = _geo_q(body["geoQ"], context)
    if "expiresAt" in body and parse_instant(body["expiresAt"]) <= (now or datetime.now(UTC)):
        raise BadRequestData("expiresAt must lie in the future.", errors=[ProblemItem("/expiresAt", "not in the future")])
    stored["notification"] = _notification(body["notification"], context)
    return stored


def _check_schema(body: Mapping[str, Any]) -> None:
    problems = ppi_schemas.validate(body, SUBSCRIPTION_PPI)
    if problems:
        raise BadRequestData(
            f"The subscription does not match {SUBSCRIPTION_PPI}: {problems[0].message}",
            errors=[ProblemItem(problem.pointer, problem.message) for problem in problems],
        )


def _selector(item: Mapping[str, Any], context: ActiveContext, pointer: str) -> dict[str, Any]:
    """Clause 5.2.33: a type expression (clause 4.17) narrowed by id or idPattern."""
    selector: dict[str, Any] = {"type": _type_json(parse_type_expression(item["type"], context))}
    if "id" in item:
        selector["id"] = item["id"]
    if "idPattern" in item:
        pattern = item["idPattern"]
        if len(pattern) > _MAX_PATTERN:
            raise TooComplexQuery(f"{pointer}/idPattern is longer than {_MAX_PATTERN} characters.")
        try:
            re.compile(pattern)
        except re.error as error:
            raise BadRequestData(f"idPattern is not a valid regular expression: {error}.",
                                 errors=[ProblemItem(f"{pointer}/idPattern", str(error))]) from None
        selector["idPattern"] = pattern
    return selector


def _type_json(expression: TypeExpression) -> list[Any]:
    kind, value = expression
    if kind == "name":
        return ["name", value]
    return [kind, [_type_json(operand) for operand in value]]


def type_matches(expression: list[Any], types: set[str]) -> bool:
    """Whether an entity with ``types`` satisfies a stored type expression (clause 4.17)."""
    kind, value = expression
    if kind == "name":
        return value in types
    results = (type_matches(operand, types) for operand in value)
    return all(results) if kind == "and" else any(results)


def _type_text(expression: list[Any], context: ActiveContext, nested: bool = False) -> str:
    kind, value = expression
    if kind == "name":
        return context.compact_iri(value)
    text = (";" if kind == "and" else "|").join(_type_text(operand, context, True) for operand in value)
    return f"({text})" if nested and len(value) > 1 else text


def _expanded(names: list[str], context: ActiveContext, pointer: str) -> list[str]:
    expanded = []
    for index, name in enumerate(names):
        iri = context.try_expand(name)
        if iri is None:
            raise BadRequestData(f"{name!r} does not expand to an IRI with the @context in effect.",
                                 errors=[ProblemItem(f"{pointer}/{index}", "not expandable to an IRI")])
        expanded.append(iri)
    return expanded


def _check_q(text: str, context: ActiveContext) -> None:
    try:
        query.parse_q(text).map_attributes(context.expand_term)
    except query.QueryTooComplex as error:
        raise TooComplexQuery(f"q: {error}") from None
    except query.QueryError as error:
        raise BadRequestData(f"q: {error}", errors=[ProblemItem("/q", str(error))]) from None


def _check_scope_q(text: str) -> None:
    try:
        query.parse_scope_q(text)
    except query.QueryTooComplex as error:
        raise TooComplexQuery(f"scopeQ: {error}") from None
    except query.QueryError as error:
        raise BadRequestData(f"scopeQ: {error}", errors=[ProblemItem("/scopeQ", str(error))]) from None


def _geo_q(value: Mapping[str, Any], context: ActiveContext) -> dict[str, Any]:
    try:
        parsed = geo.parse_geoq(value)
    except geo.GeoQueryError as error:
        raise BadRequestData(f"geoQ.{error}", errors=[ProblemItem(f"/geoQ/{error.parameter}", str(error))]) from None
    stored = parsed.to_geoq()
    stored["geoproperty"] = context.expand_term(parsed.geoproperty)
    return stored


def _notification(params: Mapping[str, Any], context: ActiveContext) -> dict[str, Any]:
    """Clause 5.2.14: names expanded; ``pick``/``omit`` may also name id, type and scope."""
    stored: dict[str, Any] = {"format": params.get("format", "normalized"), "sysAttrs": params.get("sysAttrs", False)}
    if "attributes" in params:
        stored["attributes"] = _expanded(params["attributes"], context, "/notification/attributes")
    for name in ("pick", "omit"):
        if name in params:
            stored[name] = [item if item in ENTITY_MEMBERS else context.expand_term(item) for item in params[name]]
    if "pick" in stored and "omit" in stored:
        raise BadRequestData("notification.pick and notification.omit cannot be used together (clause 4.21).")
    if params.get("showChanges", False):
        if stored["format"] == "keyValues":
            raise BadRequestData("notification.showChanges cannot be true with format keyValues (clause 5.2.14).",
                                 errors=[ProblemItem("/notification/showChanges", "not with format keyValues")])
        stored["showChanges"] = True
    join = parse_join(params.get("join"), str(params["joinLevel"]) if "joinLevel" in params else None, None,
                      "/notification")
    if join is not None:
        stored["join"], stored["joinLevel"] = join.mode, join.level
    stored["endpoint"] = {"accept": "application/json", **params["endpoint"]}
    return stored


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date-time as an aware instant (UTC when it names no zone)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def subscription_status(stored: Mapping[str, Any], now: datetime) -> str:
    """Clause 5.2.12 ``status``: expired past expiresAt, paused when not active, else active."""
    if "expiresAt" in stored and parse_instant(stored["expiresAt"]) <= now:
        return "expired"
    return "active" if stored.get("isActive", True) else "paused"


def render_subscription(
    stored: Mapping[str, Any],
    context: ActiveContext,
    delivery: Mapping[str, Any],
    system: Mapping[str, str],
    notification_context: str | None,
    now: datetime,
) -> dict[str, Any]:
    """A stored subscription as clients read it (clause 5.2.12), compacted with ``context``.

    ``delivery`` holds the notification status members (timesSent, lastNotification, ...),
    ``system`` createdAt/modifiedAt; ``notification_context`` is the URL notifications use.
    """
    body: dict[str, Any] = {"id": stored["id"], "type": "Subscription"}
    body.update({name: stored[name] for name in _COPIED if name in stored})
    if "entities" in stored:
        body["entities"] = [
            {**{k: v for k, v in item.items() if k != "type"}, "type": _type_text(item["type"], context)}
            for item in stored["entities"]
        ]
    if "watchedAttributes" in stored:
        body["watchedAttributes"] = [context.compact_iri(iri) for iri in stored["watchedAttributes"]]
    body["notificationTrigger"] = stored["notificationTrigger"]
    if "geoQ" in stored:
        body["geoQ"] = {**stored["geoQ"], "geoproperty": context.compact_iri(stored["geoQ"]["geoproperty"])}
    body["isActive"] = stored.get("isActive", True)
    notification = dict(stored["notification"])
    for name in ("attributes", "pick", "omit"):
        if name in notification:
            notification[name] = [i if i in ENTITY_MEMBERS else context.compact_iri(i) for i in notification[name]]
    notification.update(delivery)
    body["notification"] = notification
    body["status"] = subscription_status(stored, now)
    if notification_context is not None:
        body["jsonldContext"] = notification_context
    body.update(system)
    return body

