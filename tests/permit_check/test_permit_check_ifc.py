"""Building plans read from IFC models built here with ifcopenshell's API, in IFC4 and IFC2x3, in
metres and millimetres, with rotated georeferencing.

The model: a 10 m x 8 m building with its origin at the south-west corner: walls and a floor slab
on the ground floor (elevation 0) and the first floor (3 m), a 0.3 m roof slab under an IfcRoof on
a roof level (6 m), and a basement (-3 m) whose wall runs 20 m along the street: the basement, a
footing and the roof level must not change the footprint or the count of storeys. The storeys'
names lie about their levels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.georeference
import ifcopenshell.api.group
import ifcopenshell.api.owner
import ifcopenshell.api.owner.settings
import ifcopenshell.api.project
import ifcopenshell.api.pset
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.unit
import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from mims.permit_check.ifc import (
    IFCError,
    MissingGeoreference,
    read_ifc,
    space_function,
)
from mims.permit_check.ifc_georeference import georeference
from ppi_schemas import validate

EASTING, NORTHING, ROTATION = 92_500.0, 437_200.0, 30.0  # Rotterdam; model x axis 30 degrees from east


@pytest.fixture(autouse=True)
def owner(monkeypatch: pytest.MonkeyPatch) -> None:
    """IFC2x3 requires an owner history on every rooted entity."""
    monkeypatch.setattr(ifcopenshell.api.owner.settings, "get_user",
                        lambda f: (f.by_type("IfcPersonAndOrganization") or [None])[0])
    monkeypatch.setattr(ifcopenshell.api.owner.settings, "get_application",
                        lambda f: (f.by_type("IfcApplication") or [None])[0])


class Builder:
    def __init__(self, schema: str, millimetres: bool) -> None:
        self.f = f = ifcopenshell.api.project.create_file(version=schema)
        self.unit = 1000.0 if millimetres else 1.0
        if schema == "IFC2X3":
            person = f.createIfcPerson(FamilyName="Architect")
            organisation = f.createIfcOrganization(Name="Bureau")
            f.createIfcPersonAndOrganization(person, organisation)
            ifcopenshell.api.owner.add_application(f)
        self.project = self.entity("IfcProject", "Plan")
        length = ifcopenshell.api.unit.add_si_unit(f, unit_type="LENGTHUNIT", prefix="MILLI" if millimetres else None)
        area = ifcopenshell.api.unit.add_si_unit(f, unit_type="AREAUNIT")
        ifcopenshell.api.unit.assign_unit(f, units=[length, area])
        model = ifcopenshell.api.context.add_context(f, context_type="Model")
        self.body = ifcopenshell.api.context.add_context(f, context_type="Model", context_identifier="Body",
                                                         target_view="MODEL_VIEW", parent=model)
        self.site = self.entity("IfcSite", "Kavel")
        self.building = self.entity("IfcBuilding", "Woon-winkelpand")
        ifcopenshell.api.aggregate.assign_object(f, products=[self.site], relating_object=self.project)
        ifcopenshell.api.aggregate.assign_object(f, products=[self.building], relating_object=self.site)
        self.storeys: dict[float, Any] = {}

    def entity(self, ifc_class: str, name: str | None = None, **kwargs: Any) -> Any:
        return ifcopenshell.api.root.create_entity(self.f, ifc_class=ifc_class, name=name, **kwargs)

    def storey(self, elevation: float, name: str) -> Any:
        storey = self.entity("IfcBuildingStorey", name)
        storey.Elevation = elevation * self.unit
        ifcopenshell.api.geometry.edit_object_placement(self.f, product=storey, matrix=self.matrix(0, 0, elevation), is_si=True)
        ifcopenshell.api.aggregate.assign_object(self.f, products=[storey], relating_object=self.building)
        self.storeys[elevation] = storey
        return storey

    @staticmethod
    def matrix(x: float, y: float, z: float, degrees: float = 0.0) -> np.ndarray:
        m = np.eye(4)
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        m[:2, :2] = [[c, -s], [s, c]]
        m[:3, 3] = [x, y, z]
        return m

    def place(self, element: Any, representation: Any, at: np.ndarray, elevation: float) -> Any:
        ifcopenshell.api.geometry.assign_representation(self.f, product=element, representation=representation)
        ifcopenshell.api.geometry.edit_object_placement(self.f, product=element, matrix=at, is_si=True)
        ifcopenshell.api.spatial.assign_container(self.f, products=[element], relating_structure=self.storeys[elevation])
        return element

    def wall(self, elevation: float, x: float, y: float, length: float, degrees: float = 0.0, height: float = 3.0) -> Any:
        representation = ifcopenshell.api.geometry.add_wall_representation(
            self.f, context=self.body, length=length, height=height, thickness=0.3)
        return self.place(self.entity("IfcWall"), representation, self.matrix(x, y, elevation, degrees), elevation)

    def slab(self, elevation: float, points: list[tuple[float, float]], ifc_class: str = "IfcSlab",
             depth: float = 0.2, **kwargs: Any) -> Any:
        representation = ifcopenshell.api.geometry.add_slab_representation(
            self.f, context=self.body, depth=depth, polyline=points)
        return self.place(self.entity(ifc_class, **kwargs), representation, self.matrix(0, 0, elevation), elevation)

    def sloped_slab(self, elevation: float, y: float, degrees: float) -> Any:
        """A roof slab from the wall top at ``y`` rising at ``degrees`` about the x axis (4 m across)."""
        length = 4.0 / math.cos(math.radians(abs(degrees)))
        points = [(0.0, 0.0), (10.0, 0.0), (10.0, length), (0.0, length)]
        representation = ifcopenshell.api.geometry.add_slab_representation(
            self.f, context=self.body, depth=0.2, polyline=[(x, py if degrees > 0 else py - length) for x, py in points])
        m = np.eye(4)
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        m[1:3, 1:3] = [[c, -s], [s, c]]
        m[:3, 3] = [0.0, y, elevation]
        return self.place(self.entity("IfcSlab", predefined_type="ROOF"), representation, m, elevation)

    def element(self, ifc_class: str, at: tuple[float, float, float], length: float, height: float,
                storey: float) -> Any:
        representation = ifcopenshell.api.geometry.add_wall_representation(
            self.f, context=self.body, length=length, height=height, thickness=0.2)
        return self.place(self.entity(ifc_class), representation, self.matrix(*at), storey)

    def space(self, elevation: float | None, long_name: str | None, object_type: str | None,
              net: float | None = None, gross: float | None = None, within: Any = None, **kwargs: Any) -> Any:
        space = self.entity("IfcSpace", "R", **kwargs)
        space.LongName, space.ObjectType = long_name, object_type
        parent = within if within is not None else self.storeys[elevation]
        ifcopenshell.api.aggregate.assign_object(self.f, products=[space], relating_object=parent)
        quantities = {k: v for k, v in (("NetFloorArea", net), ("GrossFloorArea", gross)) if v is not None}
        if quantities:
            name = "BaseQuantities" if self.f.schema == "IFC2X3" else "Qto_SpaceBaseQuantities"
            qto = ifcopenshell.api.pset.add_qto(self.f, product=space, name=name)
            ifcopenshell.api.pset.edit_qto(self.f, qto=qto, properties=quantities)
        return space

    def georeference(self, eastings: float, northings: float, degrees: float, scale: float | None = None,
                     crs: str = "EPSG:28992") -> None:
        ifcopenshell.api.georeference.add_georeferencing(self.f, name=crs)
        operation = {"Eastings": eastings, "Northings": northings, "OrthogonalHeight": 2.0,
                     "XAxisAbscissa": math.cos(math.radians(degrees)), "XAxisOrdinate": math.sin(math.radians(degrees))}
        if scale is not None:
            operation["Scale"] = scale
        ifcopenshell.api.georeference.edit_georeferencing(self.f, projected_crs={"Name": crs}, coordinate_operation=operation)


RECTANGLE = [(0.0, 0.0), (10.0, 0.0), (10.0, 8.0), (0.0, 8.0)]


def building(schema: str = "IFC4", millimetres: bool = False, roof: str | None = "FLAT_ROOF",
             sloped: bool = False) -> Builder:
    b = Builder(schema, millimetres)
    b.storey(-3.0, "Begane grond")  # the basement
    b.storey(0.0, "Verdieping 7")
    b.storey(3.0, "Verdieping 8")
    b.storey(6.0, "Verdieping 9")  # the roof level
    b.wall(-3.0, -5.0, 0.0, 20.0)
    for elevation in (0.0, 3.0):
        b.wall(elevation, 0.0, 0.0, 10.0)
        b.wall(elevation, 0.0, 7.7, 10.0)
        b.wall(elevation, 0.3, 0.3, 7.4, degrees=90)
        b.wall(elevation, 10.0, 0.3, 7.4, degrees=90)
        b.slab(elevation, RECTANGLE)
    b.slab(0.0, [(-2.0, -2.0), (12.0, -2.0), (12.0, 10.0), (-2.0, 10.0)], ifc_class="IfcFooting", depth=0.5)
    if roof is not None:
        if sloped:  # 45 degrees up from the wall tops at y 0 and y 8 to a ridge at y 4
            roof_slabs = [b.sloped_slab(6.0, 0.0, 45.0), b.sloped_slab(6.0, 8.0, -45.0)]
        else:
            roof_slabs = [b.slab(6.0, RECTANGLE, depth=0.3, predefined_type="ROOF")]
        roof_element = b.entity("IfcRoof")
        if schema == "IFC2X3":
            roof_element.ShapeType = roof
        else:
            roof_element.PredefinedType = roof
        ifcopenshell.api.spatial.assign_container(b.f, products=[roof_element], relating_structure=b.storeys[6.0])
        ifcopenshell.api.aggregate.assign_object(b.f, products=roof_slabs, relating_object=roof_element)
    b.space(0.0, "Woonkamer", None, net=40.0, gross=45.0)
    b.space(0.0, "Unit 1", "Retail", net=30.0, gross=33.0)
    b.space(3.0, "Bovenverdieping", "kantoor", net=70.0)
    b.space(-3.0, "Fietsenstalling", None, net=20.0, gross=22.0)
    return b


def rd_rectangle(eastings: float = EASTING, northings: float = NORTHING, degrees: float = ROTATION) -> shapely.Polygon:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return shapely.Polygon([(eastings + c * x - s * y, northings + s * x + c * y) for x, y in RECTANGLE])


def read(b: Builder, **kwargs: Any) -> dict[str, Any]:
    [plan] = read_ifc(b.f, **kwargs)
    assert validate(plan, "building-plan@1.0.0") == [], plan
    return plan


def assert_is_the_building(plan: dict[str, Any]) -> None:
    footprint = shape(plan["footprint"])
    assert footprint.area == pytest.approx(80.0, abs=0.05)
    assert footprint.symmetric_difference(rd_rectangle()).area < 0.05
    assert plan["height"] == pytest.approx(6.3)
    assert plan["storeysAboveGround"] == 2
    assert plan["roofType"] == "flat"


@pytest.mark.parametrize("millimetres", [False, True], ids=["metres", "millimetres"])
def test_an_ifc4_model_gives_footprint_in_rd_height_storeys_functions_and_roof(millimetres: bool) -> None:
    b = building("IFC4", millimetres)
    b.georeference(EASTING, NORTHING, ROTATION, scale=0.001 if millimetres else None)
    plan = read(b)
    assert_is_the_building(plan)
    assert plan["crs"] == "EPSG:28992" and plan["name"] == "Woon-winkelpand"
    assert plan["source"] == {"format": "ifc", "object": b.building.GlobalId}
    assert {f["function"]: (f["grossFloorArea"], f["netFloorArea"]) for f in plan["functions"]} == {
        "detailhandel": (33.0, 30.0), "kantoor": (70.0, 70.0), "verkeer": (22.0, 20.0), "wonen": (45.0, 40.0)}


def test_a_millimetre_model_may_keep_units_apart_from_scale_as_ifc4_3_does() -> None:
    b = building("IFC4", millimetres=True)
    b.georeference(EASTING, NORTHING, ROTATION, scale=1.0)  # map unit metre: the CRS's own
    assert_is_the_building(read(b))


def test_a_scale_that_fits_neither_reading_is_refused() -> None:
    b = building("IFC4", millimetres=False)
    b.georeference(EASTING, NORTHING, ROTATION, scale=0.001)  # a metre model does not need 0.001
    with pytest.raises(MissingGeoreference, match="Scale 0.001") as refused:
        read_ifc(b.f)
    assert refused.value.pointer.endswith("IfcMapConversion.Scale")


def test_a_compound_crs_and_a_map_unit_of_kilometres() -> None:
    b = building("IFC4", millimetres=True)
    b.georeference(EASTING / 1000, NORTHING / 1000, ROTATION, crs="EPSG:7415")
    crs = b.f.by_type("IfcProjectedCRS")[0]
    crs.MapUnit = ifcopenshell.api.unit.add_si_unit(b.f, unit_type="LENGTHUNIT", prefix="KILO")
    b.f.by_type("IfcMapConversion")[0].Scale = 1e-6  # millimetres to kilometres, IFC4's reading
    assert_is_the_building(read(b))


@pytest.mark.parametrize("millimetres", [False, True], ids=["metres", "millimetres"])
def test_an_ifc2x3_model_with_the_map_conversion_property_sets(millimetres: bool) -> None:
    b = building("IFC2X3", millimetres)
    b.georeference(EASTING, NORTHING, ROTATION, scale=0.001 if millimetres else None)
    plan = read(b)
    assert_is_the_building(plan)
    assert {f["function"]: f["netFloorArea"] for f in plan["functions"]} == {
        "detailhandel": 30.0, "kantoor": 70.0, "verkeer": 20.0, "wonen": 40.0}


@pytest.mark.parametrize("schema", ["IFC4", "IFC2X3"])
def test_a_model_without_georeference_is_refused_until_an_origin_is_supplied(schema: str) -> None:
    b = building(schema, millimetres=True)
    with pytest.raises(MissingGeoreference) as refused:
        read_ifc(b.f)
    message = str(refused.value)
    assert ("ePSet_MapConversion" if schema == "IFC2X3" else "no IfcMapConversion") in message
    assert "supply the origin" in message and "EPSG:28992" in message
    assert isinstance(refused.value, ValueError) and refused.value.problem().status == 422
    assert_is_the_building(read(b, origin=(EASTING, NORTHING, ROTATION)))


def test_a_georeference_that_places_the_building_outside_the_netherlands_is_refused() -> None:
    b = building("IFC4")
    b.georeference(0.0, 0.0, 0.0)  # an exporter's default, not a position
    with pytest.raises(MissingGeoreference, match="outside the Netherlands"):
        read_ifc(b.f)
    b.f.by_type("IfcProjectedCRS")[0].Name = "local grid"
    with pytest.raises(MissingGeoreference, match="not named by an EPSG code"):
        read_ifc(b.f)


def test_a_moved_world_coordinate_system_is_refused_rather_than_guessed() -> None:
    b = building("IFC4")
    b.georeference(EASTING, NORTHING, ROTATION)
    context = next(c for c in b.f.by_type("IfcGeometricRepresentationContext") if c.ContextType == "Model")
    context.WorldCoordinateSystem.Location.Coordinates = (100.0, 200.0, 0.0)
    with pytest.raises(MissingGeoreference, match="WorldCoordinateSystem"):
        read_ifc(b.f)
    assert_is_the_building(read(b, origin=(EASTING, NORTHING, ROTATION)))


def test_the_ground_level_is_the_terrain_where_the_building_gives_it() -> None:
    b = building("IFC4")
    b.georeference(EASTING, NORTHING, ROTATION)
    b.building.ElevationOfRefHeight, b.building.ElevationOfTerrain = 2.0, 1.6  # peil 0.4 m above the terrain
    assert read(b)["height"] == pytest.approx(6.7)


@pytest.mark.parametrize(("schema", "shape_type", "expected"), [
    ("IFC4", "GABLE_ROOF", "pitched"), ("IFC4", "FREEFORM", "other"), ("IFC2X3", "HIP_ROOF", "pitched"),
    ("IFC2X3", "FLAT_ROOF", "flat"),
])
def test_roof_type_from_ifcroof(schema: str, shape_type: str, expected: str) -> None:
    b = building(schema, roof=shape_type)
    assert read(b, origin=(EASTING, NORTHING, ROTATION))["roofType"] == expected


def test_a_space_without_quantities_is_measured_from_its_geometry() -> None:
    b = building("IFC4", millimetres=True)
    storage = b.space(3.0, "Berging", None)
    representation = ifcopenshell.api.geometry.add_slab_representation(
        b.f, context=b.body, depth=2.6, polyline=[(1.0, 1.0), (3.0, 1.0), (3.0, 4.0), (1.0, 4.0)])
    ifcopenshell.api.geometry.assign_representation(b.f, product=storage, representation=representation)
    ifcopenshell.api.geometry.edit_object_placement(b.f, product=storage, matrix=Builder.matrix(0, 0, 3.0), is_si=True)
    plan = read(b, origin=(EASTING, NORTHING, ROTATION))
    assert {f["function"]: f["grossFloorArea"] for f in plan["functions"]}["overig"] == pytest.approx(6.0)
    assert_is_the_building(plan)  # a space is no building element: the footprint is unchanged


def test_an_ifc_file_read_from_bytes_text_or_path_and_a_file_that_is_not_ifc(tmp_path: Path) -> None:
    b = building("IFC4", millimetres=True)
    b.georeference(EASTING, NORTHING, ROTATION, scale=0.001)
    assert_is_the_building(read_ifc(b.f.to_string().encode())[0])
    assert_is_the_building(read_ifc(b.f.to_string())[0])
    b.f.write(str(tmp_path / "plan.ifc"))
    assert_is_the_building(read_ifc(tmp_path / "plan.ifc")[0])
    with pytest.raises(IFCError, match="not a readable IFC file"):
        read_ifc(b"ISO-10303-21;\nnonsense")
    empty = Builder("IFC4", millimetres=False)
    empty.f.remove(empty.building)
    with pytest.raises(IFCError, match="no IfcBuilding"):
        read_ifc(empty.f, origin=(EASTING, NORTHING, 0))


@pytest.mark.parametrize(("object_type", "long_name", "expected"), [
    ("Appartement", None, "wonen"), (None, "Slaapkamer 2", "wonen"), ("Office", "Woonkamer", "kantoor"),
    (None, "Horeca", "horeca"), (None, "Parkeergarage", "verkeer"), (None, "Trappenhuis", "overig"),
    ("maatschappelijk", None, "maatschappelijk"), (None, "Barbecue", "overig"),
])
def test_space_functions_are_mapped_to_bestemmingshoofdgroepen(object_type: str | None, long_name: str | None,
                                                                expected: str) -> None:
    b = Builder("IFC4", millimetres=False)
    b.storey(0.0, "BG")
    assert space_function(b.space(0.0, long_name, object_type)) == expected


# -- eaves height, dwellings, parking spaces ---------------------------------------------------------


@pytest.mark.parametrize("schema", ["IFC4", "IFC2X3"])
def test_the_eaves_of_a_gable_roof_are_the_foot_of_its_slopes(schema: str) -> None:
    b = building(schema, millimetres=True, roof="GABLE_ROOF", sloped=True)
    plan = read(b, origin=(EASTING, NORTHING, ROTATION))
    # slabs 0.2 m thick rise at 45 degrees from the wall tops (6 m) 4 m inwards: the foot of both at
    # 6 m, the ridge's top at 6 + 4 + 0.2 cos 45 = 10.141 m
    assert plan["eavesHeight"] == pytest.approx(6.0)
    assert plan["height"] == pytest.approx(10.141, abs=0.001)
    assert plan["roofType"] == "pitched" and plan["storeysAboveGround"] == 2
    b.building.ElevationOfRefHeight, b.building.ElevationOfTerrain = 2000.0, 1600.0  # terrain 0.4 m below peil
    assert read(b, origin=(EASTING, NORTHING, ROTATION))["eavesHeight"] == pytest.approx(6.4)


@pytest.mark.parametrize("schema", ["IFC4", "IFC2X3"])
def test_the_eaves_of_a_flat_roof_are_the_top_of_its_edge_without_railings_and_chimneys(schema: str) -> None:
    b = building(schema)
    plain = read(b, origin=(EASTING, NORTHING, ROTATION))
    assert plain["eavesHeight"] == plain["height"] == pytest.approx(6.3)  # the roof slab's top
    b.element("IfcWall", (0.0, 0.0, 6.3), 10.0, 0.5, storey=6.0)  # a parapet along the street: edge at 6.8 m
    b.element("IfcRailing", (1.0, 1.0, 6.3), 8.0, 1.1, storey=6.0)  # 7.4 m
    if schema == "IFC4":  # IFC2x3 has no IfcChimney
        b.element("IfcChimney", (5.0, 4.0, 6.3), 0.4, 2.0, storey=6.0)  # 8.3 m
    plan = read(b, origin=(EASTING, NORTHING, ROTATION))
    assert plan["eavesHeight"] == pytest.approx(6.8)
    assert plan["height"] == pytest.approx(8.3 if schema == "IFC4" else 7.4)


def test_a_model_that_states_no_roof_dwellings_or_parking_leaves_them_out() -> None:
    plan = read(building("IFC4", roof=None), origin=(EASTING, NORTHING, ROTATION))
    assert plan["height"] == pytest.approx(6.0)
    assert not {"eavesHeight", "roofType", "dwellings", "parkingSpaces"} & plan.keys()
    # rooms named "Woonkamer" are living rooms, a "Fietsenstalling" holds bicycles: no counts from them
    assert "wonen" in {f["function"] for f in plan["functions"]}


def zone(b: Builder, members: list[Any], ifc_class: str = "IfcZone", **names: Any) -> Any:
    group = b.entity(ifc_class)
    for attribute, value in names.items():
        setattr(group, attribute, value)
    if ifc_class == "IfcSpatialZone":
        ifcopenshell.api.spatial.reference_structure(b.f, products=members, relating_structure=group)
    else:
        ifcopenshell.api.group.assign_group(b.f, products=members, group=group)
    return group


def test_dwellings_are_the_dwelling_zones_of_an_ifc4_model() -> None:
    b = building("IFC4")
    rooms = [b.space(3.0, name, None, net=20.0) for name in ("Woonkamer", "Slaapkamer", "Keuken", "Badkamer")]
    first = zone(b, rooms[:2], LongName="Woning 3-A")
    second = zone(b, rooms[2:], Name="Z2", ObjectType="appartement")
    third = zone(b, rooms[3:], "IfcSpatialZone", Name="Studio")
    zone(b, [first, second, third], Name="Woningen")  # all dwellings together: a collection, no dwelling
    zone(b, rooms, Name="Brandcompartiment 1")
    b.space(0.0, "Berging", "woning", net=5.0)  # ignored: the model states its dwellings as zones
    plan = read(b, origin=(EASTING, NORTHING, ROTATION))
    assert plan["dwellings"] == 3
    assert "parkingSpaces" not in plan


def test_dwellings_in_ifc2x3_from_zone_categories_and_else_from_spaces_marked_as_dwellings() -> None:
    b = building("IFC2X3")
    rooms = [b.space(3.0, "Kamer", None, net=30.0) for _ in range(2)]
    for room in rooms:
        group = zone(b, [room], Name="Z")
        pset = ifcopenshell.api.pset.add_pset(b.f, product=group, name="Pset_ZoneCommon")
        ifcopenshell.api.pset.edit_pset(b.f, pset=pset, properties={"Category": "Woning"})
    assert read(b, origin=(EASTING, NORTHING, ROTATION))["dwellings"] == 2
    b = building("IFC2X3")
    b.space(0.0, "Benedenwoning", None, net=60.0)
    flat = b.space(3.0, None, "Woning", net=60.0)
    b.space(None, "Woonkamer", "Woning", net=30.0, within=flat)  # part of the dwelling above: not another one
    assert read(b, origin=(EASTING, NORTHING, ROTATION))["dwellings"] == 2


def parking(b: Builder, space: Any, **properties: Any) -> Any:
    pset = ifcopenshell.api.pset.add_pset(b.f, product=space, name="Pset_SpaceParking")
    ifcopenshell.api.pset.edit_pset(b.f, pset=pset, properties=properties)
    return space


def test_parking_spaces_in_an_ifc4_model_and_what_their_floor_areas_add() -> None:
    b = building("IFC4")
    for name in ("P1", "P2"):
        b.space(0.0, name, None, net=12.5, predefined_type="PARKING")
    parking(b, b.space(0.0, "Rijbaan", None, net=30.0, predefined_type="PARKING"), IsAisle=True)
    parking(b, b.space(0.0, None, None, net=20.0, predefined_type="PARKING"), ParkingUse="Bicycle", ParkingUnits=20)
    garage = parking(b, b.space(-3.0, "Parkeergarage", None, net=300.0, gross=320.0), ParkingUnits=12)
    b.space(None, "P3", None, net=12.5, within=garage, predefined_type="PARKING")  # counted with the garage
    b.space(None, "Parkeerplaats", None, net=12.5, within=b.site)  # outside on the plot
    plan = read(b, origin=(EASTING, NORTHING, ROTATION))
    assert plan["parkingSpaces"] == 2 + 12 + 1
    verkeer = next(f for f in plan["functions"] if f["function"] == "verkeer")
    # the bicycle storage 22 (20 net), P1 and P2, the aisle, the bicycle space and the garage's gross
    # area; not the space inside the garage nor the one outside the building
    assert (verkeer["grossFloorArea"], verkeer["netFloorArea"]) == (22 + 25 + 30 + 20 + 320, 20 + 25 + 30 + 20 + 300)
    assert "dwellings" not in plan


def test_parking_spaces_in_an_ifc2x3_model_marked_by_object_type() -> None:
    b = building("IFC2X3")
    for _ in range(3):
        b.space(0.0, None, "Parking", net=12.5)
    parking(b, b.space(-3.0, "Garage", None, net=100.0), ParkingUnits=4)
    b.space(-3.0, "Parkeergarage", None, net=100.0)  # a garage that does not say how many: not counted
    assert read(b, origin=(EASTING, NORTHING, ROTATION))["parkingSpaces"] == 7


# -- IfcSite RefLatitude/RefLongitude ----------------------------------------------------------------

# The Erasmusbrug, Rotterdam: 51°54'34" N, 4°29'12" E. pyproj (EPSG:4326 -> EPSG:28992, without the
# RDNAPTRANS grid) puts it at x 93034.615, y 436044.538; there true north lies 0.7098 degrees
# clockwise from grid north (a 100 m step due north ends at 89.2902 degrees from grid east). The
# model's TrueNorth (cos 60°, sin 60°) turns its x axis 60 degrees clockwise from true north, i.e. 30
# degrees from true east and 29.2902 degrees from grid east. The site's placement origin lies at
# model (5, -3): the model origin at x 93034.615 - (5 cos r + 3 sin r), y 436044.538 - (5 sin r -
# 3 cos r) with r = 29.2902 degrees (and the scale 0.99994 there) = x 93028.787, y 436044.708.
BRIDGE = (51, 54, 34, 0), (4, 29, 12, 0)
BRIDGE_ORIGIN = 93028.787, 436044.708, 29.2902


def site_position(b: Builder, latitude: tuple[int, ...], longitude: tuple[int, ...], north_degrees: float) -> None:
    b.site.RefLatitude, b.site.RefLongitude = latitude, longitude
    ifcopenshell.api.geometry.edit_object_placement(b.f, product=b.site, matrix=Builder.matrix(5.0, -3.0, 0.0),
                                                    is_si=True)
    context = next(c for c in b.f.by_type("IfcGeometricRepresentationContext", include_subtypes=False)
                   if c.ContextType == "Model")
    angle = math.radians(north_degrees)
    context.TrueNorth = b.f.createIfcDirection((math.cos(angle), math.sin(angle)))


@pytest.mark.parametrize(("schema", "millimetres"), [("IFC4", False), ("IFC2X3", True)])
def test_the_site_latitude_and_longitude_with_true_north_place_a_model_without_map_conversion(
        schema: str, millimetres: bool) -> None:
    b = building(schema, millimetres)
    site_position(b, *BRIDGE, north_degrees=60.0)
    footprint = shape(read(b)["footprint"])
    expected = rd_rectangle(*BRIDGE_ORIGIN)
    assert footprint.area == pytest.approx(80.0, abs=0.05)
    assert footprint.symmetric_difference(expected).area < 0.05
    assert georeference(b.f, None).source.endswith("=IfcSite.RefLatitude/RefLongitude")
    assert_is_the_building(read(b, origin=(EASTING, NORTHING, ROTATION)))  # a given origin still wins


def test_a_map_conversion_wins_over_the_site_latitude_and_longitude() -> None:
    b = building("IFC4")
    site_position(b, *BRIDGE, north_degrees=60.0)
    b.georeference(EASTING, NORTHING, ROTATION)
    assert_is_the_building(read(b))


@pytest.mark.parametrize("schema", ["IFC4", "IFC2X3"])
def test_a_site_at_latitude_and_longitude_zero_is_refused(schema: str) -> None:
    b = building(schema)
    site_position(b, (0, 0, 0), (0, 0, 0), north_degrees=90.0)
    with pytest.raises(MissingGeoreference, match="outside the Netherlands") as refused:
        read_ifc(b.f)
    assert refused.value.problem().status == 422 and refused.value.pointer.endswith("IfcSite.RefLatitude")
    b.site.RefLatitude = (52, -5, 0)
    with pytest.raises(MissingGeoreference, match="all of one sign"):
        read_ifc(b.f)
