"""Linked Entity Retrieval (CIM 009 V1.8.1, clause 4.5.23): ``join``, ``joinLevel``, ``containedBy``.

The entities a response holds link others through the ``object`` of their Relationships (and the
objects of their ListRelationships). With ``join=flat`` the linked entities found, up to
``joinLevel`` hops away, are added to the response after those asked for, each once; with
``join=inline`` each Relationship whose object was found carries the linked entity in an
``entity`` member, recursively up to ``joinLevel``. ``containedBy`` names entities already
shown along the way (by the caller, or a broker that forwarded the request): they are never
fetched again, so a cycle of relationships ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mims.context.ngsild.attributes import LIST_RELATIONSHIP, RELATIONSHIP, is_uri
from mims.context.ngsild.errors import BadRequestData
from mims.kit.problems import ProblemItem

Entity = Mapping[str, Any]
FLAT, INLINE = "flat", "inline"
NO_JOIN = "@none"
MAX_JOIN_LEVEL = 8
Fetch = Callable[[list[str]], Awaitable[Mapping[str, Entity]]]


@dataclass(frozen=True, slots=True)
class Join:
    """A validated join request: mode, depth and the ids not to visit again."""

    mode: str
    level: int = 1
    contained_by: frozenset[str] = frozenset()


def parse_join(join: str | None, level: str | None, contained_by: str | None, where: str = "") -> Join | None:
    """The ``join``, ``joinLevel`` and ``containedBy`` parameters (members under the JSON pointer
    ``where``, for a subscription); ``None`` for no join."""
    problems: list[ProblemItem] = []
    if join not in (None, NO_JOIN, FLAT, INLINE):
        problems.append(ProblemItem(f"{where}/join", f"join is one of {NO_JOIN}, {FLAT} or {INLINE}, not {join!r}"))
    depth = 1
    if level is not None:
        if not level.isdigit() or not 1 <= int(level) <= MAX_JOIN_LEVEL:
            problems.append(ProblemItem(f"{where}/joinLevel", f"joinLevel is a whole number from 1 to {MAX_JOIN_LEVEL}"))
        else:
            depth = int(level)
    shown = [item.strip() for item in (contained_by or "").split(",") if item.strip()]
    problems += [ProblemItem(f"{where}/containedBy", f"{item!r} is not an entity id (a URI)") for item in shown if not is_uri(item)]
    if problems:
        raise BadRequestData("Invalid Linked Entity Retrieval parameters (clause 4.5.23).", errors=problems)
    if join in (None, NO_JOIN):
        return None
    return Join(join, depth, frozenset(shown))


def linked_ids(entity: Entity) -> list[str]:
    """The objects of the entity's Relationships and ListRelationships, in order, each once."""
    found: dict[str, None] = {}
    for instances in entity.get("attributes", {}).values():
        for instance in instances:
            found.update(dict.fromkeys(_objects(instance)))
    return list(found)


async def linked_entities(entities: Sequence[Entity], join: Join, fetch: Fetch) -> dict[str, Entity]:
    """Id -> stored form of every entity linked from ``entities`` within ``join.level`` hops
    (not those already shown), in the order they were found."""
    seen = {entity["id"] for entity in entities} | join.contained_by
    found: dict[str, Entity] = {}
    frontier: Iterable[Entity] = entities
    for _ in range(join.level):
        wanted = [item for entity in frontier for item in linked_ids(entity) if item not in seen]
        wanted = list(dict.fromkeys(wanted))
        if not wanted:
            break
        seen.update(wanted)
        fetched = await fetch(wanted)
        step = {item: fetched[item] for item in wanted if item in fetched}
        found.update(step)
        frontier = step.values()
    return found


def inlined(entity: Entity, linked: Mapping[str, Entity], join: Join) -> dict[str, Any]:
    """``entity`` with each Relationship whose object is in ``linked`` carrying it as ``entity``,
    recursively up to ``join.level`` hops, never along a cycle."""
    return _inline(entity, linked, join.level, join.contained_by | {entity["id"]})


def _inline(entity: Entity, linked: Mapping[str, Entity], levels: int, path: frozenset[str]) -> dict[str, Any]:
    attributes: dict[str, list[dict[str, Any]]] = {}
    for iri, instances in entity["attributes"].items():
        attributes[iri] = []
        for instance in instances:
            target = instance.get("object") if instance.get("type") == RELATIONSHIP else None
            if levels > 0 and isinstance(target, str) and target in linked and target not in path:
                nested = _inline(linked[target], linked, levels - 1, path | {target})
                instance = {**instance, "entity": nested}
            attributes[iri].append(instance)
    return {**entity, "attributes": attributes}


def _objects(instance: Mapping[str, Any]) -> list[str]:
    if instance.get("type") == RELATIONSHIP and isinstance(instance.get("object"), str):
        return [instance["object"]]
    if instance.get("type") == LIST_RELATIONSHIP:
        return [item["object"] for item in instance.get("objectList", ())
                if isinstance(item, Mapping) and isinstance(item.get("object"), str)]
    return []
