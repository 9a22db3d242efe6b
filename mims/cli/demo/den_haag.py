"""The Hague's demo: its LoD2 buildings and air-quality stations, with catalogue entries."""

from __future__ import annotations

from datetime import datetime

from mims.cli.demo import catalogue, layers
from mims.cli.demo.catalogue import Publisher
from mims.cli.demo.city import CityDemo
from mims.cli.demo.smart_data_models import Station

CITY = "den-haag"
PUBLISHER = Publisher("Gemeente Den Haag", "https://www.denhaag.nl", "Team Open Data", "opendata@denhaag.nl")
AREA = {"nl": "Den Haag", "en": "The Hague"}
STATIONS = [
    Station("rebecquestraat", "Den Haag Rebecquestraat", 4.2891, 52.0770, 0.9),
    Station("bleriotlaan", "Den Haag Bleriotlaan", 4.3587, 52.0389, 0.8),
    Station("amsterdamse-veerkade", "Den Haag Amsterdamse Veerkade", 4.3159, 52.0751, 1.1),
]


def demo(now: datetime, gateway: str) -> CityDemo:
    """The Hague's demo as of ``now`` (the hour of the latest air-quality values)."""
    buildings, buildings_entry = layers.buildings(PUBLISHER, city=CITY, locality="Den Haag",
                                                  file="den_haag_lod2.city.json", area=AREA, role=catalogue.OPEN)
    air, air_entry = layers.air_quality(PUBLISHER, STATIONS, city=CITY, area=AREA, now=now, role=catalogue.RESTRICTED)
    return CityDemo(name=CITY, layers=[buildings, air], zoning_plans=[], datasets=[buildings_entry, air_entry])
