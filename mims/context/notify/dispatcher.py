"""The notification dispatcher: outbox to deliveries to endpoints (CIM 009 V1.8.1, clause 5.8.6, 5.11).

One background loop per broker process. Each round it

1. claims outbox rows (entity changes), matches them against the tenant's live subscriptions
   and queues a rendered notification per match, throttling honoured, all in one transaction;
2. claims due periodic subscriptions (timeInterval) and queues the entities they match now;
3. claims due deliveries and sends each in its own task, at most ``notification_concurrency``
   at once, so a slow or dead endpoint never holds up another; failures are retried with
   exponential backoff up to ``notification_max_attempts`` attempts, and deliveries to an
   endpoint that just refused a connection wait for it (``unreachable.py``).

It wakes when an entity write commits (a signal from :func:`outbox_listener`) and otherwise
polls every ``notification_poll_interval`` seconds, which also picks up work of other processes.
Polls only read; write transactions (BEGIN IMMEDIATE on SQLite) are begun only when there is
work to claim, and are short: no delivery is awaited while one is open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.context.ngsild.context import ContextResolver
from mims.context.ngsild.linked import INLINE, Join, inlined, linked_entities
from mims.context.ngsild.subscriptions import parse_instant
from mims.context.notify.changes import changed_entity, removed
from mims.context.notify.matching import CompiledSubscription
from mims.context.notify.payload import (
    deleted_entity,
    metadata,
    notification,
    notified_entity,
    representation,
)
from mims.context.notify.senders import DeliveryFailed, MqttPublishers, send_http
from mims.context.notify.unreachable import UnreachableEndpoints
from mims.context.storage import SqlEntityStore, TenantNotFound
from mims.context.storage.base import Entity, EntityQuery
from mims.context.storage.events import ChangeEvent, Listener
from mims.context.storage.querying import query_entities
from mims.context.storage.subscriptions import (
    Delivery,
    SubscriptionRecord,
    claim_changes,
    claim_deliveries,
    claim_periodic,
    delivered,
    enqueue,
    failed,
    has_changes,
    postpone,
    live_subscriptions,
    record_change,
    take_throttle,
    utc_text,
)
from mims.kit.storage import begin_write

logger = logging.getLogger(__name__)
_BATCH = 200
_PERIODIC_BATCH = 50


def outbox_listener(wake: Callable[[], None]) -> Listener:
    """The entity listener: record the changes in the outbox and wake the dispatcher on commit."""

    async def listener(connection: AsyncConnection, events: Sequence[ChangeEvent]) -> None:
        if await record_change(connection, events):
            sa.event.listen(connection.sync_connection, "commit", lambda _connection: wake(), once=True)

    return listener


class Dispatcher:
    """Matches entity changes to subscriptions and delivers the notifications."""

    def __init__(self, engine: AsyncEngine, resolver: ContextResolver, settings: Any) -> None:
        self._engine = engine
        self._resolver = resolver
        self._settings = settings
        self._wakeup = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=settings.notification_concurrency, max_keepalive_connections=32),
            timeout=settings.notification_timeout,
        )
        self._mqtt = MqttPublishers()
        self._tasks: set[asyncio.Task[None]] = set()
        self._compiled: dict[tuple[int, datetime], CompiledSubscription] = {}
        self._records: dict[int, SubscriptionRecord] = {}  # live subscriptions read, by row key
        self._unreachable = UnreachableEndpoints(settings.notification_retry_delay)
        self._runner: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Ask for a round now (safe from any thread)."""
        self._loop.call_soon_threadsafe(self._wakeup.set)

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name="ngsi-ld-notifications")

    async def stop(self) -> None:
        """Stop; deliveries in flight are abandoned and retried when their lease ends."""
        tasks = [*self._tasks, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()
        await self._mqtt.close()

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                busy = await self.round()
            except Exception:  # a broken round must not end notifications for good
                logger.exception("notification round failed")
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self._settings.notification_poll_interval)
                except TimeoutError:
                    pass

    async def round(self) -> bool:
        """One round of matching, periodic notifications and deliveries; whether work was found."""
        changes = await self._match_changes()
        periodic = await self._periodic()
        sending = await self._start_deliveries()
        return changes or periodic or sending

    async def _context(self, record: SubscriptionRecord) -> Any:
        return await self._resolver.resolve(record.contexts)

    async def _compile(self, record: SubscriptionRecord) -> CompiledSubscription:
        key = (record.pk, record.modified_at)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = CompiledSubscription(record.doc, await self._context(record))
            if len(self._compiled) > 4096:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    async def _match_changes(self) -> bool:
        if not await has_changes(self._engine):
            return False
        async with begin_write(self._engine) as connection:
            rows = await claim_changes(connection, _BATCH)
            now = datetime.now(UTC)
            by_tenant: dict[str, list[SubscriptionRecord]] = {}
            queued: list[tuple[int, dict[str, Any]]] = []
            for row in rows:
                if row.tenant not in by_tenant:
                    by_tenant[row.tenant] = await self._live_subscriptions(connection, row.tenant, now)
                for record in by_tenant[row.tenant]:
                    payload = await self._on_change(connection, record, row, now)
                    if payload is not None:
                        queued.append((record.pk, payload))
            await enqueue(connection, queued, now)
        return len(rows) == _BATCH or bool(queued)

    async def _live_subscriptions(self, connection: AsyncConnection, tenant: str,
                                  now: datetime) -> list[SubscriptionRecord]:
        """The tenant's live subscriptions, their documents read only when new or modified."""
        records = await live_subscriptions(connection, tenant, now, self._records)
        if len(self._records) > 4096:
            self._records.clear()
        self._records.update((record.pk, record) for record in records)
        return records

    async def _on_change(self, connection: AsyncConnection, record: SubscriptionRecord, row: Any,
                         now: datetime) -> dict[str, Any] | None:
        if record.created_at > parse_instant(row.at):
            return None  # the change was made before the subscription existed
        compiled = await self._compile(record)
        reason = compiled.trigger_reason(row.kind, row.before, row.after)
        entity = row.after if row.after is not None else row.before
        if reason is None or not compiled.selects(entity):
            return None
        throttling = record.doc.get("throttling")
        if throttling is not None and not await take_throttle(connection, record.pk, now, throttling):
            return None
        how = representation(record.doc)
        show_changes = record.doc["notification"].get("showChanges", False)
        if row.kind != "deleted":
            data = await self._joined(connection, record, [changed_entity(row.before, entity, show_changes)])
            return notification(record.doc, [notified_entity(item, compiled.context, how) for item in data],
                                compiled.context, utc_text(now), reason)
        if show_changes:  # every attribute gone, with what it held
            gone = {**entity, "attributes": {iri: [removed(instance, True) for instance in instances]
                                             for iri, instances in entity["attributes"].items()}}
            data = {**notified_entity(gone, compiled.context, how), "deletedAt": row.at}
        else:
            data = deleted_entity(entity, compiled.context, row.at)
        return notification(record.doc, [data], compiled.context, utc_text(now), reason)

    @staticmethod
    async def _joined(connection: AsyncConnection, record: SubscriptionRecord, entities: list[Entity]) -> list[Entity]:
        """The notified entities with what ``join`` asks of linked entities (clause 4.5.23)."""
        params = record.doc["notification"]
        if "join" not in params:
            return entities
        join = Join(params["join"], params.get("joinLevel", 1))

        async def fetch(ids: list[str]) -> dict[str, Entity]:
            page = await query_entities(connection, record.tenant, EntityQuery(ids=tuple(ids)), len(ids), 0, False)
            return {item["id"]: item for item in page.entities}

        linked = await linked_entities(entities, join, fetch)
        if join.mode == INLINE:
            return [inlined(entity, linked, join) for entity in entities]
        return [*entities, *linked.values()]

    async def _periodic(self) -> bool:
        now = datetime.now(UTC)
        due = await claim_periodic(self._engine, now, _PERIODIC_BATCH)
        entities = SqlEntityStore(self._engine)
        for record in due:
            compiled = await self._compile(record)
            try:
                page = await entities.query(record.tenant, EntityQuery(matches=compiled.selects),
                                            self._settings.max_limit, 0, False)
            except TenantNotFound:
                continue
            if page.entities:
                how = representation(record.doc)
                async with self._engine.connect() as connection:
                    joined = await self._joined(connection, record, page.entities)
                data = [notified_entity(entity, compiled.context, how) for entity in joined]
                payload = notification(record.doc, data, compiled.context, utc_text(now), None)
                async with begin_write(self._engine) as connection:
                    await enqueue(connection, [(record.pk, payload)], now)
        return len(due) == _PERIODIC_BATCH

    async def _start_deliveries(self) -> bool:
        free = self._settings.notification_concurrency - len(self._tasks)
        if free <= 0:
            return False
        lease = 2 * self._settings.notification_timeout + 5
        now = datetime.now(UTC)
        claimed = await claim_deliveries(self._engine, free, now, lease)
        waiting: dict[float, list[int]] = {}
        for delivery in claimed:
            pause = self._unreachable.paused_for(delivery.subscription.doc["notification"]["endpoint"]["uri"])
            if pause:
                waiting.setdefault(round(pause, 1), []).append(delivery.pk)
                continue
            task = asyncio.create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        for pause, pks in waiting.items():
            await postpone(self._engine, pks, now + timedelta(seconds=pause))
        return bool(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("notification delivery failed unexpectedly", exc_info=task.exception())

    async def _deliver(self, delivery: Delivery) -> None:
        record = delivery.subscription
        endpoint = record.doc["notification"]["endpoint"]
        headers = metadata(record.doc, record.contexts, record.tenant)
        timeout = endpoint["timeout"] / 1000 if "timeout" in endpoint else self._settings.notification_timeout
        try:
            if endpoint["uri"].startswith("mqtt"):
                info = {pair["key"]: pair["value"] for pair in endpoint.get("notifierInfo", ())}
                await self._mqtt.publish(endpoint["uri"], delivery.payload, headers, info, timeout)
            else:
                await send_http(self._client, endpoint["uri"], delivery.payload, headers, timeout)
        except DeliveryFailed as error:
            if error.unreachable:
                self._unreachable.failed_to_connect(endpoint["uri"])
            await self._failed(delivery, endpoint, str(error))
        else:
            self._unreachable.reached(endpoint["uri"])
            await delivered(self._engine, delivery, datetime.now(UTC))
            self._wakeup.set()

    async def _failed(self, delivery: Delivery, endpoint: dict[str, Any], reason: str) -> None:
        now = datetime.now(UTC)
        attempt = delivery.attempts + 1
        retry_at = None
        if attempt < self._settings.notification_max_attempts:
            delay = self._settings.notification_retry_delay * 2 ** (attempt - 1)
            delay = max(delay, endpoint.get("cooldown", 0) / 1000)
            retry_at = now + timedelta(seconds=delay)
        logger.warning("notification %s of %s failed (attempt %d): %s", delivery.payload.get("id"),
                       delivery.subscription.doc["id"], attempt, reason)
        await failed(self._engine, delivery, now, retry_at)
