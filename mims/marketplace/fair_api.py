"""FAIR scores over HTTP: one dataset's (``GET /datasets/{id}/fair``) and the catalogue's summary
(``GET /fair``). Public, like the catalogue they score; the assessment itself is ``fair.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from mims.kit.errors import OrjsonResponse, status_problem
from mims.marketplace import fair, rdf
from mims.marketplace.catalogue_api import catalogue, site
from mims.marketplace.dcat import Catalogue, DatasetNotFound

router = APIRouter(tags=["FAIR"])
# Scores by everything they depend on (see fair.ScoreCache): a changed dataset is scored afresh.
SCORES = fair.ScoreCache()

Service = Annotated[Catalogue, Depends(catalogue)]
SiteDep = Annotated[rdf.Site, Depends(site)]


@router.get(
    "/datasets/{dataset_id}/fair",
    summary="The dataset's FAIR score (F-UJI metrics 0.5), with a hint for every point missed",
    responses={404: {"description": "There is no such dataset."}},
)
async def dataset_fair(dataset_id: str, service: Service, where: SiteDep) -> OrjsonResponse:
    try:
        dataset = await service.get(dataset_id)
    except DatasetNotFound:
        raise status_problem(404, f"There is no dataset {dataset_id!r}.") from None
    kept = SCORES.kept(dataset, where)  # a kept score needs no worker thread
    return OrjsonResponse(kept if kept is not None else await run_in_threadpool(SCORES.assessment, dataset, where))


@router.get("/fair", summary="FAIR scores over the whole catalogue: mean, min, max, per principle, common misses")
async def catalogue_fair(service: Service, where: SiteDep) -> OrjsonResponse:
    datasets = await service.all()
    return OrjsonResponse(await run_in_threadpool(SCORES.summary, datasets, where))
