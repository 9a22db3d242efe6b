"""Metering: what consumers do on their data-access grants, reported to the marketplace.

Every request the gateway forwards on a grant from the marketplace adds to an aggregate per grant
and user (token ``sub``): calls, entities returned, bytes of the answers' bodies sent, calls per
status class, and the time of the first call's start and the last call's end. Every
``usage_flush_interval`` seconds (and on shutdown) the aggregates become PPI ``usage-record@1.0.0``
documents, each with a fresh ``urn:uuid:`` ``record_id``, posted as one array to
``POST {marketplace}/usage-records``. Records the marketplace did not take (it could not be
reached, or answered 5xx) are sent again, with the same ``record_id`` (so counted once), on the
next flush, up to ``MAX_TRIES`` times, then dropped and counted; records it refused (4xx) are
dropped and counted at once. A batch is taken whole or refused whole, so a refused batch is sent
again record by record: only the records refused on their own are dropped.

Entities returned (:func:`entities_returned`) are counted exactly from the answer's body: only
2xx answers to ``/ngsi-ld/v1/entities`` and ``/ngsi-ld/v1/temporal/entities`` paths count, a JSON
(``application/json``, ``application/ld+json``) array counts its elements, a JSON object one entity,
a GeoJSON ``FeatureCollection`` its features and a ``Feature`` one. ``NGSILD-Results-Count`` is not
used: it is the number of matches, not of entities returned. An answer whose body is over
``PARSE_MAX_BYTES`` is sent on unparsed and counts no entities (logged).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway.grants import AS_GATEWAY, Grant
from mims.kit.periodic import every

logger = logging.getLogger("gateway.metering")

PPI = "usage-record@1.0.0"
MAX_TRIES = 12              # sends of one record before it is dropped
BATCH_SIZE = 500            # records per POST
PARSE_MAX_BYTES = 64 * 1024 * 1024
ENTITY_PATHS = ("/ngsi-ld/v1/entities", "/ngsi-ld/v1/temporal/entities")


def meterable(grant: Grant | None) -> bool:
    """True for a grant the marketplace knows (its ids are those usage records name)."""
    return grant is not None and grant.grant_id is not None and grant.agreement_id is not None


def entities_returned(path: str, status: int, content_type: str | None, body: bytes | bytearray) -> int:
    """The NGSI-LD entities in an answer to ``path`` (upstream path), as the module docstring says."""
    if not 200 <= status < 300 or not path.startswith(ENTITY_PATHS) or not body:
        return 0
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in ("application/json", "application/ld+json", "application/geo+json"):
        return 0
    if len(body) > PARSE_MAX_BYTES:
        logger.warning("an answer of %d bytes to %s is over %d bytes: its entities are not counted",
                       len(body), path, PARSE_MAX_BYTES)
        return 0
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    if isinstance(answer, list):
        return len(answer)
    if isinstance(answer, dict):
        if answer.get("type") == "FeatureCollection":
            features = answer.get("features")
            return len(features) if isinstance(features, list) else 0
        return 1
    return 0


@dataclass(slots=True)
class Usage:
    """The calls on one grant by one user since the last flush."""

    grant: Grant
    client_id: str
    subject: str | None
    start: datetime
    end: datetime
    calls: int = 0
    entities: int = 0
    bytes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    def record(self, gateway: str) -> dict[str, Any]:
        """This usage as a usage-record@1.0.0 document with a new record_id."""
        assert self.grant.grant_id is not None and self.grant.agreement_id is not None
        document: dict[str, Any] = {
            "record_id": f"urn:uuid:{uuid.uuid4()}",
            "agreement_id": self.grant.agreement_id,
            "grant_id": self.grant.grant_id,
            "client_id": self.client_id,
            "dataset": self.grant.dataset,
            "calls": self.calls,
            "entities": self.entities,
            "bytes": self.bytes,
            "statuses": dict(self.statuses),
            "start": _rfc3339(self.start),
            "end": _rfc3339(self.end),
            "gateway": gateway,
        }
        if self.subject:
            document["subject"] = self.subject
        return document


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class _Unsent:
    record: dict[str, Any]
    tries: int = 0


class Meter:
    """Aggregates usage per (grant, user) and reports it to the marketplace at ``marketplace_url``.

    ``sent`` counts records the marketplace took, ``dropped`` those given up on (refused, or
    not taken in ``max_tries`` sends); ``pending`` is what waits to be sent.
    """

    def __init__(self, marketplace_url: str, client: httpx.AsyncClient, *, gateway: str,
                 max_tries: int = MAX_TRIES) -> None:
        self.url = marketplace_url.rstrip("/") + "/usage-records"
        self.client = client
        self.gateway = gateway
        self.max_tries = max_tries
        self._usage: dict[tuple[str, str | None], Usage] = {}
        self._unsent: list[_Unsent] = []
        self._lock = asyncio.Lock()
        self.sent = 0
        self.dropped = 0

    def add(self, grant: Grant, client_id: str, subject: str | None, *, status: int, entities: int,
            bytes_sent: int, start: datetime, end: datetime) -> None:
        """Count one call on ``grant`` (a :func:`meterable` one) that began at ``start`` and ended at ``end``."""
        assert grant.grant_id is not None
        key = (grant.grant_id, subject)
        usage = self._usage.get(key)
        if usage is None:
            usage = self._usage[key] = Usage(grant, client_id, subject, start, end)
        usage.calls += 1
        usage.entities += entities
        usage.bytes += bytes_sent
        status_class = f"{status // 100}xx"
        usage.statuses[status_class] = usage.statuses.get(status_class, 0) + 1
        usage.start = min(usage.start, start)
        usage.end = max(usage.end, end)

    @property
    def pending(self) -> int:
        """Records (and aggregates not yet made into records) waiting to be sent."""
        return len(self._unsent) + len(self._usage)

    async def flush(self) -> None:
        """Turn the aggregates into records and send every unsent record."""
        async with self._lock:
            usage, self._usage = self._usage, {}
            self._unsent += [_Unsent(u.record(self.gateway)) for u in usage.values()]
            again: list[_Unsent] = []
            for start in range(0, len(self._unsent), BATCH_SIZE):
                again += await self._send(self._unsent[start:start + BATCH_SIZE])
            # Only now: a flush cancelled half-way sends everything again (the marketplace
            # counts a record_id once).
            self._unsent = again

    async def _send(self, batch: list[_Unsent]) -> list[_Unsent]:
        """Post ``batch``; what must be sent again."""
        try:
            response = await self.client.post(self.url, content=orjson.dumps([u.record for u in batch]),
                                              headers={"Content-Type": "application/json", **AS_GATEWAY})
            failure = None if response.status_code < 500 else f"answered {response.status_code}"
        except httpx.HTTPError as error:
            response, failure = None, f"could not be reached ({type(error).__name__})"
        if response is not None and failure is None:
            if response.is_success:
                self.sent += len(batch)
            elif len(batch) > 1:  # the marketplace takes a batch whole or not at all: find the refused
                again = []
                for unsent in batch:
                    again += await self._send([unsent])
                return again
            else:
                self.dropped += len(batch)
                logger.error("the marketplace refused %d usage records (%d): %s", len(batch),
                             response.status_code, response.text[:500])
            return []
        again = []
        for unsent in batch:
            unsent.tries += 1
            if unsent.tries < self.max_tries:
                again.append(unsent)
            else:
                self.dropped += 1
        logger.warning("the marketplace %s: %d usage records kept to send again, %d dropped so far",
                       failure, len(again), self.dropped)
        return again


class _MeterCollector:
    """The meter's counters for Prometheus, read when scraped."""

    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("gateway_usage_records_sent", "Usage records the marketplace took.",
                                  value=self._meter.sent)
        yield CounterMetricFamily("gateway_usage_records_dropped",
                                  "Usage records given up on: refused, or not taken in every try.",
                                  value=self._meter.dropped)
        yield GaugeMetricFamily("gateway_usage_records_pending", "Usage waiting to be sent to the marketplace.",
                                value=self._meter.pending)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Background work of metering (``MimSpec.background``): with a marketplace configured, sets
    ``app.state.meter`` and flushes it every ``usage_flush_interval`` seconds and on the way out."""
    settings = app.state.settings
    if not settings.marketplace_url:
        app.state.meter = None
        yield
        return
    gateway = app.state.gateway
    meter = Meter(settings.marketplace_url, gateway.client,
                  gateway=str(settings.public_url).rstrip("/") if settings.public_url else settings.city)
    collector = _MeterCollector(meter)
    gateway.metrics.registry.register(collector)
    app.state.meter = meter
    try:
        async with every(settings.usage_flush_interval, meter.flush, logger, "usage flush failed"):
            yield
    finally:
        await meter.flush()
        app.state.meter = None
        gateway.metrics.registry.unregister(collector)
