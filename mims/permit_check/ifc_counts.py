"""Dwellings and parking spaces of an IFC building, counted from what the model states; storey
names are never read, and a model that states nothing gives no count (never 0 by default).

Dwellings. IFC has no entity or enumeration for a dwelling unit (IfcSpatialZoneTypeEnum knows
OCCUPANCY, not dwellings), so the model's own labels are read:

- IfcZone (IFC2x3, IFC4) and IfcSpatialZone (IFC4) whose ObjectType, LongName or Name, or Pset_ZoneCommon
  Category (IFC2x3), names one dwelling (``DWELLING``: woning, appartement, dwelling, apartment, ...;
  plurals such as "woningen" name a collection and do not count, nor does a zone that groups
  dwelling zones). A zone belongs to the building holding the spaces it groups or references, or
  holding the zone itself; a zone with no spaces belongs to the model's only building.
- Only where the model has no dwelling zones: IfcSpaces whose ObjectType or LongName names one
  dwelling, one dwelling each, except a space that is part of another space.

Parking spaces (for cars: municipal parking norms count those):

- an IfcSpace with Pset_SpaceParking.ParkingUnits (IFC2x3, IFC4) counts that many (a garage
  modelled as one space); otherwise one with PredefinedType PARKING (IFC4) or an ObjectType or
  LongName naming a parking space (parkeerplaats, parkeervak, parking, ...) counts one;
- not counted: an aisle (Pset_SpaceParking.IsAisle), a ParkingUse for bicycles or motorcycles, a
  garage, parking deck or bicycle storage without ParkingUnits, and a space inside a space that gives
  ParkingUnits (counted with it);
- the spaces of the building, and those on its IfcSite outside any building where the site holds
  this one building only (parking on the plot counts towards the norm, not to floor area).
"""

from __future__ import annotations

import re

import ifcopenshell
import ifcopenshell.util.element

DWELLING = re.compile(r"woning(?!en)|wooneenheid\b|appartement(?!en)|apartment(?!s)|dwelling(?!s)"
                      r"|maisonnette(?!s)|\bstudio\b|residential unit\b|housing unit\b", re.IGNORECASE)
PARKING = re.compile(r"parkeerpla|parkeervak|parkeerplek|\bparking\b|\bcar ?park space", re.IGNORECASE)
NOT_ONE_SPACE = re.compile(r"garage|kelder|deck|stalling|fiets|bicycle|bike", re.IGNORECASE)
NOT_CARS = re.compile(r"fiets|bicycle|bike|cycle|motor|scooter|brommer", re.IGNORECASE)


def dwellings(model: ifcopenshell.file, building: ifcopenshell.entity_instance) -> int | None:
    """The dwelling units of ``building``, or None where the model states none."""
    zones = [z for kind in ("IfcZone", "IfcSpatialZone") if model.schema != "IFC2X3" or kind == "IfcZone"
             for z in model.by_type(kind) if _names_dwelling(_zone_labels(z))]
    inside = {e.id() for e in ifcopenshell.util.element.get_decomposition(building)}
    if zones:
        single = len(model.by_type("IfcBuilding")) == 1
        marked = {z.id() for z in zones}
        count = 0
        for zone in zones:
            members = _members(zone)
            if any(m.id() in marked for m in members):
                continue  # a group of dwellings
            spatial = [m for m in members if m.is_a("IfcSpatialElement") or m.is_a("IfcSpatialStructureElement")]
            if zone.id() in inside or any(m.id() in inside for m in spatial) or (not spatial and single):
                count += 1
        return count
    spaces = [s for s in model.by_type("IfcSpace") if _names_dwelling((s.ObjectType, getattr(s, "LongName", None)))]
    if not spaces:
        return None
    marked = {s.id() for s in spaces}
    return sum(1 for s in spaces if s.id() in inside and not any(p.id() in marked for p in _parent_spaces(s)))


def parking_spaces(building: ifcopenshell.entity_instance) -> int | None:
    """The car parking spaces of ``building`` and its plot, or None where the model states none."""
    spaces = [s for s in ifcopenshell.util.element.get_decomposition(building) if s.is_a("IfcSpace")]
    spaces += _plot_spaces(building)
    counts = [c for c in map(_parking, spaces) if c is not None]
    return sum(counts) if counts else None


def part_of_space(space: ifcopenshell.entity_instance) -> bool:
    """Whether ``space`` is part of another IfcSpace (its area is counted with that one)."""
    return bool(_parent_spaces(space))


def _parking(space: ifcopenshell.entity_instance) -> int | None:
    """Parking spaces in ``space``: None when it is no parking space, 0 for an aisle or bicycle space."""
    if any(_units(parent) is not None for parent in _parent_spaces(space)):
        return None
    properties = ifcopenshell.util.element.get_pset(space, "Pset_SpaceParking") or {}
    names = [str(t) for t in (space.ObjectType, getattr(space, "LongName", None)) if t]
    typed = getattr(space, "PredefinedType", None) == "PARKING"
    one = (typed or any(PARKING.search(t) for t in names)) and not any(NOT_ONE_SPACE.search(t) for t in names)
    units = _units(space)
    if units is None and not one:
        return None
    if properties.get("IsAisle") is True or NOT_CARS.search(str(properties.get("ParkingUse") or "")):
        return 0
    return units if units is not None else 1


def _units(space: ifcopenshell.entity_instance) -> int | None:
    value = (ifcopenshell.util.element.get_pset(space, "Pset_SpaceParking") or {}).get("ParkingUnits")
    return round(value) if isinstance(value, (int, float)) and value >= 0 else None


def _plot_spaces(building: ifcopenshell.entity_instance) -> list[ifcopenshell.entity_instance]:
    site = ifcopenshell.util.element.get_aggregate(building)
    if site is None or not site.is_a("IfcSite"):
        return []
    content = ifcopenshell.util.element.get_decomposition(site)
    buildings = [b for b in content if b.is_a("IfcBuilding")]
    if len(buildings) != 1:
        return []
    in_building = {e.id() for e in ifcopenshell.util.element.get_decomposition(building)}
    return [s for s in content if s.is_a("IfcSpace") and s.id() not in in_building]


def _parent_spaces(space: ifcopenshell.entity_instance) -> list[ifcopenshell.entity_instance]:
    parents = []
    parent = ifcopenshell.util.element.get_aggregate(space)
    while parent is not None and parent.is_a("IfcSpace"):
        parents.append(parent)
        parent = ifcopenshell.util.element.get_aggregate(parent)
    return parents


def _zone_labels(zone: ifcopenshell.entity_instance) -> list[object]:
    category = (ifcopenshell.util.element.get_pset(zone, "Pset_ZoneCommon") or {}).get("Category")
    return [zone.ObjectType, getattr(zone, "LongName", None), zone.Name, category]


def _names_dwelling(labels: object) -> bool:
    return any(isinstance(t, str) and DWELLING.search(t) for t in labels)


def _members(zone: ifcopenshell.entity_instance) -> list[ifcopenshell.entity_instance]:
    """What a zone groups (IfcZone) or references, contains and aggregates (IfcSpatialZone)."""
    members = [o for rel in getattr(zone, "IsGroupedBy", []) or [] for o in rel.RelatedObjects]
    members += [e for rel in getattr(zone, "ReferencesElements", []) or [] for e in rel.RelatedElements]
    if zone.is_a("IfcSpatialElement"):
        members += ifcopenshell.util.element.get_decomposition(zone)
    return members
