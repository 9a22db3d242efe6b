"""Stored permit checks in SQL (SQLite or PostgreSQL): each decision with the site it was computed
on and who submitted it. The table is created by ``migrations/versions``; this module only
describes it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.kit.storage import as_utc, begin_write, insert_rows

metadata = sa.MetaData()

decisions = sa.Table(
    "permit_check_decision",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("municipality", sa.String(64), nullable=False),
    sa.Column("verdict", sa.String(32), nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decision", sa.JSON, nullable=False),
    sa.Column("site", sa.JSON, nullable=False),
    sa.Column("submitter", sa.Text),
    sa.Column("submitter_issuer", sa.Text),
)


@dataclass(frozen=True)
class Submitter:
    """Who submitted a check: an access token's subject, unique together with its issuer."""

    subject: str
    issuer: str | None = None


EVERYONE = None
"""``seen_by`` of a reader of every check (a reviewer); any other reader is the :class:`Submitter`
whose checks alone it sees."""


@dataclass(frozen=True)
class StoredCheck:
    id: str
    checked_at: datetime
    decision: dict[str, Any]
    """The permit-decision@1.0.0 document, with its ``id``."""
    site: dict[str, Any]
    """``{plan, features, parcel}``: what the decision was computed from."""


def new_id() -> str:
    return secrets.token_hex(16)


class SqlCheckStore:
    """Permit checks on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, check_id: str, checked_at: datetime, decision: dict[str, Any], site: dict[str, Any],
                  submitter: Submitter | None) -> None:
        await self.add_many([(check_id, checked_at, decision, site)], submitter)

    async def add_many(self, checks: list[tuple[str, datetime, dict[str, Any], dict[str, Any]]],
                       submitter: Submitter | None) -> None:
        """Store checks ``(id, checked at, decision, site)`` of one submitter (None: unknown) all
        together or none."""
        subject, issuer = (submitter.subject, submitter.issuer) if submitter else (None, None)
        rows = [{"id": check_id, "municipality": decision["ruleSet"]["municipality"], "verdict": decision["verdict"],
                 "checked_at": checked_at, "decision": decision, "site": site, "submitter": subject,
                 "submitter_issuer": issuer}
                for check_id, checked_at, decision, site in checks]
        async with begin_write(self._engine) as connection:
            await insert_rows(connection, decisions, rows)  # compiled once, not per check

    async def get(self, check_id: str, seen_by: Submitter | None) -> StoredCheck | None:
        """The check ``check_id`` if ``seen_by`` (a submitter, or :data:`EVERYONE`) may see it."""
        if "\x00" in check_id or len(check_id) > 32:
            return None
        query = _visible(sa.select(decisions).where(decisions.c.id == check_id), seen_by)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return _stored(row._mapping) if row else None

    async def page(self, limit: int, offset: int, seen_by: Submitter | None) -> tuple[int, list[StoredCheck]]:
        """The number of checks ``seen_by`` may see and ``limit`` of them from ``offset``, newest first."""
        counted = _visible(sa.select(sa.func.count()).select_from(decisions), seen_by)
        listed = _visible(sa.select(decisions.c.id, decisions.c.checked_at, decisions.c.decision), seen_by)
        async with self._engine.connect() as connection:
            total = (await connection.execute(counted)).scalar_one()
            rows = (await connection.execute(
                listed.order_by(decisions.c.seq.desc()).limit(limit).offset(offset))).all()
        return total, [StoredCheck(r.id, as_utc(r.checked_at), r.decision, {}) for r in rows]


def _visible(query: sa.Select[Any], seen_by: Submitter | None) -> sa.Select[Any]:
    if seen_by is None:  # EVERYONE
        return query
    return query.where(decisions.c.submitter == seen_by.subject,
                       decisions.c.submitter_issuer.is_not_distinct_from(seen_by.issuer))


def _stored(row: Any) -> StoredCheck:
    return StoredCheck(row["id"], as_utc(row["checked_at"]), row["decision"], row["site"])
