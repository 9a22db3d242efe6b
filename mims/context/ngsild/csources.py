"""Context source registrations (CIM 009 V1.8.1, clauses 5.2.9, 5.9, 5.10 and 4.3.6).

A registration says which entities, properties and relationships a context source can provide
(RegistrationInfo, clause 5.2.10) and how the broker uses it (mode, clause 4.3.6; operations,
clause 4.20). The stored form keeps the body's members with every entity type and attribute
name expanded to an IRI, so registrations match queries independently of the @context either
was made with; members the spec does not define are properties of the context source itself,
stored expanded under ``properties`` and queried by ``csf`` (clause 4.9 syntax).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ppi_schemas
from mims.context import geo, query
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.errors import BadRequestData, Conflict
from mims.context.ngsild.params import names
from mims.kit.problems import ProblemItem

REGISTRATION_PPI = "ngsi-ld-csource-registration@1.0.0"
REGISTRATION_TYPE = "ContextSourceRegistration"
INCLUSIVE, EXCLUSIVE, REDIRECT, AUXILIARY = (
    "inclusive",
    "exclusive",
    "redirect",
    "auxiliary",
)
_DEFINED = frozenset(
    {
        "id",
        "type",
        "registrationName",
        "description",
        "contextSourceAlias",
        "information",
        "datasetId",
        "tenant",
        "observationInterval",
        "managementInterval",
        "location",
        "observationSpace",
        "operationSpace",
        "expiresAt",
        "endpoint",
        "contextSourceInfo",
        "scope",
        "mode",
        "operations",
        "refreshRate",
        "management",
    }
)
#: Members the broker maintains (clause 5.2.2 and 5.2.9); ignored when a client sends them.
READ_ONLY = frozenset(
    {
        "status",
        "timesSent",
        "timesFailed",
        "lastSuccess",
        "lastFailure",
        "createdAt",
        "modifiedAt",
    }
)
_GEO_MEMBERS = {
    "location": "https://uri.etsi.org/ngsi-ld/location",
    "observationSpace": "https://uri.etsi.org/ngsi-ld/observationSpace",
    "operationSpace": "https://uri.etsi.org/ngsi-ld/operationSpace",
}
#: Clause 4.20: the operation groups that include Retrieve Entity and Query Entities.
_RETRIEVE_GROUPS = frozenset({"federationOps", "retrieveOps", "redirectionOps"})
_ENTITY_READS = frozenset({"retrieveEntity", "queryEntity"})

Registration = dict[str, Any]


def new_registration(body: Any, context: ActiveContext, now: str) -> Registration:
    """The stored form of a Register Context Source body (clause 5.9.2); 400 listing every problem."""
    if isinstance(body, Mapping) and "id" not in body:
        body = {**body, "id": f"urn:ngsi-ld:ContextSourceRegistration:{uuid.uuid4()}"}
    registration = _normalized(body, context, now)
    registration["createdAt"] = registration["modifiedAt"] = now
    return registration


def updated_registration(
    current: Registration, fragment: Any, context: ActiveContext, now: str
) -> Registration:
    """Update Context Source Registration (clause 5.9.3): the fragment's members replace the old ones."""
    if not isinstance(fragment, Mapping) or not fragment:
        raise BadRequestData("A registration update is a non-empty JSON object.")
    for member in ("id", "type"):
        if member in fragment and fragment[member] != (
            current["id"] if member == "id" else REGISTRATION_TYPE
        ):
            raise BadRequestData(
                f"The {member} of a registration cannot change.",
                errors=[ProblemItem(f"/{member}", "cannot change")],
            )
    merged = {
        **render_registration(current, context),
        **{k: v for k, v in fragment.items() if k != "@context"},
    }
    registration = _normalized(merged, context, now)
    registration["createdAt"], registration["modifiedAt"] = current["createdAt"], now
    return registration


def _normalized(body: Any, context: ActiveContext, now: str) -> Registration:
    body = (
        {k: v for k, v in body.items() if k not in READ_ONLY}
        if isinstance(body, Mapping)
        else body
    )
    problems = [
        ProblemItem(p.pointer, p.message)
        for p in ppi_schemas.validate(body, REGISTRATION_PPI)
    ]
    if problems:
        raise BadRequestData(
            f"{problems[0].pointer or '/'}: {problems[0].detail}", errors=problems
        )
    problems = list(_semantic_problems(body, now))
    registration = {
        key: value
        for key, value in body.items()
        if key in _DEFINED and key != "information"
    }
    registration.setdefault("mode", INCLUSIVE)
    registration.setdefault("operations", ["federationOps"])
    registration["information"] = [
        _information(info, context, f"/information/{i}", problems)
        for i, info in enumerate(body["information"])
    ]
    registration["properties"] = {}
    for key, value in body.items():
        if key in _DEFINED or key == "@context":
            continue
        iri = context.try_expand(key)
        if iri is None:
            problems.append(
                ProblemItem(
                    f"/{key}", "does not expand to an IRI with the @context in effect"
                )
            )
        else:
            registration["properties"][iri] = value
    if registration["mode"] == EXCLUSIVE:
        problems.extend(_exclusive_problems(registration))
    if problems:
        raise BadRequestData(
            f"{problems[0].pointer}: {problems[0].detail}", errors=problems
        )
    return registration


def _information(
    info: Mapping[str, Any],
    context: ActiveContext,
    where: str,
    problems: list[ProblemItem],
) -> dict[str, Any]:
    def expanded(name: str, pointer: str) -> str:
        iri = context.try_expand(name)
        if iri is None:
            problems.append(ProblemItem(pointer, f"{name!r} does not expand to an IRI"))
        return iri or name

    result: dict[str, Any] = {}
    if "entities" in info:
        result["entities"] = []
        for index, item in enumerate(info["entities"]):
            entity = {
                **item,
                "type": expanded(item["type"], f"{where}/entities/{index}/type"),
            }
            if "idPattern" in item:
                try:
                    re.compile(item["idPattern"])
                except re.error as error:
                    problems.append(
                        ProblemItem(
                            f"{where}/entities/{index}/idPattern",
                            f"not a regular expression: {error}",
                        )
                    )
            result["entities"].append(entity)
    for member in ("propertyNames", "relationshipNames"):
        if member in info:
            result[member] = [
                expanded(name, f"{where}/{member}/{i}")
                for i, name in enumerate(info[member])
            ]
    return result


def _semantic_problems(body: Mapping[str, Any], now: str) -> Iterable[ProblemItem]:
    """What the schema cannot say: intervals run forwards, expiresAt is in the future (clause
    5.9.2), geometries are valid GeoJSON."""
    if "expiresAt" in body and _instant(body["expiresAt"]) <= _instant(now):
        yield ProblemItem("/expiresAt", "expiresAt must be in the future")
    for member in ("observationInterval", "managementInterval"):
        interval = body.get(member)
        if (
            interval
            and "endAt" in interval
            and _instant(interval["endAt"]) <= _instant(interval["startAt"])
        ):
            yield ProblemItem(f"/{member}/endAt", "endAt must be after startAt")
    for member in _GEO_MEMBERS:
        if member in body:
            try:
                geo.check_geometry(body[member])
            except geo.InvalidGeometry as error:
                yield ProblemItem(f"/{member}", str(error))


def _exclusive_problems(registration: Registration) -> Iterable[ProblemItem]:
    """Clause 4.3.6.3: an exclusive registration names specific entities and their attributes."""
    for index, info in enumerate(registration["information"]):
        entities = info.get("entities", ())
        if not entities or any("id" not in entity for entity in entities):
            yield ProblemItem(
                f"/information/{index}/entities",
                "an exclusive registration names each entity by id",
            )
        if not attribute_names(info):
            yield ProblemItem(
                f"/information/{index}",
                "an exclusive registration names the attributes it provides",
            )


def check_conflicts(candidate: Registration, existing: Iterable[Registration]) -> None:
    """Refuse an exclusive or redirect registration overlapping another one (clause 4.3.6.3).

    Two registrations overlap when they name the same entity id and share an attribute (or one
    of them names no attributes, so covers all of them); 409 Conflict.
    """
    if candidate["mode"] not in (EXCLUSIVE, REDIRECT):
        return
    mine = set(_coverage(candidate))
    for other in existing:
        if other["id"] == candidate["id"] or other["mode"] not in (EXCLUSIVE, REDIRECT):
            continue
        if candidate["mode"] == REDIRECT and other["mode"] == REDIRECT:
            continue
        for entity_id, attrs in _coverage(other):
            for my_id, my_attrs in mine:
                if my_id == entity_id and (
                    not attrs or not my_attrs or attrs & my_attrs
                ):
                    raise Conflict(
                        f"Registration {other['id']} already provides {entity_id} exclusively for these attributes."
                    )


def _coverage(registration: Registration) -> Iterable[tuple[str, frozenset[str]]]:
    for info in registration["information"]:
        for entity in info.get("entities", ()):
            if "id" in entity:
                yield entity["id"], frozenset(attribute_names(info))


def attribute_names(info: Mapping[str, Any]) -> list[str]:
    return [*info.get("propertyNames", ()), *info.get("relationshipNames", ())]


def render_registration(
    registration: Registration, context: ActiveContext
) -> dict[str, Any]:
    """The registration as a response body (clause 5.2.9), names compacted with ``context``."""
    body: dict[str, Any] = {}
    for key, value in registration.items():
        if key == "information":
            body[key] = [_render_information(info, context) for info in value]
        elif key == "properties":
            body.update({context.compact_iri(iri): item for iri, item in value.items()})
        else:
            body[key] = value
    return body


def _render_information(
    info: Mapping[str, Any], context: ActiveContext
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "entities" in info:
        result["entities"] = [
            {**entity, "type": context.compact_iri(entity["type"])}
            for entity in info["entities"]
        ]
    for member in ("propertyNames", "relationshipNames"):
        if member in info:
            result[member] = [context.compact_iri(name) for name in info[member]]
    return result


@dataclass(frozen=True, slots=True)
class Target:
    """What an entity operation asks for, to match registrations against (clause 4.3.6.1).

    ``types`` and ``attrs`` are IRIs; ``None`` means any.
    """

    ids: frozenset[str] | None = None
    types: frozenset[str] | None = None
    id_pattern: str | None = None
    attrs: frozenset[str] | None = None


def registration_matches(registration: Registration, target: Target) -> bool:
    """True when some RegistrationInfo of the registration can contribute to ``target``."""
    return any(_info_matches(info, target) for info in registration["information"])


def _info_matches(info: Mapping[str, Any], target: Target) -> bool:
    names = attribute_names(info)
    if names and target.attrs is not None and target.attrs.isdisjoint(names):
        return False
    entities = info.get("entities")
    return not entities or any(
        _entity_info_matches(entity, target) for entity in entities
    )


def _entity_info_matches(entity: Mapping[str, Any], target: Target) -> bool:
    if target.types is not None and entity["type"] not in target.types:
        return False
    if "id" in entity:
        if target.ids is not None and entity["id"] not in target.ids:
            return False
        return (
            target.id_pattern is None
            or re.fullmatch(target.id_pattern, entity["id"]) is not None
        )
    if "idPattern" in entity and target.ids is not None:
        return any(
            re.fullmatch(entity["idPattern"], entity_id) for entity_id in target.ids
        )
    return True


def supports(registration: Registration, operation: str) -> bool:
    """Whether the registration lists ``operation`` (Retrieve Entity or Query Entities), by name or group."""
    operations = set(registration["operations"])
    return operation in operations or (
        operation in _ENTITY_READS and not operations.isdisjoint(_RETRIEVE_GROUPS)
    )


def is_current(registration: Registration, now: str) -> bool:
    """Clause 5.2.9: a registration past its expiresAt no longer takes part."""
    expires = registration.get("expiresAt")
    return expires is None or _instant(expires) > _instant(now)


def as_entity(registration: Registration) -> dict[str, Any]:
    """The registration viewed as an entity in stored form, so ``csf``, ``scopeQ`` and geo-queries
    on registrations (clause 5.10.2) reuse the entity evaluators: its context source properties
    and geometries become Properties and GeoProperties."""
    attributes: dict[str, list[dict[str, Any]]] = {
        iri: [{"type": "Property", "value": value}]
        for iri, value in registration["properties"].items()
    }
    for member, iri in _GEO_MEMBERS.items():
        if member in registration:
            attributes[iri] = [{"type": "GeoProperty", "value": registration[member]}]
    for member in ("registrationName", "description", "endpoint", "mode", "tenant"):
        if member in registration:
            attributes[member] = [{"type": "Property", "value": registration[member]}]
    return {
        "id": registration["id"],
        "type": [REGISTRATION_TYPE],
        "scope": registration.get("scope"),
        "attributes": attributes,
    }


Predicate = Callable[[Registration], bool]


def registration_filter(params: Mapping[str, str], context: ActiveContext) -> Predicate:
    """Query Context Source Registrations (clause 5.10.2): id, type, idPattern, attrs, csf, scopeQ, geo."""
    ids = names(params.get("id"), "id")
    types = names(params.get("type"), "type")
    attrs = names(params.get("attrs"), "attrs")
    pattern = params.get("idPattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            raise BadRequestData(
                f"idPattern is not a valid regular expression: {error}."
            ) from None
    target = Target(
        ids=None if ids is None else frozenset(ids),
        types=None
        if types is None
        else frozenset(context.expand_term(name) for name in types),
        id_pattern=pattern,
        attrs=None
        if attrs is None
        else frozenset(context.expand_term(name) for name in attrs),
    )
    predicates: list[Predicate] = [
        lambda registration: registration_matches(registration, target)
    ]
    if params.get("csf") is not None:
        predicates.append(csf_filter(params["csf"], context))
    if params.get("scopeQ") is not None:
        try:
            scope = query.parse_scope_q(params["scopeQ"])
        except query.QueryError as error:
            raise BadRequestData(f"scopeQ: {error}") from None
        predicates.append(
            lambda registration: query.scope_matches(scope, registration.get("scope"))
        )
    try:
        geo_query = geo.parse_geo_query(
            params.get("georel"),
            params.get("geometry"),
            params.get("coordinates"),
            params.get("geoproperty"),
        )
    except geo.GeoQueryError as error:
        raise BadRequestData(f"{error.parameter}: {error.message}") from None
    if geo_query is not None:
        predicates.append(
            lambda registration: geo.entity_matches(
                geo_query, as_entity(registration), context.expand_term
            )
        )
    return lambda registration: all(predicate(registration) for predicate in predicates)


def csf_filter(text: str, context: ActiveContext) -> Predicate:
    """``csf``: the q language of clause 4.9 over the registration's own properties (clause 4.3.6)."""
    try:
        node = query.parse_q(text)
    except query.QueryError as error:
        raise BadRequestData(f"csf: {error}") from None

    def expand(name: str) -> str:
        return (
            name
            if name in ("registrationName", "description", "endpoint", "mode", "tenant")
            else context.expand_term(name)
        )

    node = node.map_attributes(expand)
    return lambda registration: query.matches(
        node, as_entity(registration), expand_vocab=context.expand_term
    )


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
