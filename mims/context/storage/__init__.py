"""Where entities live: the :class:`EntityStore` seam and its SQL implementation (SQLite, PostgreSQL)."""

from mims.context.storage.base import (
    EntityExists,
    EntityQuery,
    EntityStore,
    Page,
    TenantNotFound,
)
from mims.context.storage.sql import SqlEntityStore

__all__ = ["EntityExists", "EntityQuery", "EntityStore", "Page", "SqlEntityStore", "TenantNotFound"]
