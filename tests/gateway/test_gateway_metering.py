"""Metering at the gateway: usage on grants aggregated per grant and user and reported to the
marketplace as usage-record@1.0.0 documents, sent again when not taken, flushed on shutdown.

Over real HTTP with the stand-in marketplace and context broker of ``test_gateway_grants``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from serving import closed_port
from test_gateway_grants import (
    DATASET,
    Marketplace,
    bearer,
    gateway,
    grant_document,
    stand_ins,
)

import ppi_schemas
from gateway.grants import Grant
from gateway.metering import Meter, entities_returned


def wait_for(check: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with stand_ins(tmp_path_factory.mktemp("metering")) as found:
        yield found


# -- counting entities -----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "status", "media_type", "body", "expected"), [
    ("/ngsi-ld/v1/entities", 200, "application/ld+json", b'[{"id":"a"},{"id":"b"}]', 2),
    ("/ngsi-ld/v1/entities", 200, "application/json; charset=utf-8", b"[]", 0),
    ("/ngsi-ld/v1/entities/urn:a", 200, "application/json", b'{"id":"urn:a","type":"T"}', 1),
    ("/ngsi-ld/v1/entities", 200, "application/geo+json",
     b'{"type":"FeatureCollection","features":[{"type":"Feature"},{"type":"Feature"},{"type":"Feature"}]}', 3),
    ("/ngsi-ld/v1/temporal/entities", 200, "application/json", b'[{"id":"a"}]', 1),
    ("/ngsi-ld/v1/entities", 400, "application/problem+json", b'{"title":"Bad Request"}', 0),
    ("/ngsi-ld/v1/types", 200, "application/json", b'{"id":"urn:x","type":"EntityTypeList"}', 0),
    ("/ngsi-ld/v1/entities", 200, "text/csv", b"id\na\n", 0),
    ("/ngsi-ld/v1/entities", 200, "application/json", b"", 0),
])
def test_entities_returned_are_counted_from_the_answer(path: str, status: int, media_type: str, body: bytes,
                                                       expected: int) -> None:
    assert entities_returned(path, status, media_type, body) == expected


# -- the meter -------------------------------------------------------------------------------------

def grant() -> Grant:
    return Grant.from_ppi(grant_document(("Building",)))


async def test_usage_is_aggregated_per_grant_and_user_into_valid_usage_records(city: dict[str, Any]) -> None:
    market: Marketplace = city["market"]
    market.reset()
    one, other = grant(), grant()
    t0 = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    async with httpx.AsyncClient() as client:
        meter = Meter(city["market_url"], client, gateway="rotterdam")
        meter.add(one, "bouwapp", "dev-1", status=200, entities=3, bytes_sent=100, start=t0, end=t0 + timedelta(seconds=1))
        meter.add(one, "bouwapp", "dev-1", status=404, entities=0, bytes_sent=50,
                  start=t0 + timedelta(seconds=5), end=t0 + timedelta(seconds=6))
        meter.add(one, "bouwapp", "dev-2", status=200, entities=1, bytes_sent=10, start=t0, end=t0)
        meter.add(other, "bouwapp", "dev-1", status=200, entities=7, bytes_sent=70, start=t0, end=t0)
        assert meter.pending == 3
        await meter.flush()
    assert meter.pending == 0 and meter.sent == 3 and meter.dropped == 0
    records = list(market.records.values())
    assert all(ppi_schemas.is_valid(r, "usage-record@1.0.0") for r in records)
    first = next(r for r in records if r["grant_id"] == one.grant_id and r.get("subject") == "dev-1")
    assert first == {**first, "agreement_id": one.agreement_id, "client_id": "bouwapp", "dataset": DATASET,
                     "calls": 2, "entities": 3, "bytes": 150, "statuses": {"2xx": 1, "4xx": 1},
                     "start": "2027-03-01T10:00:00.000Z", "end": "2027-03-01T10:00:06.000Z", "gateway": "rotterdam"}
    assert first["record_id"].startswith("urn:uuid:")
    assert len({r["record_id"] for r in records}) == 3


async def test_records_not_taken_are_sent_again_then_dropped_and_counted(city: dict[str, Any]) -> None:
    market: Marketplace = city["market"]
    market.reset()
    market.failures = 2
    t0 = datetime.now(UTC)
    async with httpx.AsyncClient() as client:
        meter = Meter(city["market_url"], client, gateway="rotterdam", max_tries=3)
        meter.add(grant(), "bouwapp", "dev-1", status=200, entities=1, bytes_sent=1, start=t0, end=t0)
        await meter.flush()
        await meter.flush()
        assert meter.pending == 1 and meter.sent == 0 and market.records == {}
        await meter.flush()
        assert meter.pending == 0 and meter.sent == 1 and meter.dropped == 0
        sent = [batch[0]["record_id"] for batch in market.posts]
        assert len(sent) == 3 and len(set(sent)) == 1  # the same record each time: counted once
        with closed_port() as port:
            down = Meter(f"http://127.0.0.1:{port}", client, gateway="rotterdam", max_tries=2)
            down.add(grant(), "bouwapp", None, status=200, entities=0, bytes_sent=0, start=t0, end=t0)
            await down.flush()
            assert (down.pending, down.dropped) == (1, 0)
            await down.flush()
            assert (down.pending, down.dropped) == (0, 1)


async def test_records_the_marketplace_refuses_are_dropped_at_once(city: dict[str, Any]) -> None:
    t0 = datetime.now(UTC)
    unusable = Grant("not an IRI", frozenset({"context:read"}), frozenset({"Building"}), grant_id="urn:x:1",
                     agreement_id="urn:x:2")
    async with httpx.AsyncClient() as client:
        meter = Meter(city["market_url"], client, gateway="rotterdam")
        meter.add(unusable, "bouwapp", None, status=200, entities=0, bytes_sent=0, start=t0, end=t0)
        await meter.flush()
    assert (meter.pending, meter.sent, meter.dropped) == (0, 0, 1)


async def test_a_refused_record_does_not_take_the_good_ones_of_its_batch_with_it(city: dict[str, Any]) -> None:
    market: Marketplace = city["market"]
    market.reset()
    t0 = datetime.now(UTC)
    unusable = Grant("not an IRI", frozenset({"context:read"}), frozenset({"Building"}), grant_id="urn:x:1",
                     agreement_id="urn:x:2")
    async with httpx.AsyncClient() as client:
        meter = Meter(city["market_url"], client, gateway="rotterdam")
        meter.add(grant(), "bouwapp", "dev-1", status=200, entities=2, bytes_sent=10, start=t0, end=t0)
        meter.add(unusable, "bouwapp", None, status=200, entities=0, bytes_sent=0, start=t0, end=t0)
        meter.add(grant(), "bouwapp", "dev-2", status=200, entities=1, bytes_sent=5, start=t0, end=t0)
        await meter.flush()
    assert (meter.pending, meter.sent, meter.dropped) == (0, 2, 1)
    assert sorted(record["subject"] for record in market.records.values()) == ["dev-1", "dev-2"]


# -- through the gateway ---------------------------------------------------------------------------

def test_calls_on_a_grant_are_metered_exactly_and_reported(city: dict[str, Any]) -> None:
    market: Marketplace = city["market"]
    counted = grant_document(("Building",), remaining=10)
    market.reset(counted)
    with gateway(city["folder"], city["context_url"], city["market_url"]) as (client, _app):
        small = client.get("/ngsi-ld/v1/entities", params={"type": "Building", "limit": "4"}, headers=bearer())
        # Over 64 KiB: streamed on to the caller, its entities still counted.
        big = client.get("/ngsi-ld/v1/entities", params={"type": "Building", "limit": "300", "pad": "xxx"},
                         headers=bearer())
        assert small.status_code == big.status_code == 200 and len(big.content) > 64 * 1024
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building", "limit": "2"},
                          headers=bearer("context:read")).status_code == 200  # on its token: not metered
        wait_for(lambda: sum(record["calls"] for record in market.records.values()) == 2)
        metrics = client.get("/metrics").text
    records = list(market.records.values())  # one per flush: the calls may fall in two
    for record in records:
        assert record["grant_id"] == counted["grant_id"] and record["agreement_id"] == counted["agreement_id"]
        assert record["client_id"] == "bouwapp" and record["subject"] == "dev-1"
    assert sum(record["entities"] for record in records) == 304
    assert sum(record["statuses"]["2xx"] for record in records) == 2
    assert sum(record["bytes"] for record in records) == len(small.content) + len(big.content)
    assert "gateway_usage_records_sent_total" in metrics and "gateway_usage_records_dropped_total 0.0" in metrics


def test_usage_still_unsent_is_flushed_on_shutdown(city: dict[str, Any]) -> None:
    market: Marketplace = city["market"]
    market.reset(grant_document(("Building",)))
    with gateway(city["folder"], city["context_url"], city["market_url"], usage_flush_interval=3600) as (client, _):
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
        time.sleep(0.2)
        assert market.records == {}
    [record] = market.records.values()
    assert record["calls"] == 1 and record["entities"] == 3


def test_without_a_marketplace_nothing_is_metered(city: dict[str, Any]) -> None:
    with gateway(city["folder"], city["context_url"], None) as (client, app):
        assert app.state.meter is None
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"},
                          headers=bearer("context:read")).status_code == 200
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 403
