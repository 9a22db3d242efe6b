"""IFC4 models of apartment buildings, built with ifcopenshell's API for the permit check benchmark.

A model: a rectangular building of ``storeys`` storeys of 3 m, each with four exterior walls, a
floor slab and two spaces (dwellings) with Qto_SpaceBaseQuantities; a 0.3 m roof slab under a
flat IfcRoof; a basement storey; georeferenced with IfcMapConversion in EPSG:28992.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.georeference
import ifcopenshell.api.project
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.unit
import numpy as np

STOREY_HEIGHT = 3.0
WALL = 0.3
ROOF = 0.3


@dataclass(frozen=True)
class Model:
    """An IFC file as text, with what a correct reader must find in it."""

    text: str
    storeys: int
    footprint_area: float
    height: float


def apartment_building(storeys: int, width: float = 24.0, depth: float = 14.0,
                       easting: float = 92_500.0, northing: float = 437_200.0, rotation: float = 20.0) -> Model:
    """An IFC4 model (metres) of a ``storeys``-storey building ``width`` x ``depth`` m."""
    f = ifcopenshell.api.project.create_file(version="IFC4")
    root = _Model(f)
    outline = [(0.0, 0.0), (width, 0.0), (width, depth), (0.0, depth)]
    root.storey(-STOREY_HEIGHT, "Kelder")
    root.slab(-STOREY_HEIGHT, outline)
    root.space(-STOREY_HEIGHT, "Fietsenstalling", (width - 2 * WALL) * (depth - 2 * WALL))
    for level in range(storeys):
        elevation = level * STOREY_HEIGHT
        root.storey(elevation, f"Verdieping {level}")
        root.wall(elevation, 0.0, 0.0, width)
        root.wall(elevation, 0.0, depth - WALL, width)
        root.wall(elevation, WALL, WALL, depth - 2 * WALL, degrees=90)
        root.wall(elevation, width, WALL, depth - 2 * WALL, degrees=90)
        root.slab(elevation, outline)
        half = (width - 2 * WALL) / 2 * (depth - 2 * WALL)
        for number in (1, 2):
            root.space(elevation, f"Appartement {level}.{number}", half)
    top = storeys * STOREY_HEIGHT
    root.storey(top, "Dak")
    roof_slab = root.slab(top, outline, depth=ROOF, predefined_type="ROOF")
    roof = root.entity("IfcRoof")
    roof.PredefinedType = "FLAT_ROOF"
    ifcopenshell.api.spatial.assign_container(f, products=[roof], relating_structure=root.storeys[top])
    ifcopenshell.api.aggregate.assign_object(f, products=[roof_slab], relating_object=roof)
    ifcopenshell.api.georeference.add_georeferencing(f, name="EPSG:28992")
    ifcopenshell.api.georeference.edit_georeferencing(f, projected_crs={"Name": "EPSG:28992"}, coordinate_operation={
        "Eastings": easting, "Northings": northing, "OrthogonalHeight": 0.0,
        "XAxisAbscissa": math.cos(math.radians(rotation)), "XAxisOrdinate": math.sin(math.radians(rotation))})
    return Model(f.to_string(), storeys, width * depth, top + ROOF)


class _Model:
    def __init__(self, f: ifcopenshell.file) -> None:
        self.f = f
        project = self.entity("IfcProject", "Nieuwbouw")
        length = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT")
        area = ifcopenshell.api.unit.add_si_unit(f, unit_type="AREAUNIT")
        ifcopenshell.api.unit.assign_unit(f, units=[length, area])
        model = ifcopenshell.api.context.add_context(f, context_type="Model")
        self.body = ifcopenshell.api.context.add_context(f, context_type="Model", context_identifier="Body",
                                                         target_view="MODEL_VIEW", parent=model)
        site = self.entity("IfcSite", "Kavel")
        self.building = self.entity("IfcBuilding", "Appartementengebouw")
        ifcopenshell.api.aggregate.assign_object(f, products=[site], relating_object=project)
        ifcopenshell.api.aggregate.assign_object(f, products=[self.building], relating_object=site)
        self.storeys: dict[float, Any] = {}

    def entity(self, ifc_class: str, name: str | None = None, **kwargs: Any) -> Any:
        return ifcopenshell.api.root.create_entity(self.f, ifc_class=ifc_class, name=name, **kwargs)

    def storey(self, elevation: float, name: str) -> None:
        storey = self.entity("IfcBuildingStorey", name)
        storey.Elevation = elevation
        ifcopenshell.api.geometry.edit_object_placement(self.f, product=storey, matrix=_matrix(0, 0, elevation),
                                                        is_si=True)
        ifcopenshell.api.aggregate.assign_object(self.f, products=[storey], relating_object=self.building)
        self.storeys[elevation] = storey

    def _place(self, element: Any, representation: Any, at: np.ndarray, elevation: float) -> Any:
        ifcopenshell.api.geometry.assign_representation(self.f, product=element, representation=representation)
        ifcopenshell.api.geometry.edit_object_placement(self.f, product=element, matrix=at, is_si=True)
        ifcopenshell.api.spatial.assign_container(self.f, products=[element], relating_structure=self.storeys[elevation])
        return element

    def wall(self, elevation: float, x: float, y: float, length: float, degrees: float = 0.0) -> None:
        representation = ifcopenshell.api.geometry.add_wall_representation(
            self.f, context=self.body, length=length, height=STOREY_HEIGHT, thickness=WALL)
        self._place(self.entity("IfcWall"), representation, _matrix(x, y, elevation, degrees), elevation)

    def slab(self, elevation: float, points: list[tuple[float, float]], depth: float = 0.2, **kwargs: Any) -> Any:
        representation = ifcopenshell.api.geometry.add_slab_representation(
            self.f, context=self.body, depth=depth, polyline=points)
        return self._place(self.entity("IfcSlab", **kwargs), representation, _matrix(0, 0, elevation), elevation)

    def space(self, elevation: float, long_name: str, net_area: float) -> None:
        space = self.entity("IfcSpace", "R")
        space.LongName = long_name
        ifcopenshell.api.aggregate.assign_object(self.f, products=[space], relating_object=self.storeys[elevation])
        quantities = ifcopenshell.api.pset.add_qto(self.f, product=space, name="Qto_SpaceBaseQuantities")
        ifcopenshell.api.pset.edit_qto(self.f, qto=quantities, properties={
            "NetFloorArea": round(net_area, 2), "GrossFloorArea": round(net_area * 1.1, 2)})


def _matrix(x: float, y: float, z: float, degrees: float = 0.0) -> np.ndarray:
    m = np.eye(4)
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    m[:2, :2] = [[c, -s], [s, c]]
    m[:3, 3] = [x, y, z]
    return m
