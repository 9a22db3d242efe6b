"""The layers more than one city has, each with its catalogue entry: LoD2 buildings and
air-quality stations with their history."""

from __future__ import annotations

from datetime import datetime

from mims.cli.demo import catalogue
from mims.cli.demo.catalogue import DatasetEntry, Publisher
from mims.cli.demo.city import Layer, bbox_of, data_file
from mims.cli.demo.smart_data_models import (
    AIR_QUALITY_TYPE,
    BUILDING_TYPE,
    Station,
    air_quality_entity,
    air_quality_history,
    building_entities,
    hourly,
)

HISTORY_HOURS = 48


def buildings(publisher: Publisher, *, city: str, locality: str, file: str, area: dict[str, str],
              role: str) -> tuple[Layer, DatasetEntry]:
    """The LoD2 buildings of the CityJSON ``file``; ``area`` names the place in nl and en."""
    entities = building_entities(data_file(file), city=city, locality=locality)
    entry = DatasetEntry(catalogue.dataset(
        publisher, title={"nl": f"Gebouwen in {area['nl']} (3D LoD2)", "en": f"Buildings in {area['en']} (3D LoD2)"},
        description={"nl": f"Gebouwen uit het 3D-stadsmodel van {area['nl']}: footprint, hoogte en daktype.",
                     "en": f"Buildings of the 3D city model of {area['en']}: footprint, height and roof type."},
        keywords=["gebouwen", "buildings", "3D", "CityJSON"], themes=["REGI"], bbox=bbox_of(entities),
        conforms_to=["https://smartdatamodels.org/dataModel.Building/Building"],
        digital_twin={"entityTypes": ["Building"], "ppi": "sdm-building@1"}), offers=(role,))
    return Layer("buildings", BUILDING_TYPE, entities), entry


def air_quality(publisher: Publisher, stations: list[Station], *, city: str, area: dict[str, str], now: datetime,
                role: str) -> tuple[Layer, DatasetEntry]:
    """The stations' entities with the values of the hour of ``now``, and the
    :data:`HISTORY_HOURS` - 1 hours before as their temporal history (illustrative values)."""
    hours = hourly(now, HISTORY_HOURS)
    entities = [air_quality_entity(station, city=city, at=hours[-1]) for station in stations]
    histories = [air_quality_history(station, city=city, hours=hours[:-1]) for station in stations]
    entry = DatasetEntry(catalogue.dataset(
        publisher, title={"nl": f"Luchtkwaliteit {area['nl']}", "en": f"Air quality in {area['en']}"},
        description={"nl": f"Uurwaarden van NO2, PM10 en PM2,5 per meetstation, met {HISTORY_HOURS} uur historie "
                           "(illustratieve waarden).",
                     "en": f"Hourly NO2, PM10 and PM2.5 per station, with {HISTORY_HOURS} hours of history "
                           "(illustrative values)."},
        keywords=["luchtkwaliteit", "air quality", "NO2", "fijnstof"], themes=["ENVI", "HEAL"],
        bbox=bbox_of(entities, 0.001),
        conforms_to=["https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"],
        digital_twin={"entityTypes": ["AirQualityObserved"], "ppi": "sdm-air-quality-observed@1"}), offers=(role,))
    return Layer("air quality", AIR_QUALITY_TYPE, entities, histories), entry
