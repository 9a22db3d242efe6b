"""The portal's region pages: the cities this platform federates with and their status, and one
search over all of them (their digital twins' entities and their data catalogues).

The search asks the region APIs (``/region/ngsi-ld/v1/...``, ``/region/marketplace/datasets``)
through the gateway as the signed-in person, so the same token, scope and grant checks apply; a
city that did not answer is named on the page rather than silently left out.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gateway.peers import peer_store
from gateway.portal import region_view as view
from gateway.portal.pages import Page
from gateway.portal.replies import page_number as page_number_of
from gateway.portal.upstream import Platform, UpstreamError
from gateway.region import peer_reports

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
#: Longest search text accepted (an id pattern or a name part).
MAX_TEXT = 200
TABS = ("entities", "datasets")
#: The scope of ``GET /region/status``: who may see how this platform reaches each peer.
STATUS_SCOPE = "context:read"


@router.get("/cities")
async def cities(request: Request) -> Response:
    page = Page(request)
    settings = request.app.state.settings
    reports = peer_reports(getattr(request.app.state, "region", None), await peer_store(request).all())
    detailed = page.person is not None and STATUS_SCOPE in page.person.scopes
    shown = view.cities(settings.city, settings.upstreams(), reports, detailed=detailed)
    return page.render("region/cities.html", cities=shown, detailed=detailed, reason_key=view.reason_key)


@router.get("/cities/search")
async def search(request: Request, tab: str = "entities", type: str = "", text: str = "", q: str = "",
                 page_number: str = Query("1", alias="page")) -> Response:
    page = Page(request)
    tab = tab if tab in TABS else "entities"
    # The region answers at most region_max_window results: the pager stays within them.
    last = max(1, request.app.state.settings.region_max_window // PAGE_SIZE)
    number = page_number_of(page_number, last)
    text, q = text.strip()[:MAX_TEXT], q.strip()[:MAX_TEXT]
    context: dict[str, Any] = {"tab": tab, "type": type, "text": text, "q": q, "number": number or 1, "types": [],
                               "groups": [], "outcome": None, "error": None, "total": None, "searched": False,
                               "reason_key": view.reason_key, "page_size": PAGE_SIZE, "last": last,
                               "bad_page": number is None}
    if number is None:
        context["error"] = page.t("region.search.bad_page", page=page_number[:20], last=last)
        return page.render("region/search.html", status=400, **context)
    platform = await page.platform()
    if tab == "entities":
        if page.person is not None:
            await _entities(page, platform, context)
    else:
        await _datasets(page, platform, context)
    return page.render("region/search.html", status=400 if context["error"] else 200, **context)


async def _entities(page: Page, platform: Platform, context: dict[str, Any]) -> None:
    """The entity types to choose from and, once asked, the entities found, by city."""
    types = await platform.call("GET", "/region/ngsi-ld/v1/types")
    context["types"] = [str(name) for name in types.json().get("typeList", [])]
    context["outcome"] = view.outcome(types.headers)
    if not (context["type"] or context["text"] or context["q"]):
        return
    params = {"options": "keyValues", "count": "true", "limit": str(PAGE_SIZE),
              "offset": str((context["number"] - 1) * PAGE_SIZE)}
    if context["type"]:
        params["type"] = context["type"]
    if context["text"]:
        params["idPattern"] = view.id_pattern(context["text"])
    if context["q"]:
        params["q"] = context["q"]
    answer = await _searched(platform, "/region/ngsi-ld/v1/entities", params, context)
    if answer is None:
        return
    context["outcome"] = view.outcome(answer.headers)
    context["total"] = int(answer.headers.get("ngsild-results-count", "0") or 0)
    context["groups"] = view.grouped(answer.json(), view.entity)


async def _datasets(page: Page, platform: Platform, context: dict[str, Any]) -> None:
    """The region's data catalogue: what matches the text, by city."""
    params = {"limit": str(PAGE_SIZE), "offset": str((context["number"] - 1) * PAGE_SIZE)}
    if context["text"]:
        params["q"] = context["text"]
    answer = await _searched(platform, "/region/marketplace/datasets", params, context)
    if answer is None:
        return
    body = answer.json()
    city = page.request.app.state.settings.city
    context["outcome"] = view.outcome(answer.headers)
    context["total"] = int(body.get("total", 0))
    context["groups"] = view.grouped(body.get("items", []), lambda node: view.dataset(node, page.lang, city))


async def _searched(platform: Platform, path: str, params: dict[str, str], context: dict[str, Any]) -> httpx.Response | None:
    """The region's answer to the search; None when it refused the search itself (400: a bad
    query, the person's to mend), whose detail the page then shows beside the fields."""
    context["searched"] = True
    try:
        return await platform.call("GET", path, params=params)
    except UpstreamError as error:
        if error.status != 400:
            raise
        context["error"] = error.detail
        return None
