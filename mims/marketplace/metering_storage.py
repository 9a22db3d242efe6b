"""Usage records in SQL, behind the domain's ``UsageStore`` (migration ``marketplace_0002``).

``record_id`` is unique: a record seen before is skipped by ``INSERT ... ON CONFLICT DO NOTHING``
(SQLite and PostgreSQL alike), so two gateways resending at once still count it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.kit.storage import as_utc, begin_write
from mims.marketplace.contracts_storage import (
    agreement_from_row,
    agreements,
    grants,
    metadata,
)
from mims.marketplace.metering import AgreementUsage, UsageFilter, UsageRecord

records = sa.Table(
    "marketplace_usage_record",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.Text, nullable=False, unique=True),
    sa.Column("agreement", sa.String(64), nullable=False),
    sa.Column("grant_id", sa.String(64), nullable=False),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("calls", sa.BigInteger, nullable=False),
    sa.Column("entities", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("statuses", sa.JSON),
    sa.Column("start", sa.DateTime(timezone=True), nullable=False),
    sa.Column("end", sa.DateTime(timezone=True), nullable=False),
    sa.Column("gateway", sa.Text),
    sa.Column("received", sa.DateTime(timezone=True), nullable=False),
)


class SqlUsageStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def add(self, batch: Sequence[UsageRecord], received: datetime) -> int:
        accepted = 0
        async with begin_write(self._engine) as connection:
            for record in batch:
                statement = self._insert(records).values(
                    record_id=record.record_id, agreement=record.agreement, grant_id=record.grant_id,
                    client_id=record.client_id, subject=record.subject, dataset=record.dataset, calls=record.calls,
                    entities=record.entities, bytes=record.bytes, start=record.start, end=record.end,
                    statuses=dict(record.statuses) if record.statuses is not None else None,
                    gateway=record.gateway, received=received,
                ).on_conflict_do_nothing(index_elements=["record_id"])
                accepted += (await connection.execute(statement)).rowcount
        return accepted

    async def usage(self, selection: UsageFilter) -> list[AgreementUsage]:
        summed = (
            sa.select(
                records.c.agreement,
                sa.cast(sa.func.sum(records.c.calls), sa.BigInteger).label("calls"),
                sa.cast(sa.func.sum(records.c.entities), sa.BigInteger).label("entities"),
                sa.cast(sa.func.sum(records.c.bytes), sa.BigInteger).label("bytes"),
                sa.func.min(records.c.start).label("first_use"),
                sa.func.max(records.c.end).label("last_use"),
            )
            .group_by(records.c.agreement)
            .subquery()
        )
        query = (
            sa.select(agreements, summed.c.calls, summed.c.entities, summed.c.bytes, summed.c.first_use,
                      summed.c.last_use, grants.c.remaining)
            .select_from(
                agreements.outerjoin(summed, summed.c.agreement == agreements.c.uid)
                .outerjoin(grants, grants.c.agreement == agreements.c.uid)
            )
            .order_by(agreements.c.seq)
        )
        if selection.agreement is not None:
            query = query.where(agreements.c.uid == selection.agreement)
        if selection.dataset is not None:
            query = query.where(agreements.c.dataset == selection.dataset)
        if selection.client_id is not None:
            query = query.where(agreements.c.consumer == selection.client_id)
        async with self._engine.connect() as connection:
            rows = [row._mapping for row in (await connection.execute(query)).all()]
        return [_usage(row) for row in rows]


def _usage(row: Any) -> AgreementUsage:
    return AgreementUsage(
        agreement=agreement_from_row(row), calls=int(row["calls"] or 0), entities=int(row["entities"] or 0),
        bytes=int(row["bytes"] or 0), first_use=_utc(row["first_use"]), last_use=_utc(row["last_use"]),
        remaining=row["remaining"],
    )


def _utc(moment: Any) -> datetime | None:
    return as_utc(moment) if moment is not None else None
