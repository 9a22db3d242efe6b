"""Entity changes, as the storage reports them to whatever derives data from entities.

Every write of an entity (create, update, replace, delete; singly or in a batch) produces one
:class:`ChangeEvent` per entity. Listeners run inside the writing transaction, on its connection,
so what they derive (query indexes, the notification outbox, the temporal history) commits or
rolls back together with the entity: nothing is lost or half-written, even with several broker
processes on one database.

A listener is called once per write with all of its events (a purge: once per 1,000 entities),
at most one event per entity in a call, so it can write what it derives with one statement per
table whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

Entity = dict[str, Any]
ChangeKind = Literal["created", "updated", "deleted"]


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One entity changed: its stored form before and after (``None`` when absent)."""

    tenant: str
    kind: ChangeKind
    entity_id: str
    entity_pk: int  # the row key of the entity (still valid inside the transaction on delete)
    before: Entity | None
    after: Entity | None
    at: str  # ISO 8601 UTC instant of the change (the entity's new modifiedAt, or deletion time)


Listener = Callable[[AsyncConnection, Sequence[ChangeEvent]], Awaitable[None]]
