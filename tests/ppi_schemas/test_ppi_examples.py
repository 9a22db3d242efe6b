"""Every shipped example behaves as it claims: valid ones pass, invalid ones fail at their pointer."""

from __future__ import annotations

import re

import pytest

import ppi_schemas
from ppi_schemas import PPI, Example
from ppi_schemas.jsonld import unmapped_terms

CATALOGUE = list(ppi_schemas.catalogue())
VALID = [pytest.param(ppi, example, id=f"{ppi.ref}:{example.name}") for ppi in CATALOGUE for example in ppi.examples_valid]
INVALID = [
    pytest.param(ppi, example, id=f"{ppi.ref}:{example.name}") for ppi in CATALOGUE for example in ppi.examples_invalid
]
RFC6901 = re.compile(r"(/([^~/]|~[01])*)*")


@pytest.mark.parametrize("ppi", CATALOGUE, ids=lambda ppi: ppi.ref)
def test_each_ppi_ships_enough_examples(ppi: PPI) -> None:
    assert len(ppi.examples_valid) >= 3
    assert len(ppi.examples_invalid) >= 4


@pytest.mark.parametrize(("ppi", "example"), VALID)
def test_valid_example_validates(ppi: PPI, example: Example) -> None:
    assert ppi_schemas.validate(example.payload, ppi) == []
    assert ppi_schemas.is_valid(example.payload, ppi)


@pytest.mark.parametrize(("ppi", "example"), INVALID)
def test_invalid_example_fails_at_its_stated_pointer(ppi: PPI, example: Example) -> None:
    assert RFC6901.fullmatch(example.pointer), f"sidecar pointer {example.pointer!r} is not an RFC 6901 pointer"
    assert example.reason
    problems = ppi_schemas.validate(example.payload, ppi)
    assert example.pointer in {problem.pointer for problem in problems}, problems
    assert not ppi_schemas.is_valid(example.payload, ppi)


@pytest.mark.parametrize(("ppi", "example"), VALID)
def test_every_member_of_a_valid_example_maps_to_an_iri(ppi: PPI, example: Example) -> None:
    document = example.payload if "@context" in example.payload else {"@context": ppi.context_url, **example.payload}
    assert unmapped_terms(document) == []


def test_typical_entity_is_the_benchmark_shape() -> None:
    ppi = ppi_schemas.get("ngsi-ld-entity@1.0.0")
    [entity] = [example.payload for example in ppi.examples_valid if example.name == "typical-entity"]
    attributes = {name: value for name, value in entity.items() if name not in {"@context", "id", "type"}}
    assert len(attributes) == 10
    assert attributes["location"]["type"] == "GeoProperty"
    assert attributes["location"]["value"]["type"] == "Point"
    assert any(
        isinstance(member, dict) and member.get("type") == "Property"
        for attribute in attributes.values()
        if attribute["type"] == "Property"
        for member in attribute.values()
    ), "no Property with a sub-property"
