"""The gateway's audit log: who accessed which data, when, and what the gateway decided.

Recording must never cost a request anything: :meth:`AuditLog.append` only queues the record
(bounded; when full the record is dropped and counted, never raised), and a background writer
stores the queue in batches, one transaction each. Shutdown stores what is still queued.
Records are never edited; only retention deletes them (``audit_retention_days``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from typing import Any

from fastapi import FastAPI, Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import audit_storage
from gateway.audit_api import router
from mims.kit.auth import AccessToken
from mims.kit.logging import request_id_var
from mims.kit.periodic import every

__all__ = ["AuditLog", "AuditRecord", "router", "running"]

logger = logging.getLogger("gateway.audit")

BATCH_SIZE = 500                 # records per transaction
FLUSH_INTERVAL = 0.2             # seconds a record may wait for its batch to fill
RETRY_DELAYS = (0.5, 2.0)        # seconds before each new attempt at a refused batch
PURGE_INTERVAL = 3600.0          # seconds between retention purges
_DROP_LOG_EVERY = 1000           # one warning per this many dropped records, not one each


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One data access through the gateway, allowed or denied."""

    at: datetime            # UTC, when the request arrived
    client_id: str | None   # from the verified token (None: no/invalid token)
    subject: str | None     # token sub
    issuer: str | None      # token iss (foreign issuers visible)
    method: str
    route: str              # the route table entry's name, e.g. "ngsi-ld"
    path: str
    entity_type: str | None # NGSI-LD type asked for, when known (query param type, or body type)
    dataset: str | None     # marketplace dataset, when known (None for now)
    decision: str           # "allow" | "deny"
    reason: str | None      # why denied (e.g. "insufficient_scope")
    status: int             # HTTP status sent to the client
    bytes_in: int
    bytes_out: int
    duration_ms: float
    request_id: str | None

    @classmethod
    def of(cls, request: Request, token: AccessToken | None, started: float, **what: Any) -> AuditRecord:
        """The record of ``request`` by the holder of ``token`` (None: none verified), handled since
        ``started`` (``time.perf_counter()``); ``what`` gives the remaining fields."""
        return cls(
            client_id=token.client_id if token else None,
            subject=token.sub if token else None,
            issuer=token.issuer if token else None,
            method=request.method,
            path=request.url.path,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            request_id=request_id_var.get(None),
            **what,
        )


class AuditLog:
    """A bounded queue of records in front of the audit table.

    ``dropped`` counts records refused because the queue was full (the database cannot keep
    up); ``lost`` counts records whose batch the database refused even when retried. Both are
    logged and, in the gateway, published as metrics.
    """

    def __init__(self, engine: AsyncEngine, *, max_queued: int = 10_000, batch_size: int = BATCH_SIZE,
                 interval: float = FLUSH_INTERVAL, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self._engine = engine
        self._queue: asyncio.Queue[AuditRecord] = asyncio.Queue(maxsize=max_queued)
        self._batch_size = batch_size
        self._interval = interval
        self._retry_delays = retry_delays
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0
        self.lost = 0

    def append(self, record: AuditRecord) -> None:
        """Queue ``record`` for the writer; never blocks, never raises."""
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % _DROP_LOG_EVERY == 0:
                logger.warning("audit queue full: %d records dropped so far", self.dropped)
            return
        if self._queue.qsize() >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Records queued and not yet stored."""
        return self._queue.qsize()

    async def flush(self) -> None:
        """Store every queued record now, in batches of at most ``batch_size``."""
        async with self._lock:
            while not self._queue.empty():
                size = min(self._batch_size, self._queue.qsize())
                batch = [self._queue.get_nowait() for _ in range(size)]
                await self._write(batch)

    def start(self) -> None:
        """Start the writer: a batch every ``interval`` seconds, or as soon as one is full."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._run(), name="audit writer")

    async def close(self) -> None:
        """Stop the writer and store what is still queued, so no record is lost on shutdown."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
            self._writer = None
        await self.flush()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def _write(self, batch: list[AuditRecord]) -> None:
        """Store ``batch``, retrying after each of ``retry_delays`` (a database restarting or
        failing over); a batch still refused then is counted as lost and logged."""
        rows = [asdict(record) for record in batch]
        for delay in (*self._retry_delays, None):
            try:
                await audit_storage.insert(self._engine, rows)
                return
            except Exception:
                if delay is None:
                    self.lost += len(batch)
                    logger.exception("audit: %d records could not be stored (%d lost so far)", len(batch),
                                     self.lost)
                    return
                logger.warning("audit: storing %d records failed; retrying in %s s", len(batch), delay)
            await asyncio.sleep(delay)


class _AuditCollector:
    """The log's counters for Prometheus, read when scraped."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("gateway_audit_dropped", "Audit records dropped: the queue was full.",
                                  value=self._log.dropped)
        yield CounterMetricFamily("gateway_audit_lost", "Audit records the database refused to store.",
                                  value=self._log.lost)
        yield GaugeMetricFamily("gateway_audit_pending", "Audit records queued, not yet stored.",
                                value=self._log.pending)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Background work of the audit log (``MimSpec.background``): sets ``app.state.audit``,
    runs its writer and the retention purge, and stores what is queued on the way out.
    With ``app.state.metrics`` (the gateway's Prometheus registry) its counters are published."""
    settings = app.state.settings
    engine: AsyncEngine = app.state.engine
    log = AuditLog(engine, max_queued=settings.audit_queue_size)
    retention = timedelta(days=settings.audit_retention_days)

    async def purge() -> None:
        deleted = await audit_storage.purge(engine, datetime.now(UTC) - retention)
        if deleted:
            logger.info("audit retention: %d records older than %d days deleted", deleted, retention.days)

    metrics = getattr(app.state, "metrics", None)
    collector = _AuditCollector(log)
    if metrics is not None:
        metrics.registry.register(collector)
    log.start()
    app.state.audit = log
    try:
        async with every(PURGE_INTERVAL, purge, logger, "audit retention purge failed"):
            yield
    finally:
        await log.close()
        if metrics is not None:
            metrics.registry.unregister(collector)
