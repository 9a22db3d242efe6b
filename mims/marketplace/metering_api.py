"""Metering over HTTP: gateways post usage records (scope ``marketplace:grants``); consumers and
providers read usage reports per agreement, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

import ppi_schemas
from mims.kit.auth import require_scopes
from mims.kit.errors import OrjsonResponse, status_problem
from mims.kit.problems import ProblemItem
from mims.marketplace.contracts_api import GRANTS, Body, Clock, Who, no_nul_parameter
from mims.marketplace.contracts_storage import SqlContractStore
from mims.marketplace.metering import USAGE_PPI, Meter, UsageFilter, to_csv, totals
from mims.marketplace.metering_storage import SqlUsageStore

CSV = "text/csv"

router = APIRouter(tags=["metering"], dependencies=[Depends(no_nul_parameter)])


def meter(request: Request, now: Clock) -> Meter:
    engine = request.app.state.engine
    return Meter(SqlUsageStore(engine), SqlContractStore(engine), now)


Service = Annotated[Meter, Depends(meter)]


def _records_body() -> dict[str, Any]:
    schema = ppi_schemas.get(USAGE_PPI).schema
    content = {"schema": {"anyOf": [schema, {"type": "array", "items": schema, "minItems": 1}]}}
    return {"requestBody": {"required": True, "description": f"One PPI {USAGE_PPI} or an array of them",
                            "content": {"application/json": content}}}


@router.post(
    "/usage-records", status_code=202, summary="Report usage on grants; a record seen before counts once",
    dependencies=[Depends(require_scopes(GRANTS))], openapi_extra=_records_body(),
)
async def post_usage_records(body: Body, service: Service) -> OrjsonResponse:
    accepted, duplicates = await service.record(body)
    return OrjsonResponse({"accepted": accepted, "duplicates": duplicates}, status_code=202)


@router.get("/usage", summary="Usage per agreement: a consumer's own, or all for a provider; JSON or CSV",
            responses={200: {"content": {"application/json": {}, CSV: {}}}})
async def usage_report(
    request: Request,
    who: Who,
    service: Service,
    agreement: Annotated[str | None, Query(description="One agreement's uid.")] = None,
    dataset: Annotated[str | None, Query(description="A dataset IRI.")] = None,
    client_id: Annotated[str | None, Query(description="A consumer's client id.")] = None,
    format: Annotated[str | None, Query(description="json or csv; default from Accept, else json.")] = None,
) -> Response:
    if format not in (None, "json", "csv"):
        raise status_problem(400, "format must be json or csv", errors=[ProblemItem("format", "json or csv", "query")])
    rows = await service.report(who, UsageFilter(agreement, dataset, client_id))
    if format == "csv" or (format is None and _prefers_csv(request.headers.get("accept"))):
        return Response(to_csv(rows), media_type=f"{CSV}; charset=utf-8")
    return OrjsonResponse({"usage": rows, "totals": totals(rows)})


def _prefers_csv(accept: str | None) -> bool:
    """CSV when the client names text/csv before (or without) JSON."""
    if not accept:
        return False
    for item in accept.split(","):
        media_type = item.split(";", 1)[0].strip().lower()
        if media_type == CSV:
            return True
        if media_type in ("application/json", "*/*", "application/*"):
            return False
    return False
