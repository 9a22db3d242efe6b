"""Rotterdam's demo: the real centre parcels (BRK), the Delfshaven LoD2 buildings, an
illustrative zoning plan over both, parking garages and air-quality stations, and their
catalogue entries (with one open and one restricted offer)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
from shapely.geometry import box, mapping

from mims.cli.demo import catalogue, layers
from mims.cli.demo.catalogue import DatasetEntry, Publisher
from mims.cli.demo.city import CityDemo, Layer, bbox_of, data_file
from mims.cli.demo.smart_data_models import (
    PARKING_TYPE,
    Garage,
    Station,
    parking_entities,
)
from mims.kit.geo.plan_input import as_lists
from mims.kit.geo.twin_entities import (
    PARCEL,
    ZONING_PLAN,
    parcel_entities,
    to_wgs84,
    type_iri,
)

CITY = "rotterdam"
PUBLISHER = Publisher("Gemeente Rotterdam", "https://www.rotterdam.nl", "Team Open Data", "opendata@rotterdam.nl")

PLAN_ID = "NL.IMRO.0599.DEMOIllustratief-0001"
PLAN_AREA = (90300.0, 435200.0, 94500.0, 438400.0)
"""EPSG:28992 box around the centre parcels (x 91850-94421) and the Delfshaven buildings (x 90454-91002)."""
DELFSHAVEN_EDGE = 91400.0
"""Easting where the plan's residential west (Delfshaven) meets its mixed-use centre."""

GARAGES = [
    Garage("markthal", "Parkeergarage Markthal", "Binnenrotte", 4.4862, 51.9197, 1170),
    Garage("museumpark", "Parkeergarage Museumpark", "Museumpark", 4.4727, 51.9137, 1150),
    Garage("schouwburgplein", "Parkeergarage Schouwburgplein", "Schouwburgplein", 4.4737, 51.9214, 850),
    Garage("kruisplein", "Parkeergarage Kruisplein", "Kruisplein", 4.4700, 51.9230, 780),
]
STATIONS = [
    Station("statenweg", "Rotterdam Statenweg", 4.4636, 51.9327, 1.1),
    Station("schiedamsevest", "Rotterdam Schiedamsevest", 4.4737, 51.9141, 1.0),
    Station("zwartewaalstraat", "Rotterdam Zwartewaalstraat", 4.4893, 51.8887, 0.9),
]


def zoning_plan() -> dict[str, Any]:
    """An illustrative zoning-plan@1.0.0 over the demo area: residential Delfshaven (at most
    15 m, 60 % coverage) and the mixed-use centre (at most 70 m, 90 % coverage), each wholly a
    building plane. Not a real plan: its name and articles say so."""
    west = box(PLAN_AREA[0], PLAN_AREA[1], DELFSHAVEN_EDGE, PLAN_AREA[3])
    centre = box(DELFSHAVEN_EDGE, PLAN_AREA[1], PLAN_AREA[2], PLAN_AREA[3])
    features: list[dict[str, Any]] = []
    for slug, area, article, name, label, designation, height, coverage in (
        ("wonen-1", west, "3", "Wonen - 1", "W-1", "wonen", 15, 60),
        ("gemengd-1", centre, "4", "Gemengd - 1", "GD-1", "gemengd", 70, 90),
    ):
        geometry = as_lists(mapping(area))
        cites = {"plan": PLAN_ID, "article": article}
        features += [
            {"id": f"demo-{slug}", "kind": "enkelbestemming", "name": name, "label": label, "designation": designation,
             "geometry": geometry, "cites": cites,
             "measurements": [{"kind": "max_coverage_pct", "value": coverage, "unit": "%",
                               "sourceValueType": "maximum bebouwingspercentage (%)"}]},
            {"id": f"demo-{slug}-bouwvlak", "kind": "bouwvlak", "name": "bouwvlak", "zoningAreas": [f"demo-{slug}"],
             "geometry": geometry, "cites": cites, "measurements": []},
            {"id": f"demo-{slug}-hoogte", "kind": "maatvoering", "name": "maximum bouwhoogte (m)",
             "indications": [f"demo-{slug}-bouwvlak"], "geometry": geometry, "cites": cites,
             "measurements": [{"kind": "max_height", "value": height, "unit": "m",
                               "sourceValueType": "maximum bouwhoogte (m)"}]},
        ]
    return {
        "id": PLAN_ID,
        "name": "Illustratief demo-bestemmingsplan Rotterdam Centrum en Delfshaven (geen rechtskracht)",
        "planType": "bestemmingsplan",
        "status": "vastgesteld",
        "date": "2025-01-01",
        "municipality": {"code": "0599", "name": "Gemeente Rotterdam"},
        "crs": "EPSG:28992",
        "geometry": as_lists(mapping(box(*PLAN_AREA))),
        "features": features,
    }


def demo(now: datetime, gateway: str) -> CityDemo:
    """Rotterdam's demo as of ``now`` (the hour of the air-quality and parking values);
    ``gateway`` is the address the catalogue's links name."""
    parcels = parcel_entities(orjson.loads(data_file("rotterdam_centre_parcels.geojson")))
    buildings, buildings_entry = layers.buildings(
        PUBLISHER, city=CITY, locality="Rotterdam", file="rotterdam_delfshaven_lod2.city.json",
        area={"nl": "Delfshaven", "en": "Delfshaven"}, role=catalogue.OPEN)
    parking = parking_entities(GARAGES, city=CITY, locality="Rotterdam", observed_at=now)
    air, air_entry = layers.air_quality(PUBLISHER, STATIONS, city=CITY, area={"nl": "Rotterdam", "en": "Rotterdam"},
                                        now=now, role=catalogue.OPEN)
    plan = zoning_plan()
    entities_url = f"{gateway}/ngsi-ld/v1/entities?type="
    datasets = [
        DatasetEntry(catalogue.dataset(
            PUBLISHER, title={"nl": "Kadastrale percelen Rotterdam Centrum", "en": "Cadastral parcels of Rotterdam centre"},
            description={"nl": "971 kadastrale percelen (BRK) van Rotterdam Centrum en de Kop van Zuid, in de digital twin.",
                         "en": "971 cadastral parcels (BRK) of Rotterdam centre and Kop van Zuid, in the digital twin."},
            keywords=["percelen", "parcels", "kadaster", "BRK"], themes=["REGI", "GOVE"], bbox=bbox_of(parcels),
            access_url=entities_url + quote(type_iri(PARCEL), safe="")), offers=(catalogue.OPEN,)),
        buildings_entry,
        DatasetEntry(catalogue.dataset(
            PUBLISHER, title={"nl": "Illustratief demo-bestemmingsplan Rotterdam", "en": "Illustrative demo zoning plan of Rotterdam"},
            description={"nl": "Een voor de demo gemaakt bestemmingsplan zonder rechtskracht over Centrum en Delfshaven: "
                               "bestemming, bouwvlak, maximale bouwhoogte en bebouwingspercentage.",
                         "en": "A zoning plan made for the demo, without legal force, over the centre and Delfshaven: "
                               "use, building plane, maximum height and coverage."},
            keywords=["bestemmingsplan", "zoning", "illustrative"], themes=["REGI", "GOVE"],
            bbox=bbox_of([{"location": {"value": mapping(to_wgs84(box(*PLAN_AREA)))}}]),
            access_url=entities_url + quote(type_iri(ZONING_PLAN), safe=""))),
        DatasetEntry(catalogue.dataset(
            PUBLISHER, title={"nl": "Parkeergarages Rotterdam Centrum", "en": "Parking garages of Rotterdam centre"},
            description={"nl": "Parkeergarages met capaciteit en vrije plaatsen (bezetting illustratief).",
                         "en": "Parking garages with capacity and free spaces (occupancy illustrative)."},
            keywords=["parkeren", "parking", "garages"], themes=["TRAN"], bbox=bbox_of(parking, 0.001),
            conforms_to=["https://smartdatamodels.org/dataModel.Parking/OffStreetParking"],
            digital_twin={"entityTypes": ["OffStreetParking"], "ppi": "sdm-offstreet-parking@1"}),
            offers=(catalogue.RESTRICTED,)),
        air_entry,
    ]
    return CityDemo(
        name=CITY,
        layers=[
            Layer("parcels", type_iri(PARCEL), parcels),
            buildings,
            Layer("parking", PARKING_TYPE, parking),
            air,
        ],
        zoning_plans=[plan],
        datasets=datasets,
    )
