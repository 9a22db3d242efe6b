"""The permit check's HTTP surface: submit a building plan (building-plan JSON, CityJSON or IFC)
for a check against the zoning in the digital twin, and read past checks as permit-decision
documents, as a printable HTML report or as a site map.

Submitting needs the scope ``permit:submit``; each check keeps its submitter (the token's subject
and issuer, ``mims.kit.auth.caller``). Reading needs ``permit:submit`` or ``permit:review``: a
submitter reads its own checks, a reviewer every check, and another's check is 404, as if it did
not exist. With auth off and no caller named by the gateway (a MIM on a laptop, which only the
gateway may reach otherwise), submissions have no submitter and every check can be read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response

import ppi_schemas
from mims.kit.auth import Caller, caller, require_scopes
from mims.kit.auth.rfc6750 import REALM
from mims.kit.errors import OrjsonResponse, status_problem
from mims.kit.problems import ProblemError, ProblemItem
from mims.permit_check import checks, report, site, twin
from mims.permit_check.checks_storage import (
    EVERYONE,
    SqlCheckStore,
    StoredCheck,
    Submitter,
    new_id,
)
from mims.permit_check.rules import BUILDING_PLAN

DECISION_PPI = "permit-decision@1.0.0"
SUBMIT = "permit:submit"
REVIEW = "permit:review"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
MAX_BATCH = 1000
"""Building plans in one batch."""

Municipality = Annotated[str | None, Query(description="Whose rule set applies [default: the service's].",
                                          max_length=64)]

router = APIRouter(prefix="/v1/checks", tags=["checks"])
_SUBMITTING = [Depends(require_scopes(SUBMIT))]
_READING = [Depends(require_scopes())]  # a valid token (auth on); which scope: reader()


@asynccontextmanager
async def http_client(app: FastAPI) -> AsyncIterator[None]:
    """One HTTP client (with its connection pool) for the app's requests to the digital twin,
    with access tokens for reading it when the settings name the permit check's client."""
    async with twin.twin_client(app.state.settings, twin.READ) as client:
        app.state.http = client
        yield


async def store(request: Request) -> SqlCheckStore:  # async: no worker thread per request
    return SqlCheckStore(request.app.state.engine)


Store = Annotated[SqlCheckStore, Depends(store)]


async def submitter(who: Annotated[Caller, Depends(caller)]) -> Submitter | None:
    """Who submits: the caller's subject (a client's own id for client credentials); None when anonymous."""
    if who.client_id is None:
        return None
    return Submitter(who.subject or who.client_id, who.issuer)


async def reader(who: Annotated[Caller, Depends(caller)]) -> Submitter | None:
    """Whose checks the caller reads: :data:`EVERYONE`'s for a reviewer or an anonymous caller (auth
    off, see the module), else its own; 403 without ``permit:submit`` or ``permit:review``."""
    if who.anonymous or who.has(REVIEW):
        return EVERYONE
    if not who.has(SUBMIT):
        raise ProblemError(403, "Forbidden", f"reading checks needs scope {SUBMIT} (your own) or {REVIEW} (all)",
                           headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope"'})
    return await submitter(who)


Submitting = Annotated[Submitter | None, Depends(submitter)]
Reader = Annotated[Submitter | None, Depends(reader)]

_PLAN_SCHEMA = {"schema": ppi_schemas.get(BUILDING_PLAN).schema}
_FILE = {"schema": {"type": "string", "format": "binary"}}
_BODY = {
    "requestBody": {
        "required": True,
        "description": f"A building plan (PPI {BUILDING_PLAN}), a CityJSON file (1.1, 2.0) or an IFC file "
                       "(IFC2x3, IFC4).",
        "content": {"application/json": _PLAN_SCHEMA, checks.CITYJSON_MEDIA_TYPE: {"schema": {"type": "object"}},
                    **{media_type: _FILE for media_type in checks.IFC_MEDIA_TYPES[:2]}},
    }
}


@router.post("", status_code=201, summary="Check a building plan against the zoning plan, rule by rule",
             dependencies=_SUBMITTING, openapi_extra=_BODY,
             responses={201: {"description": f"The decision (PPI {DECISION_PPI})."}})
async def submit_check(
    request: Request,
    storage: Store,
    by: Submitting,
    municipality: Municipality = None,
    crs: Annotated[str | None, Query(description="CityJSON: the CRS when the file names none, e.g. EPSG:7415.",
                                     max_length=200)] = None,
    object: Annotated[str | None, Query(description="CityJSON object id or IFC GlobalId, when the file holds "
                                                    "several buildings.", max_length=200)] = None,
    origin: Annotated[str | None, Query(description="IFC without georeference: easting,northing[,rotation] of "
                                                    "the model origin in EPSG:28992 (m, degrees anticlockwise).",
                                        max_length=200)] = None,
) -> OrjsonResponse:
    settings = request.app.state.settings
    ruleset = checks.ruleset_of(municipality or settings.municipality)
    body = await request.body()
    kind = checks.input_format(request.headers.get("content-type"), body)
    plan = checks.read_plan(kind, body, crs=crs, object_id=object, origin=_origin(origin) if origin else None)
    checked = await checks.check_plan(request.app.state.http, settings.context_url, plan, ruleset)
    check_id = new_id()
    decision = {"id": check_id, **checked.decision}
    await storage.add(check_id, datetime.now(UTC), decision, checked.site(), by)
    return OrjsonResponse(decision, status_code=201, headers={"Location": _location(request, check_id)})


_BATCH = {
    "requestBody": {
        "required": True,
        "description": f"Up to {MAX_BATCH} building plans (PPI {BUILDING_PLAN}), checked together.",
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["plans"],
            "properties": {"plans": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _PLAN_SCHEMA["schema"]}},
        }}},
    }
}


@router.post("/batch", status_code=201, summary="Check many building plans at once (all or none stored)",
             dependencies=_SUBMITTING, openapi_extra=_BATCH,
             responses={201: {"description": f"The decisions (PPI {DECISION_PPI}), in order."}})
async def submit_batch(
    request: Request,
    storage: Store,
    by: Submitting,
    municipality: Municipality = None,
) -> OrjsonResponse:
    settings = request.app.state.settings
    ruleset = checks.ruleset_of(municipality or settings.municipality)
    body = await request.body()
    if checks.input_format(request.headers.get("content-type"), body) != checks.PLAN_JSON:
        raise status_problem(415, "A batch is JSON: {\"plans\": [building plans]}; send files one by one.",
                             errors=[ProblemItem("Content-Type", "application/json", "header")])
    plans = checks.read_batch(body, MAX_BATCH)
    checked = await checks.check_plans(request.app.state.http, settings.context_url, plans, ruleset, "/plans")
    now = datetime.now(UTC)
    decisions = [{"id": new_id(), **c.decision} for c in checked]
    await storage.add_many([(d["id"], now, d, c.site()) for d, c in zip(decisions, checked, strict=True)], by)
    return OrjsonResponse({"decisions": decisions, "hrefs": [_location(request, d["id"]) for d in decisions]},
                          status_code=201)


@router.get("", summary="Past checks, newest first: the caller's own, or all to a reviewer",
            dependencies=_READING)
async def list_checks(
    request: Request,
    storage: Store,
    seen_by: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> OrjsonResponse:
    total, found = await storage.page(limit, offset, seen_by)
    items = [{"id": c.id, "verdict": c.decision["verdict"], "checkedAt": c.decision["checkedAt"],
              "ruleSet": c.decision["ruleSet"], "href": _location(request, c.id)} for c in found]
    return OrjsonResponse({"total": total, "limit": limit, "offset": offset, "items": items})


@router.get("/{check_id}.html", summary="A check as a printable report (Dutch or English)",
            response_class=HTMLResponse, dependencies=_READING)
async def get_report(
    request: Request,
    check_id: str,
    storage: Store,
    seen_by: Reader,
    lang: Annotated[str | None, Query(description="nl or en [default: from Accept-Language, else nl]",
                                      pattern="^(nl|en)$")] = None,
) -> Response:
    stored = await _stored(storage, check_id, seen_by)
    chosen = report.language(lang, request.headers.get("accept-language"))
    html = report.render(check_id, stored.decision, stored.site, chosen)
    return HTMLResponse(html, headers={"Content-Language": chosen, "Vary": "Accept-Language"})


@router.get("/{check_id}/site", summary="A check's site as GeoJSON (WGS84): footprint, parcel, zoning, evidence",
            response_class=OrjsonResponse, responses={200: {"content": {"application/geo+json": {}}}},
            dependencies=_READING)
async def get_site(check_id: str, storage: Store, seen_by: Reader) -> OrjsonResponse:
    stored = await _stored(storage, check_id, seen_by)
    return OrjsonResponse(site.site_collection(stored.decision, stored.site), media_type="application/geo+json")


@router.get("/{check_id}", summary=f"A check's decision (PPI {DECISION_PPI})", dependencies=_READING)
async def get_check(check_id: str, storage: Store, seen_by: Reader) -> OrjsonResponse:
    return OrjsonResponse((await _stored(storage, check_id, seen_by)).decision)


async def _stored(storage: SqlCheckStore, check_id: str, seen_by: Submitter | None) -> StoredCheck:
    """The check, or 404 when there is none or it is another's (its existence is not told)."""
    stored = await storage.get(check_id, seen_by)
    if stored is None:
        raise status_problem(404, f"There is no check {check_id!r}.")
    return stored


def _origin(text: str) -> tuple[float, float, float]:
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or not all(abs(n) < 1e7 for n in numbers):
        raise status_problem(400, f"origin {text!r} is not easting,northing[,rotation] in metres and degrees.",
                             errors=[ProblemItem("origin", "easting,northing[,rotation], e.g. 92500,437200,30",
                                                 "query")])
    return (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 0.0)


def _location(request: Request, check_id: str) -> str:
    settings = request.app.state.settings
    base = str(settings.public_url).rstrip("/") if settings.public_url else str(request.base_url).rstrip("/")
    return f"{base}/v1/checks/{check_id}"
