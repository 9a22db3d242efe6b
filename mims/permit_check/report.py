"""A stored permit check as a printable, accessible HTML report in Dutch or English: the verdict,
the rule table and an inline SVG map of the footprint, building planes, zoning areas, parcel and
the evidence of each rule, with a legend and a text alternative."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from jinja2 import Environment, FileSystemLoader, select_autoescape
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from mims.kit.languages import choose_language
from mims.permit_check.site import SiteShapes, site_shapes

MAP_SIZE = 480  # px, the longer side of the map
MARGIN = 15.0  # m around the footprint and parcel

_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                         autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "heading": "Vergunningcheck", "decision": "Besluit", "checked": "Gecontroleerd op",
        "ruleset": "Regelset", "version": "versie", "hash": "Invoerhash (SHA-256)", "plan": "Bouwplan",
        "caption": "Toetsing per regel", "rule": "Regel", "measured": "Gemeten", "limit": "Grens",
        "verdict": "Uitkomst", "explanation": "Toelichting", "reference": "Juridische grondslag",
        "map": "Kaart", "legend": "Legenda", "footprint": "Bouwplan (footprint)", "plane": "Bouwvlak",
        "area": "Bestemmingsvlak", "parcel": "Perceel", "evidence": "Afwijking (bewijs)",
        "map_title": "Kaart van het bouwplan en de bestemming", "article": "artikel", "none": "—",
        "no_parcel": "geen perceel bekend", "north": "Noorden is boven; schaal in meters (EPSG:28992).",
        "compliant": "Voldoet", "non-compliant": "Voldoet niet", "insufficient-data": "Onvoldoende gegevens",
        "pass": "voldoet", "fail": "voldoet niet", "not-applicable": "niet van toepassing",
        "insufficient-data-rule": "onvoldoende gegevens", "scale": "m",
    },
    "en": {
        "heading": "Permit check", "decision": "Decision", "checked": "Checked at",
        "ruleset": "Rule set", "version": "version", "hash": "Input hash (SHA-256)", "plan": "Building plan",
        "caption": "Rule by rule", "rule": "Rule", "measured": "Measured", "limit": "Limit",
        "verdict": "Verdict", "explanation": "Explanation", "reference": "Legal reference",
        "map": "Map", "legend": "Legend", "footprint": "Building plan (footprint)", "plane": "Building plane",
        "area": "Zoning area", "parcel": "Parcel", "evidence": "Deviation (evidence)",
        "map_title": "Map of the building plan and the zoning", "article": "article", "none": "—",
        "no_parcel": "no parcel known", "north": "North is up; scale in metres (EPSG:28992).",
        "compliant": "Compliant", "non-compliant": "Not compliant", "insufficient-data": "Insufficient data",
        "pass": "pass", "fail": "fail", "not-applicable": "not applicable",
        "insufficient-data-rule": "insufficient data", "scale": "m",
    },
}


def language(requested: str | None, accept_language: str | None) -> str:
    """``nl`` or ``en``: the ``lang`` asked for, else Accept-Language, else Dutch (``mims.kit.languages``)."""
    return choose_language(requested, None, accept_language)


@dataclass(frozen=True)
class Layer:
    key: str
    paths: list[str]


def render(check_id: str, decision: dict[str, Any], site: dict[str, Any], lang: str) -> str:
    """The report of a stored check as an HTML document in ``lang``."""
    texts = TEXTS[lang]
    shapes = site_shapes(decision, site)
    svg = map_layers(shapes)
    rows = [_row(result, lang, texts) for result in decision["results"]]
    plan = site.get("plan", {})
    return _TEMPLATES.get_template("report.html").render(
        lang=lang, t=texts, id=check_id, decision=decision, rows=rows, map=svg, plan=plan,
        verdict=texts[decision["verdict"]], parcel=(site.get("parcel") or {}).get("reference"),
        description=_description(decision, shapes, svg, lang))


def _row(result: dict[str, Any], lang: str, texts: dict[str, str]) -> dict[str, str]:
    verdict = result["verdict"]
    reference = result.get("legalReference") or {}
    cited = ", ".join(filter(None, (reference.get("plan"), f"{texts['article']} {reference['article']}"
                                   if reference.get("article") else None)))
    return {
        "rule": result["title"][lang], "id": result["rule"], "verdict": verdict,
        "verdict_text": texts["insufficient-data-rule" if verdict == "insufficient-data" else verdict],
        "measured": _quantity(result.get("measured"), lang, texts), "comparator": result["comparator"],
        "limit": _quantity(result.get("limit"), lang, texts), "explanation": result["explanation"][lang],
        "reference": cited or texts["none"],
    }


def _quantity(quantity: dict[str, Any] | None, lang: str, texts: dict[str, str]) -> str:
    if quantity is None:
        return texts["none"]
    value, unit = quantity["value"], quantity["unit"]
    if isinstance(value, list):
        shown = ", ".join(map(str, value))
    elif isinstance(value, float):
        shown = f"{value:.3f}".rstrip("0").rstrip(".")
        shown = shown.replace(".", ",") if lang == "nl" else shown
    else:
        shown = str(value)
    return f"{shown} {'m²' if unit == 'm2' else unit}".rstrip() if unit else shown


# -- the map ---------------------------------------------------------------------------------------


def map_layers(shapes: SiteShapes) -> dict[str, Any]:
    """The map's view box, size and one SVG path per shape, by layer, in drawing order."""
    focus = [g for g in (shapes.footprint, shapes.parcel) if g is not None]
    if not focus:
        return {"layers": [], "width": MAP_SIZE, "height": MAP_SIZE, "view": "0 0 1 1", "metres": 0}
    minx, miny, maxx, maxy = shapely.union_all(focus).buffer(MARGIN).bounds
    frame = box(minx, miny, maxx, maxy)
    width, height = maxx - minx, maxy - miny

    def paths(geometries: Iterable[BaseGeometry | None]) -> list[str]:
        found = []
        for geometry in geometries:
            if geometry is None:
                continue
            clipped = geometry.intersection(frame)
            if not clipped.is_empty:
                found.append(_path(clipped, minx, maxy))
        return [p for p in found if p]

    def zoning(kind: str) -> list[BaseGeometry]:
        return [z.geometry for z in shapes.zoning if z.source.get("kind") == kind]

    layers = [
        Layer("area", paths(zoning("enkelbestemming"))),
        Layer("plane", paths(zoning("bouwvlak"))),
        Layer("parcel", paths([shapes.parcel])),
        Layer("footprint", paths([shapes.footprint])),
        Layer("evidence", paths([e.geometry for e in shapes.evidence])),
    ]
    scale = MAP_SIZE / max(width, height)
    return {"layers": [layer for layer in layers if layer.paths], "width": round(width * scale),
            "height": round(height * scale), "view": f"0 0 {width:.2f} {height:.2f}",
            "metres": _scale_bar(width), "bar_y": f"{height - 3:.2f}", "text_y": f"{height - 4.5:.2f}",
            "font": f"{max(width, height) / 40:.2f}", "dash": f"{max(width, height) / 60:.2f}"}


def _scale_bar(width: float) -> int:
    for metres in (500, 200, 100, 50, 20, 10, 5, 2, 1):
        if metres <= width / 4:
            return metres
    return 1


def _path(geometry: BaseGeometry, minx: float, maxy: float) -> str:
    """SVG path data (y down) of the polygons and lines in ``geometry``."""
    parts = []
    for part in getattr(geometry, "geoms", [geometry]):
        if isinstance(part, shapely.Polygon):
            rings = [part.exterior, *part.interiors]
            parts += ["M" + "L".join(f"{x - minx:.2f},{maxy - y:.2f}" for x, y in ring.coords[:-1]) + "Z"
                      for ring in rings]
        elif isinstance(part, shapely.LineString):
            parts.append("M" + "L".join(f"{x - minx:.2f},{maxy - y:.2f}" for x, y in part.coords))
        elif hasattr(part, "geoms"):
            parts.append(_path(part, minx, maxy))
    return " ".join(p for p in parts if p)


def _description(decision: dict[str, Any], shapes: SiteShapes, svg: dict[str, Any], lang: str) -> str:
    """The map in words, for those who cannot see it."""
    texts = TEXTS[lang]
    shown = [texts[layer.key] for layer in svg["layers"]]
    parts = [f"{texts['map_title']}: {', '.join(shown)}."]
    if shapes.footprint is not None:
        parts.append(f"{texts['footprint']}: {shapes.footprint.area:.0f} m².")
    failed = [r["title"][lang] for r in decision["results"]
              if r["verdict"] == "fail" and r.get("evidence")]
    if failed:
        parts.append(f"{texts['evidence']}: {', '.join(failed)}.")
    return " ".join(parts)
