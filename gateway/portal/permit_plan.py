"""What the permit form sends: a footprint drawn or typed by a person made into a ``building-plan``
document (PPI building-plan@1.0.0), and an uploaded file labelled with the media type the permit
check reads it by.

Plain functions, so the conversion is tested without HTTP. A field a person got wrong becomes a
:class:`FieldError` naming the form field and the words that explain it, which the page shows in
its error summary next to the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

#: IMRO2012 bestemmingshoofdgroepen a building-plan function may name (the PPI's enum).
FUNCTIONS = ("wonen", "gemengd", "centrum", "detailhandel", "dienstverlening", "horeca", "kantoor",
             "maatschappelijk", "bedrijf", "cultuur en ontspanning", "sport", "recreatie", "overig")
ROOF_TYPES = ("flat", "pitched", "other")
#: Corners a typed or drawn footprint may have (a building outline, not a survey).
MAX_CORNERS = 500
#: Above this, typed numbers are taken as EPSG:28992 metres rather than WGS84 degrees.
DEGREES_LIMIT = 180.0
CITYJSON, IFC, PLAN_JSON = "application/city+json", "application/x-step", "application/json"
#: What the upload field accepts (the browser's file chooser filter; the server decides by content).
ACCEPT = ".json,.city.json,.cityjson,.ifc,application/json,application/city+json,application/x-step"


@dataclass(frozen=True)
class FieldError:
    """``field`` (the form control's name) is wrong; ``key`` names the words that say why."""

    field: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)


class PlanInvalid(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(", ".join(f"{e.field}: {e.key}" for e in errors))
        self.errors = errors


def footprint_of(text: str) -> tuple[dict[str, Any], str]:
    """The polygon in ``text`` and its CRS: a GeoJSON Polygon (or a Feature holding one), or one
    corner per line as ``lon lat`` (WGS84) or ``x y`` (EPSG:28992 metres); commas may separate the
    numbers. The ring is closed if it is not. Raises :class:`PlanInvalid` for field ``footprint``."""
    text = text.strip()
    if not text:
        raise PlanInvalid([FieldError("footprint", "permits.error.footprint_missing")])
    ring = _geojson_ring(text) if text.startswith("{") else _lines_ring(text)
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(ring) < 4 or len({tuple(p) for p in ring}) < 3:
        raise PlanInvalid([FieldError("footprint", "permits.error.footprint_corners")])
    if len(ring) > MAX_CORNERS:
        raise PlanInvalid([FieldError("footprint", "permits.error.footprint_too_many", {"max": MAX_CORNERS})])
    degrees = all(abs(x) <= DEGREES_LIMIT and abs(y) <= 90 for x, y in ring)
    return {"type": "Polygon", "coordinates": [ring]}, "EPSG:4326" if degrees else "EPSG:28992"


def _geojson_ring(text: str) -> list[list[float]]:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise PlanInvalid([FieldError("footprint", "permits.error.footprint_json")]) from None
    if isinstance(document, dict) and document.get("type") == "Feature":
        document = document.get("geometry")
    if not isinstance(document, dict) or document.get("type") != "Polygon":
        raise PlanInvalid([FieldError("footprint", "permits.error.footprint_polygon")])
    try:
        return [[float(x), float(y)] for x, y, *_ in document["coordinates"][0] if _finite(x, y)]
    except (KeyError, IndexError, TypeError, ValueError):
        raise PlanInvalid([FieldError("footprint", "permits.error.footprint_polygon")]) from None


def _lines_ring(text: str) -> list[list[float]]:
    ring: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        try:
            x, y = (float(p) for p in parts)
        except ValueError:
            raise PlanInvalid([FieldError("footprint", "permits.error.footprint_line",
                                          {"line": number, "text": line.strip()[:80]})]) from None
        if not _finite(x, y):
            raise PlanInvalid([FieldError("footprint", "permits.error.footprint_line",
                                          {"line": number, "text": line.strip()[:80]})])
        ring.append([x, y])
    return ring


def _finite(*numbers: Any) -> bool:
    return all(isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) for n in numbers)


def plan_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The building-plan@1.0.0 document of the drawing form's fields; :class:`PlanInvalid` lists
    every field that is wrong at once."""
    errors: list[FieldError] = []
    plan: dict[str, Any] = {}
    name = form.get("name", "").strip()
    if name:
        plan["name"] = name[:200]
    try:
        plan["footprint"], plan["crs"] = footprint_of(form.get("footprint", ""))
    except PlanInvalid as invalid:
        errors += invalid.errors
    for member, kind, required in (("height", float, True), ("eavesHeight", float, False),
                                   ("storeysAboveGround", int, False), ("dwellings", int, False),
                                   ("parkingSpaces", int, False)):
        value = _number(form.get(member, ""), kind, member, required, errors)
        if value is not None:
            plan[member] = value
    function = form.get("function", "")
    if function:
        if function not in FUNCTIONS:
            errors.append(FieldError("function", "permits.error.function"))
        area = _number(form.get("grossFloorArea", ""), float, "grossFloorArea", True, errors)
        if area is not None and function in FUNCTIONS:
            plan["functions"] = [{"function": function, "grossFloorArea": area}]
    roof = form.get("roofType", "")
    if roof:
        if roof in ROOF_TYPES:
            plan["roofType"] = roof
        else:
            errors.append(FieldError("roofType", "permits.error.roof"))
    parcel = form.get("parcel", "").strip().upper()
    if parcel:
        plan["parcel"] = {"reference": parcel}
    if errors:
        raise PlanInvalid(errors)
    return plan


def _number(text: str, kind: type, member: str, required: bool, errors: list[FieldError]) -> float | int | None:
    text = text.strip().replace(",", ".")
    if not text:
        if required:
            errors.append(FieldError(member, "permits.error.required"))
        return None
    try:
        value = kind(text)
    except ValueError:
        errors.append(FieldError(member, "permits.error.whole" if kind is int else "permits.error.number"))
        return None
    if not math.isfinite(value) or value < 0 or value > 10_000:
        errors.append(FieldError(member, "permits.error.range"))
        return None
    return value


def media_type_of(filename: str, body: bytes) -> str:
    """How the permit check should read an uploaded file: IFC by its STEP header, CityJSON by its
    name (a JSON file saying ``"type": "CityJSON"`` is recognised by the permit check itself),
    else JSON (a building plan)."""
    if body.lstrip()[:12].upper() == b"ISO-10303-21":
        return IFC
    lowered = filename.lower()
    if lowered.endswith(".ifc"):
        return IFC
    if lowered.endswith((".city.json", ".cityjson")):
        return CITYJSON
    return PLAN_JSON
