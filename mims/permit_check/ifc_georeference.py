"""Where an IFC model lies: its local engineering coordinates (metres) to EPSG:28992.

Read, in this order, from:

1. an origin (easting, northing, rotation) in EPSG:28992 given with the model;
2. IfcMapConversion with its IfcProjectedCRS (IFC4), or the ePSet_MapConversion and
   ePSet_ProjectedCRS property sets on IfcProject (IFC2x3, after the buildingSMART "User Guide for
   Geo-referencing in IFC");
3. IfcSite RefLatitude/RefLongitude (IfcCompoundPlaneAngleMeasure: degrees, minutes, seconds and
   millionths of a second, all of one sign; WGS84 assumed): the site's placement origin lies at that
   point, converted to EPSG:28992 with pyproj. The model's orientation is the main geometric
   representation context's TrueNorth: the direction of true north in the model's x/y plane
   (absent: the y axis). Grid north of EPSG:28992 differs from true north by the meridian
   convergence (up to about 2 degrees in the Netherlands), so the direction of the model's x axis is
   found by stepping 100 m along its true azimuth on the WGS84 ellipsoid and converting both ends;
   the same step gives the projection's scale factor there. A point outside EPSG:28992's area of use
   (such as the placeholder 0, 0) is refused. Lat/lon without a datum transformation grid is good to
   about a metre, so a map conversion is preferred where the model has one.

``Georeference.source`` says which of these placed the model (an IFC entity reference or ``origin``).

Units: Eastings, Northings and OrthogonalHeight are in the map unit (IfcProjectedCRS.MapUnit, else
the CRS's own unit). IFC4 defines Scale as the factor from project length units to map units (0.001
for a model in millimetres on a map in metres); IFC4.3 moves units to MapUnit and keeps Scale for
the combined scale factor (close to 1). Both readings are accepted where the model is unambiguous;
any other Scale is refused rather than guessed, and so is a model context whose
WorldCoordinateSystem is not the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ifcopenshell
import ifcopenshell.util.element
import ifcopenshell.util.placement
import ifcopenshell.util.unit
import numpy as np
import pyproj
import shapely

from mims.kit.geo.plan_input import (
    PlanInputError,
    epsg_code,
    horizontal_crs,
    to_rd,
)

UNIT_RATIO_TOLERANCE = 0.01  # Scale within 1 % of the unit ratio, or of 1, says which reading applies
AZIMUTH_STEP = 100.0  # m along the model's x axis, to find its direction and scale on the map
WGS84 = pyproj.Geod(ellps="WGS84")

HOW_TO_SUPPLY = ("Add an IfcMapConversion with an IfcProjectedCRS named EPSG:28992 (IFC4), or the "
                 "ePSet_MapConversion and ePSet_ProjectedCRS property sets on IfcProject (IFC2x3), or "
                 "IfcSite RefLatitude and RefLongitude with the context's TrueNorth, or "
                 "supply the origin: the EPSG:28992 easting and northing of the model's origin in metres "
                 "and the rotation of its x axis from grid east in degrees, anticlockwise.")

Origin = tuple[float, float, float]


class IFCError(PlanInputError):
    """An IFC file that cannot be read as building plans."""


class MissingGeoreference(IFCError):
    """An IFC model whose position on the map is unknown or unusable."""


@dataclass(frozen=True)
class Georeference:
    """Local x, y in metres -> map coordinates in metres of EPSG ``crs``."""

    eastings: float
    northings: float
    angle: float  # radians, from grid east to the local x axis, anticlockwise
    scale: float  # combined scale factor, without units
    crs: int
    source: str

    def to_map(self, xy: np.ndarray) -> np.ndarray:
        cos, sin = math.cos(self.angle) * self.scale, math.sin(self.angle) * self.scale
        return np.column_stack((self.eastings + cos * xy[:, 0] - sin * xy[:, 1],
                                self.northings + sin * xy[:, 0] + cos * xy[:, 1]))


def georeference(model: ifcopenshell.file, origin: Origin | None) -> Georeference:
    """The model's georeference: ``origin`` when given, else the model's own."""
    if origin is not None:
        try:
            easting, northing, rotation = (float(v) for v in origin)
        except (TypeError, ValueError):
            raise MissingGeoreference("origin must be (easting, northing, rotation)", "origin") from None
        if not all(math.isfinite(v) for v in (easting, northing, rotation)):
            raise MissingGeoreference("origin must be finite numbers", "origin")
        return Georeference(easting, northing, math.radians(rotation), 1.0, 28992, "origin")
    _check_world_coordinate_system(model)
    project_unit = ifcopenshell.util.unit.calculate_unit_scale(model)
    site = next((s for s in model.by_type("IfcSite") if s.RefLatitude and s.RefLongitude), None)
    if model.schema == "IFC2X3":
        if site is not None and not _project_pset(model, "ePSet_MapConversion"):
            return _from_site(model, site, project_unit)
        return _from_property_sets(model, project_unit)
    conversions = [c for c in model.by_type("IfcCoordinateOperation") if c.is_a("IfcMapConversion")]
    if not conversions:
        if site is not None:
            return _from_site(model, site, project_unit)
        raise MissingGeoreference("the model has no IfcMapConversion. " + HOW_TO_SUPPLY, "IfcMapConversion")
    conversion = conversions[0]
    where = f"#{conversion.id()}=IfcMapConversion"
    target = conversion.TargetCRS
    name = getattr(target, "Name", None) if target is not None else None
    code = _crs(name, f"{where}.TargetCRS.Name")
    map_unit = _unit_metres(target.MapUnit) if getattr(target, "MapUnit", None) else _crs_unit(code)
    return _build(conversion.Eastings, conversion.Northings, conversion.XAxisAbscissa, conversion.XAxisOrdinate,
                  conversion.Scale, code, map_unit, project_unit, where)


def _check_world_coordinate_system(model: ifcopenshell.file) -> None:
    """Refuse a model context whose WorldCoordinateSystem is moved or turned: tools disagree on
    whether the map conversion applies before or after it."""
    for context in model.by_type("IfcGeometricRepresentationContext", include_subtypes=False):
        placement = context.WorldCoordinateSystem
        if placement is None or not placement.is_a("IfcAxis2Placement3D"):
            continue
        if not np.allclose(ifcopenshell.util.placement.get_axis2placement(placement), np.eye(4), atol=1e-9):
            raise MissingGeoreference(
                "the model context's WorldCoordinateSystem is not at the origin, so where the map conversion "
                "applies is ambiguous: supply the origin of the model's placements instead",
                f"#{placement.id()}=IfcAxis2Placement3D")


def _project_pset(model: ifcopenshell.file, name: str) -> dict | None:
    projects = model.by_type("IfcProject")
    return ifcopenshell.util.element.get_pset(projects[0], name) if projects else None


def _from_property_sets(model: ifcopenshell.file, project_unit: float) -> Georeference:
    conversion = _project_pset(model, "ePSet_MapConversion")
    crs = _project_pset(model, "ePSet_ProjectedCRS")
    if not conversion:
        raise MissingGeoreference("the IFC2x3 model has no ePSet_MapConversion on IfcProject (IFC2x3 has "
                                  "no IfcMapConversion). " + HOW_TO_SUPPLY, "IfcProject.ePSet_MapConversion")
    code = _crs((crs or {}).get("Name"), "IfcProject.ePSet_ProjectedCRS.Name")
    return _build(conversion.get("Eastings"), conversion.get("Northings"), conversion.get("XAxisAbscissa"),
                  conversion.get("XAxisOrdinate"), conversion.get("Scale"), code, _crs_unit(code), project_unit,
                  "IfcProject.ePSet_MapConversion")


def _build(eastings: float | None, northings: float | None, abscissa: float | None, ordinate: float | None,
           scale: float | None, code: int, map_unit: float, project_unit: float, where: str) -> Georeference:
    if eastings is None or northings is None:
        raise MissingGeoreference("Eastings and Northings are required. " + HOW_TO_SUPPLY, where)
    abscissa, ordinate = (1.0, 0.0) if not (abscissa or ordinate) else (float(abscissa or 0), float(ordinate or 0))
    scale = 1.0 if scale is None else float(scale)
    ratio = project_unit / map_unit  # project length unit in map units
    if ratio != 1 and abs(scale / ratio - 1) <= UNIT_RATIO_TOLERANCE:
        factor = scale / ratio  # IFC4: Scale includes the unit conversion
    elif abs(scale - 1) <= UNIT_RATIO_TOLERANCE:
        factor = scale  # IFC4.3: units apart, Scale is the combined scale factor
    else:
        raise MissingGeoreference(
            f"Scale {scale} is neither the ratio of project length unit to map unit ({ratio:g}) nor a scale "
            "factor close to 1; correct it, or supply the origin instead", f"{where}.Scale")
    return Georeference(float(eastings) * map_unit, float(northings) * map_unit, math.atan2(ordinate, abscissa),
                        factor, code, where)


def _from_site(model: ifcopenshell.file, site: ifcopenshell.entity_instance, project_unit: float) -> Georeference:
    """The site's placement origin at its RefLatitude/RefLongitude, the x axis turned by TrueNorth."""
    where = f"#{site.id()}=IfcSite"
    latitude = _decimal_degrees(site.RefLatitude, 90, f"{where}.RefLatitude")
    longitude = _decimal_degrees(site.RefLongitude, 180, f"{where}.RefLongitude")
    area = horizontal_crs(28992).area_of_use
    if not (area.west <= longitude <= area.east and area.south <= latitude <= area.north):
        raise MissingGeoreference(
            f"RefLatitude {latitude:.6f}, RefLongitude {longitude:.6f} lie outside the Netherlands (EPSG:28992's "
            "area of use): a placeholder, not the site's position. " + HOW_TO_SUPPLY, f"{where}.RefLatitude")
    end_longitude, end_latitude, _ = WGS84.fwd(longitude, latitude, _x_axis_azimuth(model), AZIMUTH_STEP)
    (e0, n0), (e1, n1) = to_rd(shapely.LineString([(longitude, latitude), (end_longitude, end_latitude)]),
                               4326).coords
    angle, scale = math.atan2(n1 - n0, e1 - e0), math.hypot(e1 - e0, n1 - n0) / AZIMUTH_STEP
    x, y = (0.0, 0.0)
    if site.ObjectPlacement is not None:
        matrix = ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement)
        x, y = float(matrix[0, 3]) * project_unit, float(matrix[1, 3]) * project_unit
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    return Georeference(e0 - (cos * x - sin * y), n0 - (sin * x + cos * y), angle, scale, 28992,
                        f"{where}.RefLatitude/RefLongitude")


def _decimal_degrees(value: object, limit: float, where: str) -> float:
    """An IfcCompoundPlaneAngleMeasure (degrees, minutes, seconds[, millionths of a second])."""
    parts = list(value) if isinstance(value, (tuple, list)) else []
    if not (3 <= len(parts) <= 4 and all(isinstance(p, int) for p in parts)
            and (all(p >= 0 for p in parts) or all(p <= 0 for p in parts))
            and all(abs(p) < 60 for p in parts[1:3]) and all(abs(p) < 1_000_000 for p in parts[3:])):
        raise MissingGeoreference(f"{value!r} is not degrees, minutes, seconds and millionths of a second, "
                                  "all of one sign", where)
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600 + (parts[3] if len(parts) == 4 else 0) / 3.6e9
    if abs(degrees) > limit:
        raise MissingGeoreference(f"{degrees:.6f} degrees is out of range", where)
    return degrees


def _x_axis_azimuth(model: ifcopenshell.file) -> float:
    """Degrees clockwise from true north to the model's x axis: the anticlockwise angle from the x
    axis to TrueNorth (the y axis when the model context gives none)."""
    contexts = sorted(model.by_type("IfcGeometricRepresentationContext", include_subtypes=False),
                      key=lambda c: c.ContextType != "Model")
    north = next((c.TrueNorth.DirectionRatios for c in contexts if c.TrueNorth is not None), (0.0, 1.0))
    if math.hypot(north[0], north[1]) == 0:
        raise MissingGeoreference("TrueNorth has no direction in the x/y plane", "TrueNorth")
    return math.degrees(math.atan2(north[1], north[0]))


def _crs(name: object, where: str) -> int:
    code = epsg_code(name) if isinstance(name, str) else None
    if code is None:
        raise MissingGeoreference(f"the projected CRS is not named by an EPSG code (found {name!r}). "
                                  + HOW_TO_SUPPLY, where)
    try:
        crs = horizontal_crs(code)
    except pyproj.exceptions.CRSError:
        raise MissingGeoreference(f"unknown EPSG code {code}", where) from None
    if not crs.is_projected:
        raise MissingGeoreference(f"EPSG:{code} is not a projected CRS", where)
    return code


def _crs_unit(code: int) -> float:
    return float(horizontal_crs(code).axis_info[0].unit_conversion_factor)


def _unit_metres(unit: ifcopenshell.entity_instance) -> float:
    if unit.is_a("IfcSIUnit"):
        return ifcopenshell.util.unit.get_prefix_multiplier(unit.Prefix) if unit.Prefix else 1.0
    if unit.is_a("IfcConversionBasedUnit"):
        factor = unit.ConversionFactor
        return float(factor.ValueComponent.wrappedValue) * _unit_metres(factor.UnitComponent)
    raise MissingGeoreference(f"map unit {unit.is_a()} is not a length unit", f"#{unit.id()}")
