"""A permit check from start to end, in plain Python: the building plan read from its upload
(building-plan JSON, CityJSON or IFC), its zoning and parcel found in the digital twin over HTTP,
and the plan checked against the municipality's rule set (``rules.check``).

The parcel checked against: the plan's own parcel geometry; else its parcel reference, looked up
among the parcels the twin has at the footprint; else the parcel holding most of the footprint.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import orjson
import shapely
from shapely.geometry import shape

import ppi_schemas
from mims.kit.geo.cityjson import read_cityjson
from mims.kit.geo.plan_input import PlanInputError, check_in_rd, to_rd
from mims.kit.ppi import parse_json
from mims.kit.problems import ProblemError, ProblemItem
from mims.permit_check import twin
from mims.permit_check.ifc import Origin, read_ifc
from mims.permit_check.rules import BUILDING_PLAN, check
from mims.permit_check.ruleset import RuleSetError, load_ruleset

PLAN_JSON, CITYJSON, IFC = "json", "cityjson", "ifc"
CITYJSON_MEDIA_TYPE = "application/city+json"
IFC_MEDIA_TYPES = ("application/x-step", "application/ifc", "model/ifc")


@dataclass(frozen=True)
class Checked:
    """A decision and the site it was computed on: the plan, the zoning features in EPSG:28992 and
    the parcel used (``{reference, geometry}`` or None), for reports that draw them."""

    decision: dict[str, Any]
    plan: dict[str, Any]
    features: list[dict[str, Any]]
    parcel: dict[str, Any] | None

    def site(self) -> dict[str, Any]:
        return {"plan": self.plan, "features": self.features, "parcel": self.parcel}


def input_format(media_type: str | None, body: bytes) -> str:
    """``json``, ``cityjson`` or ``ifc`` for a body of ``media_type`` (a JSON body that says
    ``"type": "CityJSON"`` is CityJSON); ProblemError 415 for any other media type."""
    essence = (media_type or "").split(";", 1)[0].strip().lower()
    if essence == CITYJSON_MEDIA_TYPE:
        return CITYJSON
    if essence in IFC_MEDIA_TYPES:
        return IFC
    if essence == "application/json" or (essence.startswith("application/") and essence.endswith("+json")):
        return CITYJSON if _says_cityjson(body) else PLAN_JSON
    accepted = ", ".join(("application/json", CITYJSON_MEDIA_TYPE, *IFC_MEDIA_TYPES))
    raise ProblemError(415, "Unsupported Media Type", f"{essence or 'a body without Content-Type'} is not read; "
                       f"send one of {accepted}", errors=[ProblemItem("Content-Type", f"one of {accepted}", "header")])


def _says_cityjson(body: bytes) -> bool:
    head = body[:4096]
    if b"CityJSON" not in head:
        return False
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(document, dict) and document.get("type") == "CityJSON"


def read_plan(kind: str, body: bytes, *, crs: str | None = None, object_id: str | None = None,
              origin: Origin | None = None) -> dict[str, Any]:
    """The one building-plan document in ``body``: ProblemError 400 for JSON that is not a
    building plan, 422 for a file that cannot be read as one or holds several without ``object_id``."""
    if kind == PLAN_JSON:
        plan = parse_json(body)
        validate_plan(plan)
        return plan
    try:
        if kind == CITYJSON:
            plans = read_cityjson(body, crs=crs)
            buildings = _cityjson_buildings(body)
        else:
            plans = read_ifc(body, origin=origin)
            buildings = None
    except PlanInputError as error:
        raise error.problem() from None
    return choose(plans, object_id, buildings)


def validate_plan(plan: Any) -> None:
    """ProblemError 400 listing every way ``plan`` is not a building-plan@1.0.0 document."""
    if ppi_schemas.is_valid(plan, BUILDING_PLAN):
        return
    problems = ppi_schemas.validate(plan, BUILDING_PLAN)
    raise ProblemError(400, f"Request body does not match PPI {BUILDING_PLAN}",
                       f"{len(problems)} problem(s); each error points at the offending member.",
                       errors=[ProblemItem(p.pointer, p.message) for p in problems], extensions={"ppi": BUILDING_PLAN})


def read_batch(body: bytes, largest: int) -> list[dict[str, Any]]:
    """The building plans of a batch ``{"plans": [building-plan, ...]}`` (1 to ``largest``):
    ProblemError 400 listing every problem of every plan, pointing at ``/plans/{index}/...``."""
    document = parse_json(body)
    plans = document.get("plans") if isinstance(document, dict) else None
    if not isinstance(plans, list) or not 1 <= len(plans) <= largest:
        detail = f"the body must be an object whose member plans is an array of 1 to {largest} building plans"
        raise ProblemError(400, "Not a batch of building plans", detail, errors=[ProblemItem("/plans", detail)])
    problems = []
    for index, plan in enumerate(plans):
        try:
            with _pointing_into("/plans", index):
                validate_plan(plan)
        except ProblemError as error:
            problems += error.errors
    if problems:
        raise ProblemError(400, f"Request body does not match PPI {BUILDING_PLAN}",
                           f"{len(problems)} problem(s) in the batch; each error points at the offending member.",
                           errors=problems, extensions={"ppi": BUILDING_PLAN})
    return plans


def _cityjson_buildings(body: bytes) -> set[str]:
    objects = orjson.loads(body).get("CityObjects") or {}
    return {key for key, value in objects.items() if isinstance(value, dict) and value.get("type") == "Building"}


def choose(plans: Sequence[dict[str, Any]], object_id: str | None, buildings: set[str] | None = None) -> dict[str, Any]:
    """The plan of ``object_id`` (a CityObject id or IFC GlobalId); without one, the only plan, or
    the only Building (not BuildingPart) of ``buildings``."""
    ids = [plan["source"]["object"] for plan in plans]
    if object_id is not None:
        for plan in plans:
            if plan["source"]["object"] == object_id:
                return plan
        raise ProblemError(422, "Unknown object", f"the file has no building {object_id!r}; it has {', '.join(ids)}",
                           errors=[ProblemItem("object", f"one of {', '.join(ids)}", "query")],
                           extensions={"objects": ids})
    candidates = [p for p in plans if buildings is None or p["source"]["object"] in buildings] or list(plans)
    if len(candidates) == 1:
        return candidates[0]
    names = [p["source"]["object"] for p in candidates]
    raise ProblemError(422, "Several buildings", f"the file holds {len(names)} buildings; choose one with the "
                       f"object parameter: {', '.join(names)}",
                       errors=[ProblemItem("object", f"one of {', '.join(names)}", "query")],
                       extensions={"objects": names})


def ruleset_of(municipality: str) -> dict[str, Any]:
    """The municipality's rule set; ProblemError 404 naming the known ones."""
    try:
        return load_ruleset(municipality)
    except RuleSetError as error:
        if error.status != 404:
            raise error.problem() from None
        raise ProblemError(404, "Unknown municipality", error.detail,
                           errors=[ProblemItem("municipality", error.detail, "query")]) from None


async def check_plan(client: httpx.AsyncClient, context_url: str, plan: dict[str, Any],
                     ruleset: Mapping[str, Any]) -> Checked:
    """``plan`` checked against ``ruleset`` with the zoning and parcels the twin at ``context_url``
    has at its footprint. ProblemError 503 when the twin cannot be reached, 502 when it errs."""
    [checked] = await check_plans(client, context_url, [plan], ruleset)
    return checked


async def check_plans(client: httpx.AsyncClient, context_url: str, plans: Sequence[dict[str, Any]],
                      ruleset: Mapping[str, Any], pointer: str = "") -> list[Checked]:
    """Each of ``plans`` checked as ``check_plan`` does, in order, the twin asked once for plans
    close together (``twin.zoning_at_many``). The problems of an unusable plan point into it at
    ``{pointer}/{index}`` (``pointer`` "": a single plan, pointers from its root)."""
    footprints = []
    for index, plan in enumerate(plans):
        with _pointing_into(pointer, index):
            footprints.append(_footprint_rd(plan))
    try:
        statuses: dict[str, str | None] = {}
        found = await twin.zoning_at_many(client, context_url, footprints, statuses)
        # each feature's entity records its plan's status: the plans are asked for only where it does not
        meta = {idn: {"status": status} for idn, status in statuses.items() if status}
        meta |= await twin.zoning_plans(client, context_url, {idn for idn, status in statuses.items() if not status})
    except twin.TwinUnreachable as error:
        raise ProblemError(503, "Service Unavailable", f"the digital twin (context MIM) cannot be reached: "
                           f"{error.detail}", headers={"Retry-After": "30"}) from None
    checked = []
    for index, (plan, footprint, at) in enumerate(zip(plans, footprints, found, strict=True)):
        parcel = parcel_for(plan, footprint, at.parcels)
        with _pointing_into(pointer, index):
            decision = check(plan, at.features, parcel, dict(ruleset), plan_meta=meta, footprint=footprint,
                             geometries=at.geometries)
        checked.append(Checked(decision, plan, at.features, parcel))
    return checked


@contextmanager
def _pointing_into(pointer: str, index: int) -> Iterator[None]:
    """Problems raised in the block point into plan ``index`` of the body's ``pointer`` array."""
    try:
        yield
    except ProblemError as error:
        if pointer:
            error.errors = [replace(item, pointer=f"{pointer}/{index}{item.pointer}") if item.location == "body"
                            else item for item in error.errors]
        raise


def _footprint_rd(plan: dict[str, Any]) -> shapely.Geometry:
    try:
        geometry = shapely.force_2d(shape(plan["footprint"]))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.ShapelyError) as error:
        raise ProblemError(422, "Unusable building plan", f"the footprint is not a geometry: {error}",
                           errors=[ProblemItem("/footprint", str(error))]) from None
    if plan.get("crs") == "EPSG:4326":
        geometry = to_rd(geometry, 4326)
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise ProblemError(422, "Unusable building plan", f"the footprint is not a valid polygon: {reason}",
                           errors=[ProblemItem("/footprint", reason)])
    try:
        check_in_rd(geometry, "/footprint", f"the footprint lies outside the Netherlands (the area of use of "
                    f"EPSG:28992): are its coordinates in {plan.get('crs', 'EPSG:28992')}?")
    except PlanInputError as error:
        raise ProblemError(422, "Unusable building plan", error.detail,
                           errors=[ProblemItem(error.pointer, error.detail)]) from None
    return geometry


def parcel_for(plan: dict[str, Any], footprint: shapely.Geometry,
               parcels: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The parcel to check ``plan`` against (None: the plan's own parcel geometry, or none known)."""
    own = plan.get("parcel", {})
    if "geometry" in own:
        return None
    if "reference" in own:
        return next((p for p in parcels if p["reference"] == own["reference"]), None)
    if not parcels:
        return None
    return max(parcels, key=lambda p: footprint.intersection(shape(p["geometry"])).area)
