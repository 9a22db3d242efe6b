"""The context MIM's contracts: subscriptions, notifications, registrations and Smart Data Models.

The generic example tests cover each PPI alone; these check what ties them together: the Smart
Data Models PPIs stay faithful to the upstream examples and contexts, resolve offline, and build on
ngsi-ld-entity; notifications agree with subscriptions and carry valid NGSI-LD entities.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ppi_schemas
from ppi_schemas import PPI
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL, DocumentLoader, expand

SDM_DIR = Path(__file__).parent / "data" / "smart-data-models"
SDM = {
    "sdm-building": ("Building", "https://smartdatamodels.org/dataModel.Building/Building"),
    "sdm-offstreet-parking": ("OffStreetParking", "https://smartdatamodels.org/dataModel.Parking/OffStreetParking"),
    "sdm-air-quality-observed": ("AirQualityObserved", "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"),
}
ENTITY_SCHEMA_ID = "https://w3id.org/oup/ppi/ngsi-ld-entity/1.0.0/schema.json"


def refs(node: Any) -> list[str]:
    """Every $ref in a schema, at any depth."""
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


def example(ppi: PPI, name: str) -> Any:
    [payload] = [e.payload for e in ppi.examples_valid + ppi.examples_invalid if e.name == name]
    return payload


def upstream(model: str) -> dict[str, Any]:
    return json.loads((SDM_DIR / model / "example-normalized.jsonld").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(SDM))
def test_sdm_schema_builds_on_ngsi_ld_entity_and_fetches_nothing(name: str) -> None:
    ppi = ppi_schemas.get(f"{name}@1.0.0")
    assert ppi.schema["allOf"][0] == {"$ref": ENTITY_SCHEMA_ID}
    assert refs(ppi.schema)
    assert all(ref.startswith("#/$defs/") or ref == ENTITY_SCHEMA_ID for ref in refs(ppi.schema))
    assert ppi.license == "CC-BY-4.0"
    assert any("smart-data-models" in iri for iri in ppi.based_on)


@pytest.mark.parametrize("name", sorted(SDM))
def test_sdm_context_is_the_model_context_then_the_core_context(name: str) -> None:
    model, _ = SDM[name]
    ppi = ppi_schemas.get(name)
    upstream_context = json.loads((SDM_DIR / model / "context.jsonld").read_text(encoding="utf-8"))["@context"]
    assert ppi.context["@context"] == [upstream_context, NGSI_LD_CORE_CONTEXT_URL]
    assert upstream(model)["@context"][0] in ppi.based_on


@pytest.mark.parametrize("name", ["sdm-building", "sdm-offstreet-parking"])
def test_sdm_valid_example_is_the_upstream_one_with_the_ppi_context(name: str) -> None:
    model, _ = SDM[name]
    ppi = ppi_schemas.get(name)
    shipped = example(ppi, "upstream-normalized")
    assert shipped["@context"] == [ppi.context_url]
    assert {k: v for k, v in shipped.items() if k != "@context"} == {
        k: v for k, v in upstream(model).items() if k != "@context"
    }


def test_air_quality_upstream_example_ships_verbatim_as_invalid_and_corrected_as_valid() -> None:
    ppi = ppi_schemas.get("sdm-air-quality-observed")
    verbatim = upstream("AirQualityObserved")
    assert example(ppi, "upstream-normalized") == verbatim
    pointers = {problem.pointer for problem in ppi_schemas.validate(verbatim, ppi)}
    assert {"/tsp/value", "/windDirection/value", "/dateObserved/value"} <= pointers
    corrected = example(ppi, "upstream-normalized-corrected")
    changed = {key for key in verbatim if key != "@context" and corrected[key] != verbatim[key]}
    assert changed == {"tsp", "windDirection", "dateObserved"}
    assert ppi_schemas.validate(corrected, ppi) == []


@pytest.mark.parametrize("name", sorted(SDM))
def test_sdm_examples_expand_offline_to_the_model_type(name: str) -> None:
    _, type_iri = SDM[name]
    loader = DocumentLoader(allow_remote=False)
    for valid in ppi_schemas.get(name).examples_valid:
        [node] = expand(valid.payload, loader=loader)
        assert node["@type"] == [type_iri], valid.name


@pytest.mark.parametrize("name", sorted(SDM))
def test_sdm_examples_are_valid_ngsi_ld_entities(name: str) -> None:
    for valid in ppi_schemas.get(name).examples_valid:
        assert ppi_schemas.validate(valid.payload, "ngsi-ld-entity@1.0.0") == [], valid.name


def test_date_time_literal_is_accepted_only_where_the_model_has_a_date_time() -> None:
    ppi = ppi_schemas.get("sdm-building")
    entity = example(ppi, "minimal")
    literal = {"type": "Property", "value": {"@type": "DateTime", "@value": "2026-11-21T10:00:00Z"}}
    assert ppi_schemas.is_valid({**entity, "dateCreated": literal}, ppi)
    problems = ppi_schemas.validate({**entity, "floorsAboveGround": literal}, ppi)
    assert [problem.pointer for problem in problems] == ["/floorsAboveGround/value"]


def test_sdm_entity_type_may_be_expanded_or_one_of_several() -> None:
    ppi = ppi_schemas.get("sdm-building")
    entity = example(ppi, "minimal")
    assert ppi_schemas.is_valid({**entity, "type": "https://smartdatamodels.org/dataModel.Building/Building"}, ppi)
    assert ppi_schemas.is_valid({**entity, "type": ["Monument", "Building"]}, ppi)
    assert not ppi_schemas.is_valid({**entity, "type": ["Monument", "Church"]}, ppi)


def test_notification_trigger_reasons_are_the_subscription_triggers() -> None:
    subscription = ppi_schemas.get("ngsi-ld-subscription@1.0.0").schema
    notification = ppi_schemas.get("ngsi-ld-notification@1.0.0").schema
    triggers = subscription["properties"]["notificationTrigger"]["items"]["enum"]
    assert notification["properties"]["triggerReason"]["enum"] == triggers


def test_normalized_notification_carries_valid_ngsi_ld_entities() -> None:
    ppi = ppi_schemas.get("ngsi-ld-notification@1.0.0")
    for name in ("normalized", "entity-deleted"):
        for entity in example(ppi, name)["data"]:
            assert ppi_schemas.validate(entity, "ngsi-ld-entity@1.0.0") == [], name


@pytest.mark.parametrize(
    ("uri", "valid"),
    [
        ("https://example.org/notify", True),
        ("http://127.0.0.1:8080/notify", True),
        ("mqtt://broker.example.org:1883/city/rotterdam", True),
        ("mqtts://user:secret@broker.example.org:8883/topic", True),
        ("ftp://example.org/notify", False),
        ("urn:ngsi-ld:Endpoint:1", False),
        ("https:///notify", False),
    ],
)
def test_subscription_endpoint_schemes(uri: str, valid: bool) -> None:
    payload = {"type": "Subscription", "entities": [{"type": "Building"}], "notification": {"endpoint": {"uri": uri}}}
    assert ppi_schemas.is_valid(payload, "ngsi-ld-subscription@1.0.0") is valid
    assert (ppi_schemas.validate(payload, "ngsi-ld-subscription@1.0.0") == []) is valid


def test_periodic_subscription_needs_no_watched_attributes() -> None:
    payload = {
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "timeInterval": 60,
        "notification": {"endpoint": {"uri": "https://example.org/notify"}},
    }
    assert ppi_schemas.validate(payload, "ngsi-ld-subscription@1.0.0") == []
    without_entities = {key: value for key, value in payload.items() if key != "entities"}
    [problem] = ppi_schemas.validate(without_entities, "ngsi-ld-subscription@1.0.0")
    assert problem.pointer == "/entities"


@pytest.mark.parametrize(
    ("rate", "valid"),
    [("PT1M", True), ("P1DT12H", True), ("PT0.5S", True), ("P2W", True), ("P", False), ("PT", False), ("P1DT", False),
     ("1 minute", False)],
)
def test_registration_refresh_rate_is_an_iso_8601_duration(rate: str, valid: bool) -> None:
    payload = {
        "type": "ContextSourceRegistration",
        "information": [{"propertyNames": ["temperature"]}],
        "endpoint": "https://source.example.org",
        "refreshRate": rate,
    }
    assert ppi_schemas.is_valid(payload, "ngsi-ld-csource-registration@1.0.0") is valid
    assert (ppi_schemas.validate(payload, "ngsi-ld-csource-registration@1.0.0") == []) is valid


def test_registration_properties_of_the_source_take_any_value_but_null() -> None:
    payload = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Building"}]}],
        "endpoint": "https://source.example.org",
        "brandName": "Gemeente Rotterdam",
    }
    assert ppi_schemas.is_valid(payload, "ngsi-ld-csource-registration@1.0.0")
    [problem] = ppi_schemas.validate({**payload, "brandName": None}, "ngsi-ld-csource-registration@1.0.0")
    assert problem.pointer == "/brandName"
