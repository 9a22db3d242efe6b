"""Marketplace metering (OUP contract, profile ``mim``): usage records (PPI ``usage-record``), as a
gateway posts them for the uses it served on a grant, are accepted, counted once, and show in the
consumer's usage report; records breaking the PPI are refused with 4xx problem+json."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

import ppi_schemas
from conformance.checks.common import body, examples_refused
from conformance.checks.marketplace_contracts import granted_agreement
from conformance.checks.marketplace_parties import consumer, grants_party, publish_dataset, unique_urn, withdraw_dataset
from conformance.registry import check
from conformance.session import Session

USAGE_PPI = "usage-record@1.0.0"


@check("marketplace.ppi.usage_record_examples_accepted", f"Valid {USAGE_PPI} records on a real grant are "
       "accepted once each and add up in the consumer's usage report", mim="marketplace", profile="mim",
       source=f"PPI {USAGE_PPI}; OUP marketplace metering")
async def usage_records_accepted(session: Session) -> None:
    reporter = await grants_party(session)
    iri, dataset_id = await publish_dataset(session)
    try:
        agreement, grant_id, client = await granted_agreement(session, reporter, dataset_id, iri)
        now = datetime.now(UTC)
        records = [_on_grant(example.payload, agreement, grant_id, client, iri, now)
                   for example in ppi_schemas.get(USAGE_PPI).examples_valid]
        posted = await session.http.post("/usage-records", json=records, headers=reporter)
        session.expect(posted.status_code in (200, 201, 202), f"posting {len(records)} valid usage records answered "
                       f"{posted.status_code}: {posted.text[:300]!r}")
        again = await session.http.post("/usage-records", json=records[:1], headers=reporter)
        session.expect(again.status_code in (200, 201, 202), f"posting a record again answered {again.status_code}, "
                       f"expected it accepted (and counted once): {again.text[:300]!r}")
        report = await session.http.get("/usage", params={"agreement": agreement}, headers=await consumer(session))
        session.expect(report.status_code == 200, f"the consumer's usage report answered {report.status_code}: "
                       f"{report.text[:300]!r}")
        calls = sum(record["calls"] for record in records)
        reported = _calls(body(report))
        session.expect(reported == calls, f"the consumer's usage report for its agreement counts {reported} calls; "
                       f"the records posted add up to {calls} (a record posted twice counts once)")
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.ppi.usage_record_examples_refused", f"Every invalid {USAGE_PPI} example is refused with 4xx",
       mim="marketplace", profile="mim", source=f"PPI {USAGE_PPI}")
async def usage_records_refused(session: Session) -> None:
    reporter = await grants_party(session)

    async def send(payload: Any, name: str) -> httpx.Response:
        return await session.http.post("/usage-records", json=payload, headers=reporter)

    await examples_refused(session, USAGE_PPI, send)


def _on_grant(example: dict[str, Any], agreement: str, grant_id: str, client: str, dataset: str,
              now: datetime) -> dict[str, Any]:
    """The example as a record of this run: a new record id, on the agreement and grant just made."""
    start = now - timedelta(minutes=2)
    return {**example, "record_id": unique_urn(), "agreement_id": agreement, "grant_id": grant_id,
            "client_id": client, "dataset": dataset, "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")}


def _calls(report: Any) -> Any:
    """The calls the report counts: its totals' ``calls``, else the sum over its rows."""
    if not isinstance(report, dict):
        return None
    totals = report.get("totals")
    if isinstance(totals, dict) and "calls" in totals:
        return totals["calls"]
    rows = report.get("usage")
    return sum(row.get("calls", 0) for row in rows if isinstance(row, dict)) if isinstance(rows, list) else None
