"""The broker's @context store (CIM 009 V1.8.1, clause 5.13): one row per stored @context.

Hosted @contexts (added by clients, clause 5.13.2), Cached ones (copies of remote @contexts the
broker resolved, kept under their original URL) and ImplicitlyCreated ones (the wrappers the
broker hosts for request @contexts that are not one URL) live in one table shared by every broker
process on the database, so a context hosted through one process resolves in all of them and
survives restarts. Usage counts are added, never overwritten, so processes can report their hits
concurrently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.kit.storage import begin_write

HOSTED = "Hosted"
CACHED = "Cached"
IMPLICITLY_CREATED = "ImplicitlyCreated"
KINDS = (HOSTED, CACHED, IMPLICITLY_CREATED)

metadata = sa.MetaData()

jsonld_contexts = sa.Table(
    "context_jsonld_context",
    metadata,
    sa.Column("local_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("url", sa.Text, nullable=True, unique=True),  # the original URL of a Cached @context
    sa.Column("document", sa.JSON().with_variant(postgresql.JSONB, "postgresql"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_usage", sa.DateTime(timezone=True), nullable=True),
    sa.Column("hits", sa.BigInteger, nullable=False, server_default="0"),
)


@dataclass(frozen=True)
class StoredContext:
    """One stored @context: its document (``{"@context": ...}``) and the metadata of clause 5.13.3."""

    local_id: str
    kind: str
    url: str | None
    document: dict[str, Any]
    created_at: datetime
    last_usage: datetime | None
    hits: int


@dataclass(frozen=True)
class Usage:
    """Hits counted in one process since its last report, and when the last one happened."""

    hits: int
    last: datetime


class ContextStore:
    """The @context table on the MIM's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, local_id: str, kind: str, document: dict[str, Any], created_at: datetime,
                  url: str | None = None) -> StoredContext:
        """Store an @context; an existing row with the same id or URL wins and is returned.

        Ids of Cached and ImplicitlyCreated @contexts derive from their URL or content, so two
        processes storing the same one at once end up with the single row either wrote.
        """
        row = {"local_id": local_id, "kind": kind, "url": url, "document": document, "created_at": created_at,
               "hits": 0}
        try:
            async with begin_write(self._engine) as connection:
                await connection.execute(jsonld_contexts.insert().values(**row))
        except IntegrityError:
            existing = await self.get(local_id) or (await self.get(url) if url is not None else None)
            if existing is not None:
                return existing
            raise
        return StoredContext(local_id, kind, url, document, created_at, None, 0)

    async def get(self, key: str) -> StoredContext | None:
        """The @context whose local id, or (for Cached ones) original URL, is ``key``."""
        query = sa.select(jsonld_contexts).where(sa.or_(jsonld_contexts.c.local_id == key,
                                                        jsonld_contexts.c.url == key))
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return _record(row) if row is not None else None

    async def list(self, kind: str | None = None) -> list[StoredContext]:
        """Every stored @context (of one kind), oldest first."""
        query = sa.select(jsonld_contexts).order_by(jsonld_contexts.c.created_at, jsonld_contexts.c.local_id)
        if kind is not None:
            query = query.where(jsonld_contexts.c.kind == kind)
        async with self._engine.connect() as connection:
            return [_record(row) for row in await connection.execute(query)]

    async def delete(self, local_id: str) -> bool:
        async with begin_write(self._engine) as connection:
            result = await connection.execute(jsonld_contexts.delete().where(jsonld_contexts.c.local_id == local_id))
        return result.rowcount > 0

    async def replace_document(self, local_id: str, document: dict[str, Any], at: datetime) -> None:
        """A reloaded Cached @context (clause 5.13.5): new content, counted afresh from ``at``."""
        update = (jsonld_contexts.update().where(jsonld_contexts.c.local_id == local_id)
                  .values(document=document, created_at=at, hits=0, last_usage=None))
        async with begin_write(self._engine) as connection:
            await connection.execute(update)

    async def add_usage(self, usage: Mapping[str, Usage]) -> None:
        """Add hit counts by local id; ids without a row (say, deleted meanwhile) are skipped."""
        if not usage:
            return
        table = jsonld_contexts
        seen = sa.bindparam("seen", type_=sa.DateTime(timezone=True))
        latest = sa.case((table.c.last_usage.is_(None), seen), (table.c.last_usage < seen, seen),
                         else_=table.c.last_usage)
        update = (table.update().where(table.c.local_id == sa.bindparam("key"))
                  .values(hits=table.c.hits + sa.bindparam("added", type_=sa.BigInteger), last_usage=latest))
        rows = [{"key": local_id, "added": used.hits, "seen": used.last} for local_id, used in sorted(usage.items())]
        async with begin_write(self._engine) as connection:
            await connection.execute(update, rows)


def _record(row: Any) -> StoredContext:
    return StoredContext(row.local_id, row.kind, row.url, row.document, _utc(row.created_at), _utc(row.last_usage),
                         row.hits)


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; every one stored here is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
