"""Context source registrations and context source subscriptions in SQL (clauses 5.9 to 5.11).

Both are JSON documents in their stored form (terms expanded), one row each per tenant and id,
kept in creation order. A tenant's registrations are few compared to its entities, so matching
them against a query happens in Python over the tenant's rows; the unique (tenant, id)
constraint is what keeps two broker processes from creating the same registration twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.storage.tenants import check_tenant, ensure_tenant
from mims.kit.storage import begin_write

Document = dict[str, Any]

metadata = sa.MetaData()
_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_DOC = sa.JSON().with_variant(postgresql.JSONB, "postgresql")


def _table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(256), nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("doc", _DOC, nullable=False),
    )


registrations = _table("context_csource_registration")
subscriptions = _table("context_csource_subscription")


Guard = Callable[[list[Document]], None]
"""Checks a write against the tenant's other documents; raises to refuse it."""


class DocumentExists(Exception):
    """A document with this id already exists in the tenant (NGSI-LD AlreadyExists)."""


class DocumentStore:
    """One kind of document (registrations or csource subscriptions) per tenant.

    Like entities, a tenant comes into being with its first write and reading an unknown tenant
    raises :class:`TenantNotFound` (clause 4.14).
    """

    def __init__(self, engine: AsyncEngine, table: sa.Table) -> None:
        self._engine = engine
        self._table = table

    async def create(
        self, tenant: str, document: Document, guard: Guard | None = None
    ) -> None:
        """Store a new document; ``guard`` first sees the tenant's others, under a lock."""
        async with begin_write(self._engine) as connection:
            await ensure_tenant(connection, tenant)
            if guard is not None:
                guard(await self._locked_all(connection, tenant))
            try:
                await connection.execute(
                    self._table.insert().values(
                        tenant=tenant, id=document["id"], doc=document
                    )
                )
            except IntegrityError:
                raise DocumentExists(document["id"]) from None

    async def get(self, tenant: str, document_id: str) -> Document | None:
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            query = sa.select(self._table.c.doc).where(
                self._table.c.tenant == tenant, self._table.c.id == document_id
            )
            return (await connection.execute(query)).scalar_one_or_none()

    async def all(self, tenant: str) -> list[Document]:
        """Every document of the tenant in creation order; an unknown tenant has none."""
        async with self._engine.connect() as connection:
            query = (
                sa.select(self._table.c.doc)
                .where(self._table.c.tenant == tenant)
                .order_by(self._table.c.pk)
            )
            return [row.doc for row in await connection.execute(query)]

    async def replace(
        self, tenant: str, document: Document, guard: Guard | None = None
    ) -> bool:
        """Store the new version of an existing document; ``False`` if it is gone."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            if guard is not None:
                guard(await self._locked_all(connection, tenant))
            result = await connection.execute(
                self._table.update()
                .where(
                    self._table.c.tenant == tenant, self._table.c.id == document["id"]
                )
                .values(doc=document)
            )
            return result.rowcount > 0

    async def _locked_all(
        self, connection: AsyncConnection, tenant: str
    ) -> list[Document]:
        """The tenant's documents, read after taking the tenant's write lock for this table.

        On PostgreSQL a transaction-scoped advisory lock serialises guarded writes of every
        broker process sharing the database, so two overlapping exclusive registrations cannot
        both pass the check; SQLite already admits one writer at a time.
        """
        if connection.dialect.name == "postgresql":
            key = f"{self._table.name}/{tenant}"
            await connection.execute(
                sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(key)))
            )
        query = sa.select(self._table.c.doc).where(self._table.c.tenant == tenant)
        return [
            row.doc
            for row in await connection.execute(query.order_by(self._table.c.pk))
        ]

    async def delete(self, tenant: str, document_id: str) -> Document | None:
        """Remove a document and return it, or ``None`` when there was none."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            result = await connection.execute(
                self._table.delete()
                .where(self._table.c.tenant == tenant, self._table.c.id == document_id)
                .returning(self._table.c.doc)
            )
            return result.scalar_one_or_none()


# Clause 5.2.9 status of each registration: requests sent to its source and their outcome.
statuses = sa.Table(
    "context_csource_status",
    metadata,
    sa.Column("tenant", sa.String(256), primary_key=True),
    sa.Column("registration_id", sa.Text, primary_key=True),
    sa.Column("times_sent", sa.Integer, nullable=False),
    sa.Column("times_failed", sa.Integer, nullable=False),
    sa.Column("last_success", sa.DateTime(timezone=True)),
    sa.Column("last_failure", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(8), nullable=False),
)


async def record_answers(engine: AsyncEngine, tenant: str, answered: dict[str, bool], at: datetime) -> None:
    """Count one request to each registration's source, ``True`` where it answered (clause 5.2.9)."""
    if not answered:
        return
    async with begin_write(engine) as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        for registration_id, ok in sorted(answered.items()):
            insert = dialect.insert(statuses).values(
                tenant=tenant, registration_id=registration_id, times_sent=1, times_failed=0 if ok else 1,
                last_success=at if ok else None, last_failure=None if ok else at, status="ok" if ok else "failed")
            outcome = {"last_success": at} if ok else {"last_failure": at}
            await connection.execute(insert.on_conflict_do_update(
                index_elements=["tenant", "registration_id"],
                set_={"times_sent": statuses.c.times_sent + 1,
                      "times_failed": statuses.c.times_failed + (0 if ok else 1),
                      "status": "ok" if ok else "failed", **outcome}))


async def registration_statuses(engine: AsyncEngine, tenant: str, registration_id: str | None = None
                                ) -> dict[str, dict[str, Any]]:
    """Registration id -> its status members (``status``, ``timesSent``, ``timesFailed``,
    ``lastSuccess``, ``lastFailure``) for the registrations whose source was ever asked (all of
    the tenant's, or the one ``registration_id``)."""
    query = sa.select(statuses).where(statuses.c.tenant == tenant)
    if registration_id is not None:
        query = query.where(statuses.c.registration_id == registration_id)
    async with engine.connect() as connection:
        rows = await connection.execute(query)
        return {row.registration_id: _status(row) for row in rows}


async def forget_status(engine: AsyncEngine, tenant: str, registration_id: str) -> None:
    """Drop a deleted registration's status, so a new one with its id starts afresh."""
    async with begin_write(engine) as connection:
        await connection.execute(statuses.delete().where(
            statuses.c.tenant == tenant, statuses.c.registration_id == registration_id))


def _status(row: Any) -> dict[str, Any]:
    members: dict[str, Any] = {"status": row.status, "timesSent": row.times_sent, "timesFailed": row.times_failed}
    for member, value in (("lastSuccess", row.last_success), ("lastFailure", row.last_failure)):
        if value is not None:
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            members[member] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return members
