"""Echo's HTTP surface: a thin layer from requests to the domain and back.

Bodies are checked against the ``ngsi-ld-entity`` PPI before the domain sees them,
domain errors become problem details here, and scopes guard each route (enforced
only when the MIM runs with ``auth=required``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from mims.echo.domain import DEFAULT_PAGE_SIZE, MAX_OFFSET, MAX_PAGE_SIZE, MessageNotFound, Messages, Page
from mims.echo.storage import SqlMessageStore
from mims.kit.auth import require_scopes
from mims.kit.errors import OrjsonResponse, status_problem
from mims.kit.ppi import openapi_request_body, ppi_body

ENTITY_PPI = "ngsi-ld-entity@1.0.0"

router = APIRouter(prefix="/echo", tags=["echo"])


def messages(request: Request) -> Messages:
    return Messages(SqlMessageStore(request.app.state.engine))


@router.post(
    "/messages",
    status_code=201,
    summary="Store an NGSI-LD entity as a message",
    dependencies=[Depends(require_scopes("echo:write"))],
    openapi_extra=openapi_request_body(ENTITY_PPI),
)
async def post_message(
    request: Request,
    entity: Annotated[dict[str, Any], Depends(ppi_body(ENTITY_PPI))],
    service: Annotated[Messages, Depends(messages)],
) -> OrjsonResponse:
    message = await service.receive(entity)
    location = request.app.url_path_for("get_message", message_id=message.id)
    return OrjsonResponse(message.to_json(), status_code=201, headers={"Location": location})


@router.get(
    "/messages/{message_id}",
    summary="One message",
    dependencies=[Depends(require_scopes("echo:read"))],
)
async def get_message(message_id: str, service: Annotated[Messages, Depends(messages)]) -> OrjsonResponse:
    try:
        message = await service.get(message_id)
    except MessageNotFound:
        raise status_problem(404, f"There is no message {message_id!r}.") from None
    return OrjsonResponse(message.to_json())


@router.get(
    "/messages",
    summary="Messages in arrival order, a page at a time",
    dependencies=[Depends(require_scopes("echo:read"))],
)
async def list_messages(
    service: Annotated[Messages, Depends(messages)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> OrjsonResponse:
    return OrjsonResponse((await service.list(Page(limit=limit, offset=offset))).to_json())
