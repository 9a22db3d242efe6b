"""Building plans read from IFC (IFC2x3 and IFC4) with ifcopenshell: one building-plan document
(PPI building-plan@1.0.0) per IfcBuilding.

- footprint: the union of the horizontal projections of the building elements (IfcBuildingElement
  and subtypes, but not footings and piles) in storeys whose elevation is >= 0, closed over gaps of
  up to 1 cm, placed on the map by the model's georeference (see ``ifc_georeference``: a map
  conversion, else IfcSite RefLatitude/RefLongitude with TrueNorth, or an origin given with the model).
- height: their highest point minus the ground level: storey elevation 0, lowered to
  IfcBuilding.ElevationOfTerrain where the model gives it with ElevationOfRefHeight.
- eavesHeight: the eaves level minus the ground level: the foot of a sloped roof, the top of the
  roof edge of a flat one (see ``ifc_eaves``); left out for a building without roof.
- storeysAboveGround: the distinct elevations >= 0 of IfcBuildingStoreys that hold a space or an
  element other than roof parts; storey names are never read.
- functions: per bestemmingshoofdgroep, the net floor area of the IfcSpaces (NetFloorArea of
  Qto_SpaceBaseQuantities in IFC4, of any IfcElementQuantity in IFC2x3; without one, the area of the
  space's projected geometry) and their GrossFloorArea (the net area where a space has none).
  A space's function is read from its ObjectType, then its LongName (``SPACE_FUNCTIONS``); an IFC4
  PARKING space that names none is "verkeer": parking garages count as gross floor area, as Dutch
  practice measures it. A space that is part of another IfcSpace (a parking space in a garage) adds
  no area of its own, and spaces on the site outside the building (outdoor parking) none at all.
- dwellings, parkingSpaces: counted from dwelling zones or spaces and from parking spaces as the
  model states them (see ``ifc_counts``); left out where the model states nothing.
- roofType: from IfcRoof PredefinedType (IFC4) or ShapeType (IFC2x3): FLAT_ROOF is flat, the
  sloped shapes pitched, any other shape other; a mix of flat and sloped roofs is other.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element
import ifcopenshell.util.placement
import ifcopenshell.util.unit
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from mims.kit.geo.plan_input import (
    RD_NEW,
    check_in_rd,
    footprint_geojson,
    metres,
    to_rd,
)
from mims.permit_check.ifc_counts import dwellings, parking_spaces, part_of_space
from mims.permit_check.ifc_eaves import eaves_level, is_roof, is_superstructure
from mims.permit_check.ifc_georeference import (
    Georeference,
    IFCError,
    MissingGeoreference,
    Origin,
    georeference,
)

__all__ = ["SPACE_FUNCTIONS", "IFCError", "MissingGeoreference", "Origin", "read_ifc"]

GROUND_TOLERANCE = 0.001  # m: a storey at -0.5 mm is at ground level
GAP = 0.01  # m: gaps between elements closed in the footprint
EXCLUDED = ("IfcFooting", "IfcPile")  # substructure: below ground, wider than the building
FLAT = {"FLAT_ROOF"}
PITCHED = {"SHED_ROOF", "GABLE_ROOF", "HIP_ROOF", "HIPPED_GABLE_ROOF", "GAMBREL_ROOF", "MANSARD_ROOF",
           "BUTTERFLY_ROOF", "PAVILION_ROOF"}
UNKNOWN_ROOF = {None, "", "NOTDEFINED"}

# Words in a space's ObjectType or LongName (case-insensitive) -> IMRO2012 bestemmingshoofdgroep.
# A plain word must stand alone ("bar" is not "barbecue"); "woon*" may start a word, "*stalling" end
# one and "*winkel*" sit anywhere in one (Dutch compounds: "woonkamer", "fietsenstalling"). The first
# group that matches wins; a name that is itself a bestemmingshoofdgroep maps to it; a space that
# names none of them is "overig".
SPACE_FUNCTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("wonen", ("*wonen", "*woning*", "woon*", "appartement*", "apartment*", "dwelling*", "residential", "living*",
               "*slaapkamer*", "bedroom*", "studio")),
    ("kantoor", ("*kantoor*", "office*", "werkplek*", "vergader*", "meeting*")),
    ("detailhandel", ("detailhandel", "*winkel*", "retail", "shop", "shops", "store", "supermarkt", "supermarket")),
    ("horeca", ("horeca", "restaurant*", "café", "cafe", "bar", "hotel*", "eetcafé")),
    ("dienstverlening", ("dienstverlening", "bank", "kapper*", "praktijk*", "services")),
    ("maatschappelijk", ("maatschappelijk*", "*school*", "onderwijs*", "education", "*lokaal", "classroom*", "zorg*",
                         "healthcare", "kinderopvang", "daycare", "kerk", "church", "community")),
    ("cultuur en ontspanning", ("cultu*", "museum", "theater", "theatre", "bioscoop", "cinema", "bibliothe*",
                                "library")),
    ("sport", ("sport*", "gym", "fitness")),
    ("bedrijf", ("bedrijf*", "werkplaats*", "workshop*", "productie*", "production", "industri*", "magazijn*",
                 "warehouse*")),
    ("verkeer", ("parkeer*", "parking", "*stalling", "garage*")),
)
_CODES = ("agrarisch", "agrarisch met waarden", "bedrijf", "bedrijventerrein", "bos", "centrum",
          "cultuur en ontspanning", "detailhandel", "dienstverlening", "gemengd", "groen", "horeca", "kantoor",
          "maatschappelijk", "natuur", "recreatie", "sport", "tuin", "verkeer", "water", "wonen", "woongebied",
          "overig")


def _word(word: str) -> str:
    core = re.escape(word.strip("*"))
    return ("" if word.startswith("*") else r"\b") + core + ("" if word.endswith("*") else r"\b")


_PATTERNS = [(function, re.compile("|".join(map(_word, words)), re.IGNORECASE)) for function, words in SPACE_FUNCTIONS]


def read_ifc(source: bytes | str | Path | ifcopenshell.file, *, origin: Origin | None = None) -> list[dict[str, Any]]:
    """Building-plan documents for the IfcBuildings of an IFC model.

    ``origin`` = (easting, northing, rotation): the model origin in EPSG:28992 metres and the
    rotation of its x axis from grid east (degrees, anticlockwise); it replaces the model's own
    georeference, and is needed where the model has none."""
    model = _open(source)
    place = georeference(model, origin)
    buildings = model.by_type("IfcBuilding")
    if not buildings:
        raise IFCError("the model has no IfcBuilding", "IfcBuilding")
    return [_plan(model, building, place) for building in buildings]


def _open(source: bytes | str | Path | ifcopenshell.file) -> ifcopenshell.file:
    try:
        if isinstance(source, ifcopenshell.file):
            model = source
        elif isinstance(source, bytes):
            model = ifcopenshell.file.from_string(source.decode("utf-8", errors="replace"))
        elif isinstance(source, str) and source.lstrip().startswith("ISO-10303-21"):
            model = ifcopenshell.file.from_string(source)
        else:
            model = ifcopenshell.open(str(source))
        schema = model.schema
    except (OSError, RuntimeError, ValueError) as error:
        raise IFCError(f"not a readable IFC file ({error})") from None
    if not schema.startswith(("IFC2X3", "IFC4")):
        raise IFCError(f"IFC schema {schema} is not supported; supported: IFC2X3, IFC4", "FILE_SCHEMA")
    return model


def _plan(model: ifcopenshell.file, building: ifcopenshell.entity_instance, place: Georeference) -> dict[str, Any]:
    where = f"#{building.id()}=IfcBuilding"
    unit = ifcopenshell.util.unit.calculate_unit_scale(model)
    building_z = _z(building, unit)
    storeys = [s for s in ifcopenshell.util.element.get_decomposition(building) if s.is_a("IfcBuildingStorey")]
    above = [s for s in storeys if _elevation(s, unit, building_z) >= -GROUND_TOLERANCE]
    elements = {e for s in above for e in ifcopenshell.util.element.get_decomposition(s) if _is_building_element(e)}
    elements |= {e for rel in building.ContainsElements for e in rel.RelatedElements if _is_building_element(e)}
    shapes = _shapes(model, elements)
    if not shapes:
        raise IFCError("has no above-ground building elements with geometry (in storeys with elevation >= 0)", where)
    top = max(float(vertices[:, 2].max()) for vertices, _ in shapes.values())
    ground = building_z + _terrain_offset(building, unit)
    height = top - ground
    if height < 0:
        raise IFCError(f"the ground level {ground:.3f} m lies above the highest point {top:.3f} m", where)
    local = _footprint(shapes.values())
    footprint = to_rd(shapely.transform(local, place.to_map), place.crs)
    check_in_rd(footprint, place.source, "the georeference places the building outside the Netherlands "
                "(EPSG:28992's area of use): correct it, or supply the origin", MissingGeoreference)
    plan: dict[str, Any] = {"crs": RD_NEW, "footprint": footprint_geojson(footprint), "height": metres(height)}
    roof = _roof_type(building)
    eaves = eaves_level(elements, shapes, roof == "pitched")
    if eaves is not None:
        if eaves - ground < -GROUND_TOLERANCE:
            raise IFCError(f"the eaves at {eaves:.3f} m lie below the ground level {ground:.3f} m", where)
        plan["eavesHeight"] = metres(max(eaves - ground, 0.0))
    plan["storeysAboveGround"] = _storeys(above, unit, building_z)
    functions = _functions(model, building)
    if functions:
        plan["functions"] = functions
    for member, count in (("dwellings", dwellings(model, building)), ("parkingSpaces", parking_spaces(building))):
        if count is not None:
            plan[member] = count
    if roof:
        plan["roofType"] = roof
    if building.Name:
        plan["name"] = str(building.Name)[:200]
    plan["source"] = {"format": "ifc", "object": building.GlobalId}
    return plan


def _is_building_element(element: ifcopenshell.entity_instance) -> bool:
    return (element.is_a("IfcBuildingElement") or element.is_a("IfcBuiltElement")) and not any(
        element.is_a(kind) for kind in EXCLUDED)


def _z(product: ifcopenshell.entity_instance, unit: float) -> float:
    if product.ObjectPlacement is None:
        return 0.0
    return float(ifcopenshell.util.placement.get_local_placement(product.ObjectPlacement)[2, 3]) * unit


def _elevation(storey: ifcopenshell.entity_instance, unit: float, building_z: float) -> float:
    """Metres above storey elevation 0 (the building's reference height)."""
    if storey.Elevation is not None:
        return float(storey.Elevation) * unit
    return _z(storey, unit) - building_z


def _terrain_offset(building: ifcopenshell.entity_instance, unit: float) -> float:
    terrain, reference = building.ElevationOfTerrain, building.ElevationOfRefHeight
    if terrain is None or reference is None:
        return 0.0
    return (float(terrain) - float(reference)) * unit


def _shapes(model: ifcopenshell.file, products: Iterable[ifcopenshell.entity_instance]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Triangulated geometry in world coordinates (metres) per product id."""
    products = [p for p in products if p.Representation is not None]
    if not products:
        return {}
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    iterator = ifcopenshell.geom.iterator(settings, model, 1, include=products)
    shapes: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not iterator.initialize():
        return shapes
    while True:
        shape = iterator.get()
        vertices = np.asarray(shape.geometry.verts, dtype=float).reshape(-1, 3)
        faces = np.asarray(shape.geometry.faces, dtype=int).reshape(-1, 3)
        if len(vertices) and len(faces):
            shapes[shape.id] = (vertices, faces)
        if not iterator.next():
            return shapes


def _footprint(shapes: Iterable[tuple[np.ndarray, np.ndarray]]) -> BaseGeometry:
    """The union of the triangles projected on the horizontal plane, gaps up to ``GAP`` closed."""
    triangles = np.concatenate([vertices[faces][:, :, :2] for vertices, faces in shapes])
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    area = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])) / 2
    triangles = triangles[area > 1e-8]
    polygons = shapely.polygons(np.concatenate([triangles, triangles[:, :1]], axis=1))
    union = shapely.union_all(polygons, grid_size=1e-5)
    return union.buffer(GAP / 2, join_style="mitre").buffer(-GAP / 2, join_style="mitre")


def _storeys(storeys: list[ifcopenshell.entity_instance], unit: float, building_z: float) -> int:
    levels = set()
    for storey in storeys:
        content = ifcopenshell.util.element.get_decomposition(storey)
        if any(e.is_a("IfcSpace") or (_is_building_element(e) and not (is_roof(e) or is_superstructure(e)))
               for e in content):
            levels.add(round(_elevation(storey, unit, building_z), 3))
    return len(levels)


def _functions(model: ifcopenshell.file, building: ifcopenshell.entity_instance) -> list[dict[str, Any]]:
    spaces = [s for s in ifcopenshell.util.element.get_decomposition(building)
              if s.is_a("IfcSpace") and not part_of_space(s)]
    area_unit = ifcopenshell.util.unit.calculate_unit_scale(model, "AREAUNIT")
    net: dict[str, float] = defaultdict(float)
    gross: dict[str, float] = defaultdict(float)
    unmeasured = []
    net_unknown: set[str] = set()
    for space in spaces:
        quantities = _quantities(space)
        function = space_function(space)
        if "NetFloorArea" in quantities:
            space_net = quantities["NetFloorArea"] * area_unit
        elif "GrossFloorArea" in quantities:
            space_net = None
        else:
            unmeasured.append((space, function))
            continue
        space_gross = quantities.get("GrossFloorArea")
        space_gross = space_gross * area_unit if space_gross is not None else space_net
        if space_net is None:
            net_unknown.add(function)
        else:
            net[function] += space_net
        gross[function] += space_gross
    if unmeasured:
        shapes = _shapes(model, [space for space, _ in unmeasured])
        for space, function in unmeasured:
            if space.id() not in shapes:
                raise IFCError("has neither a NetFloorArea quantity nor geometry", f"#{space.id()}=IfcSpace")
            area = _footprint([shapes[space.id()]]).area
            net[function] += area
            gross[function] += area
    return [{"function": f, "grossFloorArea": round(gross[f], 2), **({} if f in net_unknown else {"netFloorArea": round(net[f], 2)})}
            for f in sorted(gross)]


def _quantities(space: ifcopenshell.entity_instance) -> dict[str, float]:
    found: dict[str, float] = {}
    qtos = ifcopenshell.util.element.get_psets(space, qtos_only=True)
    for name in sorted(qtos, key=lambda n: n != "Qto_SpaceBaseQuantities"):
        for key in ("NetFloorArea", "GrossFloorArea"):
            value = qtos[name].get(key)
            if isinstance(value, (int, float)) and key not in found:
                found[key] = float(value)
    return found


def space_function(space: ifcopenshell.entity_instance) -> str:
    """The bestemmingshoofdgroep of an IfcSpace, from its ObjectType, then its LongName; an IFC4
    PARKING space that names none is "verkeer"."""
    names = [str(text) for text in (space.ObjectType, getattr(space, "LongName", None)) if text]
    for text in names:
        if text.strip().lower() in _CODES:
            return text.strip().lower()
    for text in names:
        for function, pattern in _PATTERNS:
            if pattern.search(text):
                return function
    return "verkeer" if getattr(space, "PredefinedType", None) == "PARKING" else "overig"


def _roof_type(building: ifcopenshell.entity_instance) -> str | None:
    kinds = set()
    for roof in ifcopenshell.util.element.get_decomposition(building):
        if roof.is_a("IfcRoof"):
            kind = getattr(roof, "ShapeType", None) or ifcopenshell.util.element.get_predefined_type(roof)
            if kind not in UNKNOWN_ROOF:
                kinds.add("flat" if kind in FLAT else "pitched" if kind in PITCHED else "other")
    if not kinds:
        return None
    return kinds.pop() if len(kinds) == 1 else "other"
