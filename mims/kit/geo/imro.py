"""Read an IMRO2012 bestemmingsplan (GML 3.2) into a zoning-plan@1.0.0 document.

What is read, after the IMRO2012 information model and the SVBP2012 drawing rules:

* the plan (``Bestemmingsplangebied``): idn, name, type, planstatus and its date, municipality;
* the plan objects ``Enkelbestemming``, ``Dubbelbestemming`` (with their bestemmingshoofdgroep and
  article), ``Bouwvlak``, ``Bouwaanduiding``, ``Functieaanduiding``, ``Gebiedsaanduiding`` and
  ``Maatvoering``; the links of an aanduiding to its bestemmingsvlak and of a maatvoering to its
  aanduiding are kept, and an object without a text reference of its own cites the article of
  the zoning area it belongs to;
* each ``Maatvoering`` value (``waardeType`` + ``waarde``) as a measurement where the value type
  has a meaning for the permit check (``VALUE_TYPES``), and the roof indications ``plat dak`` and
  ``kap`` of a ``Bouwaanduiding`` as a roof requirement.

Nothing is dropped silently: value types without a mapping, values that are not numbers and plan
objects of other classes (``Figuur``, ``Lettertekenaanduiding``, ...) are listed in ``unmapped``.

Geometry: ``gml:Polygon``, ``gml:Surface`` (one or more patches), ``gml:MultiSurface`` and
``gml:CompositeSurface``, with rings given as ``gml:LinearRing`` or ``gml:Ring`` of curves whose
segments are ``gml:LineStringSegment``, ``gml:Arc``, ``gml:ArcString`` or ``gml:Circle``. Arcs are
replaced by chords such that no point of the arc lies more than ``CHORD_TOLERANCE`` (1 cm) from
its chord; coordinates are then kept to the millimetre. Only EPSG:28992 (RD New) is accepted.

The parser never touches the network: no DTDs, no external entities, ``xsi:schemaLocation`` is
not followed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import shapely
from lxml import etree
from shapely.geometry import MultiPolygon, Polygon, mapping

import ppi_schemas
from mims.kit.geo.plan_input import as_lists
from mims.kit.problems import ProblemError, ProblemItem

IMRO = "http://www.geonovum.nl/imro/2012/1.1"
GML = "http://www.opengis.net/gml/3.2"
XLINK = "http://www.w3.org/1999/xlink"
NS = {"imro": IMRO, "gml": GML}
ZONING_PLAN = "zoning-plan@1.0.0"

CHORD_TOLERANCE = 0.01
"""Largest distance (m) between a linearised arc and the true arc (the sagitta of each chord)."""
PRECISION = 0.001
"""Grid (m) output coordinates are snapped to: IMRO plans are drawn to the millimetre."""

PLAN_OBJECTS = {
    "Enkelbestemming": "enkelbestemming",
    "Dubbelbestemming": "dubbelbestemming",
    "Bouwvlak": "bouwvlak",
    "Bouwaanduiding": "bouwaanduiding",
    "Functieaanduiding": "functieaanduiding",
    "Gebiedsaanduiding": "gebiedsaanduiding",
    "Maatvoering": "maatvoering",
}
SKIPPED = {"Bestemmingsplangebied", "MetadataIMRObestand"}

# waardeType (IMRO2012 OmvangWaardeEnumerationType) -> (measurement kind, unit); unit None: a count.
VALUE_TYPES: dict[str, tuple[str, str | None]] = {
    "maximum bouwhoogte (m)": ("max_height", "m"),
    "minimum bouwhoogte (m)": ("min_height", "m"),
    "maximum goothoogte (m)": ("max_eaves_height", "m"),
    "minimum goothoogte (m)": ("min_eaves_height", "m"),
    "maximum bebouwingspercentage (%)": ("max_coverage_pct", "%"),
    "minimum bebouwingspercentage (%)": ("min_coverage_pct", "%"),
    "maximum bebouwd oppervlak (m2)": ("max_built_area", "m2"),
    "maximum aantal bouwlagen": ("max_storeys", None),
    "minimum aantal bouwlagen": ("min_storeys", None),
    "maximum aantal wooneenheden": ("max_dwellings", None),
    "minimum aantal wooneenheden": ("min_dwellings", None),
    "maximum vloeroppervlakte (m2)": ("max_floor_area", "m2"),
    "maximum vloeroppervlakte; bruto (m2)": ("max_floor_area", "m2"),
    "maximum vloeroppervlakte; bvo (m2)": ("max_floor_area", "m2"),
    "maximum vloeroppervlakte; netto (m2)": ("max_net_floor_area", "m2"),
    "maximum vloeroppervlakte; vvo (m2)": ("max_net_floor_area", "m2"),
    "maximum aantal parkeerplaatsen": ("max_parking_spaces", None),
    "minimum aantal parkeerplaatsen": ("min_parking_spaces", None),
    "maximum dakhelling (graden)": ("max_roof_pitch", "deg"),
    "minimum dakhelling (graden)": ("min_roof_pitch", "deg"),
}
# Bouwaanduiding naam (BouwaanduidingenEnumerationType) -> required roof type.
ROOF_INDICATIONS = {
    "plat dak": "flat",
    "kap": "pitched",
    "plat dak uitgesloten": "not-flat",
    "kap uitgesloten": "not-pitched",
}
RD_NEW = re.compile(r"(^|[^0-9])28992$")


def read_plan(source: bytes | str | Path) -> dict[str, Any]:
    """The zoning-plan@1.0.0 document of an IMRO2012 GML file (its bytes, or a path)."""
    root = _parse(source)
    [plan_element] = _plan_elements(root)
    plan_id = _gml_id(plan_element)
    members = [m for m in root.iterfind("imro:featureMember/*", NS)]
    members += [m for m in root.iterfind("imro:featureMembers/*", NS)]
    features: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    for element in members:
        name = etree.QName(element).localname
        if name in SKIPPED:
            continue
        if name not in PLAN_OBJECTS:
            unmapped.append({"feature": _gml_id(element), "featureType": name, "reason": "plan object class not read"})
            continue
        features.append(_feature(element, PLAN_OBJECTS[name], plan_id, unmapped))
    _inherit_citations(features)
    plan = {
        "id": plan_id,
        "name": _text(plan_element, "imro:naam") or plan_id,
        "planType": _text(plan_element, "imro:typePlan"),
        "status": _text(plan_element, "imro:planstatusInfo/imro:PlanstatusEnDatum/imro:planstatus"),
        "date": _text(plan_element, "imro:planstatusInfo/imro:PlanstatusEnDatum/imro:datum"),
        "municipality": {
            "code": _text(plan_element, "imro:overheidsCode"),
            "name": _text(plan_element, "imro:naamOverheid"),
        },
        "crs": "EPSG:28992",
        "geometry": _geometry(plan_element),
        "features": features,
        "unmapped": unmapped,
    }
    return _conforming(_without_none(plan))


def _conforming(plan: dict[str, Any]) -> dict[str, Any]:
    """The document, once it is a valid zoning-plan@1.0.0 (a plan may lack a mandatory member or
    use a planstatus outside IMRO2012); otherwise 422 with every problem."""
    if ppi_schemas.is_valid(plan, ZONING_PLAN):
        return plan
    problems = ppi_schemas.validate(plan, ZONING_PLAN)
    raise ProblemError(
        status=422,
        title="Not a readable IMRO2012 zoning plan",
        detail=f"the plan read does not make a {ZONING_PLAN} document: {problems[0].pointer or '/'} {problems[0].message}",
        errors=[ProblemItem(pointer=problem.pointer, detail=problem.message, location=ZONING_PLAN) for problem in problems],
    )


def _parse(source: bytes | str | Path) -> etree._Element:
    # A parser per call (lxml parsers are not shared between threads); nothing is ever fetched.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        if isinstance(source, bytes):
            return etree.fromstring(source, parser)
        return etree.parse(str(source), parser).getroot()
    except etree.XMLSyntaxError as error:
        raise _invalid(f"not well-formed XML: {error}") from None


def _plan_elements(root: etree._Element) -> list[etree._Element]:
    if etree.QName(root).namespace != IMRO:
        raise _invalid(f"the root element is {root.tag}, not an IMRO2012 FeatureCollectionIMRO ({IMRO})")
    plans = root.findall("imro:featureMember/imro:Bestemmingsplangebied", NS)
    plans += root.findall("imro:featureMembers/imro:Bestemmingsplangebied", NS)
    if len(plans) != 1:
        raise _invalid(f"a plan file holds exactly one Bestemmingsplangebied; this one holds {len(plans)}")
    return plans


def _feature(element: etree._Element, kind: str, plan_id: str, unmapped: list[dict[str, Any]]) -> dict[str, Any]:
    feature_id = _gml_id(element)
    feature: dict[str, Any] = {
        "id": feature_id,
        "kind": kind,
        "name": _text(element, "imro:naam") or kind,
        "label": _text(element, "imro:labelInfo/imro:Label/imro:tekst"),
        "designation": _text(element, "imro:bestemmingshoofdgroep"),
        "zoningAreas": _links(element, "imro:bestemmingsvlak"),
        "indications": _links(element, "imro:aanduiding"),
        "geometry": _geometry(element),
        "measurements": [],
        "cites": _without_none({
            "plan": plan_id,
            "article": _text(element, "imro:artikelnummer"),
            "text": _text_reference(element),
        }),
    }
    if kind == "maatvoering":
        for value in element.iterfind("imro:maatvoeringInfo/imro:WaardeEnType", NS):
            _measurement(feature, value, unmapped)
    if kind == "bouwaanduiding" and feature["name"] in ROOF_INDICATIONS:
        feature["measurements"].append({
            "kind": "roof_requirement",
            "value": ROOF_INDICATIONS[feature["name"]],
            "unit": None,
            "sourceValueType": feature["name"],
        })
    return _without_none(feature)


def _measurement(feature: dict[str, Any], element: etree._Element, unmapped: list[dict[str, Any]]) -> None:
    value_type = _text(element, "imro:waardeType") or ""
    raw = _text(element, "imro:waarde") or ""
    entry = {"feature": feature["id"], "featureType": "Maatvoering", "valueType": value_type, "value": raw}
    if value_type not in VALUE_TYPES:
        unmapped.append({**entry, "reason": "no mapping for this value type"})
        return
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        unmapped.append({**entry, "reason": "the value is not a number"})
        return
    if not math.isfinite(value):
        unmapped.append({**entry, "reason": "the value is not a number"})
        return
    kind, unit = VALUE_TYPES[value_type]
    number: float | int = int(value) if value.is_integer() else value
    feature["measurements"].append({"kind": kind, "value": number, "unit": unit, "sourceValueType": value_type})


def _inherit_citations(features: list[dict[str, Any]]) -> None:
    """An aanduiding or maatvoering without an article of its own cites that of its zoning area."""
    by_id = {feature["id"]: feature for feature in features}

    def article(feature: dict[str, Any], seen: set[str]) -> tuple[str | None, str | None]:
        if feature["cites"].get("article"):
            return feature["cites"]["article"], feature["cites"].get("text")
        seen.add(feature["id"])
        for ref in feature.get("zoningAreas", []) + feature.get("indications", []):
            if ref in by_id and ref not in seen:
                found = article(by_id[ref], seen)
                if found[0]:
                    return found
        return None, None

    for feature in features:
        if not feature["cites"].get("article"):
            number, text = article(feature, set())
            if number:
                feature["cites"]["article"] = number
                if text and "text" not in feature["cites"]:
                    feature["cites"]["text"] = text


# -- geometry ---------------------------------------------------------------------------------


def _geometry(element: etree._Element) -> dict[str, Any]:
    holder = element.find("imro:geometrie", NS)
    shape = holder[0] if holder is not None and len(holder) else None
    if shape is None:
        raise _invalid("has no geometrie", element)
    srs = _srs_name(shape)
    if srs and not RD_NEW.search(srs):
        raise _invalid(f"is in {srs}; IMRO2012 plans are in EPSG:28992 (RD New)", element)
    polygons = list(_polygons(shape, element))
    if not polygons:
        raise _invalid(f"geometrie {etree.QName(shape).localname} is not a surface", element)
    geometry = polygons[0] if len(polygons) == 1 else shapely.union_all(polygons)
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = _polygonal(shapely.set_precision(geometry, PRECISION))
    if not parts:
        raise _invalid("has a surface without area", element)
    return as_lists(mapping(parts[0] if len(parts) == 1 else MultiPolygon(parts)))


def _polygonal(geometry: Any) -> list[Polygon]:
    """The polygons in a geometry (make_valid may return a collection with lines or points)."""
    if isinstance(geometry, Polygon):
        return [] if geometry.is_empty else [geometry]
    return [p for part in getattr(geometry, "geoms", []) for p in _polygonal(part)]


def _polygons(shape: etree._Element, feature: etree._Element) -> Iterator[Polygon]:
    name = etree.QName(shape).localname
    if name in ("Polygon", "PolygonPatch"):
        exterior = shape.find("gml:exterior/*", NS)
        if exterior is None:
            raise _invalid(f"{name} without exterior", feature)
        interiors = [_ring(r, feature) for r in shape.iterfind("gml:interior/*", NS)]
        yield Polygon(_ring(exterior, feature), interiors)
    elif name == "Surface":
        for patch in shape.iterfind("gml:patches/*", NS):
            yield from _polygons(patch, feature)
    elif name in ("MultiSurface", "CompositeSurface"):
        for member in shape.iterfind("gml:surfaceMember/*", NS):
            yield from _polygons(member, feature)
        for member in shape.iterfind("gml:surfaceMembers/*", NS):
            yield from _polygons(member, feature)


def _ring(ring: etree._Element, feature: etree._Element) -> list[tuple[float, float]]:
    name = etree.QName(ring).localname
    if name == "LinearRing":
        points = _positions(ring, feature)
    elif name == "Ring":
        points = []
        for curve in ring.iterfind("gml:curveMember/*", NS):
            points += _curve(curve, feature)[1 if points else 0:]
    else:
        raise _invalid(f"ring {name} is not read", feature)
    if len(points) < 3:
        raise _invalid("has a ring with fewer than three positions", feature)
    return points


def _curve(curve: etree._Element, feature: etree._Element) -> list[tuple[float, float]]:
    name = etree.QName(curve).localname
    if name in ("LineString", "LinearRing"):
        return _positions(curve, feature)
    if name not in ("Curve", "CompositeCurve"):
        raise _invalid(f"curve {name} is not read", feature)
    if name == "CompositeCurve":
        points = []
        for member in curve.iterfind("gml:curveMember/*", NS):
            points += _curve(member, feature)[1 if points else 0:]
        return points
    points = []
    for segment in curve.iterfind("gml:segments/*", NS):
        kind = etree.QName(segment).localname
        positions = _positions(segment, feature)
        if kind == "LineStringSegment":
            line = positions
        elif kind in ("Arc", "ArcString"):
            if len(positions) < 3 or len(positions) % 2 == 0:
                raise _invalid(f"{kind} needs 2n+1 positions, has {len(positions)}", feature)
            line = [positions[0]]
            for i in range(0, len(positions) - 1, 2):
                line += linearise_arc(*positions[i:i + 3])[1:]
        elif kind == "Circle":
            line = linearise_arc(*positions[:3], full_circle=True)
        else:
            raise _invalid(f"curve segment {kind} is not read", feature)
        points += line[1 if points else 0:]
    return points


def linearise_arc(
    start: tuple[float, float], middle: tuple[float, float], end: tuple[float, float], *, full_circle: bool = False
) -> list[tuple[float, float]]:
    """The arc from ``start`` through ``middle`` to ``end`` as chords within ``CHORD_TOLERANCE``.

    Collinear points are a straight segment. With ``full_circle`` the whole circle through the
    three points is returned, from ``start`` back to ``start``.
    """
    (x1, y1), (x2, y2), (x3, y3) = start, middle, end
    d = 2 * (x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2))
    if abs(d) < 1e-12:
        return [start, end]
    s1, s2, s3 = x1 * x1 + y1 * y1, x2 * x2 + y2 * y2, x3 * x3 + y3 * y3
    cx = (s1 * (y2 - y3) + s2 * (y3 - y1) + s3 * (y1 - y2)) / d
    cy = (s1 * (x3 - x2) + s2 * (x1 - x3) + s3 * (x2 - x1)) / d
    radius = math.hypot(x1 - cx, y1 - cy)
    a1, a3 = math.atan2(y1 - cy, x1 - cx), math.atan2(y3 - cy, x3 - cx)
    counter_clockwise = d > 0
    if full_circle:
        sweep = 2 * math.pi if counter_clockwise else -2 * math.pi
    elif counter_clockwise:
        sweep = (a3 - a1) % (2 * math.pi)
    else:
        sweep = -((a1 - a3) % (2 * math.pi))
    step = 2 * math.acos(max(-1.0, 1 - CHORD_TOLERANCE / radius)) if radius > CHORD_TOLERANCE else math.pi
    count = max(1, math.ceil(abs(sweep) / step))
    points = [(cx + radius * math.cos(a1 + sweep * i / count), cy + radius * math.sin(a1 + sweep * i / count))
              for i in range(1, count)]
    return [start, *points, start if full_circle else end]


def _positions(element: etree._Element, feature: etree._Element) -> list[tuple[float, float]]:
    pos_list = element.find("gml:posList", NS)
    if pos_list is not None:
        texts: Iterable[str] = [pos_list.text or ""]
        dimension = _dimension(pos_list)
    else:
        texts = [pos.text or "" for pos in element.iterfind("gml:pos", NS)]
        dimension = 0
    points: list[tuple[float, float]] = []
    for text in texts:
        try:
            numbers = [float(n) for n in text.split()]
        except ValueError:
            raise _invalid(f"has coordinates that are not numbers: {text[:60]!r}", feature) from None
        step = dimension or len(numbers) or 2
        if step < 2 or len(numbers) % step:
            raise _invalid(f"has {len(numbers)} coordinates, not a multiple of dimension {step}", feature)
        points += [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), step)]
    if not all(math.isfinite(c) for point in points for c in point):
        raise _invalid("has coordinates that are not finite", feature)
    return points


def _dimension(element: etree._Element) -> int:
    for node in (element, *element.iterancestors()):
        value = node.get("srsDimension")
        if value:
            return int(value) if value.isdigit() else 2
    return 2


def _srs_name(element: etree._Element) -> str | None:
    for node in (element, *element.iterancestors()):
        if node.get("srsName"):
            return node.get("srsName")
    return None


# -- small helpers ----------------------------------------------------------------------------


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path, NS)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _gml_id(element: etree._Element) -> str:
    gml_id = element.get(f"{{{GML}}}id")
    if not gml_id:
        raise _invalid(f"{etree.QName(element).localname} without gml:id", element)
    return gml_id


def _links(element: etree._Element, path: str) -> list[str] | None:
    refs = [link.get(f"{{{XLINK}}}href", "").lstrip("#") for link in element.iterfind(path, NS)]
    return [ref for ref in refs if ref] or None


def _text_reference(element: etree._Element) -> str | None:
    references = element.findall("imro:verwijzingNaarTekstInfo/*", NS)
    for reference in references:
        if _text(reference, "imro:typeTekst") == "regels":
            return _text(reference, "imro:verwijzingNaarTekst")
    return _text(references[0], "imro:verwijzingNaarTekst") if references else None


def _without_none(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if value is not None}


def _invalid(detail: str, element: etree._Element | None = None) -> ProblemError:
    where = ""
    if element is not None:
        where = f"{etree.QName(element).localname} {element.get(f'{{{GML}}}id') or ''} (line {element.sourceline}) "
    return ProblemError(
        status=422,
        title="Not a readable IMRO2012 zoning plan",
        detail=f"{where}{detail}".strip(),
        errors=[ProblemItem(pointer="", detail=f"{where}{detail}".strip())],
    )
