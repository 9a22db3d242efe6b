"""Metering over HTTP on both engines: usage records kept once, checked against the grant they
name; usage reports per agreement as JSON and CSV, a consumer seeing only its own."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from tests.marketplace import test_marketplace_contracts_api as contracts
from tests.marketplace.test_marketplace_contracts_api import (
    PROVIDER,
    consumer,
    finalized,
    offered,
    take,
)

clock = contracts.clock
market = contracts.market


def record(negotiation: dict[str, Any], calls: int, entities: int, size: int, start: str, end: str,
           **extra: Any) -> dict[str, Any]:
    return {
        "record_id": f"urn:uuid:{uuid.uuid4()}", "agreement_id": negotiation["agreement"],
        "grant_id": negotiation["grant"], "client_id": negotiation["consumer"], "dataset": negotiation["dataset"],
        "calls": calls, "entities": entities, "bytes": size, "start": start, "end": end, **extra,
    }


def post(http, body: Any) -> Any:
    return http.post("/usage-records", json=body)


def test_records_are_counted_once_by_record_id(market):
    negotiation = finalized(market, offered(market))
    first = record(negotiation, 3, 30, 3000, "2027-03-01T10:00:00Z", "2027-03-01T10:00:05Z", gateway="rotterdam")
    answer = post(market, first)
    assert answer.status_code == 202 and answer.json() == {"accepted": 1, "duplicates": 0}
    assert post(market, first).json() == {"accepted": 0, "duplicates": 1}
    second = record(negotiation, 1, 5, 700, "2027-03-01T11:00:00+01:00", "2027-03-01T11:00:01+01:00")
    assert post(market, [first, second, second]).json() == {"accepted": 1, "duplicates": 2}
    [row] = market.get("/usage", headers=consumer()).json()["usage"]
    assert (row["calls"], row["entities"], row["bytes"]) == (4, 35, 3700)


def test_records_must_match_the_grant_they_name(market):
    negotiation = finalized(market, offered(market))
    other = finalized(market, offered(market), consumer("luchtmeter"))
    good = record(negotiation, 1, 1, 1, "2027-03-01T10:00:00Z", "2027-03-01T10:00:01Z")
    wrong_client = {**good, "record_id": "urn:uuid:x1", "client_id": "luchtmeter"}
    wrong_agreement = {**good, "record_id": "urn:uuid:x2", "agreement_id": other["agreement"]}
    unknown = {**good, "record_id": "urn:uuid:x3", "grant_id": "urn:uuid:nothing"}
    broken = {**good, "record_id": "urn:uuid:x4", "calls": 0}
    refused = post(market, [good, wrong_client, wrong_agreement, unknown, broken])
    assert refused.status_code == 400
    pointers = {e["pointer"] for e in refused.json()["errors"]}
    assert pointers == {"/1/client_id", "/2/agreement_id", "/3/grant_id", "/4/calls"}
    assert post(market, []).status_code == 400
    assert market.get("/usage", headers=PROVIDER).json()["totals"] == {"calls": 0, "entities": 0, "bytes": 0}
    assert post(market, good).json() == {"accepted": 1, "duplicates": 0}


def test_usage_report_per_agreement_as_json_and_csv(market):
    counted = finalized(market, offered(market, {"leftOperand": "count", "operator": "lteq", "rightOperand": 10}))
    assert counted["state"] == "FINALIZED"
    take(market, counted["grant"], 4)
    unused = finalized(market, offered(market))
    post(market, [
        record(counted, 3, 30, 3000, "2027-03-01T10:00:00Z", "2027-03-01T10:00:05Z"),
        record(counted, 1, 2, 500, "2027-03-01T09:00:00+00:00", "2027-03-02T10:00:00+02:00"),
    ])
    report = market.get("/usage", headers=consumer()).json()
    assert report["totals"] == {"calls": 4, "entities": 32, "bytes": 3500}
    first, second = report["usage"]
    assert first == {
        "agreement": counted["agreement"], "client_id": "bouwapp", "dataset": counted["dataset"], "status": "active",
        "calls": 4, "entities": 32, "bytes": 3500, "first_use": "2027-03-01T09:00:00+00:00",
        "last_use": "2027-03-02T08:00:00+00:00", "remaining": 6,
    }
    assert second["agreement"] == unused["agreement"] and second["calls"] == 0 and second["first_use"] is None

    by_accept = market.get("/usage", headers={**consumer(), "Accept": "text/csv"})
    by_format = market.get("/usage", params={"format": "csv"}, headers=consumer())
    assert by_accept.headers["content-type"].startswith("text/csv") and by_accept.text == by_format.text
    rows = list(csv.DictReader(io.StringIO(by_accept.text)))
    assert [row["agreement"] for row in rows] == [counted["agreement"], unused["agreement"]]
    assert sum(int(row["calls"]) for row in rows) == 4 and sum(int(row["bytes"]) for row in rows) == 3500
    assert rows[0]["remaining"] == "6" and rows[1]["remaining"] == "" and rows[1]["last_use"] == ""
    assert market.get("/usage", params={"format": "xml"}, headers=consumer()).status_code == 400


def test_consumer_sees_only_its_own_usage_and_filters_narrow_it(market):
    offer = offered(market)
    mine = finalized(market, offer)
    theirs = finalized(market, offer, consumer("luchtmeter"))
    elsewhere = finalized(market, offered(market))
    for negotiation, calls in ((mine, 2), (theirs, 5), (elsewhere, 7)):
        post(market, record(negotiation, calls, 0, 10, "2027-03-01T10:00:00Z", "2027-03-01T10:00:01Z"))

    def agreements(who: dict[str, str], **params: str) -> list[str]:
        return [row["agreement"] for row in market.get("/usage", params=params, headers=who).json()["usage"]]

    assert agreements(consumer()) == [mine["agreement"], elsewhere["agreement"]]
    assert agreements(consumer(), client_id="luchtmeter") == []
    assert agreements(PROVIDER) == [mine["agreement"], theirs["agreement"], elsewhere["agreement"]]
    assert agreements(PROVIDER, client_id="luchtmeter") == [theirs["agreement"]]
    assert agreements(PROVIDER, dataset=mine["dataset"]) == [mine["agreement"], theirs["agreement"]]
    assert agreements(PROVIDER, agreement=elsewhere["agreement"]) == [elsewhere["agreement"]]
    assert market.get("/usage", headers=PROVIDER).json()["totals"]["calls"] == 14
    assert market.get("/usage").status_code == 401


def test_terminated_agreement_shows_in_the_report_with_its_status(market):
    negotiation = finalized(market, offered(market))
    market.post(f"/agreements/{negotiation['agreement']}/termination", headers=consumer())
    [row] = market.get("/usage", headers=consumer()).json()["usage"]
    assert row["status"] == "terminated"


def test_records_no_store_can_keep_are_refused(market):
    negotiation = finalized(market, offered(market))
    huge = record(negotiation, 2**60, 0, 0, "2027-03-01T10:00:00Z", "2027-03-01T10:00:01Z")
    nul = {**record(negotiation, 1, 0, 0, "2027-03-01T10:00:00Z", "2027-03-01T10:00:01Z"), "gateway": "a\u0000"}
    refused = post(market, [huge, nul])
    assert refused.status_code == 400
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/0/calls", "/1/gateway"]
