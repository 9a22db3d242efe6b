"""The storage seam of the context MIM: entities in their stored form, per tenant (clause 4.14).

Every call names its tenant (the ``NGSILD-Tenant`` header, clause 6.3.14; ``""`` is the default
tenant, which always exists). Reads from a tenant nobody has written to raise
:class:`TenantNotFound`; the first entity created in a tenant creates it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mims.context.storage.filters import Filter

DEFAULT_TENANT = ""

Entity = dict[str, Any]


class TenantNotFound(LookupError):
    """The tenant has never been written to (NGSI-LD NonexistentTenant)."""


class EntityExists(Exception):
    """An entity with this id already exists in the tenant (NGSI-LD AlreadyExists)."""


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """Which entities a query selects (clause 5.7.2), as far as storage evaluates it.

    ``ids`` and ``types`` are alternatives (OR within each, AND between them); ``filters`` are
    further conditions (type expressions, id patterns, attribute presence, q, scopeQ and
    geo-queries, ``filters.py``) that storage compiles to indexed SQL where it can and evaluates
    on the candidates otherwise; ``matches`` is any other predicate on the stored entity.
    All of them must hold.
    """

    ids: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    matches: Callable[[Mapping[str, Any]], bool] | None = None
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True, slots=True)
class Page:
    """A page of query results in creation order; ``count`` only when it was asked for."""

    entities: list[Entity]
    count: int | None


class EntityStore(Protocol):
    """What the NGSI-LD operations need from storage."""

    async def create(self, tenant: str, entity: Entity) -> None:
        """Store a new entity; raises :class:`EntityExists` if its id is taken in the tenant."""

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        """The stored entity, or ``None``; raises :class:`TenantNotFound`."""

    async def delete(self, tenant: str, entity_id: str) -> bool:
        """Remove an entity; ``False`` if there was none. Raises :class:`TenantNotFound`."""

    async def query(self, tenant: str, query: EntityQuery, limit: int, offset: int, count: bool) -> Page:
        """Matching entities in creation order; raises :class:`TenantNotFound`."""
