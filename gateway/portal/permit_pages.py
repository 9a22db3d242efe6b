"""The portal's permit pages: check a building plan (an uploaded file, or a footprint drawn on the
map of the parcels or typed), read the decision rule by rule with its map, and list past checks.

Everything goes through the permit check's API at ``/permit-check/v1/checks`` (scope
``permit:submit``) and the twin's NGSI-LD API (``context:read``) as the signed-in person. A plan the
permit check refuses (a 4xx problem) shows the form again with the problem quoted, field by field.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, Response

from gateway.portal import permit_map, replies
from gateway.portal.pages import SANDBOXED_DOCUMENT, Page
from gateway.portal.permit_decision import VERDICT_CLASS, rule_rows, when
from gateway.portal.permit_plan import (
    ACCEPT,
    FUNCTIONS,
    PLAN_JSON,
    ROOF_TYPES,
    FieldError,
    PlanInvalid,
    media_type_of,
    plan_from_form,
)
from gateway.portal.upstream import Platform, UpstreamError

router = APIRouter(include_in_schema=False)

CHECKS = "/permit-check/v1/checks"
ENTITIES = "/ngsi-ld/v1/entities"
SUBMIT = "permit:submit"
REVIEW = "permit:review"
PAGE_SIZE = 20
#: The last page of past checks the list goes to (the permit check's offsets stay 32-bit).
MAX_PAGE = 2**31 // PAGE_SIZE
#: Seconds the form map's start view (the middle of the zoning plans) is kept; pages of plans read for it.
START_TTL, MAX_PLAN_PAGES = 300.0, 100
#: Permit-check problem pointers -> the drawing form's field that holds that member.
POINTER_FIELDS = {"footprint": "footprint", "height": "height", "eavesHeight": "eavesHeight",
                  "storeysAboveGround": "storeysAboveGround", "functions": "grossFloorArea", "dwellings": "dwellings",
                  "parkingSpaces": "parkingSpaces", "roofType": "roofType", "parcel": "parcel"}
_DRAW_FIELDS = ("name", "footprint", "height", "eavesHeight", "storeysAboveGround", "function", "grossFloorArea",
                "dwellings", "parkingSpaces", "roofType", "parcel")

def _refused(page: Page, *, reading: bool = False) -> Response | None:
    """A page saying why, unless the person may submit plans, or, ``reading`` checks, review them
    (an officer reads every citizen's checks, and submits none)."""
    scopes = page.require_person().scopes
    if SUBMIT in scopes or (reading and REVIEW in scopes):
        return None
    return page.render("error.html", status=403, heading=page.t("error.forbidden"),
                       detail=page.t("permits.not_allowed"))


@router.get("/permits")
async def permit_form(request: Request) -> Response:
    page = Page(request)
    if refused := _refused(page):
        return refused
    return await _form(page, await page.platform())


async def _form(page: Page, platform: Platform, *, status: int = 200, how: str = "draw",
                errors: list[FieldError] | None = None, problem: str = "", values: dict[str, str] | None = None,
                ) -> Response:
    messages = {e.field: page.t(e.key, **e.params) for e in errors or []}
    return page.render("permits/form.html", status=status, how=how, errors=errors or [], messages=messages,
                       problem=problem, values=values or {},
                       function_options=[(f, page.t(f"permits.function.{f}")) for f in FUNCTIONS],
                       roof_options=[(r, page.t(f"permits.roof.{r}")) for r in ROOF_TYPES],
                       accept=ACCEPT, start=await _start(page.request, platform), max_mb=_max_upload_mb(page.request))


@dataclass
class _Start:
    """The form map's start view, kept for :data:`START_TTL` seconds by each gateway."""

    view: str = ""
    until: float = -math.inf
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def _start(request: Request, platform: Platform) -> str:
    state = request.app.state
    start: _Start | None = getattr(state, "permit_start", None)
    if start is None:
        start = state.permit_start = _Start()
    clock = getattr(state, "clock", time.monotonic)
    async with start.lock:  # one gateway asks the twin once, however many forms are opened meanwhile
        if start.until <= clock():
            start.view = _start_view(permit_map.extent(await _plan_locations(platform)))
            start.until = clock() + START_TTL
    return start.view


def _start_view(area: permit_map.BBox | None) -> str:
    """``west,south,east,north`` the map opens on: the middle of the zoning plans, a few streets
    wide, so that the parcels there are drawn at once (a wider view asks the person to zoom in)."""
    if area is None:
        return ""
    west, south, east, north = area
    half = permit_map.MAX_SPAN / 8
    x, y = (west + east) / 2, (south + north) / 2
    return ",".join(f"{v:.6f}" for v in (x - half, y - half / 2, x + half, y + half / 2))


async def _plan_locations(platform: Platform) -> list[dict[str, Any]]:
    """The locations of every zoning plan in the twin, page by page (at most :data:`MAX_PLAN_PAGES`)."""
    found: list[dict[str, Any]] = []
    for number in range(MAX_PLAN_PAGES):
        plans = await platform.get_json(ENTITIES, params={
            "type": permit_map.ZONING_PLAN_TYPE, "pick": "id,location", "limit": str(permit_map.MAX_FEATURES),
            "offset": str(number * permit_map.MAX_FEATURES)})
        found += [e["location"]["value"] for e in plans if isinstance(e.get("location"), dict)]
        if len(plans) < permit_map.MAX_FEATURES:
            break
    return found


@router.get("/permits/map.geojson")
async def map_features(request: Request, bbox: str = "") -> Response:
    """Parcels, zoning areas and buildings in ``bbox`` (WGS84), at most :data:`permit_map.MAX_FEATURES` of each."""
    page = Page(request)
    page.require_person()
    try:
        area = permit_map.parse_bbox(bbox)
    except permit_map.BadBBox as bad:
        return Response(orjson.dumps({"type": "about:blank", "title": "Bad Request", "status": 400,
                                      "detail": str(bad), "errors": [{"pointer": "bbox", "detail": str(bad),
                                                                      "location": "query"}]}),
                        status_code=400, media_type="application/problem+json")
    platform = await page.platform()
    parcels, zoning, buildings = await asyncio.gather(*(
        platform.get_json(ENTITIES, params=permit_map.geo_query(kind, area, attributes)) for kind, attributes in (
            (permit_map.PARCEL_TYPE, [permit_map.REFERENCE]),
            (permit_map.ZONING_AREA_TYPE, [permit_map.NAME, permit_map.DESIGNATION]),
            (permit_map.BUILDING_TYPE, []))))
    parcels, zoning = permit_map.parcel_features(parcels), permit_map.zoning_features(zoning)
    buildings = permit_map.building_features(buildings)
    truncated = max(len(parcels), len(zoning), len(buildings)) >= permit_map.MAX_FEATURES
    return Response(orjson.dumps(permit_map.collection(zoning + parcels + buildings, truncated=truncated)),
                    media_type="application/geo+json", headers={"cache-control": "private, max-age=60"})


@router.post("/permits/checks")
async def submit(request: Request) -> Response:
    page = Page(request)
    if refused := _refused(page):
        return refused
    form = await request.form()
    if not page.csrf_valid(form):
        return replies.form_expired(page)
    platform = await page.platform()
    how = "upload" if form.get("how") == "upload" else "draw"
    values = {name: str(form.get(name, ""))[:20_000] for name in (*_DRAW_FIELDS, "object")}
    try:
        body, media_type = await _upload(form) if how == "upload" else _drawn(values)
    except PlanInvalid as invalid:
        return await _form(page, platform, status=400, how=how, errors=invalid.errors, values=values)
    params = {"object": values["object"].strip()} if how == "upload" and values["object"].strip() else None
    response = await platform.call("POST", CHECKS, content=body, params=params, headers={"content-type": media_type},
                                   ok=(201, 400, 404, 409, 413, 415, 422))
    if response.status_code != 201:
        problem, errors = _problem(response, how)
        return await _form(page, platform, status=response.status_code, how=how, errors=errors, problem=problem,
                           values=values)
    return page.redirect(f"/permits/checks/{response.json()['id']}")


def _drawn(values: dict[str, str]) -> tuple[bytes, str]:
    return orjson.dumps(plan_from_form(values)), PLAN_JSON


def _max_upload_mb(request: Request) -> str:
    """The largest plan file the form takes, in MB: the body the gateway (and by default the permit
    check) accepts; a larger upload is refused by the gateway itself (413 problem)."""
    return f"{request.app.state.settings.max_body_bytes / 1024 / 1024:g}"


async def _upload(form: Any) -> tuple[bytes, str]:
    upload = form.get("plan")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise PlanInvalid([FieldError("plan", "permits.error.file_missing")])
    body = await upload.read()  # bounded: the gateway refuses a request larger than its max_body_bytes
    if not body:
        raise PlanInvalid([FieldError("plan", "permits.error.file_empty", {"name": upload.filename})])
    return body, media_type_of(upload.filename, body)


def _problem(response: Any, how: str) -> tuple[str, list[FieldError]]:
    """The problem's detail, and each of its items as an error of the field it points at."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or body.get("title") or response.status_code)
    errors = []
    for item in body.get("errors") or []:
        if not isinstance(item, dict):
            continue
        pointer, text = str(item.get("pointer", "")), str(item.get("detail", ""))
        member = pointer.strip("/").split("/", 1)[0]
        field = "plan" if how == "upload" else POINTER_FIELDS.get(member, "footprint")
        if how == "upload" and pointer == "object":
            field = "object"
        errors.append(FieldError(field, "permits.error.problem", {"where": pointer or "/", "detail": text}))
    return detail, errors


@router.get("/permits/checks")
async def past_checks(request: Request, page_text: str = Query("1", alias="page")) -> Response:
    page = Page(request)
    if refused := _refused(page, reading=True):
        return refused
    number = replies.page_number(page_text, MAX_PAGE)
    found = {"items": [], "total": 0}
    if number is not None:
        platform = await page.platform()
        found = await platform.get_json(CHECKS, params={"limit": PAGE_SIZE, "offset": (number - 1) * PAGE_SIZE})
    shown = {"total": found["total"], "size": PAGE_SIZE, "when": when, "verdict_class": VERDICT_CLASS,
             "everyones": SUBMIT not in page.require_person().scopes}  # an officer's list: every citizen's
    if number is None or (number > 1 and not found["items"]):
        return page.render("permits/list.html", status=400, items=[], number=1,
                           error=page.t("permits.list.bad_page", page=page_text[:20]), **shown)
    return page.render("permits/list.html", items=found["items"], number=number, error=None, **shown)


def _check_path(check_id: str) -> str | None:
    """The permit check's path of a check, its id quoted as one path segment; None for an id that
    names no check (``.`` and ``..`` are not segments a URL keeps)."""
    return None if check_id in (".", "..") else f"{CHECKS}/{quote(check_id, safe='')}"


def _no_check(page: Page, check_id: str) -> Response:
    return replies.not_found(page, page.t("permits.decision.missing", id=check_id[:100]))


@router.get("/permits/checks/{check_id}")
async def decision_page(request: Request, check_id: str) -> Response:
    page = Page(request)
    if refused := _refused(page, reading=True):
        return refused
    if (path := _check_path(check_id)) is None:
        return _no_check(page, check_id)
    platform = await page.platform()
    decision, site = await asyncio.gather(platform.call("GET", path, ok=(200, 404)),
                                          platform.call("GET", f"{path}/site", ok=(200, 404)))
    if decision.status_code == 404 or site.status_code == 404:
        return _no_check(page, check_id)
    decision, site = decision.json(), site.json()
    rows = rule_rows(decision, page.lang)
    shown = permit_map.decision_map(site, {row.rule: row.title for row in rows}, page.t("permits.map.footprint"))
    return page.render("permits/decision.html", check_id=check_id, decision=decision, rows=rows, when=when,
                       verdict_class=VERDICT_CLASS, features=orjson.dumps(shown.drawn).decode()
                       if shown.drawn["features"] else "", under=shown.under, evidence=shown.evidence,
                       has_footprint=shown.footprint is not None)


@router.get("/permits/checks/{check_id}/report")
async def printable_report(request: Request, check_id: str) -> Response:
    """The permit check's printable report, fetched with the person's token (a plain link to the
    API would carry none) and served, in the page's language, as a sandboxed document of its own."""
    page = Page(request)
    if refused := _refused(page, reading=True):
        return refused
    if (path := _check_path(check_id)) is None:
        return _no_check(page, check_id)
    platform = await page.platform()
    report = await platform.call("GET", f"{path}.html", params={"lang": page.lang}, headers={"accept": "text/html"},
                                 ok=(200, 404))
    if report.status_code == 404:
        return _no_check(page, check_id)
    media_type = report.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "text/html":
        raise UpstreamError(502, f"GET {path}.html", f"the report came as {media_type or 'no media type'}, not HTML")
    return HTMLResponse(report.text, headers={**SANDBOXED_DOCUMENT, "content-language": page.lang,
                                              "cache-control": "no-store"})
