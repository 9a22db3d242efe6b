"""The precompiled fast path gives exactly pyld's expansion and compaction, or defers to pyld.

Equality is checked on canonical JSON (sorted keys, types preserved: 1, 1.0 and true differ), and
an input pyld rejects must be rejected the same way.
"""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from ppi_schemas import catalogue
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL, DocumentLoader, compact, expand
from ppi_schemas.jsonld.api import fast_path
from ppi_schemas.jsonld.fastpath import Unsupported

SDM_DIR = Path(__file__).parent / "data" / "smart-data-models"
SDM_EXAMPLES = sorted(SDM_DIR.glob("*/example-normalized.jsonld"))
ENTITY_CONTEXT_URL = catalogue().get("ngsi-ld-entity", "1.0.0").context_url
SDM_BUILDING_URL = "https://raw.githubusercontent.com/smart-data-models/dataModel.Building/master/context.jsonld"
EXAMPLE_TERMS = {
    "ex": "https://example.org/",
    "brand": {"@id": "https://example.org/brand", "@language": "nl"},
    "tags": {"@id": "https://example.org/tags", "@container": "@set"},
    "path": {"@id": "https://example.org/path", "@container": "@list"},
    "homepage": {"@id": "https://example.org/homepage", "@type": "@id"},
    "colour": {"@id": "https://example.org/colour", "@type": "@vocab"},
    "size": {"@id": "https://example.org/size", "@type": "https://example.org/Size"},
    "label": {"@id": "https://example.org/label", "@container": "@language"},
    "nothing": None,
    "alsoTags": "https://example.org/tags",
    "ex:custom": {"@id": "https://example.org/custom", "@type": "@id"},
    "schema": "https://schema.org/",
    "temperature": {"@id": "https://example.org/temperature", "@type": "https://example.org/Celsius"},
    "x": {"@id": "https://example.org/x", "@container": ["@list"], "@language": None},
}


@pytest.fixture(scope="module")
def loader() -> DocumentLoader:
    return DocumentLoader(preload_dir=SDM_DIR, allow_remote=False)


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def outcome(function: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", canonical(function(*args, **kwargs))
    except jsonld.JsonLdError as exc:
        return "error", exc.type
    except (TypeError, AttributeError) as exc:  # pyld crashes on some invalid input; so must we
        return "crash", type(exc).__name__


def assert_same_as_pyld(document: Any, context: Any, loader: DocumentLoader) -> None:
    assert outcome(expand, document, loader=loader) == outcome(expand, document, loader=loader, fast=False)
    assert outcome(compact, document, context, loader=loader) == outcome(
        compact, document, context, loader=loader, fast=False
    )
    expanded = outcome(expand, document, loader=loader, fast=False)
    if expanded[0] == "ok":
        reexpanded = orjson.loads(expanded[1])
        assert outcome(compact, reexpanded, context, loader=loader) == outcome(
            compact, reexpanded, context, loader=loader, fast=False
        )


def entity_examples() -> list[Any]:
    ppi = catalogue().get("ngsi-ld-entity", "1.0.0")
    return [pytest.param(example.payload, id=example.name) for example in ppi.examples_valid]


@pytest.mark.parametrize("entity", entity_examples())
@pytest.mark.parametrize("context", [NGSI_LD_CORE_CONTEXT_URL, ENTITY_CONTEXT_URL, [ENTITY_CONTEXT_URL]])
def test_every_valid_ngsi_ld_entity_example_matches_pyld(entity: Any, context: Any, loader: DocumentLoader) -> None:
    document = entity if "@context" in entity else {**entity, "@context": NGSI_LD_CORE_CONTEXT_URL}
    assert_same_as_pyld(document, context, loader)


def test_valid_ngsi_ld_entity_examples_take_the_fast_path(loader: DocumentLoader) -> None:
    engine = fast_path(loader)
    for example in catalogue().get("ngsi-ld-entity", "1.0.0").examples_valid:
        document = {"@context": NGSI_LD_CORE_CONTEXT_URL, **example.payload}
        engine.compact(engine.expand(document), NGSI_LD_CORE_CONTEXT_URL)


@pytest.mark.parametrize("path", SDM_EXAMPLES, ids=lambda path: path.parent.name)
def test_smart_data_models_normalized_examples_match_pyld(path: Path, loader: DocumentLoader) -> None:
    document = json.loads(path.read_text())
    engine = fast_path(loader)
    engine.compact(engine.expand(document), document["@context"])  # handled without falling back
    assert_same_as_pyld(document, document["@context"], loader)
    assert_same_as_pyld(document, [NGSI_LD_CORE_CONTEXT_URL, *document["@context"]], loader)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param({"@context": {"@vocab": "https://e.org/", "p": {"@context": {"q": "https://f.org/q"}}},
                      "p": {"q": 1}}, id="property-scoped-context"),
        pytest.param({"@context": {"@vocab": "https://e.org/", "T": {"@context": {"q": "https://f.org/q"}}},
                      "@type": "T", "q": 1}, id="type-scoped-context"),
        pytest.param({"@context": {"@vocab": "https://e.org/", "up": {"@reverse": "https://e.org/down"}},
                      "@id": "https://e.org/a", "up": {"@id": "https://e.org/b"}}, id="reverse"),
        pytest.param({"@context": {"@vocab": "https://e.org/", "meta": "@nest"},
                      "@id": "https://e.org/a", "meta": {"p": 1}}, id="nest"),
        pytest.param({"@context": {"@vocab": "https://e.org/"},
                      "@graph": [{"@id": "https://e.org/a", "p": 1}, {"@id": "https://e.org/b", "p": 2}]}, id="graph"),
        pytest.param({"@context": NGSI_LD_CORE_CONTEXT_URL, "id": "urn:a",
                      "p": {"@context": {"value": "https://e.org/v"}, "value": 1}}, id="embedded-context"),
        pytest.param({"@context": NGSI_LD_CORE_CONTEXT_URL, "id": "relative/id", "p": 1}, id="relative-iri"),
        pytest.param({"@context": {"@vocab": "https://e.org/", "m": {"@container": "@index"}},
                      "@id": "https://e.org/a", "m": {"x": {"p": 1}}}, id="index-map"),
        pytest.param({"@context": NGSI_LD_CORE_CONTEXT_URL, "id": "urn:a", "@id": "urn:b"}, id="colliding-keywords"),
        pytest.param({"@context": NGSI_LD_CORE_CONTEXT_URL, "id": "urn:a", "p": {"@value": 1, "q": 2}},
                     id="invalid-value-object"),
    ],
)
def test_constructs_outside_the_fast_path_fall_back_to_pyld(document: Any, loader: DocumentLoader) -> None:
    engine = fast_path(loader)
    with pytest.raises(Unsupported):
        engine.compact(engine.expand(document), document["@context"])
    assert_same_as_pyld(document, document["@context"], loader)


# -- generated entities --------------------------------------------------------------------

ATTRIBUTE_NAMES = st.sampled_from(
    [
        "temperature", "name", "description", "location", "address", "category", "brand", "tags", "path",
        "homepage", "colour", "size", "label", "nothing", "ex:custom", "ngsi-ld:custom", "schema:name",
        "https://example.org/full", "@unknown", "value", "object", "floorsAboveGround", "owner", "x", "alsoTags",
    ]
)
TYPE_NAMES = st.sampled_from(
    ["Building", "AirQualityObserved", "ex:Thing", "https://example.org/T", "Property", "Point", "@json", "T"]
)
IDS = st.sampled_from(
    ["urn:ngsi-ld:Thing:1", "urn:ngsi-ld:Person:x", "https://example.org/a", "ex:b", "ngsi-ld:c", "_:b0", "relative"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    IDS,
    TYPE_NAMES,
)
KEYWORD_KEYS = st.sampled_from(["type", "id", "@id", "@type"])
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.one_of(ATTRIBUTE_NAMES, KEYWORD_KEYS), children, max_size=3),
    max_leaves=8,
)
POSITION = st.lists(st.integers(0, 9), min_size=2, max_size=2)
POINT = st.lists(st.floats(-90, 90), min_size=2, max_size=2)
RING = st.lists(POSITION, max_size=4)
GEOMETRY = st.one_of(
    st.fixed_dictionaries({"type": st.just("Point"), "coordinates": POINT}),
    st.fixed_dictionaries({"type": st.just("Polygon"), "coordinates": st.lists(RING, max_size=2)}),
)


def _with_extras(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    extras = st.fixed_dictionaries(
        {},
        optional={
            "observedAt": st.just("2026-11-20T11:00:00Z"),
            "unitCode": st.sampled_from(["CEL", "GQ"]),
            "datasetId": st.sampled_from(["urn:ngsi-ld:Dataset:a", "urn:ngsi-ld:Dataset:b"]),
            "measurementMethod": st.just({"type": "Property", "value": "sensor"}),
            "providedBy": st.just({"type": "Relationship", "object": "urn:ngsi-ld:Device:1"}),
        },
    )
    return extras.map(lambda extra: {**base, **extra})


ATTRIBUTE = st.one_of(
    st.builds(lambda v: {"type": "Property", "value": v}, JSON).flatmap(_with_extras),
    st.builds(lambda v: {"type": "Property", "value": v}, st.sampled_from(
        [{"@type": "DateTime", "@value": "2018-09-21T12:00:00Z"}, {"@value": "hallo", "@language": "nl"}, {"@value": 3}]
    )),
    st.builds(lambda o: {"type": "Relationship", "object": o}, st.one_of(IDS, st.lists(IDS, max_size=3))).flatmap(
        _with_extras
    ),
    st.builds(lambda g: {"type": "GeoProperty", "value": g}, GEOMETRY),
    st.builds(
        lambda m: {"type": "LanguageProperty", "languageMap": m},
        st.dictionaries(
            st.sampled_from(["nl", "en", "EN", "@none"]),
            st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=2)),
            max_size=3,
        ),
    ),
    st.builds(lambda v: {"type": "VocabProperty", "vocab": v}, st.one_of(TYPE_NAMES, st.lists(TYPE_NAMES, max_size=2))),
    st.builds(lambda j: {"type": "JsonProperty", "json": j}, JSON),
    st.builds(
        lambda v: {"type": "ListProperty", "valueList": v},
        st.lists(st.one_of(SCALARS, st.lists(SCALARS, max_size=2)), max_size=3),
    ),
    st.builds(
        lambda o: {"type": "ListRelationship", "objectList": [{"object": i} for i in o]}, st.lists(IDS, max_size=3)
    ),
    JSON,
)
CONTEXTS = st.sampled_from(
    [
        NGSI_LD_CORE_CONTEXT_URL,
        [NGSI_LD_CORE_CONTEXT_URL],
        ENTITY_CONTEXT_URL,
        [EXAMPLE_TERMS, NGSI_LD_CORE_CONTEXT_URL],
        [NGSI_LD_CORE_CONTEXT_URL, EXAMPLE_TERMS],
        [SDM_BUILDING_URL, NGSI_LD_CORE_CONTEXT_URL],
        SDM_BUILDING_URL,
        {**EXAMPLE_TERMS, "@language": "en", "id": "@id", "type": "@type"},
        {**EXAMPLE_TERMS, "@vocab": "https://example.org/v/", "@language": "de"},
    ]
)
ENTITIES = st.builds(
    lambda context, id_, type_, attributes: {"@context": context, "id": id_, "type": type_, **attributes},
    CONTEXTS,
    IDS,
    st.one_of(TYPE_NAMES, st.lists(TYPE_NAMES, max_size=2)),
    st.dictionaries(ATTRIBUTE_NAMES, st.one_of(ATTRIBUTE, st.lists(ATTRIBUTE, min_size=1, max_size=2)), max_size=6),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity=ENTITIES, target=CONTEXTS)
def test_generated_entities_match_pyld(entity: dict[str, Any], target: Any, loader: DocumentLoader) -> None:
    assert_same_as_pyld(entity, target, loader)


def test_arrays_of_entities_each_with_their_own_context(loader: DocumentLoader) -> None:
    building = json.loads((SDM_DIR / "Building" / "example-normalized.jsonld").read_text())
    entity = {"@context": NGSI_LD_CORE_CONTEXT_URL, "id": "urn:ngsi-ld:Thing:1", "type": "Thing"}
    batch = [entity, building, {"@context": NGSI_LD_CORE_CONTEXT_URL}]
    fast_path(loader).expand(batch)  # handled without falling back
    assert outcome(expand, batch, loader=loader) == outcome(expand, batch, loader=loader, fast=False)
    assert outcome(compact, batch, NGSI_LD_CORE_CONTEXT_URL, loader=loader) == outcome(
        compact, batch, NGSI_LD_CORE_CONTEXT_URL, loader=loader, fast=False
    )


def test_base_and_wrapped_contexts_match_pyld(loader: DocumentLoader) -> None:
    relative = {
        "@context": NGSI_LD_CORE_CONTEXT_URL,
        "id": "things/1",
        "type": "Thing",
        "p": {"type": "Property", "value": 1},
    }
    for base in ("https://example.org/city/", None):
        assert outcome(expand, relative, loader=loader, base=base) == outcome(
            expand, relative, loader=loader, base=base, fast=False
        )
    wrapped = {"@context": [NGSI_LD_CORE_CONTEXT_URL, {"p": "https://example.org/p"}]}
    entity = {**relative, "id": "urn:ngsi-ld:Thing:1"}
    assert outcome(compact, entity, wrapped, loader=loader) == outcome(
        compact, entity, wrapped, loader=loader, fast=False
    )
    # "p" was expanded with the core context's @vocab, so it compacts to a CURIE, not the new term
    assert compact(entity, wrapped, loader=loader)["ngsi-ld:default-context/p"] == {"type": "Property", "value": 1}


def test_a_loader_and_its_compiled_contexts_can_be_garbage_collected() -> None:
    short_lived = DocumentLoader(allow_remote=False)
    expand({"@context": NGSI_LD_CORE_CONTEXT_URL, "id": "urn:a", "p": 1}, loader=short_lived)
    gone = weakref.ref(short_lived)
    del short_lived
    gc.collect()
    assert gone() is None
