"""Changes to stored entities (CIM 009 V1.8.1, clauses 5.6.2 to 5.6.5 and 5.6.17 to 5.6.19).

Every operation here is a pure function from the stored entity (and a request fragment already
in the stored form) to the new stored entity, or ``None`` when nothing changes. The system
timestamps follow clause 4.8 at every level: ``createdAt`` of an entity, attribute instance or
sub-attribute survives every change to it, and ``modifiedAt`` moves only where something
actually changed, so a repeated identical update is no change at all.

Fragments (clause 5.4: an entity without the members the operation does not need) are
normalized by the same :class:`~mims.context.ngsild.attributes.AttributeNormalizer` as created
entities, so every problem is reported at once and nothing is written when there is any. Where
the operation is a PATCH (Update Attributes, Partial Attribute Update, Merge Entity), the NGSI-LD
Null (JSON ``null`` or ``"urn:ngsi-ld:null"``, clause 4.5.0) deletes what it names.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mims.context.ngsild.attributes import (
    CONTENT_MEMBER,
    IMPLIED_TYPE,
    NGSI_LD_NULL,
    PROPERTY,
    SYSTEM_MEMBERS,
    AttributeNormalizer,
)
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.entity import (
    ENTITY_MEMBERS,
    entity_types,
    entity_scopes,
    normalize_entity,
)
from mims.context.ngsild.errors import BadRequestData, ResourceNotFound
from mims.kit.problems import ProblemItem

Entity = dict[str, Any]
Instance = dict[str, Any]

#: Marks, in a normalized fragment, an instance (or a whole attribute) the request deletes.
DELETE = "@delete"
_ALL, _ONE = "attribute", "instance"
# Stand-ins for NGSI-LD Null while a fragment passes the normalizer; random, so no request can
# send them.
_NULL_ALL = f"urn:ngsi-ld:null#{secrets.token_hex(12)}:all"
_NULL_ONE = f"urn:ngsi-ld:null#{secrets.token_hex(12)}:one"
_TIMESTAMPS = ("createdAt", "modifiedAt")
_STRUCTURAL = frozenset(IMPLIED_TYPE) | SYSTEM_MEMBERS | {"type", "datasetId", "observedAt", "unitCode", "objectType", "lang"}


@dataclass(slots=True)
class UpdateResult:
    """Clause 5.2.18 UpdateResult: attributes changed and those left alone, with why (IRIs)."""

    updated: list[str] = field(default_factory=list)
    not_updated: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self, context: ActiveContext) -> dict[str, Any]:
        return {
            "updated": [context.compact_iri(iri) for iri in self.updated],
            "notUpdated": [{"attributeName": context.compact_iri(iri), "reason": why} for iri, why in self.not_updated],
        }


@dataclass(frozen=True, slots=True)
class Fragment:
    """An entity fragment in the stored form: optional types and scope, and attributes.

    ``scope`` is ``None`` when absent and ``[]`` when the request deletes it. Attribute instances
    may be deletion marks (``{DELETE: "attribute" | "instance", "datasetId": ...}``) in PATCH
    fragments, at the top level or among sub-attributes.
    """

    types: list[str] | None
    scope: list[str] | None
    attributes: dict[str, list[Instance]]


# -- request bodies to the stored form ---------------------------------------------------------


def normalize_fragment(body: Any, context: ActiveContext, now: str, entity_id: str, *, nulls: bool = False) -> Fragment:
    """An entity fragment for ``entity_id`` (clause 5.4); ``nulls`` lets NGSI-LD Null delete."""
    if not isinstance(body, Mapping):
        raise BadRequestData("An entity fragment must be a JSON object.", errors=[ProblemItem("", "expected a JSON object")])
    normalizer = AttributeNormalizer(context, now)
    for key in ("id", "@id"):
        if key in body and body[key] != entity_id:
            normalizer.problem(f"/{key}", f"the fragment's id {body[key]!r} is not the entity's id {entity_id!r}")
    types = entity_types(body, context, normalizer) if "type" in body or "@type" in body else None
    scope = None
    if "scope" in body:
        scope = [] if nulls and body["scope"] in (None, NGSI_LD_NULL) else entity_scopes(body["scope"], normalizer)
    members = {key: value for key, value in body.items() if key not in ENTITY_MEMBERS and key not in SYSTEM_MEMBERS}
    if nulls:
        members = {name: _mark_nulls(raw, top=True) for name, raw in members.items()}
    attributes = normalizer.attributes(members, "")
    _raise_problems(normalizer)
    return Fragment(types, scope, _deletions(attributes) if nulls else attributes)


def normalize_attribute(
    name: str, body: Any, context: ActiveContext, now: str, *, existing: Instance | None = None, nulls: bool = False
) -> tuple[str, list[Instance]]:
    """The IRI and instances of one attribute sent on its own (``/attrs/{attrId}``, clause 6.7).

    With ``existing`` (Partial Attribute Update), a body naming neither a type nor a content
    member patches that instance, so ``{"observedAt": ...}`` keeps its value.
    """
    normalizer = AttributeNormalizer(context, now)
    iri = normalizer.attribute_iri(name, "")
    if existing is not None and isinstance(body, Mapping) and "type" not in body and not IMPLIED_TYPE.keys() & body.keys():
        content = CONTENT_MEMBER[existing["type"]]
        body = {"type": existing["type"], content: existing[content], **body}
    if nulls:
        body = _mark_nulls(body, top=False)
    instances = normalizer.instances(name, body, "", 0) if iri is not None else []
    _raise_problems(normalizer)
    assert iri is not None
    if nulls:
        instances = _deletions({iri: instances})[iri]
    return iri, instances


def _raise_problems(normalizer: AttributeNormalizer) -> None:
    if normalizer.problems:
        first = normalizer.problems[0]
        more = f" (and {len(normalizer.problems) - 1} more; see errors)" if len(normalizer.problems) > 1 else ""
        raise BadRequestData(f"{first.pointer or '/'}: {first.detail}{more}.", errors=normalizer.problems)


def _is_null(value: Any) -> bool:
    return value is None or value == NGSI_LD_NULL


def _mark_nulls(raw: Any, *, top: bool) -> Any:
    """Replace NGSI-LD Nulls by stand-in Properties the normalizer accepts (see :func:`_deletions`)."""
    if _is_null(raw):
        return {"type": PROPERTY, "value": _NULL_ALL if top else _NULL_ONE}
    if isinstance(raw, list) and raw and all(isinstance(item, dict) for item in raw):
        return [_mark_instance(item) for item in raw]
    return _mark_instance(raw) if isinstance(raw, dict) else raw


def _mark_instance(raw: dict[str, Any]) -> dict[str, Any]:
    explicit = "type" in raw or IMPLIED_TYPE.keys() & raw.keys()
    if not explicit:
        return raw  # a concise compound value: its nulls are merge-patch members of the value
    if any(member in raw and _is_null(raw[member]) for member in IMPLIED_TYPE):
        marked = {"type": PROPERTY, "value": _NULL_ONE}
        if "datasetId" in raw:
            marked["datasetId"] = raw["datasetId"]
        return marked
    return {key: value if key in _STRUCTURAL else _mark_nulls(value, top=False) for key, value in raw.items()}


def _deletions(attributes: dict[str, list[Instance]]) -> dict[str, list[Instance]]:
    """Turn the stand-ins back into deletion marks, at every level."""
    result: dict[str, list[Instance]] = {}
    for iri, instances in attributes.items():
        marked = []
        for instance in instances:
            value = instance.get("value") if instance["type"] == PROPERTY else None
            if value in (_NULL_ALL, _NULL_ONE):
                mark = {DELETE: _ALL if value == _NULL_ALL else _ONE}
                if "datasetId" in instance:
                    mark = {DELETE: _ONE, "datasetId": instance["datasetId"]}
                marked.append(mark)
                continue
            if "attributes" in instance:
                instance["attributes"] = _deletions(instance["attributes"])
            marked.append(instance)
        result[iri] = marked
    return result


# -- the operations ----------------------------------------------------------------------------


def append_attributes(entity: Entity, fragment: Fragment, now: str, *, no_overwrite: bool) -> tuple[Entity | None, UpdateResult]:
    """Append Entity Attributes (clause 5.6.3): add attributes, replace existing ones unless
    ``noOverwrite``; the fragment's types are added to the entity's (clause 5.6.3, 4.16)."""
    new = _copy(entity)
    result = UpdateResult()
    if fragment.types:
        new["type"] = list(dict.fromkeys([*new["type"], *fragment.types]))
    if fragment.scope is not None and not (no_overwrite and "scope" in new):
        new["scope"] = fragment.scope
    for iri, instances in fragment.attributes.items():
        current = new["attributes"].setdefault(iri, [])
        changed = False
        for instance in instances:
            index = _find(current, instance.get("datasetId"))
            if index is None:
                current.append(instance)
                changed = True
            elif no_overwrite:
                result.not_updated.append((iri, _exists_reason(instance)))
            else:
                current[index] = _settled(current[index], instance, now)
                changed = True
        if changed:
            result.updated.append(iri)
    return _finished(entity, new, now), result


def update_attributes(entity: Entity, fragment: Fragment, now: str) -> tuple[Entity | None, UpdateResult]:
    """Update Entity Attributes (clause 5.6.2): replace existing attribute instances only.

    Attributes (or datasetIds) the entity does not have are reported in ``notUpdated``; an
    NGSI-LD Null deletes the instance (or attribute) it names.
    """
    new = _copy(entity)
    result = UpdateResult()
    for iri, instances in fragment.attributes.items():
        current = new["attributes"].get(iri)
        if current is None:
            result.not_updated.append((iri, "the entity has no such attribute"))
            continue
        changed = False
        for instance in instances:
            if instance.get(DELETE) == _ALL:
                del new["attributes"][iri]
                changed = True
                break
            index = _find(current, instance.get("datasetId"))
            if index is None:
                result.not_updated.append((iri, f"the attribute has no instance with {_dataset_text(instance)}"))
            elif DELETE in instance:
                del current[index]
                changed = True
            else:
                current[index] = _settled(current[index], instance, now)
                changed = True
        if iri in new["attributes"] and not new["attributes"][iri]:
            del new["attributes"][iri]
        if changed:
            result.updated.append(iri)
    return _finished(entity, new, now), result


def merge_entity(entity: Entity, fragment: Fragment, now: str) -> Entity | None:
    """Merge Entity (clause 5.6.17): merge-patch the entity with the fragment.

    Attributes and sub-attributes present are merged into the instance with the same datasetId
    (members absent from the fragment, like ``observedAt`` or ``unitCode``, are kept), JSON
    object values of Properties are merged as RFC 7396 says, new ones are added, NGSI-LD Null
    deletes, types are added and a scope given replaces the entity's.
    """
    new = _copy(entity)
    if fragment.types:
        new["type"] = list(dict.fromkeys([*new["type"], *fragment.types]))
    if fragment.scope == []:
        new.pop("scope", None)
    elif fragment.scope is not None:
        new["scope"] = fragment.scope
    _merge_attributes(new["attributes"], fragment.attributes, now)
    return _finished(entity, new, now)


def replace_entity(entity: Entity, replacement: Entity, now: str) -> Entity | None:
    """Replace Entity (clause 5.6.18): types, scope and attributes all become the replacement's.

    The entity keeps its ``createdAt``, and so does every attribute instance that survives.
    """
    new: Entity = {"id": entity["id"], "type": replacement["type"]}
    if "scope" in replacement:
        new["scope"] = replacement["scope"]
    new["createdAt"], new["modifiedAt"] = entity["createdAt"], entity["modifiedAt"]
    new["attributes"] = {}
    for iri, instances in replacement["attributes"].items():
        old = entity["attributes"].get(iri, [])
        settled = []
        for instance in instances:
            index = _find(old, instance.get("datasetId"))
            settled.append(instance if index is None else _settled(old[index], instance, now))
        new["attributes"][iri] = settled
    return _finished(entity, new, now)


def normalize_replacement(body: Any, context: ActiveContext, now: str, entity_id: str) -> Entity:
    """The body of Replace Entity as a complete entity; its id, if any, must be ``entity_id``."""
    if isinstance(body, Mapping) and "id" not in body and "@id" not in body:
        body = {"id": entity_id, **body}
    replacement = normalize_entity(body, context, now)
    if replacement["id"] != entity_id:
        key = "id" if "id" in body else "@id"
        raise BadRequestData(
            f"The body's id {replacement['id']!r} is not the entity's id {entity_id!r}.",
            errors=[ProblemItem(f"/{key}", "the id of a replacement must be the id of the entity it replaces")],
        )
    return replacement


def partial_attribute_update(entity: Entity, iri: str, patch: list[Instance], now: str) -> Entity | None:
    """Partial Attribute Update (clause 5.6.4): merge the given members into one existing instance.

    The instance is the one with the fragment's datasetId (the default instance without one);
    404 ResourceNotFound when the entity has no such attribute or instance.
    """
    new = _copy(entity)
    current = new["attributes"].get(iri)
    for instance in patch:
        index = None if current is None else _find(current, instance.get("datasetId"))
        if current is None or index is None:
            raise ResourceNotFound(f"Entity {entity['id']} has no attribute {iri} with {_dataset_text(instance)}.")
        if DELETE in instance:
            del current[index]
        else:
            current[index] = _merged(current[index], instance, now)
    if current is not None and not current:
        del new["attributes"][iri]
    return _finished(entity, new, now)


def replace_attribute(entity: Entity, iri: str, replacement: list[Instance], now: str) -> Entity | None:
    """Replace Attribute (clause 5.6.19): replace existing instances wholesale; 404 for others."""
    new = _copy(entity)
    current = new["attributes"].get(iri)
    for instance in replacement:
        index = None if current is None else _find(current, instance.get("datasetId"))
        if current is None or index is None:
            raise ResourceNotFound(f"Entity {entity['id']} has no attribute {iri} with {_dataset_text(instance)}.")
        current[index] = _settled(current[index], instance, now)
    return _finished(entity, new, now)


def delete_attribute(entity: Entity, iri: str, now: str, *, dataset_id: str | None = None, delete_all: bool = False) -> Entity:
    """Delete Entity Attribute (clause 5.6.5): the default instance, the one with ``dataset_id``,
    or with ``delete_all`` every instance; 404 ResourceNotFound when there is none."""
    new = _copy(entity)
    current = new["attributes"].get(iri)
    if current is None:
        raise ResourceNotFound(f"Entity {entity['id']} has no attribute {iri}.")
    if delete_all:
        del new["attributes"][iri]
    else:
        index = _find(current, dataset_id)
        if index is None:
            which = f"datasetId {dataset_id!r}" if dataset_id else "no datasetId (the default instance)"
            raise ResourceNotFound(f"Attribute {iri} of entity {entity['id']} has no instance with {which}.")
        del current[index]
        if not current:
            del new["attributes"][iri]
    new["modifiedAt"] = now
    return new


# -- merging and timestamps --------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch of ``target`` with ``patch`` (objects merge, ``null`` removes)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_attributes(current: dict[str, list[Instance]], patch: dict[str, list[Instance]], now: str) -> None:
    for iri, instances in patch.items():
        existing = current.setdefault(iri, [])
        for instance in instances:
            if instance.get(DELETE) == _ALL:
                existing.clear()
                continue
            index = _find(existing, instance.get("datasetId"))
            if DELETE in instance:
                if index is not None:
                    del existing[index]
            elif index is None:
                existing.append(_without_marks(instance))
            else:
                existing[index] = _merged(existing[index], instance, now)
        if not existing:
            del current[iri]


def _merged(old: Instance, patch: Instance, now: str) -> Instance:
    """``patch`` merged into ``old``: members given replace, sub-attributes merge recursively."""
    if patch["type"] != old["type"]:
        return _settled(old, _without_marks(patch), now)
    new = copy.deepcopy(old)
    for member, value in patch.items():
        if member in _TIMESTAMPS:
            continue
        if member == "attributes":
            _merge_attributes(new.setdefault("attributes", {}), value, now)
            if not new["attributes"]:
                del new["attributes"]
        elif member == "value" and old["type"] == PROPERTY and isinstance(value, dict) and isinstance(old.get("value"), dict):
            new["value"] = merge_patch(old["value"], value)
        else:
            new[member] = value
    return _settled(old, new, now)


def _settled(old: Instance, new: Instance, now: str) -> Instance:
    """``new`` replacing ``old``: createdAt kept, modifiedAt only moved where content changed."""
    new = dict(new)
    new["createdAt"] = old["createdAt"]
    subs_old = old.get("attributes", {})
    if "attributes" in new:
        settled_subs: dict[str, list[Instance]] = {}
        for iri, instances in new["attributes"].items():
            previous = subs_old.get(iri, [])
            settled_subs[iri] = [
                instance if (index := _find(previous, instance.get("datasetId"))) is None
                else _settled(previous[index], instance, now)
                for instance in instances
            ]
        new["attributes"] = settled_subs
    new["modifiedAt"] = old["modifiedAt"] if _content(new) == _content(old) else now
    return new


def _finished(old: Entity, new: Entity, now: str) -> Entity | None:
    """The new entity with its modifiedAt moved, or ``None`` when nothing changed."""
    if _content(new) == _content(old):
        return None
    new["modifiedAt"] = now
    return new


def _content(item: Mapping[str, Any]) -> dict[str, Any]:
    """An entity or instance without system timestamps, at every level, for change detection."""
    result = {key: value for key, value in item.items() if key not in _TIMESTAMPS and key != "attributes"}
    if "attributes" in item:
        result["attributes"] = {iri: [_content(sub) for sub in subs] for iri, subs in item["attributes"].items()}
    return result


def _without_marks(instance: Instance) -> Instance:
    if "attributes" not in instance:
        return instance
    subs = {iri: [_without_marks(sub) for sub in subs if DELETE not in sub] for iri, subs in instance["attributes"].items()}
    subs = {iri: items for iri, items in subs.items() if items}
    result = {key: value for key, value in instance.items() if key != "attributes"}
    if subs:
        result["attributes"] = subs
    return result


def _copy(entity: Entity) -> Entity:
    new = dict(entity)
    new["type"] = list(entity["type"])
    new["attributes"] = {iri: list(instances) for iri, instances in entity["attributes"].items()}
    return new


def _find(instances: list[Instance], dataset_id: str | None) -> int | None:
    for index, instance in enumerate(instances):
        if instance.get("datasetId") == dataset_id:
            return index
    return None


def _dataset_text(instance: Instance) -> str:
    dataset_id = instance.get("datasetId")
    return f"datasetId {dataset_id!r}" if dataset_id else "no datasetId (the default instance)"


def _exists_reason(instance: Instance) -> str:
    return f"the attribute already has an instance with {_dataset_text(instance)} and noOverwrite is set"
