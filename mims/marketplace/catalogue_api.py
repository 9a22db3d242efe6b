"""The catalogue's HTTP surface: publish, update and withdraw datasets (scope
``marketplace:publish``), read them and the whole catalogue in DCAT-AP, and search.

Reading is public: a catalogue exists so that data can be found. Bodies are checked against the
``dcat-dataset`` PPI before the domain sees them; representations are negotiated by ``Accept``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from mims.kit.auth import require_scopes
from mims.kit.errors import OrjsonResponse, status_problem
from mims.kit.ppi import openapi_request_body, ppi_body
from mims.kit.problems import ProblemError, ProblemItem
from mims.marketplace import rdf
from mims.marketplace.catalogue_storage import SqlDatasetStore
from mims.marketplace.dcat import (
    DATASET_PPI,
    DEFAULT_PAGE_SIZE,
    FACETS,
    BoundingBox,
    Catalogue,
    Dataset,
    DatasetNotFound,
    InvalidDataset,
    InvalidSearch,
    SearchQuery,
)

PUBLISH = "marketplace:publish"

router = APIRouter(tags=["catalogue"])

_RDF_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {media_type: {} for media_type in rdf.SERIALIZATIONS}},
    406: {"description": "None of the accepted media types is served."},
}


def catalogue(request: Request) -> Catalogue:
    return Catalogue(SqlDatasetStore(request.app.state.engine))


def site(request: Request) -> rdf.Site:
    """IRIs come from the configured public URL, so they stay the same whoever asks."""
    settings = request.app.state.settings
    public_url = str(settings.public_url) if settings.public_url else str(request.base_url)
    return rdf.Site(public_url=public_url, gateway_url=settings.gateway_url)


Service = Annotated[Catalogue, Depends(catalogue)]
SiteDep = Annotated[rdf.Site, Depends(site)]
Document = Annotated[dict[str, Any], Depends(ppi_body(DATASET_PPI))]


@router.post(
    "/datasets",
    status_code=201,
    summary="Publish a dataset",
    dependencies=[Depends(require_scopes(PUBLISH))],
    openapi_extra=openapi_request_body(DATASET_PPI),
)
async def publish_dataset(request: Request, document: Document, service: Service, where: SiteDep) -> Response:
    media_type = _acceptable(request)
    try:
        dataset = await service.publish(document)
    except InvalidDataset as error:
        raise _invalid(error) from None
    return _dataset_response(dataset, where, media_type, status_code=201)


@router.put(
    "/datasets/{dataset_id}",
    summary="Replace a dataset's description; its IRI stays",
    dependencies=[Depends(require_scopes(PUBLISH))],
    openapi_extra=openapi_request_body(DATASET_PPI),
)
async def update_dataset(
    request: Request, dataset_id: str, document: Document, service: Service, where: SiteDep
) -> Response:
    media_type = _acceptable(request)
    try:
        dataset = await service.update(dataset_id, document)
    except InvalidDataset as error:
        raise _invalid(error) from None
    except DatasetNotFound:
        raise _not_found(dataset_id) from None
    return _dataset_response(dataset, where, media_type)


@router.delete(
    "/datasets/{dataset_id}",
    status_code=204,
    summary="Withdraw a dataset from the catalogue",
    dependencies=[Depends(require_scopes(PUBLISH))],
)
async def withdraw_dataset(dataset_id: str, service: Service) -> Response:
    try:
        await service.withdraw(dataset_id)
    except DatasetNotFound:
        raise _not_found(dataset_id) from None
    return Response(status_code=204)


@router.get("/datasets/{dataset_id}", summary="One dataset in DCAT-AP", responses=_RDF_RESPONSES)
async def get_dataset(request: Request, dataset_id: str, service: Service, where: SiteDep) -> Response:
    media_type = _acceptable(request)
    try:
        dataset = await service.get(dataset_id)
    except DatasetNotFound:
        raise _not_found(dataset_id) from None
    return Response(rdf.serialize(rdf.dataset_document(dataset, where), media_type), media_type=media_type)


@router.get("/catalog", summary="The whole catalogue as one DCAT-AP document", responses=_RDF_RESPONSES)
async def get_catalog(request: Request, service: Service, where: SiteDep) -> Response:
    media_type = _acceptable(request)
    settings = request.app.state.settings
    info = rdf.CatalogueInfo(settings.catalogue_title, settings.catalogue_description, settings.catalogue_publisher)
    document = rdf.catalogue_document(await service.all(), info, where)
    return Response(rdf.serialize(document, media_type), media_type=media_type)


@router.get("/datasets", summary="Search: full text, facets with counts, bounding box, paging")
async def search_datasets(
    service: Service,
    where: SiteDep,
    q: Annotated[str | None, Query(description="Words that must all occur in a title, description or keyword.")] = None,
    theme: Annotated[list[str] | None, Query(description="EU data theme IRI; repeat for all of several.")] = None,
    keyword: Annotated[list[str] | None, Query()] = None,
    publisher: Annotated[list[str] | None, Query(description="Publisher name.")] = None,
    licence: Annotated[list[str] | None, Query(description="Licence IRI.")] = None,
    format: Annotated[list[str] | None, Query(description="EU file-type IRI.")] = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (WGS84)")] = None,
    limit: Annotated[int, Query()] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query()] = 0,
) -> OrjsonResponse:
    chosen = {"theme": theme, "keyword": keyword, "publisher": publisher, "licence": licence, "format": format}
    try:
        query = SearchQuery(
            text=q,
            filters={name: tuple(values) for name, values in chosen.items() if values},
            bbox=BoundingBox.parse(bbox) if bbox is not None else None,
            limit=limit,
            offset=offset,
        )
    except InvalidSearch as error:
        raise status_problem(
            400, f"Invalid search parameter {error.parameter}: {error.reason}.",
            errors=[ProblemItem(error.parameter, error.reason, "query")],
        ) from None
    result = await service.search(query)
    return OrjsonResponse(
        {
            "total": result.total,
            "limit": query.limit,
            "offset": query.offset,
            "items": [rdf.dataset_document(dataset, where) for dataset in result.items],
            "facets": {
                name: [{"value": value, "count": count} for value, count in result.facets[name]] for name in FACETS
            },
        }
    )


def _dataset_response(dataset: Dataset, where: rdf.Site, media_type: str, status_code: int = 200) -> Response:
    """The dataset as stored now; ``Location`` is its persistent IRI."""
    return Response(
        rdf.serialize(rdf.dataset_document(dataset, where), media_type),
        status_code=status_code,
        media_type=media_type,
        headers={"Location": where.dataset_iri(dataset.id)},
    )


def _acceptable(request: Request) -> str:
    accept = request.headers.get("accept")
    media_type = rdf.negotiate(accept)
    if media_type is None:
        raise status_problem(
            406,
            f"None of {accept!r} is served; ask for one of {', '.join(rdf.SERIALIZATIONS)}.",
            errors=[ProblemItem("Accept", f"served: {', '.join(rdf.SERIALIZATIONS)}", "header")],
            extensions={"accepted": list(rdf.SERIALIZATIONS)},
        )
    return media_type


def _not_found(dataset_id: str) -> ProblemError:
    return status_problem(404, f"There is no dataset {dataset_id!r}.")


def _invalid(error: InvalidDataset) -> ProblemError:
    return status_problem(400, f"{error.pointer}: {error.reason}.", errors=[ProblemItem(error.pointer, error.reason)])
