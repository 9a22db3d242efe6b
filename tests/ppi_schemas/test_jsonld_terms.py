"""unmapped_terms reports every key JSON-LD expansion would silently drop, with its pointer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pyld import jsonld
from test_jsonld_fastpath import ENTITIES

from ppi_schemas import catalogue
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL, DocumentLoader, UnmappedTerm, unmapped_terms

SDM_DIR = Path(__file__).parent / "data" / "smart-data-models"
CONTEXT = {
    "id": "@id",
    "type": "@type",
    "name": "https://schema.org/name",
    "label": {"@id": "https://example.org/label", "@container": "@language"},
    "blob": {"@id": "https://example.org/blob", "@type": "@json"},
    "parts": {"@id": "https://example.org/parts", "@container": "@index"},
    "scoped": {"@id": "https://example.org/scoped", "@context": {"inner": "https://example.org/inner"}},
    "Typed": {"@id": "https://example.org/Typed", "@context": {"typed": "https://example.org/typed"}},
    "dropped": None,
}


@pytest.fixture(scope="module")
def loader() -> DocumentLoader:
    return DocumentLoader(preload_dir=SDM_DIR, allow_remote=False)


def test_ngsi_ld_entity_examples_map_every_term(loader: DocumentLoader) -> None:
    for example in catalogue().get("ngsi-ld-entity", "1.0.0").examples_valid:
        document = {"@context": NGSI_LD_CORE_CONTEXT_URL, **example.payload}
        assert unmapped_terms(document, loader=loader) == [], example.name


def test_context_without_vocab_reports_undeclared_keys(loader: DocumentLoader) -> None:
    building = json.loads((SDM_DIR / "Building" / "example-normalized.jsonld").read_text())
    found = unmapped_terms(building, loader=loader)
    # the Smart Data Models context alone lacks the NGSI-LD core terms "value" and "object"
    assert UnmappedTerm("/owner/object", "object") in found
    assert UnmappedTerm("/address/value", "value") in found
    assert {term.term for term in found} == {"value", "object"}
    building["@context"].append(NGSI_LD_CORE_CONTEXT_URL)
    assert unmapped_terms(building, loader=loader) == []


def test_pointers_scopes_and_opaque_members(loader: DocumentLoader) -> None:
    document = {
        "@context": CONTEXT,
        "id": "urn:a",
        "type": "Typed",
        "name": "kept",
        "typed": "kept by the type-scoped context",
        "typo": 1,
        "dropped": 2,
        "@unknown": 3,
        "a/b~c": 4,
        "label": {"nl": "taal-tag, not a term", "en": "language tag"},
        "blob": {"anything": {"goes": True}},
        "parts": {"index-key": {"name": "ok", "bad": 1}},
        "scoped": {"inner": 1, "outer": 2, "typed": 3},
        "name2": [{"x": 1}],
        "nested": {"@context": {"deep": "https://example.org/deep"}, "deep": 1, "shallow": 2},
    }
    document["list"] = [{"@value": 1}]
    found = unmapped_terms(document, loader=loader)
    assert found == [
        UnmappedTerm("/@unknown", "@unknown"),
        UnmappedTerm("/a~1b~0c", "a/b~c"),
        UnmappedTerm("/dropped", "dropped"),
        UnmappedTerm("/list", "list"),
        UnmappedTerm("/name2", "name2"),
        UnmappedTerm("/name2/0/x", "x"),
        UnmappedTerm("/nested", "nested"),
        UnmappedTerm("/nested/shallow", "shallow"),
        UnmappedTerm("/parts/index-key/bad", "bad"),
        UnmappedTerm("/scoped/outer", "outer"),
        UnmappedTerm("/scoped/typed", "typed"),
        UnmappedTerm("/typo", "typo"),
    ]


def test_payload_is_not_modified(loader: DocumentLoader) -> None:
    document = {"@context": CONTEXT, "id": "urn:a", "typo": {"x": [1]}}
    before = json.dumps(document, sort_keys=True)
    unmapped_terms(document, loader=loader)
    assert json.dumps(document, sort_keys=True) == before


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity=ENTITIES)
def test_outermost_reports_are_exactly_what_pyld_drops(entity: dict[str, Any], loader: DocumentLoader) -> None:
    dropped: list[Any] = []
    try:
        jsonld.expand(entity, loader.pyld_options(base=""), on_property_dropped=dropped.append)
    except jsonld.JsonLdError:
        return  # invalid JSON-LD: pyld stops early, so there is no complete list to compare
    pointers = [term.pointer for term in unmapped_terms(entity, loader=loader)]
    outermost = [p for p in pointers if not any(p.startswith(q + "/") for q in pointers)]
    assert len(outermost) == len(dropped)
