"""The demo's documents, without a platform: every entity, plan, dataset and offer conforms to
its PPI, and the generated values are the same on every run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import ppi_schemas
from mims.cli.demo import catalogue, rotterdam
from mims.cli.demo.city import CityDemo
from mims.cli.demo.commands import CITY_NAMES
from mims.cli.demo.seed import CITIES
from mims.cli.demo.smart_data_models import (
    air_quality_history,
    air_quality_value,
    hourly,
)

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
ENTITY_PPIS = {"Building": "sdm-building@1.0.0", "OffStreetParking": "sdm-offstreet-parking@1.0.0",
               "AirQualityObserved": "sdm-air-quality-observed@1.0.0"}


@pytest.fixture(scope="module", params=CITY_NAMES)
def demo(request: pytest.FixtureRequest) -> CityDemo:
    return CITIES[request.param](NOW, "http://127.0.0.1:8000")


def test_every_city_of_the_region_has_its_demo_and_no_other() -> None:
    assert set(CITIES) == set(CITY_NAMES)
    assert all(CITIES[name](NOW, "http://127.0.0.1:8000").name == name for name in CITY_NAMES)


def test_entities_conform_to_their_smart_data_models_ppi(demo: CityDemo) -> None:
    for layer in demo.layers:
        # The parcels come from the kit's tested converter: a sample of them will do.
        for entity in layer.entities[:50]:
            ppi = ENTITY_PPIS.get(entity["type"], "ngsi-ld-entity@1.0.0")
            assert ppi_schemas.validate(entity, ppi) == [], (layer.kind, entity["id"])


def test_zoning_plans_and_datasets_conform(demo: CityDemo) -> None:
    for plan in demo.zoning_plans:
        assert ppi_schemas.validate(plan, "zoning-plan@1.0.0") == []
    for entry in demo.datasets:
        assert ppi_schemas.validate(entry.document, "dcat-dataset@1.0.0") == [], entry.title
        for role in entry.offers:
            document = catalogue.offer(entry, role, "https://example.org/dataset/1", "https://example.org")
            assert ppi_schemas.validate(document, "odrl-offer@1.0.0") == [], (entry.title, role)


def test_rotterdam_has_an_open_and_a_restricted_offer() -> None:
    roles = [role for entry in rotterdam.demo(NOW, "http://gw").datasets for role in entry.offers]
    assert catalogue.OPEN in roles and catalogue.RESTRICTED in roles


def test_the_illustrative_plan_says_so_and_is_in_force() -> None:
    plan = rotterdam.zoning_plan()
    assert "Illustratief" in plan["name"] and "geen rechtskracht" in plan["name"]
    assert plan["status"] == "vastgesteld"
    kinds = {m["kind"] for feature in plan["features"] for m in feature["measurements"]}
    assert kinds == {"max_height", "max_coverage_pct"}


def test_air_quality_history_is_48_distinct_hours_and_deterministic() -> None:
    station = rotterdam.STATIONS[0]
    hours = hourly(NOW, 48)
    assert len(set(hours)) == 48 and hours[-1] == NOW.replace(minute=0)
    history = air_quality_history(station, city="rotterdam", hours=hours)
    assert len(history["no2"]) == 48
    assert history == air_quality_history(station, city="rotterdam", hours=hours)
    values = {air_quality_value(station, "no2", at) for at in hours}
    assert len(values) > 10 and all(value >= 0 for value in values)


def test_offer_uids_are_stable() -> None:
    [first, second] = [catalogue.DatasetEntry({"title": {"en": "Parcels"}}) for _ in range(2)]
    assert catalogue.offer_uid(first, catalogue.OPEN) == catalogue.offer_uid(second, catalogue.OPEN)
    assert catalogue.offer_uid(first, catalogue.OPEN) != catalogue.offer_uid(first, catalogue.RESTRICTED)
