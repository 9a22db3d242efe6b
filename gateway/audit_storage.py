"""Storage of the audit log: one append-only table, written in batches, read newest first.

Times are stored as UTC: SQLite keeps no offset, so every value is normalised before it is
written or compared, and read back as aware UTC datetimes on both engines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.kit.storage import begin_write, insert_rows

metadata = sa.MetaData()

audit_record = sa.Table(
    "gateway_audit_record",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("client_id", sa.String(255)),
    sa.Column("subject", sa.String(255)),
    sa.Column("issuer", sa.Text),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("route", sa.String(128), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("entity_type", sa.Text),
    sa.Column("dataset", sa.Text),
    sa.Column("decision", sa.String(8), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("bytes_in", sa.BigInteger, nullable=False),
    sa.Column("bytes_out", sa.BigInteger, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("request_id", sa.String(128)),
)

# Every column a reader sees, in table order (the CSV header follows it); plain str, which
# orjson requires of keys (SQLAlchemy names are a str subclass).
COLUMNS: tuple[str, ...] = tuple(str(column.name) for column in audit_record.columns)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """What an auditor asks for; ``None`` leaves a field unfiltered. ``since`` is inclusive,
    ``until`` exclusive, so consecutive windows neither overlap nor leave gaps."""

    since: datetime | None = None
    until: datetime | None = None
    client_id: str | None = None
    subject: str | None = None
    route: str | None = None
    decision: str | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        if self.since is not None:
            clauses.append(audit_record.c.at >= utc(self.since))
        if self.until is not None:
            clauses.append(audit_record.c.at < utc(self.until))
        for name in ("client_id", "subject", "route", "decision"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(audit_record.c[name] == value)
        return clauses


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value is taken to be UTC already."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Bounded columns and their bounds: longer values (a client id of a foreign issuer, say) are
# cut to fit, so one odd record cannot make PostgreSQL refuse the whole batch it travels in.
_BOUNDED = {str(column.name): column.type.length for column in audit_record.columns
            if isinstance(column.type, sa.String) and column.type.length}


async def insert(engine: AsyncEngine, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` (mappings of every column but ``id``) in one transaction."""
    if not rows:
        return
    normalised = [_fitted(row) for row in rows]
    async with begin_write(engine) as connection:
        await insert_rows(connection, audit_record, normalised)


async def select(engine: AsyncEngine, where: AuditFilter, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """One page of matching records, newest first (ties broken by id, newest first)."""
    query = (
        sa.select(audit_record)
        .where(*where.where())
        .order_by(audit_record.c.at.desc(), audit_record.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [_record(row) for row in rows]


async def stream(engine: AsyncEngine, where: AuditFilter, *, limit: int | None, offset: int = 0,
                 chunk: int = 1000) -> AsyncIterator[dict[str, Any]]:
    """Every matching record (at most ``limit``, ``offset`` skipped), newest first, read ``chunk``
    rows at a time.

    Keyset paging on (at, id) keeps each query cheap however deep the export goes and holds
    no connection between chunks, so a slow download never pins a pooled connection.
    """
    remaining = limit
    last: tuple[datetime, int] | None = None
    while remaining is None or remaining > 0:
        size = chunk if remaining is None else min(chunk, remaining)
        query = sa.select(audit_record).where(*where.where())
        if last is not None:
            at, record_id = last
            query = query.where(sa.or_(audit_record.c.at < at,
                                       sa.and_(audit_record.c.at == at, audit_record.c.id < record_id)))
        else:
            query = query.offset(offset)
        query = query.order_by(audit_record.c.at.desc(), audit_record.c.id.desc()).limit(size)
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        for row in rows:
            yield _record(row)
        if len(rows) < size:
            return
        last = (utc(rows[-1]["at"]), rows[-1]["id"])
        if remaining is not None:
            remaining -= len(rows)


async def purge(engine: AsyncEngine, before: datetime) -> int:
    """Delete records older than ``before`` (retention); the number deleted."""
    async with begin_write(engine) as connection:
        result = await connection.execute(sa.delete(audit_record).where(audit_record.c.at < utc(before)))
    return result.rowcount or 0


def _fitted(row: Mapping[str, Any]) -> dict[str, Any]:
    fitted = {**row, "at": utc(row["at"])}
    for name, length in _BOUNDED.items():
        value = fitted.get(name)
        if isinstance(value, str) and len(value) > length:
            fitted[name] = value[:length]
    return fitted


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**{name: row[name] for name in COLUMNS}, "at": utc(row["at"])}
