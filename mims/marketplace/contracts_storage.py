"""Offers, negotiations, agreements and grants in SQL (SQLite or PostgreSQL), behind the domain's
``ContractStore``. Tables are created by migration ``marketplace_0002``; this module describes them.

Two writes race in practice and are decided by the database: a negotiation is replaced only at
the version it was read (so two parties moving it at once cannot both win), and uses are taken
from a grant by one conditional UPDATE (so concurrent gateways never take it below zero).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.kit.storage import as_utc, begin_write
from mims.marketplace.contracts import (
    Agreement,
    Changes,
    Event,
    Grant,
    Negotiation,
    Offer,
)
from mims.marketplace.dsp import Role, State

metadata = sa.MetaData()

offers = sa.Table(
    "marketplace_offer",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("uid", sa.Text, nullable=False, unique=True),
    sa.Column("dataset_id", sa.String(32), nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

negotiations = sa.Table(
    "marketplace_negotiation",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("provider_pid", sa.String(64), nullable=False, unique=True),
    sa.Column("consumer_pid", sa.Text, nullable=False),
    sa.Column("consumer", sa.String(128), nullable=False),
    sa.Column("dataset_id", sa.String(32), nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("offer_id", sa.String(32), nullable=False),
    sa.Column("offer", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Column("purpose", sa.Text),
    sa.Column("location", sa.JSON),
    sa.Column("agreement", sa.String(64)),
    sa.Column("grant_id", sa.String(64)),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

agreements = sa.Table(
    "marketplace_agreement",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(64), nullable=False, unique=True),
    sa.Column("negotiation", sa.String(64), nullable=False),
    sa.Column("consumer", sa.String(128), nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("not_after", sa.DateTime(timezone=True)),
    sa.Column("terminated", sa.DateTime(timezone=True)),
    sa.Column("reason", sa.Text),
)

grants = sa.Table(
    "marketplace_grant",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("grant_id", sa.String(64), nullable=False, unique=True),
    sa.Column("agreement", sa.String(64), nullable=False, unique=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("query", sa.JSON, nullable=False),
    sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
    sa.Column("not_after", sa.DateTime(timezone=True)),
    sa.Column("remaining", sa.Integer),
    sa.Column("uses", sa.BigInteger, nullable=False),
    sa.Column("withdrawn", sa.DateTime(timezone=True)),
)


class SqlContractStore:
    """:class:`~mims.marketplace.contracts.ContractStore` on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_offer(self, offer: Offer) -> bool:
        try:
            async with begin_write(self._engine) as connection:
                await connection.execute(offers.insert().values(
                    id=offer.id, uid=offer.uid, dataset_id=offer.dataset_id, document=dict(offer.document),
                    created=offer.created,
                ))
        except IntegrityError:
            return False
        return True

    async def offer(self, key: str) -> Offer | None:
        query = sa.select(offers).where(sa.or_(offers.c.id == key, offers.c.uid == key)).order_by(offers.c.id != key)
        row = await self._first(query)
        return _offer(row) if row else None

    async def offers(self, dataset_id: str) -> list[Offer]:
        query = sa.select(offers).where(offers.c.dataset_id == dataset_id).order_by(offers.c.created, offers.c.id)
        return [_offer(row) for row in await self._all(query)]

    async def add_negotiation(self, negotiation: Negotiation, changes: Changes) -> None:
        async with begin_write(self._engine) as connection:
            await connection.execute(negotiations.insert().values(**_negotiation_columns(negotiation)))
            await _write(connection, negotiation, changes)

    async def negotiation(self, provider_pid: str) -> Negotiation | None:
        row = await self._first(sa.select(negotiations).where(negotiations.c.provider_pid == provider_pid))
        return _negotiation(row) if row else None

    async def negotiations(self, consumer: str | None) -> list[Negotiation]:
        query = sa.select(negotiations).order_by(negotiations.c.seq)
        if consumer is not None:
            query = query.where(negotiations.c.consumer == consumer)
        return [_negotiation(row) for row in await self._all(query)]

    async def move(self, negotiation: Negotiation, version: int, changes: Changes) -> bool:
        async with begin_write(self._engine) as connection:
            result = await connection.execute(
                negotiations.update()
                .where(negotiations.c.provider_pid == negotiation.provider_pid, negotiations.c.version == version)
                .values(**_negotiation_columns(negotiation))
            )
            if result.rowcount != 1:
                return False
            await _write(connection, negotiation, changes)
        return True

    async def agreement(self, uid: str) -> Agreement | None:
        row = await self._first(sa.select(agreements).where(agreements.c.uid == uid))
        return agreement_from_row(row) if row else None

    async def agreements(self, consumer: str | None) -> list[Agreement]:
        query = sa.select(agreements).order_by(agreements.c.seq)
        if consumer is not None:
            query = query.where(agreements.c.consumer == consumer)
        return [agreement_from_row(row) for row in await self._all(query)]

    async def terminate_agreement(self, uid: str, at: datetime, reason: str | None) -> bool:
        async with begin_write(self._engine) as connection:
            return await _terminate(connection, uid, at, reason)

    async def grant(self, grant_id: str) -> Grant | None:
        row = await self._first(sa.select(grants).where(grants.c.grant_id == grant_id))
        return grant_from_row(row) if row else None

    async def grants(self, client_id: str | None) -> list[Grant]:
        query = sa.select(grants).where(grants.c.withdrawn.is_(None)).order_by(grants.c.seq)
        if client_id is not None:
            query = query.where(grants.c.client_id == client_id)
        return [grant_from_row(row) for row in await self._all(query)]

    async def take_uses(self, grant_id: str, uses: int) -> tuple[bool, int | None]:
        async with begin_write(self._engine) as connection:
            row = (
                await connection.execute(
                    grants.update()
                    .where(
                        grants.c.grant_id == grant_id,
                        grants.c.withdrawn.is_(None),
                        sa.or_(grants.c.remaining.is_(None), grants.c.remaining >= uses),
                    )
                    .values(uses=grants.c.uses + uses, remaining=grants.c.remaining - uses)
                    .returning(grants.c.remaining)
                )
            ).first()
        return (True, row[0]) if row is not None else (False, None)

    async def _first(self, query: sa.Select[Any]) -> Any:
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return row._mapping if row else None

    async def _all(self, query: sa.Select[Any]) -> list[Any]:
        async with self._engine.connect() as connection:
            return [row._mapping for row in (await connection.execute(query)).all()]


async def _write(connection: AsyncConnection, negotiation: Negotiation, changes: Changes) -> None:
    if changes.agreement is not None:
        a = changes.agreement
        await connection.execute(agreements.insert().values(
            uid=a.uid, negotiation=a.negotiation, consumer=a.consumer, dataset=a.dataset, document=dict(a.document),
            created=a.created, not_before=a.not_before, not_after=a.not_after,
        ))
    if changes.grant is not None:
        g = changes.grant
        await connection.execute(grants.insert().values(
            grant_id=g.grant_id, agreement=g.agreement, client_id=g.client_id, dataset=g.dataset, query=dict(g.query),
            not_before=g.not_before, not_after=g.not_after, remaining=g.remaining, uses=g.uses,
        ))
    if changes.terminate_agreement and negotiation.agreement is not None:
        last = negotiation.history[-1]
        await _terminate(connection, negotiation.agreement, last.at, last.reason)


async def _terminate(connection: AsyncConnection, uid: str, at: datetime, reason: str | None) -> bool:
    result = await connection.execute(
        agreements.update()
        .where(agreements.c.uid == uid, agreements.c.terminated.is_(None))
        .values(terminated=at, reason=reason)
    )
    await connection.execute(
        grants.update().where(grants.c.agreement == uid, grants.c.withdrawn.is_(None)).values(withdrawn=at)
    )
    return bool(result.rowcount)


def _negotiation_columns(n: Negotiation) -> dict[str, Any]:
    return {
        "provider_pid": n.provider_pid, "consumer_pid": n.consumer_pid, "consumer": n.consumer,
        "dataset_id": n.dataset_id, "dataset": n.dataset, "offer_id": n.offer_id, "offer": dict(n.offer),
        "state": n.state.value, "version": n.version, "purpose": n.purpose,
        "location": list(n.location) if n.location is not None else None,
        "agreement": n.agreement, "grant_id": n.grant, "created": n.created,
        "history": [
            {"state": e.state.value, "by": e.by.value, "message": e.message, "at": e.at.isoformat(), "reason": e.reason}
            for e in n.history
        ],
    }


def _negotiation(row: Any) -> Negotiation:
    return Negotiation(
        provider_pid=row["provider_pid"], consumer_pid=row["consumer_pid"], consumer=row["consumer"],
        dataset_id=row["dataset_id"], dataset=row["dataset"], offer_id=row["offer_id"], offer=row["offer"],
        state=State(row["state"]), purpose=row["purpose"], created=as_utc(row["created"]),
        location=tuple(row["location"]) if row["location"] is not None else None,
        agreement=row["agreement"], grant=row["grant_id"],
        history=tuple(
            Event(State(e["state"]), Role(e["by"]), e["message"], datetime.fromisoformat(e["at"]), e.get("reason"))
            for e in row["history"]
        ),
    )


def _offer(row: Any) -> Offer:
    return Offer(row["id"], row["uid"], row["dataset_id"], row["document"], as_utc(row["created"]))


def agreement_from_row(row: Any) -> Agreement:
    return Agreement(
        uid=row["uid"], negotiation=row["negotiation"], consumer=row["consumer"], dataset=row["dataset"],
        document=row["document"], created=as_utc(row["created"]), not_before=as_utc(row["not_before"]),
        not_after=_utc(row["not_after"]), terminated=_utc(row["terminated"]), reason=row["reason"],
    )


def grant_from_row(row: Any) -> Grant:
    return Grant(
        grant_id=row["grant_id"], agreement=row["agreement"], client_id=row["client_id"], dataset=row["dataset"],
        query=row["query"], not_before=as_utc(row["not_before"]), not_after=_utc(row["not_after"]),
        remaining=row["remaining"], uses=row["uses"], withdrawn=_utc(row["withdrawn"]),
    )


def _utc(moment: Any) -> Any:
    return as_utc(moment) if moment is not None else None
