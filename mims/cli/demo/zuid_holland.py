"""South Holland's demo: the real IMRO2012 zoning plan Raadhuisstaete Spijkenisse (Nissewaard),
published to the permit check as it is (its own planstatus), with a catalogue entry."""

from __future__ import annotations

from datetime import datetime

from shapely.geometry import mapping, shape

from mims.cli.demo import catalogue
from mims.cli.demo.catalogue import DatasetEntry, Publisher
from mims.cli.demo.city import CityDemo, bbox_of, data_file
from mims.kit.geo.imro import read_plan
from mims.kit.geo.twin_entities import to_wgs84

CITY = "zuid-holland"
PLAN_FILE = "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml"
PUBLISHER = Publisher("Gemeente Nissewaard", "https://www.nissewaard.nl", "Ruimtelijke ordening", "info@nissewaard.nl")


def demo(now: datetime, gateway: str) -> CityDemo:
    """South Holland's demo (``now`` and ``gateway`` are unused by its static content)."""
    plan = read_plan(data_file(PLAN_FILE))
    area = {"location": {"value": mapping(to_wgs84(shape(plan["geometry"])))}}
    entry = DatasetEntry(catalogue.dataset(
        PUBLISHER, title={"nl": f"Bestemmingsplan {plan['name']}", "en": f"Zoning plan {plan['name']}"},
        description={"nl": f"Het IMRO2012-bestemmingsplan {plan['id']} ({plan['status']}) van {plan['municipality']['name']}.",
                     "en": f"The IMRO2012 zoning plan {plan['id']} ({plan['status']}) of {plan['municipality']['name']}."},
        keywords=["bestemmingsplan", "zoning", "IMRO", "Spijkenisse"], themes=["REGI", "GOVE"],
        bbox=bbox_of([area], 0.0005), license=catalogue.CC0,
        access_url=f"https://www.ruimtelijkeplannen.nl/viewer/view?planidn={plan['id']}"),
        offers=(catalogue.OPEN,))
    return CityDemo(name=CITY, layers=[], zoning_plans=[plan], datasets=[entry])
