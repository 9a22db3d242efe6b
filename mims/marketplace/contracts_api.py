"""Offers, contract negotiation (Dataspace Protocol 2024-1, provider side of the HTTPS binding),
agreements and access grants over HTTP.

A provider holds scope ``marketplace:publish``; the consumer of a negotiation is the client that
started it. The gateway reads grants and takes uses with scope ``marketplace:grants``. The
domain (``contracts.py``) decides everything; this module maps requests and answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from mims.kit.auth import Caller, authenticated, caller, require_scopes
from mims.kit.errors import OrjsonResponse, status_problem, unsupported_media_type
from mims.kit.problems import ProblemItem
from mims.kit.ppi import is_json_media_type, openapi_request_body, parse_json, ppi_body
from mims.marketplace.catalogue_api import PUBLISH, SiteDep
from mims.marketplace.catalogue_storage import SqlDatasetStore
from mims.marketplace.contracts import (
    OFFER_PPI,
    Agreement,
    Contracts,
    Negotiation,
    Offer,
    Party,
)
from mims.marketplace.contracts_storage import SqlContractStore
from mims.marketplace.dcat import Catalogue
from mims.marketplace.rdf import Site

GRANTS = "marketplace:grants"



def no_nul_parameter(request: Request) -> None:
    """A path or query parameter with a NUL character is refused: no stored text can hold one."""
    params = [("path", request.path_params.items()), ("query", request.query_params.multi_items())]
    for location, items in params:
        for name, value in items:
            if "\x00" in value:
                raise status_problem(400, f"{name} must not contain a NUL character",
                                     errors=[ProblemItem(name, "contains a NUL character", location)])


router = APIRouter(tags=["contracts"], dependencies=[Depends(no_nul_parameter)])


def clock() -> Callable[[], datetime]:
    """The time source of contracts and metering (a dependency, so it can be replaced)."""
    return lambda: datetime.now(UTC)


Clock = Annotated[Callable[[], datetime], Depends(clock)]


def contracts(request: Request, where: SiteDep, now: Clock) -> Contracts:
    engine = request.app.state.engine
    return Contracts(SqlContractStore(engine), Catalogue(SqlDatasetStore(engine)), where.dataset_iri, now)


def party(who: Annotated[Caller, Depends(caller)]) -> Party:
    """The calling client, provider when it holds ``marketplace:publish``; 401 when nobody calls."""
    who = authenticated(who)
    assert who.client_id is not None
    return Party(who.client_id, who.has(PUBLISH))


async def json_body(request: Request) -> Any:
    """The JSON body, or None when there is none (messages without members may be empty)."""
    body = await request.body()
    if not body.strip():
        return None
    content_type = request.headers.get("content-type")
    if not is_json_media_type(content_type):
        raise unsupported_media_type(content_type)
    return parse_json(body)


Service = Annotated[Contracts, Depends(contracts)]
Who = Annotated[Party, Depends(party)]
Body = Annotated[Any, Depends(json_body)]
OfferDocument = Annotated[dict[str, Any], Depends(ppi_body(OFFER_PPI))]
_JSON_BODY: dict[str, Any] = {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}


# Offers


@router.post(
    "/datasets/{dataset_id}/offers", status_code=201, summary="Put an ODRL offer on a dataset",
    dependencies=[Depends(require_scopes(PUBLISH))], openapi_extra=openapi_request_body(OFFER_PPI),
)
async def publish_offer(dataset_id: str, document: OfferDocument, service: Service, where: SiteDep) -> Response:
    offer = await service.publish_offer(dataset_id, document)
    return OrjsonResponse(dict(offer.document), status_code=201, headers={"Location": _url(where, "offers", offer)})


@router.get("/datasets/{dataset_id}/offers", summary="The offers on a dataset")
async def dataset_offers(dataset_id: str, service: Service) -> OrjsonResponse:
    return OrjsonResponse({"offers": [dict(offer.document) for offer in await service.offers(dataset_id)]})


@router.get("/offers/{offer_id}", summary="One offer")
async def get_offer(offer_id: str, service: Service) -> OrjsonResponse:
    return OrjsonResponse(dict((await service.offer(offer_id)).document))


# Negotiations


@router.post("/negotiations/request", status_code=201, summary="Request an offer: start a contract negotiation",
             openapi_extra=_JSON_BODY)
async def request_contract(who: Who, body: Body, service: Service, where: SiteDep) -> Response:
    negotiation = await service.request(who, body)
    return OrjsonResponse(negotiation.document(), status_code=201,
                          headers={"Location": _url(where, "negotiations", negotiation)})


@router.get("/negotiations", summary="Contract negotiations: a consumer's own, or all for a provider")
async def list_negotiations(who: Who, service: Service) -> OrjsonResponse:
    return OrjsonResponse({"negotiations": [n.document() for n in await service.negotiations(who)]})


@router.get("/negotiations/{pid}", summary="One contract negotiation")
async def get_negotiation(pid: str, who: Who, service: Service) -> OrjsonResponse:
    return _negotiation(await service.negotiation(who, pid))


@router.post("/negotiations/{pid}/offers", summary="Provider's counter-offer (-> OFFERED)", openapi_extra=_JSON_BODY)
async def counter_offer(pid: str, who: Who, body: Body, service: Service) -> OrjsonResponse:
    return _negotiation(await service.counter_offer(who, pid, body))


@router.post("/negotiations/{pid}/request", summary="Consumer's counter-request (-> REQUESTED)",
             openapi_extra=_JSON_BODY)
async def counter_request(pid: str, who: Who, body: Body, service: Service) -> OrjsonResponse:
    return _negotiation(await service.counter_request(who, pid, body))


@router.post("/negotiations/{pid}/agreement", summary="Provider agrees (-> AGREED): the ODRL Agreement is made")
async def agree(pid: str, who: Who, service: Service) -> OrjsonResponse:
    return _negotiation(await service.agree(who, pid))


@router.post("/negotiations/{pid}/agreement/verification", summary="Consumer verifies the agreement (-> VERIFIED)")
async def verify(pid: str, who: Who, service: Service) -> OrjsonResponse:
    return _negotiation(await service.verify(who, pid))


@router.post("/negotiations/{pid}/events", summary="ACCEPTED (consumer) or FINALIZED (provider, makes the grant)",
             openapi_extra=_JSON_BODY)
async def negotiation_event(pid: str, who: Who, body: Body, service: Service) -> OrjsonResponse:
    return _negotiation(await service.event(who, pid, body))


@router.post("/negotiations/{pid}/termination", summary="Either party ends the negotiation (-> TERMINATED)")
async def terminate_negotiation(pid: str, who: Who, body: Body, service: Service) -> OrjsonResponse:
    return _negotiation(await service.terminate(who, pid, body))


# Agreements


@router.get("/agreements", summary="ODRL Agreements: a consumer's own, or all for a provider")
async def list_agreements(who: Who, service: Service) -> OrjsonResponse:
    now = service.now()
    return OrjsonResponse({"agreements": [a.to_document(now) for a in await service.agreements(who)]})


@router.get("/agreements/{agreement_id}", summary="One ODRL Agreement with its provenance and status")
async def get_agreement(agreement_id: str, who: Who, service: Service) -> OrjsonResponse:
    return _agreement(await service.agreement(who, agreement_id), service)


@router.post("/agreements/{agreement_id}/termination", summary="End an agreement; its grant is withdrawn")
async def terminate_agreement(agreement_id: str, who: Who, body: Body, service: Service) -> OrjsonResponse:
    return _agreement(await service.terminate_agreement(who, agreement_id, body), service)


# Grants (for the gateway)


@router.get("/grants", summary="Active access grants (PPI access-grant)", dependencies=[Depends(require_scopes(GRANTS))])
async def list_grants(
    service: Service,
    client_id: Annotated[str | None, Query(description="The consumer's client id; absent: every client's.")] = None,
) -> OrjsonResponse:
    return OrjsonResponse({"grants": [grant.to_ppi() for grant in await service.active_grants(client_id)]})


@router.post("/grants/uses", summary="Take uses from a grant (atomic); 403 with the reason when refused",
             dependencies=[Depends(require_scopes(GRANTS))], openapi_extra=_JSON_BODY)
async def take_uses(body: Body, service: Service) -> OrjsonResponse:
    grant_id, remaining = await service.take_uses(body)
    return OrjsonResponse({"grant_id": grant_id, "remaining": remaining})


def _negotiation(negotiation: Negotiation) -> OrjsonResponse:
    return OrjsonResponse(negotiation.document())


def _agreement(agreement: Agreement, service: Contracts) -> OrjsonResponse:
    return OrjsonResponse(agreement.to_document(service.now()))


def _url(where: Site, collection: str, item: Offer | Negotiation) -> str:
    key = item.id if isinstance(item, Offer) else item.provider_pid
    return f"{where.public_url.rstrip('/')}/{collection}/{key}"
