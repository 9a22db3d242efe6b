"""Metering: the usage records gateways report (PPI ``usage-record``) and usage reports per agreement.

A gateway reports the calls it let through on a grant; the marketplace keeps each record once
(by ``record_id``, so a gateway may resend after a failure) and only for a grant it issued, to
the client and for the dataset of that grant. A report sums calls, entities and bytes per
agreement, with the first and last use and the uses the grant has left; a consumer sees its own
agreements only, a provider every one. Plain Python; storage is a :class:`UsageStore`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import ppi_schemas
from mims.kit.problems import ProblemError, ProblemItem
from mims.marketplace.contracts import Agreement, ContractStore, Party, no_nul, problem, utc_text

USAGE_PPI = "usage-record@1.0.0"
MAX_RECORDS = 10_000
# Counts above this are not meaningful and not safe in JSON.
MAX_NUMBER = 2**53 - 1
REPORT_COLUMNS = (
    "agreement", "client_id", "dataset", "status", "calls", "entities", "bytes", "first_use", "last_use", "remaining",
)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One ``usage-record``: calls admitted on a grant within [start, end]."""

    record_id: str
    agreement: str
    grant_id: str
    client_id: str
    dataset: str
    calls: int
    entities: int
    bytes: int
    start: datetime
    end: datetime
    subject: str | None = None
    statuses: Mapping[str, int] | None = None
    gateway: str | None = None

    @classmethod
    def from_ppi(cls, document: Mapping[str, Any]) -> UsageRecord:
        return cls(
            record_id=document["record_id"], agreement=document["agreement_id"], grant_id=document["grant_id"],
            client_id=document["client_id"], dataset=document["dataset"], calls=document["calls"],
            entities=document["entities"], bytes=document["bytes"],
            start=_instant(document["start"]), end=_instant(document["end"]),
            subject=document.get("subject"), statuses=document.get("statuses"), gateway=document.get("gateway"),
        )


@dataclass(frozen=True, slots=True)
class UsageFilter:
    agreement: str | None = None
    dataset: str | None = None
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class AgreementUsage:
    """What was used under one agreement, and what its grant has left (None: unlimited or no grant)."""

    agreement: Agreement
    calls: int
    entities: int
    bytes: int
    first_use: datetime | None
    last_use: datetime | None
    remaining: int | None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "agreement": self.agreement.uid,
            "client_id": self.agreement.consumer,
            "dataset": self.agreement.dataset,
            "status": self.agreement.status(now),
            "calls": self.calls,
            "entities": self.entities,
            "bytes": self.bytes,
            "first_use": utc_text(self.first_use) if self.first_use else None,
            "last_use": utc_text(self.last_use) if self.last_use else None,
            "remaining": self.remaining,
        }


class UsageStore(Protocol):
    async def add(self, records: Sequence[UsageRecord], received: datetime) -> int:
        """Store the records whose record_id is new; how many were."""
        ...

    async def usage(self, selection: UsageFilter) -> list[AgreementUsage]:
        """Every agreement the filter selects, with its summed usage, oldest first."""
        ...


class Meter:
    def __init__(
        self, store: UsageStore, contracts: ContractStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._contracts = contracts
        self._clock = clock

    async def record(self, body: Any) -> tuple[int, int]:
        """Keep one record or an array of them: (accepted, duplicates). Nothing is kept when any
        record breaks the PPI or names a grant, agreement, client or dataset that do not match."""
        many = isinstance(body, list)
        documents = body if many else [body]
        if many and not 1 <= len(documents) <= MAX_RECORDS:
            raise problem(400, f"send between 1 and {MAX_RECORDS} usage records",
                          errors=[ProblemItem("", f"{len(documents)} records")])
        errors: list[ProblemItem] = []
        records = []
        for index, document in enumerate(documents):
            base = f"/{index}" if many else ""
            found = [ProblemItem(base + p.pointer, p.message) for p in ppi_schemas.validate(document, USAGE_PPI)]
            found = found or _unstorable(document, base)
            if not found:
                record = UsageRecord.from_ppi(document)
                found = await self._mismatches(record, base)
                records.append(record)
            errors += found
        if errors:
            raise problem(400, f"{len(errors)} problem(s) in the usage records; each error points at one",
                          errors=errors, ppi=USAGE_PPI)
        accepted = await self._store.add(records, self._clock().astimezone(UTC))
        return accepted, len(records) - accepted

    async def report(self, party: Party, selection: UsageFilter) -> list[dict[str, Any]]:
        """Usage per agreement; a consumer's report covers its own agreements whatever it asks."""
        if not party.provider:
            if selection.client_id not in (None, party.client_id):
                return []
            selection = UsageFilter(selection.agreement, selection.dataset, party.client_id)
        now = self._clock().astimezone(UTC)
        return [row.to_dict(now) for row in await self._store.usage(selection)]

    async def _mismatches(self, record: UsageRecord, base: str) -> list[ProblemItem]:
        grant = await self._contracts.grant(record.grant_id)
        if grant is None:
            return [ProblemItem(f"{base}/grant_id", "no grant of this marketplace has this id")]
        expected = {"agreement_id": grant.agreement, "client_id": grant.client_id, "dataset": grant.dataset}
        given = {"agreement_id": record.agreement, "client_id": record.client_id, "dataset": record.dataset}
        return [
            ProblemItem(f"{base}/{name}", f"the grant's is {value}")
            for name, value in expected.items()
            if given[name] != value
        ]


def _unstorable(document: Mapping[str, Any], base: str) -> list[ProblemItem]:
    try:
        no_nul(document, base)
    except ProblemError as error:
        return error.errors
    return [
        ProblemItem(f"{base}/{name}", f"must be at most {MAX_NUMBER}")
        for name in ("calls", "entities", "bytes")
        if document[name] > MAX_NUMBER
    ]


def totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {name: sum(row[name] for row in rows) for name in ("calls", "entities", "bytes")}


def to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The report as CSV (RFC 4180): a header row, then one row per agreement; empty for null."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow(["" if row[name] is None else row[name] for name in REPORT_COLUMNS])
    return out.getvalue()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
