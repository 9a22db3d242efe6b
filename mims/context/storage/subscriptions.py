"""Subscriptions, the notification outbox and pending deliveries in SQL (CIM 009 V1.8.1, clause 5.8).

Three tables. ``context_subscription`` holds each subscription's stored form, the @context its
notifications are compacted with, and the notification status of clause 5.2.14 (timesSent,
lastSuccess, ...). ``context_notification_outbox`` receives one row per entity change, written by
:func:`record_change` inside the entity's own write transaction, so no change is lost or
notified for a write that rolled back. ``context_notification_delivery`` holds rendered
notifications until their endpoint accepts them, with the attempt count and the time of the next
attempt, so retries survive a restart.

Several broker processes may share one PostgreSQL database: outbox rows, deliveries and due
periodic subscriptions are claimed with ``FOR UPDATE SKIP LOCKED`` so each is handled by exactly
one process; throttling is a single conditional UPDATE.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.ngsild.subscriptions import parse_instant
from mims.context.storage.events import ChangeEvent
from mims.context.storage.tables import one_of
from mims.context.storage.tenants import check_tenant, ensure_tenant
from mims.kit.storage import begin_write, insert_rows

_CHUNK = 1000  # row keys per IN list

metadata = sa.MetaData()
_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB, "postgresql")
_WHEN = sa.DateTime(timezone=True)

subscriptions = sa.Table(
    "context_subscription",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(256), nullable=False),
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("doc", _JSON, nullable=False),
    sa.Column("contexts", _JSON, nullable=False),
    sa.Column("created_at", _WHEN, nullable=False),
    sa.Column("modified_at", _WHEN, nullable=False),
    sa.Column("expires_at", _WHEN),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("time_interval", sa.Float),
    sa.Column("next_periodic_at", _WHEN),
    sa.Column("throttled_until", _WHEN),
    sa.Column("times_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("times_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_notification", _WHEN),
    sa.Column("last_success", _WHEN),
    sa.Column("last_failure", _WHEN),
    sa.Column("delivery_status", sa.String(16)),
)

outbox = sa.Table(
    "context_notification_outbox",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(256), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("before", _JSON),
    sa.Column("after", _JSON),
    sa.Column("at", sa.String(40), nullable=False),
)

deliveries = sa.Table(
    "context_notification_delivery",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),
    sa.Column("subscription_pk", _PK, sa.ForeignKey("context_subscription.pk", ondelete="CASCADE"), nullable=False),
    sa.Column("payload", _JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", _WHEN, nullable=False),
)


class SubscriptionExists(Exception):
    """A subscription with this id already exists in the tenant (NGSI-LD AlreadyExists)."""


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """One stored subscription with what the broker keeps about it."""

    pk: int
    tenant: str
    doc: dict[str, Any]
    contexts: list[Any]
    created_at: datetime
    modified_at: datetime
    delivery: dict[str, Any]  # clause 5.2.14 notification status members, ready to render

    @property
    def system(self) -> dict[str, str]:
        return {"createdAt": utc_text(self.created_at), "modifiedAt": utc_text(self.modified_at)}


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed notification waiting to be sent to its subscription's endpoint."""

    pk: int
    attempts: int
    payload: dict[str, Any]
    subscription: SubscriptionRecord


def utc_text(moment: datetime) -> str:
    """An instant as NGSI-LD writes system timestamps (ISO 8601, UTC, ``Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite hands back naive datetimes stored as UTC


def _record(row: Row) -> SubscriptionRecord:
    delivery: dict[str, Any] = {"timesSent": row.times_sent, "timesFailed": row.times_failed}
    for member, column in (("lastNotification", "last_notification"), ("lastSuccess", "last_success"),
                           ("lastFailure", "last_failure")):
        moment = _aware(getattr(row, column))
        if moment is not None:
            delivery[member] = utc_text(moment)
    if row.delivery_status is not None:
        delivery["status"] = row.delivery_status
    return SubscriptionRecord(row.pk, row.tenant, row.doc, row.contexts, _aware(row.created_at),
                              _aware(row.modified_at), delivery)


def _columns(doc: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The indexed columns derived from a stored subscription."""
    interval = doc.get("timeInterval")
    return {
        "expires_at": parse_instant(doc["expiresAt"]) if "expiresAt" in doc else None,
        "is_active": doc.get("isActive", True),
        "time_interval": interval,
        "next_periodic_at": now if interval is not None else None,
    }


class SqlSubscriptionStore:
    """Create, read, update and delete subscriptions (clauses 5.8.1 to 5.8.5) per tenant."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, tenant: str, doc: dict[str, Any], contexts: list[Any], now: datetime) -> None:
        """Store a new subscription; raises :class:`SubscriptionExists` if its id is taken."""
        async with begin_write(self._engine) as connection:
            await ensure_tenant(connection, tenant)
            try:
                await connection.execute(subscriptions.insert().values(
                    tenant=tenant, id=doc["id"], doc=doc, contexts=contexts, created_at=now, modified_at=now,
                    times_sent=0, times_failed=0, **_columns(doc, now)))
            except IntegrityError:
                raise SubscriptionExists(doc["id"]) from None

    async def get(self, tenant: str, subscription_id: str) -> SubscriptionRecord | None:
        """The subscription, or ``None``; raises :class:`TenantNotFound`."""
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            row = (await connection.execute(sa.select(subscriptions).where(
                subscriptions.c.tenant == tenant, subscriptions.c.id == subscription_id))).first()
            return None if row is None else _record(row)

    async def list(self, tenant: str, limit: int, offset: int, count: bool) -> tuple[list[SubscriptionRecord], int | None]:
        """A page of the tenant's subscriptions in creation order, and their number when asked."""
        async with self._engine.connect() as connection:
            await check_tenant(connection, tenant)
            rows = (await connection.execute(sa.select(subscriptions).where(subscriptions.c.tenant == tenant)
                                             .order_by(subscriptions.c.pk).limit(limit).offset(offset))).all()
            total = None
            if count:
                total = (await connection.execute(sa.select(sa.func.count()).select_from(subscriptions)
                                                  .where(subscriptions.c.tenant == tenant))).scalar_one()
            return [_record(row) for row in rows], total

    async def replace(self, tenant: str, doc: dict[str, Any], now: datetime) -> bool:
        """Store the updated form of an existing subscription (clause 5.8.2); ``False`` if gone."""
        async with begin_write(self._engine) as connection:
            result = await connection.execute(subscriptions.update().where(
                subscriptions.c.tenant == tenant, subscriptions.c.id == doc["id"]).values(
                doc=doc, modified_at=now, **_columns(doc, now)))
            return result.rowcount == 1

    async def delete(self, tenant: str, subscription_id: str) -> bool:
        """Remove a subscription and its pending deliveries; raises :class:`TenantNotFound`."""
        async with begin_write(self._engine) as connection:
            await check_tenant(connection, tenant)
            pk = (await connection.execute(sa.select(subscriptions.c.pk).where(
                subscriptions.c.tenant == tenant, subscriptions.c.id == subscription_id))).scalar_one_or_none()
            if pk is None:
                return False
            await connection.execute(deliveries.delete().where(deliveries.c.subscription_pk == pk))
            await connection.execute(subscriptions.delete().where(subscriptions.c.pk == pk))
            return True


# Whether a tenant has a subscription notified on change (the statement is built once).
_WATCHED = sa.select(subscriptions.c.pk).where(
    subscriptions.c.tenant == sa.bindparam("tenant"),
    subscriptions.c.is_active.is_(True),
    subscriptions.c.time_interval.is_(None),
).limit(1)


async def record_change(connection: AsyncConnection, events: Sequence[ChangeEvent]) -> bool:
    """Entity listener: put the changes in the outbox, in the writing transaction; no matching here.

    Only changes in tenants with an active subscription notified on change are recorded (a
    change is notified to the subscriptions that exist when it is made); whether any was.
    """
    watched = {tenant for tenant in dict.fromkeys(event.tenant for event in events)
               if (await connection.execute(_WATCHED, {"tenant": tenant})).first() is not None}
    recorded = [{"tenant": event.tenant, "kind": event.kind, "entity_id": event.entity_id, "before": event.before,
                 "after": event.after, "at": event.at} for event in events if event.tenant in watched]
    await insert_rows(connection, outbox, recorded)
    return bool(recorded)


async def has_changes(engine: AsyncEngine) -> bool:
    """Whether the outbox holds any change."""
    return await _any(engine, sa.select(outbox.c.pk))


async def _any(engine: AsyncEngine, query: sa.Select[Any]) -> bool:
    """Whether ``query`` finds a row: a short read, so polling never competes with writers for a lock."""
    async with engine.connect() as connection:
        return (await connection.execute(query.limit(1))).first() is not None


async def claim_changes(connection: AsyncConnection, limit: int) -> list[Row]:
    """The oldest outbox rows no other process holds, locked and removed with the transaction."""
    rows = (await connection.execute(sa.select(outbox).order_by(outbox.c.pk).limit(limit)
                                     .with_for_update(skip_locked=True))).all()
    if rows:
        await connection.execute(outbox.delete().where(outbox.c.pk.in_([row.pk for row in rows])))
    return list(rows)


async def live_subscriptions(connection: AsyncConnection, tenant: str, now: datetime,
                             known: Mapping[int, SubscriptionRecord]) -> list[SubscriptionRecord]:
    """The tenant's active, unexpired subscriptions notified on change (not periodic ones).

    Records in ``known`` (by row key) that are still live and unmodified are reused: only their
    keys and modification times are read, not their documents. Their delivery status may be old.
    """
    live = (await connection.execute(sa.select(subscriptions.c.pk, subscriptions.c.modified_at).where(
        subscriptions.c.tenant == tenant,
        subscriptions.c.is_active.is_(True),
        subscriptions.c.time_interval.is_(None),
        sa.or_(subscriptions.c.expires_at.is_(None), subscriptions.c.expires_at > now),
    ).order_by(subscriptions.c.pk))).all()
    found: dict[int, SubscriptionRecord] = {}
    stale = []
    for pk, modified_at in live:
        record = known.get(pk)
        if record is not None and record.modified_at == _aware(modified_at):
            found[pk] = record
        else:
            stale.append(pk)
    for start in range(0, len(stale), _CHUNK):
        rows = await connection.execute(sa.select(subscriptions).where(one_of(subscriptions.c.pk, stale[start:start + _CHUNK])))
        found.update((row.pk, _record(row)) for row in rows)
    return [found[pk] for pk, _ in live if pk in found]


async def take_throttle(connection: AsyncConnection, subscription_pk: int, now: datetime, seconds: float) -> bool:
    """Whether the throttling period has passed (clause 5.2.12); if so, start the next one atomically."""
    result = await connection.execute(subscriptions.update().where(
        subscriptions.c.pk == subscription_pk,
        sa.or_(subscriptions.c.throttled_until.is_(None), subscriptions.c.throttled_until <= now),
    ).values(throttled_until=now + timedelta(seconds=seconds)))
    return result.rowcount == 1


async def enqueue(connection: AsyncConnection, items: Sequence[tuple[int, dict[str, Any]]], now: datetime) -> None:
    """Queue rendered notifications ``(subscription pk, payload)`` for delivery now."""
    if items:
        await connection.execute(deliveries.insert(), [
            {"subscription_pk": pk, "payload": payload, "attempts": 0, "next_attempt_at": now} for pk, payload in items])


async def claim_deliveries(engine: AsyncEngine, limit: int, now: datetime, lease: float) -> list[Delivery]:
    """Due deliveries, leased for ``lease`` seconds so no other process sends them meanwhile."""
    if not await _any(engine, sa.select(deliveries.c.pk).where(deliveries.c.next_attempt_at <= now)):
        return []
    async with begin_write(engine) as connection:
        rows = (await connection.execute(
            sa.select(subscriptions, deliveries.c.pk.label("delivery_pk"), deliveries.c.attempts,
                      deliveries.c.payload)
            .join(subscriptions, subscriptions.c.pk == deliveries.c.subscription_pk)
            .where(deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.pk).limit(limit)
            .with_for_update(skip_locked=True, of=deliveries)
        )).all()
        if rows:
            await connection.execute(deliveries.update().where(deliveries.c.pk.in_([row.delivery_pk for row in rows]))
                                     .values(next_attempt_at=now + timedelta(seconds=lease)))
    return [Delivery(row.delivery_pk, row.attempts, row.payload, _record(row)) for row in rows]


async def postpone(engine: AsyncEngine, pks: Sequence[int], until: datetime) -> None:
    """Claimed deliveries not attempted: due again at ``until``, attempts unchanged."""
    async with begin_write(engine) as connection:
        for start in range(0, len(pks), _CHUNK):
            await connection.execute(deliveries.update().where(one_of(deliveries.c.pk, pks[start:start + _CHUNK]))
                                     .values(next_attempt_at=until))


async def delivered(engine: AsyncEngine, delivery: Delivery, at: datetime) -> None:
    """The endpoint accepted the notification: drop it and count it (clause 5.2.14)."""
    async with begin_write(engine) as connection:
        await connection.execute(deliveries.delete().where(deliveries.c.pk == delivery.pk))
        await connection.execute(subscriptions.update().where(subscriptions.c.pk == delivery.subscription.pk).values(
            times_sent=subscriptions.c.times_sent + 1, last_notification=at, last_success=at, delivery_status="ok"))


async def failed(engine: AsyncEngine, delivery: Delivery, at: datetime, retry_at: datetime | None) -> None:
    """A delivery attempt failed: retry at ``retry_at``, or give up when it is ``None``."""
    async with begin_write(engine) as connection:
        if retry_at is None:
            await connection.execute(deliveries.delete().where(deliveries.c.pk == delivery.pk))
        else:
            await connection.execute(deliveries.update().where(deliveries.c.pk == delivery.pk).values(
                attempts=delivery.attempts + 1, next_attempt_at=retry_at))
        await connection.execute(subscriptions.update().where(subscriptions.c.pk == delivery.subscription.pk).values(
            times_failed=subscriptions.c.times_failed + 1, last_notification=at, last_failure=at,
            delivery_status="failed"))


async def claim_periodic(engine: AsyncEngine, now: datetime, limit: int) -> list[SubscriptionRecord]:
    """Periodic subscriptions (timeInterval) that are due, each moved on by its interval."""
    if not await _any(engine, sa.select(subscriptions.c.pk).where(subscriptions.c.next_periodic_at <= now)):
        return []
    async with begin_write(engine) as connection:
        rows = (await connection.execute(sa.select(subscriptions).where(
            subscriptions.c.next_periodic_at <= now,
            subscriptions.c.is_active.is_(True),
            sa.or_(subscriptions.c.expires_at.is_(None), subscriptions.c.expires_at > now),
        ).order_by(subscriptions.c.next_periodic_at).limit(limit).with_for_update(skip_locked=True))).all()
        for row in rows:
            await connection.execute(subscriptions.update().where(subscriptions.c.pk == row.pk).values(
                next_periodic_at=now + timedelta(seconds=row.time_interval)))
    return [_record(row) for row in rows]
