"""The auditors' view of the audit log: filter, page, export as CSV. Read only, admin only.

Records come newest first. Pages are offset based; the ``Link: rel="next"`` header gives the
following page. To page through a fixed window while traffic goes on, give ``until``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from gateway import audit_storage
from gateway.audit_storage import COLUMNS, AuditFilter
from mims.kit.auth import require_scopes
from mims.kit.errors import OrjsonResponse
from mims.kit.problems import ProblemError, ProblemItem

DEFAULT_LIMIT = 100
MAX_PAGE = 1000  # JSON pages; CSV exports stream and may be as long as asked
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

router = APIRouter(
    prefix="/admin/audit",
    tags=["audit"],
    dependencies=[Depends(require_scopes("admin", always=True))],
)


@router.get("", summary="Audit records, newest first, as JSON or CSV (Accept: text/csv or ?format=csv)")
async def list_records(
    request: Request,
    since: str | None = Query(None, description="RFC 3339 date-time; records at or after it."),
    until: str | None = Query(None, description="RFC 3339 date-time; records before it."),
    client: str | None = Query(None, description="Only this client_id."),
    subject: str | None = Query(None, description="Only this token subject."),
    route: str | None = Query(None, description="Only this route table entry."),
    decision: Literal["allow", "deny"] | None = Query(None),
    limit: int | None = Query(None, ge=1, description=f"JSON: at most {MAX_PAGE} (default {DEFAULT_LIMIT}); CSV: all when absent."),
    offset: int = Query(0, ge=0),
    output: Literal["json", "csv"] | None = Query(None, alias="format", description="Overrides the Accept header."),
) -> Response:
    where = AuditFilter(
        since=_rfc3339("since", since),
        until=_rfc3339("until", until),
        client_id=client,
        subject=subject,
        route=route,
        decision=decision,
    )
    engine = request.app.state.engine
    if _wants_csv(request, output):
        return StreamingResponse(
            _csv(audit_storage.stream(engine, where, limit=limit, offset=offset)),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    if limit is not None and limit > MAX_PAGE:
        raise ProblemError(
            400, "Bad Request", f"limit {limit} is above {MAX_PAGE}; page with offset, or export as CSV",
            errors=[ProblemItem("/limit", f"at most {MAX_PAGE}", "query")],
        )
    size = limit or DEFAULT_LIMIT
    records = await audit_storage.select(engine, where, limit=size, offset=offset)
    headers: dict[str, str] = {}
    if len(records) == size:
        headers["Link"] = f'<{request.url.include_query_params(offset=offset + size)}>; rel="next"'
    return OrjsonResponse(records, headers=headers)


def _rfc3339(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 date-time with its offset; anything else names the parameter in a 400."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ProblemError(
            400, "Bad Request", f"{name} must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z",
            errors=[ProblemItem(f"/{name}", f"not an RFC 3339 date-time: {value!r}", "query")],
        )
    return moment


def _wants_csv(request: Request, output: str | None) -> bool:
    if output is not None:
        return output == "csv"
    return "text/csv" in request.headers.get("accept", "").lower()


async def _csv(records: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    """A header row, then one row per record; empty cells for absent values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    async for record in records:
        writer.writerow(_cell(record[column]) for column in COLUMNS)
        if buffer.tell() >= 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
