"""Property-based robustness of the NGSI-LD API: no generated request may end in a server error.

Schemathesis generates requests for every operation of the broker's OpenAPI document (bodies
from the PPI schemas it references, parameters as declared, and requests that break them) and
sends them over HTTP to a fresh broker; generation is derandomized, so a run is repeatable. Every
operation that takes a body is fuzzed with bodies, so the OpenAPI rendering of the PPI schemas
must stay within what the generator models; it must also still admit exactly what the PPIs admit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from robustness import server_errors, unavailable_ld_context
from serving import free_port, served

import ppi_schemas
from mims.context.api.openapi import ENTITY, REGISTRATION, SUBSCRIPTION
from mims.context.service import create_app

EXAMPLES_PER_OPERATION = 8
@pytest.fixture(params=["sqlite", "postgresql"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A broker served by uvicorn on a free local port, once per storage engine; remote contexts and sources fail fast."""
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    app = create_app(
        data_dir=tmp_path, database_url=database_url, jsonld_remote=False, csource_timeout=0.5, notification_timeout=0.5
    )
    with served(app, free_port()) as base_url:
        yield base_url


def test_no_operation_answers_a_generated_request_with_a_server_error(broker_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{broker_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    failures, without_body = server_errors(
        broker_url, [(operation, None) for operation in operations], examples=EXAMPLES_PER_OPERATION,
        expected=unavailable_ld_context,
    )
    assert not failures, "\n\n".join(failures)
    assert not without_body, f"no body generated for {without_body}"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Draft202012Validator]:
    """Validators for request body components as the broker's OpenAPI document renders them."""
    app = create_app(data_dir=tmp_path_factory.mktemp("openapi"), jsonld_remote=False)
    components = app.openapi()["components"]

    def validator(component: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"#/components/schemas/{component}", "components": components},
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    return validator


@pytest.mark.parametrize("ppi", [ENTITY, SUBSCRIPTION, REGISTRATION])
def test_rendered_bodies_admit_exactly_the_ppi_examples(rendered: Callable[[str], Draft202012Validator], ppi: str) -> None:
    """The OpenAPI rendering of a PPI schema accepts its valid examples and rejects its invalid ones."""
    contract = ppi_schemas.get(ppi)
    validator = rendered(contract.name)
    for example in contract.examples_valid:
        assert validator.is_valid(example.payload), example.name
    for example in contract.examples_invalid:
        assert not validator.is_valid(example.payload), example.name


def test_rendered_attributes_pick_their_rules_by_type(rendered: Callable[[str], Draft202012Validator]) -> None:
    """The alternatives spelled for the attribute kinds still tie each kind to its own members."""
    attribute = rendered("ngsi-ld-entity.Attribute")
    assert attribute.is_valid({"type": "Property", "value": 1, "unitCode": "MTR"})
    assert attribute.is_valid({"type": "Relationship", "object": "urn:ngsi-ld:Building:1"})
    assert not attribute.is_valid({"type": "Property", "object": "urn:ngsi-ld:Building:1"})
    assert not attribute.is_valid({"type": "Relationship", "value": 1})
    assert not attribute.is_valid({"type": "GeoProperty", "value": {"type": "Point", "coordinates": [[1, 2]]}})
    sub = {"type": "Property", "value": 1, "accuracy": {"type": "Property", "value": 0.1}}
    assert attribute.is_valid(sub)
    assert not attribute.is_valid({**sub, "accuracy": {"type": "Property"}})
