"""Smart Data Models entities (NGSI-LD normalized) of the demo: Building from CityJSON LoD2,
OffStreetParking and AirQualityObserved, as the PPIs ``sdm-building``, ``sdm-offstreet-parking``
and ``sdm-air-quality-observed`` describe them.

Each entity carries its PPI's @context (shipped with the platform, so nothing is fetched). What
the sources do not say is either left out or marked illustrative in the entity's ``description``:
the 3D city model records no use, so a building's category is stated as an assumption; parking
occupancy and air-quality values are generated deterministically.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from shapely.geometry import mapping, shape

from mims.kit.geo.cityjson import read_cityjson
from mims.kit.geo.plan_input import as_lists
from mims.kit.geo.twin_entities import to_wgs84

BUILDING_CONTEXT = "https://w3id.org/oup/ppi/sdm-building/1.0.0/context.jsonld"
PARKING_CONTEXT = "https://w3id.org/oup/ppi/sdm-offstreet-parking/1.0.0/context.jsonld"
AIR_QUALITY_CONTEXT = "https://w3id.org/oup/ppi/sdm-air-quality-observed/1.0.0/context.jsonld"
BUILDING_TYPE = "https://smartdatamodels.org/dataModel.Building/Building"
PARKING_TYPE = "https://smartdatamodels.org/dataModel.Parking/OffStreetParking"
AIR_QUALITY_TYPE = "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"
MICROGRAMS_PER_M3 = "GQ"
"""UN/CEFACT common code of µg/m³, the unit of the pollutant concentrations."""
ILLUSTRATIVE = "Illustrative demo values, generated; not measurements."


def _id_part(text: str) -> str:
    """``text`` as a URN segment: letters, digits, ``-``, ``_`` and ``.`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def building_entities(cityjson: bytes, *, city: str, locality: str, crs: str = "EPSG:7415") -> list[dict[str, Any]]:
    """One Building per CityJSON Building (its BuildingParts merged, as the permit check reads
    them): footprint in WGS84 as ``location``, height above terrain in metres, storeys and roof
    type where the model gives them, and the locality as address."""
    objects = orjson.loads(cityjson)["CityObjects"]
    entities = []
    for plan in read_cityjson(cityjson, crs=crs):
        object_id = plan["source"]["object"]
        if objects[object_id]["type"] != "Building":
            continue
        entity: dict[str, Any] = {
            "id": f"urn:ngsi-ld:Building:{city}-{_id_part(object_id)}",
            "type": "Building",
            "category": {"type": "Property", "value": ["residential"]},
            "address": {"type": "Property", "value": {"addressLocality": locality, "addressCountry": "NL"}},
            "location": {"type": "GeoProperty", "value": as_lists(mapping(to_wgs84(shape(plan["footprint"]))))},
            "height": {"type": "Property", "value": plan["height"], "unitCode": "MTR"},
            "source": {"type": "Property", "value": f"CityJSON LoD2 city object {object_id}"},
            "description": {"type": "Property", "value": "LoD2 building of the 3D city model; the model records "
                                                         "no use, so the category is assumed."},
            "@context": [BUILDING_CONTEXT],
        }
        if "storeysAboveGround" in plan:
            entity["floorsAboveGround"] = {"type": "Property", "value": plan["storeysAboveGround"]}
        if "roofType" in plan:
            entity["roofType"] = {"type": "Property", "value": plan["roofType"]}
        entities.append(entity)
    return entities


@dataclass(frozen=True, slots=True)
class Garage:
    """A parking garage at a real location (approximate) with its approximate capacity."""

    slug: str
    name: str
    street: str
    longitude: float
    latitude: float
    capacity: int


def parking_entities(garages: list[Garage], *, city: str, locality: str, observed_at: datetime) -> list[dict[str, Any]]:
    """OffStreetParking entities; the free spots follow a fixed daily curve (illustrative)."""
    entities = []
    for index, garage in enumerate(garages):
        occupancy = 0.55 + 0.35 * math.sin((observed_at.hour - 6 + index) / 24 * 2 * math.pi) ** 2
        occupied = min(garage.capacity, round(garage.capacity * occupancy))
        when = _timestamp(observed_at)
        entities.append({
            "id": f"urn:ngsi-ld:OffStreetParking:{city}-{garage.slug}",
            "type": "OffStreetParking",
            "name": {"type": "Property", "value": garage.name},
            "category": {"type": "Property", "value": ["underground", "public", "feeCharged"]},
            "allowedVehicleType": {"type": "Property", "value": ["car"]},
            "address": {"type": "Property", "value": {"streetAddress": garage.street, "addressLocality": locality,
                                                      "addressCountry": "NL"}},
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [garage.longitude, garage.latitude]}},
            "totalSpotNumber": {"type": "Property", "value": garage.capacity},
            "availableSpotNumber": {"type": "Property", "value": garage.capacity - occupied, "observedAt": when},
            "occupiedSpotNumber": {"type": "Property", "value": occupied, "observedAt": when},
            "description": {"type": "Property", "value": "Location and capacity approximate. Occupancy: " + ILLUSTRATIVE},
            "@context": [PARKING_CONTEXT],
        })
    return entities


@dataclass(frozen=True, slots=True)
class Station:
    """An air-quality monitoring station at a real location (approximate); ``level`` scales its
    generated values (a busy street higher than a park)."""

    slug: str
    name: str
    longitude: float
    latitude: float
    level: float


POLLUTANTS: Mapping[str, tuple[float, float]] = {"no2": (28.0, 14.0), "pm10": (20.0, 6.0), "pm25": (11.0, 4.0)}
"""Pollutant -> (mean, daily amplitude) in µg/m³ of the generated series."""


def air_quality_value(station: Station, pollutant: str, at: datetime) -> float:
    """The generated concentration of ``pollutant`` at ``station`` for the hour ``at``: a daily
    cycle peaking in the rush hours plus a fixed wobble, the same for every run."""
    mean, amplitude = POLLUTANTS[pollutant]
    hour = at.hour + at.minute / 60
    cycle = math.sin((hour - 4) / 24 * 4 * math.pi)
    wobble = math.sin(at.timestamp() / 3600 * 0.7 + len(pollutant)) * 0.15
    return round(max(0.0, station.level * (mean + amplitude * cycle) * (1 + wobble)), 1)


def air_quality_entity(station: Station, *, city: str, at: datetime) -> dict[str, Any]:
    """The AirQualityObserved entity of ``station`` with its values of the hour ``at``."""
    when = _timestamp(at)
    entity: dict[str, Any] = {
        "id": air_quality_id(station, city),
        "type": "AirQualityObserved",
        "name": {"type": "Property", "value": station.name},
        "dateObserved": {"type": "Property", "value": {"@type": "DateTime", "@value": when}},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [station.longitude, station.latitude]}},
        "typeofLocation": {"type": "Property", "value": "outdoor"},
        "description": {"type": "Property", "value": "Hourly concentrations. " + ILLUSTRATIVE},
        "@context": [AIR_QUALITY_CONTEXT],
    }
    for pollutant in POLLUTANTS:
        entity[pollutant] = {"type": "Property", "value": air_quality_value(station, pollutant, at),
                             "unitCode": MICROGRAMS_PER_M3, "observedAt": when}
    return entity


def air_quality_history(station: Station, *, city: str, hours: list[datetime]) -> dict[str, Any]:
    """The temporal representation (CIM 009 clause 5.6.11) of ``station`` over ``hours``: one
    instance per hour and pollutant."""
    entity: dict[str, Any] = {"id": air_quality_id(station, city), "type": "AirQualityObserved",
                              "@context": [AIR_QUALITY_CONTEXT]}
    for pollutant in POLLUTANTS:
        entity[pollutant] = [{"type": "Property", "value": air_quality_value(station, pollutant, at),
                              "unitCode": MICROGRAMS_PER_M3, "observedAt": _timestamp(at)} for at in hours]
    return entity


def air_quality_id(station: Station, city: str) -> str:
    return f"urn:ngsi-ld:AirQualityObserved:{city}-{station.slug}"


def hourly(end: datetime, count: int) -> list[datetime]:
    """``count`` whole hours up to and including the hour of ``end``, oldest first."""
    last = end.replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=count - 1 - i) for i in range(count)]


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")
