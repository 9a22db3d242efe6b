"""The portal's permit pages: check a building plan (an uploaded file, or a footprint drawn on the
map of the parcels or typed), read the decision rule by rule with its map, and list past checks.

Everything goes through the permit check's API at ``/permit-check/v1/checks`` (scope
``permit:submit``) and the twin's NGSI-LD API (``context:read``) as the signed-in person. A plan the
permit check refuses (a 4xx problem) shows the form again with the problem quoted, field by field.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, Response

from gateway.portal import permit_map
from gateway.portal.pages import Page
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
from gateway.portal.upstream import Platform

router = APIRouter(include_in_schema=False)

CHECKS = "/permit-check/v1/checks"
ENTITIES = "/ngsi-ld/v1/entities"
SUBMIT = "permit:submit"
PAGE_SIZE = 20
#: Permit-check problem pointers -> the drawing form's field that holds that member.
POINTER_FIELDS = {"footprint": "footprint", "height": "height", "eavesHeight": "eavesHeight",
                  "storeysAboveGround": "storeysAboveGround", "functions": "grossFloorArea", "dwellings": "dwellings",
                  "parkingSpaces": "parkingSpaces", "roofType": "roofType", "parcel": "parcel"}
_DRAW_FIELDS = ("name", "footprint", "height", "eavesHeight", "storeysAboveGround", "function", "grossFloorArea",
                "dwellings", "parkingSpaces", "roofType", "parcel")

def _refused(page: Page) -> Response | None:
    """A page saying why, unless the person may submit plans (officers review, they do not submit)."""
    if SUBMIT in page.require_person().scopes:
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
    plans = await platform.get_json(ENTITIES, params={"type": permit_map.ZONING_PLAN_TYPE, "limit": "100",
                                                      "pick": "id,location"})
    start = permit_map.around(e["location"]["value"] for e in plans if isinstance(e.get("location"), dict))
    messages = {e.field: page.t(e.key, **e.params) for e in errors or []}
    return page.render("permits/form.html", status=status, how=how, errors=errors or [], messages=messages,
                       problem=problem, values=values or {},
                       function_options=[(f, page.t(f"permits.function.{f}")) for f in FUNCTIONS],
                       roof_options=[(r, page.t(f"permits.roof.{r}")) for r in ROOF_TYPES],
                       accept=ACCEPT, start=_start_view(start), max_mb=_max_upload_mb(page.request))


def _start_view(area: permit_map.BBox | None) -> str:
    """``west,south,east,north`` the map opens on: the middle of the zoning plans, a few streets
    wide, so that the parcels there are drawn at once (a wider view asks the person to zoom in)."""
    if area is None:
        return ""
    west, south, east, north = area
    half = permit_map.MAX_SPAN / 8
    x, y = (west + east) / 2, (south + north) / 2
    return ",".join(f"{v:.6f}" for v in (x - half, y - half / 2, x + half, y + half / 2))


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
    parcels, zoning = await _surroundings(platform, area)
    buildings = permit_map.building_features(await platform.get_json(ENTITIES, params=permit_map.geo_query(
        permit_map.BUILDING_TYPE, area, [])))
    truncated = max(len(parcels), len(zoning), len(buildings)) >= permit_map.MAX_FEATURES
    return Response(orjson.dumps(permit_map.collection(zoning + parcels + buildings, truncated=truncated)),
                    media_type="application/geo+json", headers={"cache-control": "private, max-age=60"})


async def _surroundings(platform: Platform, area: permit_map.BBox) -> tuple[list[dict], list[dict]]:
    parcels = await platform.get_json(ENTITIES, params=permit_map.geo_query(
        permit_map.PARCEL_TYPE, area, [permit_map.REFERENCE]))
    zoning = await platform.get_json(ENTITIES, params=permit_map.geo_query(
        permit_map.ZONING_AREA_TYPE, area, [permit_map.NAME, permit_map.DESIGNATION]))
    return permit_map.parcel_features(parcels), permit_map.zoning_features(zoning)


@router.post("/permits/checks")
async def submit(request: Request) -> Response:
    page = Page(request)
    if refused := _refused(page):
        return refused
    form = await request.form()
    if not page.csrf_valid(form):
        return page.render("error.html", status=403, heading=page.t("form.expired"),
                           detail=page.t("form.expired_detail"))
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
async def past_checks(request: Request, offset: int = 0) -> Response:
    page = Page(request)
    if refused := _refused(page):
        return refused
    offset = max(0, min(offset, 2**31 - 1))
    platform = await page.platform()
    found = await platform.get_json(CHECKS, params={"limit": PAGE_SIZE, "offset": offset})
    return page.render("permits/list.html", items=found["items"], total=found["total"], offset=offset,
                       size=PAGE_SIZE, when=when, verdict_class=VERDICT_CLASS)


@router.get("/permits/checks/{check_id}")
async def decision_page(request: Request, check_id: str) -> Response:
    page = Page(request)
    if refused := _refused(page):
        return refused
    platform = await page.platform()
    decision = await platform.get_json(f"{CHECKS}/{check_id}")
    features = permit_map.evidence_features(decision, page.lang)
    site = await platform.get_json(f"{CHECKS}/{check_id}/site")
    footprint = permit_map.site_footprint(site)
    shown = [footprint] if footprint else [f["geometry"] for f in features]
    area = permit_map.around(shown)
    parcels: list[dict] = []
    zoning: list[dict] = []
    if area is not None:
        parcels, zoning = await _surroundings(platform, area)
    if footprint:
        features.insert(0, {"type": "Feature", "geometry": footprint,
                            "properties": {"kind": "footprint", "label": page.t("permits.map.footprint")}})
    under = permit_map.touching(parcels + zoning, footprint) if footprint else []
    drawn = permit_map.collection(zoning + parcels + features)
    return page.render("permits/decision.html", check_id=check_id, decision=decision,
                       rows=rule_rows(decision, page.lang), when=when, verdict_class=VERDICT_CLASS,
                       features=orjson.dumps(drawn).decode() if area else "", under=under, evidence=features,
                       has_footprint=footprint is not None)


@router.get("/permits/checks/{check_id}/report")
async def printable_report(request: Request, check_id: str) -> Response:
    """The permit check's printable report, fetched with the person's token (a plain link to the
    API would carry none) and shown as it is, in the page's language."""
    page = Page(request)
    if refused := _refused(page):
        return refused
    platform = await page.platform()
    report = await platform.call("GET", f"{CHECKS}/{check_id}.html", params={"lang": page.lang},
                                 headers={"accept": "text/html"}, ok=(200,))
    return HTMLResponse(report.text, headers={"content-language": page.lang, "cache-control": "no-store"})
