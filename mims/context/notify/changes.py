"""What a notification says about a change (CIM 009 V1.8.1, clauses 5.2.14 and 5.8.6).

An attribute instance removed by the change is notified with its content set to the NGSI-LD
Null (in the shape of its type: a null language map, a list of one null, ...). With the
subscription's ``showChanges``, every instance that existed before and was changed or removed
also carries its previous content (``previousValue``, ``previousObject``, ``previousLanguageMap``,
...); a creation has no previous content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mims.context.ngsild.attributes import NULL_CONTENT

Entity = Mapping[str, Any]
#: The member that keeps an instance's previous content, per content member.
PREVIOUS = {
    "value": "previousValue",
    "object": "previousObject",
    "languageMap": "previousLanguageMap",
    "vocab": "previousVocab",
    "json": "previousJson",
    "valueList": "previousValueList",
    "objectList": "previousObjectList",
}
_KEPT = ("type", "datasetId")  # what a removed instance still says about itself


def changed_entity(before: Entity | None, after: Entity, show_changes: bool) -> dict[str, Any]:
    """``after`` (stored form) with the instances the change removed as NGSI-LD Null, and with
    ``show_changes`` the previous content of every changed or removed instance."""
    previous = _instances(before)
    current = _instances(after)
    attributes: dict[str, list[dict[str, Any]]] = {}
    for iri, instances in after["attributes"].items():
        attributes[iri] = [_with_previous(instance, previous.get((iri, instance.get("datasetId"))), show_changes)
                           for instance in instances]
    for (iri, dataset), instance in previous.items():
        if (iri, dataset) not in current:
            attributes.setdefault(iri, []).append(removed(instance, show_changes))
    return {**after, "attributes": attributes}


def removed(instance: Mapping[str, Any], show_changes: bool) -> dict[str, Any]:
    """A removed instance: its type and datasetId, content the NGSI-LD Null (and what it was)."""
    content = _content(instance)
    tombstone = {key: instance[key] for key in _KEPT if key in instance}
    tombstone[content] = NULL_CONTENT[content]
    if show_changes:
        tombstone[PREVIOUS[content]] = instance[content]
    return tombstone


def _with_previous(instance: dict[str, Any], before: Mapping[str, Any] | None, show_changes: bool) -> dict[str, Any]:
    if not show_changes or before is None:
        return instance
    content = _content(before)
    if before.get(content) == instance.get(content) and before.get("type") == instance.get("type"):
        return instance
    return {**instance, PREVIOUS[content]: before[content]}


def _instances(entity: Entity | None) -> dict[tuple[str, str | None], Mapping[str, Any]]:
    if entity is None:
        return {}
    return {(iri, instance.get("datasetId")): instance
            for iri, instances in entity["attributes"].items() for instance in instances}


def _content(instance: Mapping[str, Any]) -> str:
    return next((member for member in PREVIOUS if member in instance), "value")
