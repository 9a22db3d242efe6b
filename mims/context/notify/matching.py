"""Which entity changes a subscription is notified of (CIM 009 V1.8.1, clauses 5.2.12 and 5.8.6).

A subscription matches a change when the change kind is one of its ``notificationTrigger``
values (limited to its ``watchedAttributes`` for attribute triggers), the entity is selected by
its ``entities`` (clause 5.2.33: id, idPattern, type expression), and the entity satisfies its
``q`` (clause 4.9), ``geoQ`` (clause 4.10) and ``scopeQ`` (clause 4.19). Everything is evaluated
on the stored form, with the subscription's kept @context for q and vocabulary terms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mims.context import geo, query
from mims.context.ngsild.context import ActiveContext
from mims.context.ngsild.subscriptions import type_matches

Entity = Mapping[str, Any]
_ATTRIBUTE_TRIGGERS = ("attributeCreated", "attributeUpdated", "attributeDeleted")


class CompiledSubscription:
    """A stored subscription with its q, scopeQ, geoQ and idPatterns parsed once."""

    def __init__(self, doc: Mapping[str, Any], context: ActiveContext) -> None:
        self.doc = doc
        self.context = context
        self.triggers = frozenset(doc["notificationTrigger"])
        self.watched = frozenset(doc.get("watchedAttributes", ()))
        self._selectors = [
            (item.get("id"), re.compile(item["idPattern"]) if "idPattern" in item else None, item["type"])
            for item in doc.get("entities", ())
        ]
        self._q = query.parse_q(doc["q"]).map_attributes(context.expand_term) if "q" in doc else None
        self._scope = query.parse_scope_q(doc["scopeQ"]) if "scopeQ" in doc else None
        self._geo = geo.parse_geoq(doc["geoQ"]) if "geoQ" in doc else None

    def selects(self, entity: Entity) -> bool:
        """Whether ``entity`` is one this subscription is about and meets its filters."""
        if self._selectors and not any(self._selected_by(selector, entity) for selector in self._selectors):
            return False
        if self._q is not None and not query.matches(self._q, entity, expand_vocab=self.context.expand_term):
            return False
        if self._scope is not None and not query.scope_matches(self._scope, entity.get("scope")):
            return False
        return self._geo is None or geo.entity_matches(self._geo, entity, lambda iri: iri)

    @staticmethod
    def _selected_by(selector: tuple[str | None, re.Pattern[str] | None, list[Any]], entity: Entity) -> bool:
        entity_id, pattern, types = selector
        if entity_id is not None and entity["id"] != entity_id:
            return False
        if pattern is not None and pattern.fullmatch(entity["id"]) is None:
            return False
        return type_matches(types, set(entity["type"]))

    def trigger_reason(self, kind: str, before: Entity | None, after: Entity | None) -> str | None:
        """The ``triggerReason`` of a change this subscription is notified of, or ``None``.

        ``kind`` is ``created``, ``updated`` or ``deleted``. Entity-level triggers win over
        attribute-level ones; with ``watchedAttributes`` only changes of those attributes count.
        """
        old = before["attributes"] if before else {}
        new = after["attributes"] if after else {}
        names = self.watched or (set(old) | set(new))
        changes = {
            "attributeCreated": any(name in new and name not in old for name in names),
            "attributeUpdated": any(name in new and name in old and new[name] != old[name] for name in names),
            "attributeDeleted": any(name in old and name not in new for name in names),
        }
        entity_trigger = {"created": "entityCreated", "updated": "entityUpdated", "deleted": "entityDeleted"}[kind]
        changed = kind != "updated" or any(changes.values()) or (not self.watched and before != after)
        if entity_trigger in self.triggers and changed:
            return entity_trigger
        return next((reason for reason in _ATTRIBUTE_TRIGGERS if changes[reason] and reason in self.triggers), None)
