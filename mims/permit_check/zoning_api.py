"""Zoning plans put into the digital twin over HTTP (PPI ``zoning-plan``), so that a client (a
municipality's plan system, or the conformance suite with its known-answer cases) can give the
permit check the zoning it checks against without the command line.

``PUT /v1/zoning-plans/{plan_id}`` publishes a zoning-plan@1.0.0 document exactly as ``oup permit
import-zoning`` does (``twin.publish_plan``: upsert, then remove the features the new version
lacks); ``DELETE`` removes the plan and its features. Both need the scope ``permit:zoning``: writing
zoning changes every later decision, so it is not given to whoever may submit a plan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import Response

import ppi_schemas
from mims.kit.auth import require_scopes
from mims.kit.errors import OrjsonResponse, status_problem
from mims.kit.ppi import parse_json
from mims.kit.problems import ProblemError, ProblemItem
from mims.permit_check import twin

ZONING_PPI = "zoning-plan@1.0.0"
ZONING_SCOPE = "permit:zoning"

router = APIRouter(prefix="/v1/zoning-plans", tags=["zoning plans"],
                   dependencies=[Depends(require_scopes(ZONING_SCOPE))])


@asynccontextmanager
async def twin_writer(app: FastAPI) -> AsyncIterator[None]:
    """A client of its own for writing the twin: with client credentials its tokens carry
    ``context:write`` too, which the checks' client (read only) does not need."""
    async with twin.twin_client(app.state.settings, f"{twin.READ} {twin.WRITE}") as client:
        app.state.twin_writer = client
        yield


IDN = ppi_schemas.get(ZONING_PPI).schema["$defs"]["Idn"]["pattern"]
"""The zoning-plan PPI's pattern of an IMRO idn: an id the twin could not hold is refused (400)."""
PlanId = Annotated[str, Path(description="The plan's IMRO identification (idn), e.g. "
                                         "NL.IMRO.1930.BPRaadhuislaanSP-1001.", pattern=IDN, max_length=200)]
_BODY = {"requestBody": {"required": True, "description": f"A zoning plan (PPI {ZONING_PPI}) whose id is the path's.",
                         "content": {"application/json": {"schema": ppi_schemas.get(ZONING_PPI).schema}}}}


@router.put("/{plan_id}", summary="Publish a zoning plan into the digital twin, replacing an earlier version",
            openapi_extra=_BODY, responses={200: {"description": "Replaced."}, 201: {"description": "Created."}})
async def put_zoning_plan(request: Request, plan_id: PlanId) -> OrjsonResponse:
    plan = _zoning_plan(await request.body(), plan_id)
    client, context_url = request.app.state.twin_writer, request.app.state.settings.context_url
    existed = bool(await twin.zoning_plans(client, context_url, [plan_id]))
    changes = await twin.publish_plan(client, context_url, twin.plan_entities(plan))
    summary = {"id": plan_id, "status": plan["status"], "features": len(plan["features"]),
               "added": changes.added, "updated": changes.updated, "removed": changes.removed}
    return OrjsonResponse(summary, status_code=200 if existed else 201)


@router.delete("/{plan_id}", status_code=204, summary="Remove a zoning plan and its features from the digital twin")
async def delete_zoning_plan(request: Request, plan_id: PlanId) -> Response:
    client, context_url = request.app.state.twin_writer, request.app.state.settings.context_url
    if not await twin.zoning_plans(client, context_url, [plan_id]):
        raise status_problem(404, f"The digital twin holds no zoning plan {plan_id!r}.")
    await twin.delete_plan(client, context_url, plan_id)
    return Response(status_code=204)


def _zoning_plan(body: bytes, plan_id: str) -> dict[str, Any]:
    """The zoning-plan@1.0.0 document of ``body`` for ``plan_id``; ProblemError 400 listing every
    problem with its pointer otherwise."""
    plan = parse_json(body)
    problems = [ProblemItem(p.pointer, p.message) for p in ppi_schemas.validate(plan, ZONING_PPI)]
    if isinstance(plan, dict) and "id" in plan and plan["id"] != plan_id:
        problems.append(ProblemItem("/id", f"the plan's id {plan['id']!r} is not the path's {plan_id!r}"))
    if problems:
        raise ProblemError(400, f"Request body is not the zoning plan {plan_id} (PPI {ZONING_PPI})",
                           f"{len(problems)} problem(s); each error points at the offending member.",
                           errors=problems, extensions={"ppi": ZONING_PPI})
    return plan
