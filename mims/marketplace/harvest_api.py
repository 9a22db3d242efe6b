"""Harvesting over HTTP: ``POST /harvests`` takes another catalogue's datasets in (scope
``marketplace:publish``), ``GET /harvests`` lists the sources harvested and when (public)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from mims.kit.auth import require_scopes
from mims.kit.errors import OrjsonResponse, reason_phrase
from mims.kit.problems import ProblemError, ProblemItem
from mims.marketplace import harvest, rdf
from mims.marketplace.catalogue_api import PUBLISH, site
from mims.marketplace.harvest_storage import SqlHarvestStore

FETCH_TIMEOUT = 30.0

router = APIRouter(tags=["harvest"])


class HarvestRequest(BaseModel):
    """The catalogue to harvest: a URL answering DCAT-AP in Turtle, JSON-LD, RDF/XML or N-Triples."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://[^\s<>\"{}|\\^`]+$", max_length=2048,
                     examples=["https://data.denhaag.example/marketplace/catalog"])


@router.post(
    "/harvests",
    summary="Harvest another DCAT-AP catalogue; its datasets keep their IRIs",
    dependencies=[Depends(require_scopes(PUBLISH))],
)
async def harvest_catalogue(
    request: Request, body: HarvestRequest, where: Annotated[rdf.Site, Depends(site)]
) -> OrjsonResponse:
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as http:
        try:
            graph = await harvest.fetch(http, body.url)
        except harvest.HarvestFailed as failure:
            raise _failed(failure) from None
    harvester = harvest.Harvester(SqlHarvestStore(request.app.state.engine), where)
    try:
        async with _one_at_a_time(request):
            summary = await harvester.harvest(body.url, graph)
    except harvest.HarvestFailed as failure:
        raise _failed(failure) from None
    return OrjsonResponse(summary.to_dict())


@router.get("/harvests", summary="The sources harvested, when, and what the last harvest did")
async def list_harvests(request: Request) -> dict[str, Any]:
    return {"harvests": harvest.sources(await SqlHarvestStore(request.app.state.engine).sources())}


def _one_at_a_time(request: Request) -> asyncio.Lock:
    """Harvests in this process take turns, so two of one source never add the same IRI at once."""
    lock = getattr(request.app.state, "harvest_lock", None)
    if lock is None:
        lock = request.app.state.harvest_lock = asyncio.Lock()
    return lock


def _failed(failure: harvest.HarvestFailed) -> ProblemError:
    return ProblemError(failure.status, reason_phrase(failure.status), f"Cannot harvest: {failure.reason}.",
                        errors=[ProblemItem("/url", failure.reason)])
