"""The PPI compatibility checker: one case per rule in each direction, then whole PPIs."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ppi_schemas import PPI, Catalogue, catalogue, load_catalogue
from ppi_schemas.compat import Change, Compatibility, CompatReport, check, compare_contexts, compare_schemas
from ppi_schemas.compat.model import verdict

FIXTURES = Path(__file__).parent / "fixtures" / "compat"
CLOSED_AB = {"properties": {"a": {}, "b": {}}, "additionalProperties": False}
CLOSED_A = {"properties": {"a": {}}, "additionalProperties": False}
TREE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
        }
    },
    "$ref": "#/$defs/node",
}


def summary(changes: list[Change]) -> list[tuple[str, str, str]]:
    return [(change.rule, change.pointer, change.breaks) for change in changes]


def narrowing_and_widening(
    rule_narrow: str, rule_wide: str, old: Any, new: Any, pointer: str, reverse_pointer: str | None = None
) -> list[Any]:
    """A pair of cases: ``old -> new`` narrows (backward-breaking), ``new -> old`` widens.

    Changes point at the new side's keyword, so a swap of keywords points elsewhere in reverse.
    """
    back = reverse_pointer or pointer
    return [
        pytest.param(old, new, [(rule_narrow, pointer, "backward")], id=f"{rule_narrow}:{pointer}"),
        pytest.param(new, old, [(rule_wide, back, "forward")], id=f"{rule_wide}:{back}"),
    ]


def bound(old: Any, new: Any, pointer: str, reverse_pointer: str | None = None) -> list[Any]:
    return narrowing_and_widening("bound-tightened", "bound-loosened", old, new, pointer, reverse_pointer)


SCHEMA_CASES = [
    *narrowing_and_widening(
        "required-added", "required-removed", {"required": ["a"]}, {"required": ["a", "b"]}, "/required/1"
    ),
    *narrowing_and_widening("property-removed", "property-added", CLOSED_AB, CLOSED_A, "/properties/b"),
    *narrowing_and_widening(
        "property-removed",
        "property-added",
        {"properties": {"a": {}}, "unevaluatedProperties": False},
        {"unevaluatedProperties": False},
        "/properties/a",
    ),
    *narrowing_and_widening(
        "type-narrowed", "type-widened", {"type": ["string", "number"]}, {"type": "string"}, "/type"
    ),
    *narrowing_and_widening("type-narrowed", "type-widened", {"type": "number"}, {"type": "integer"}, "/type"),
    *narrowing_and_widening("type-narrowed", "type-widened", {}, {"type": "object"}, "/type"),
    *narrowing_and_widening("enum-narrowed", "enum-widened", {"enum": ["a", "b"]}, {"enum": ["a"]}, "/enum"),
    *narrowing_and_widening("enum-narrowed", "enum-widened", {}, {"enum": ["a"]}, "/enum"),
    *narrowing_and_widening("const-added", "const-removed", {}, {"const": "Point"}, "/const"),
    *bound({"minimum": 0}, {"minimum": 1}, "/minimum"),
    *bound({"maximum": 9}, {"maximum": 8}, "/maximum"),
    *bound({"exclusiveMinimum": 0}, {"exclusiveMinimum": 1}, "/exclusiveMinimum"),
    *bound({"exclusiveMaximum": 9}, {"exclusiveMaximum": 8}, "/exclusiveMaximum"),
    *bound({"minimum": 0}, {"exclusiveMinimum": 0}, "/exclusiveMinimum", "/minimum"),
    *bound({"maximum": 5}, {"exclusiveMaximum": 5}, "/exclusiveMaximum", "/maximum"),
    *bound({}, {"maximum": 5}, "/maximum"),
    *bound({"minLength": 1}, {"minLength": 2}, "/minLength"),
    *bound({"maxLength": 9}, {"maxLength": 8}, "/maxLength"),
    *bound({}, {"minItems": 1}, "/minItems"),
    *bound({}, {"maxItems": 3}, "/maxItems"),
    *bound({"minProperties": 1}, {"minProperties": 2}, "/minProperties"),
    *bound({"maxProperties": 5}, {"maxProperties": 4}, "/maxProperties"),
    *bound({"contains": {}}, {"contains": {}, "minContains": 2}, "/minContains"),
    *bound({"multipleOf": 2}, {"multipleOf": 4}, "/multipleOf"),
    *bound({"multipleOf": 0.1}, {"multipleOf": 0.2}, "/multipleOf"),
    *bound({}, {"multipleOf": 5}, "/multipleOf"),
    *narrowing_and_widening("pattern-added", "pattern-removed", {}, {"pattern": "^urn:"}, "/pattern"),
    *narrowing_and_widening("format-added", "format-removed", {}, {"format": "date-time"}, "/format"),
    *narrowing_and_widening("uniqueItems-added", "uniqueItems-removed", {}, {"uniqueItems": True}, "/uniqueItems"),
    *narrowing_and_widening(
        "additionalProperties-narrowed",
        "additionalProperties-widened",
        {"additionalProperties": True},
        {"additionalProperties": False},
        "/additionalProperties",
    ),
    *narrowing_and_widening(
        "additionalProperties-narrowed",
        "additionalProperties-widened",
        {},
        {"additionalProperties": {"type": "string"}},
        "/additionalProperties",
    ),
    *narrowing_and_widening(
        "additionalProperties-narrowed",
        "additionalProperties-widened",
        {"additionalProperties": {"type": "string"}},
        {"additionalProperties": False},
        "/additionalProperties",
    ),
    *narrowing_and_widening(
        "unevaluatedProperties-narrowed",
        "unevaluatedProperties-widened",
        {},
        {"unevaluatedProperties": False},
        "/unevaluatedProperties",
    ),
    *narrowing_and_widening(
        "anyOf-branch-removed",
        "anyOf-branch-added",
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {"anyOf": [{"type": "null"}]},
        "/anyOf/0",
    ),
    *narrowing_and_widening(
        "allOf-branch-added",
        "allOf-branch-removed",
        {"allOf": [{"minimum": 0}]},
        {"allOf": [{"minimum": 0}, {"maximum": 9}]},
        "/allOf/1",
    ),
    *narrowing_and_widening("anyOf-added", "anyOf-removed", {}, {"anyOf": [{"type": "string"}]}, "/anyOf"),
    *narrowing_and_widening("not-added", "not-removed", {}, {"not": {"type": "null"}}, "/not"),
    *narrowing_and_widening("contains-added", "contains-removed", {}, {"contains": {"const": 1}}, "/contains"),
    *narrowing_and_widening("false-schema-added", "false-schema-removed", {"items": True}, {"items": False}, "/items"),
    pytest.param(
        {"type": "string"},
        {"type": "number"},
        [("type-narrowed", "/type", "backward"), ("type-widened", "/type", "forward")],
        id="type-replaced",
    ),
    pytest.param({"const": "a"}, {"const": "b"}, [("const-changed", "/const", "both")], id="const-changed"),
    pytest.param(
        {"enum": [True]},
        {"enum": [1]},
        [("enum-narrowed", "/enum", "backward"), ("enum-widened", "/enum", "forward")],
        id="enum-true-is-not-1",
    ),
    pytest.param(
        {"multipleOf": 2}, {"multipleOf": 3}, [("bound-changed", "/multipleOf", "both")], id="multipleOf-unordered"
    ),
    pytest.param(
        {"pattern": "^a"}, {"pattern": "^[a]"}, [("pattern-changed", "/pattern", "both")], id="pattern-changed"
    ),
    pytest.param({"format": "uri"}, {"format": "iri"}, [("format-changed", "/format", "both")], id="format-changed"),
    pytest.param(
        {"if": {"type": "string"}},
        {"if": {"type": "number"}},
        [("keyword-unanalysed", "/if", "both")],
        id="if-changed-is-unanalysed",
    ),
    pytest.param(
        {"dependentRequired": {"a": ["b"]}},
        {"dependentRequired": {"a": ["c"]}},
        [("keyword-unanalysed", "/dependentRequired", "both")],
        id="dependentRequired-unanalysed",
    ),
    pytest.param(
        {"$ref": "https://example.org/a.json"},
        {"$ref": "https://example.org/b.json"},
        [("ref-changed", "/$ref", "both")],
        id="external-ref-changed",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), SCHEMA_CASES)
def test_schema_rule(old: Any, new: Any, expected: list[tuple[str, str, str]]) -> None:
    assert summary(compare_schemas(old, new)) == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param({"enum": ["a", "b"]}, {"type": "string", "enum": ["b", "a"]}, id="type-implied-by-enum"),
        pytest.param({"enum": [1]}, {"enum": [1.0]}, id="json-number-equality"),
        pytest.param({"minItems": 0, "minContains": 1}, {}, id="defaults-are-no-bound"),
        pytest.param({"maximum": 5, "exclusiveMaximum": 5}, {"exclusiveMaximum": 5}, id="same-effective-bound"),
        pytest.param({"title": "A", "description": "x", "x-note": 1}, {"title": "B"}, id="annotations-ignored"),
        pytest.param(
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
            {"anyOf": [{"type": "null"}, {"type": "string"}]},
            id="branches-matched-by-equality",
        ),
        pytest.param(
            {"additionalProperties": True}, {"additionalProperties": {"description": "anything"}}, id="open-is-open"
        ),
        pytest.param(
            {"$ref": "https://example.org/a.json"}, {"$ref": "https://example.org/a.json"}, id="same-external-ref"
        ),
        pytest.param(TREE, TREE, id="recursive-schema-against-itself"),
        pytest.param({"$ref": "#"}, {"$ref": "#"}, id="reference-cycle-without-content"),
        pytest.param(
            {"properties": {"a": {"type": "string"}}},
            {
                "properties": {"a": {"$ref": "#/$defs/s"}},
                "$defs": {"s": {"type": "string", "title": "moved into $defs"}},
            },
            id="inline-moved-to-defs",
        ),
    ],
)
def test_equivalent_schemas_have_no_changes(old: Any, new: Any) -> None:
    assert compare_schemas(old, new) == []


def test_pointer_follows_nested_properties() -> None:
    old = {"properties": {"location": {"properties": {"type": {"enum": ["Point", "Polygon"]}}}}}
    new = {"properties": {"location": {"properties": {"type": {"enum": ["Point"]}}}}}
    [change] = compare_schemas(old, new)
    assert (change.rule, change.pointer) == ("enum-narrowed", "/properties/location/properties/type/enum")
    assert "Polygon" in change.message


def test_pointer_escapes_property_names() -> None:
    old = {"properties": {"a/b~c": {"type": "string"}}}
    new = {"properties": {"a/b~c": {"type": "string", "maxLength": 2}}}
    assert summary(compare_schemas(old, new)) == [("bound-tightened", "/properties/a~1b~0c/maxLength", "backward")]


def test_items_and_prefix_items_recurse_with_their_pointers() -> None:
    old = {"prefixItems": [{"type": "number"}, {"type": "number"}], "items": {"type": "string"}}
    new = {"prefixItems": [{"type": "number"}, {"type": "integer"}], "items": {"type": "string", "maxLength": 3}}
    assert summary(compare_schemas(old, new)) == [
        ("type-narrowed", "/prefixItems/1/type", "backward"),
        ("bound-tightened", "/items/maxLength", "backward"),
    ]


def test_extending_a_closed_tuple_widens_it() -> None:
    old = {"prefixItems": [{"type": "number"}], "items": False}
    new = {"prefixItems": [{"type": "number"}, {"type": "number"}], "items": False}
    assert summary(compare_schemas(old, new)) == [("false-schema-removed", "/prefixItems/1", "forward")]


def test_local_ref_to_defs_is_followed_and_reported_where_used() -> None:
    def schema(point: dict) -> dict:
        return {
            "$id": "https://w3id.org/oup/ppi/x/1.0.0/schema.json",
            "properties": {
                "location": {"$ref": "#/$defs/Point"},
                "area": {"$ref": "https://w3id.org/oup/ppi/x/1.0.0/schema.json#/$defs/Point"},
            },
            "$defs": {"Point": point},
        }

    old = schema({"properties": {"type": {"const": "Point"}, "coordinates": {"minItems": 2}}})
    new = schema({"properties": {"type": {"const": "Point"}, "coordinates": {"minItems": 2, "maxItems": 3}}})
    assert summary(compare_schemas(old, new)) == [
        ("bound-tightened", "/properties/location/properties/coordinates/maxItems", "backward"),
        ("bound-tightened", "/properties/area/properties/coordinates/maxItems", "backward"),
    ]


def test_cyclic_refs_terminate_and_report_each_change_once() -> None:
    new = json.loads(json.dumps(TREE))
    new["$defs"]["node"]["properties"]["label"]["minLength"] = 1
    assert summary(compare_schemas(TREE, new)) == [("bound-tightened", "/properties/label/minLength", "backward")]


def test_ref_with_sibling_keywords_applies_both() -> None:
    old = {"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}}
    new = {"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s", "maxLength": 5}}}
    assert summary(compare_schemas(old, new)) == [("bound-tightened", "/properties/a/maxLength", "backward")]


def test_ref_with_siblings_that_read_the_target_stays_a_conjunction() -> None:
    """``additionalProperties`` next to a ``$ref`` does not see the target's ``properties``."""
    defs = {"o": {"properties": {"a": {}}}}
    old = {"$defs": defs, "$ref": "#/$defs/o"}
    new = {"$defs": defs, "$ref": "#/$defs/o", "additionalProperties": False}
    assert summary(compare_schemas(old, new)) == [("allOf-added", "/allOf", "backward")]


def test_adding_a_typed_property_to_an_open_schema_narrows_it() -> None:
    """Old payloads could carry ``a`` with any value; the new schema restricts it."""
    old = {"type": "object", "properties": {}}
    new = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert summary(compare_schemas(old, new)) == [("type-narrowed", "/properties/a/type", "backward")]


def test_removing_a_property_from_an_open_schema_meets_additional_properties() -> None:
    old = {"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string", "maxLength": 9}}
    new = {"properties": {}, "additionalProperties": {"type": "string", "maxLength": 9}}
    assert summary(compare_schemas(old, new)) == [("bound-tightened", "/properties/a/maxLength", "backward")]


def test_pattern_properties_guard_undeclared_members() -> None:
    old = {"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False}
    new = {
        "properties": {"x-note": {"type": "string"}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    }
    assert compare_schemas(old, new) == []


def test_property_removed_from_an_in_place_branch_under_unevaluated_properties_false() -> None:
    old = {"allOf": [{"properties": {"a": {"type": "string"}}}], "unevaluatedProperties": False}
    new = {"allOf": [{"properties": {}}], "unevaluatedProperties": False}
    assert ("property-removed", "/allOf/0/properties/a", "backward") in summary(compare_schemas(old, new))


def test_additional_properties_leaves_nothing_unevaluated() -> None:
    """``additionalProperties: true`` evaluates every member, so ``unevaluatedProperties`` is moot."""
    old = {"unevaluatedProperties": False}
    new = {"unevaluatedProperties": False, "additionalProperties": True}
    assert summary(compare_schemas(old, new)) == [
        ("unevaluatedProperties-widened", "/unevaluatedProperties", "forward")
    ]


def test_members_evaluated_only_by_a_branch_are_not_ordered() -> None:
    old = {"anyOf": [{"properties": {"a": {"type": "string"}}}, {}], "unevaluatedProperties": False}
    new = {"anyOf": [{"properties": {"a": {"type": "string"}}}, {"required": ["b"]}], "unevaluatedProperties": False}
    assert ("keyword-unanalysed", "/unevaluatedProperties", "both") in summary(compare_schemas(old, new))


def test_changed_branch_is_matched_by_position_and_recursed() -> None:
    old = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    new = {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]}
    assert summary(compare_schemas(old, new)) == [("bound-tightened", "/anyOf/0/maxLength", "backward")]


def test_branches_are_matched_by_ref_before_position() -> None:
    defs = {"A": {"type": "string"}, "B": {"type": "number"}}
    old = {"$defs": defs, "oneOf": [{"$ref": "#/$defs/A"}, {"$ref": "#/$defs/B"}]}
    new = {"$defs": {**defs, "B": {"type": "number", "minimum": 0}}, "oneOf": [{"$ref": "#/$defs/B"}]}
    assert summary(compare_schemas(old, new)) == [
        ("bound-tightened", "/oneOf/0/minimum", "backward"),
        ("oneOf-branch-removed", "/oneOf/0", "backward"),
    ]


def test_one_of_with_exclusive_branches_reads_like_any_of() -> None:
    """Disjoint types, or a required discriminator, keep a payload from matching two branches."""
    by_type = compare_schemas({"oneOf": [{"type": "string"}]}, {"oneOf": [{"type": "string"}, {"type": "null"}]})
    assert summary(by_type) == [("oneOf-branch-added", "/oneOf/1", "forward")]

    def variant(name: str, **extra: Any) -> dict[str, Any]:
        return {"required": ["type"], "properties": {"type": {"const": name}, **extra}}

    old = {"oneOf": [variant("Property", value={}), variant("Relationship", object={"type": "string"})]}
    new = {
        "oneOf": [variant("Property", value={}), variant("Relationship", object={"type": "string", "format": "uri"})]
    }
    assert summary(compare_schemas(old, new)) == [("format-added", "/oneOf/1/properties/object/format", "backward")]


def test_one_of_with_overlapping_branches_breaks_both_ways() -> None:
    """Narrowing ``{}`` to null makes ``null`` match one branch instead of two: valid again."""
    changes = compare_schemas({"oneOf": [{}, {}]}, {"oneOf": [{"type": "null"}, {}]})
    assert summary(changes) == [
        ("type-narrowed", "/oneOf/0/type", "backward"),
        ("oneOf-not-exclusive", "/oneOf", "both"),
    ]
    assert "mutually exclusive" in changes[1].message


def test_not_flips_the_direction() -> None:
    old = {"not": {"type": "string"}}
    new = {"not": {"type": ["string", "null"]}}
    assert summary(compare_schemas(old, new)) == [("type-widened", "/not/type", "backward")]
    assert summary(compare_schemas(new, old)) == [("type-narrowed", "/not/type", "forward")]


def test_then_is_compared_under_an_unchanged_if() -> None:
    old = {"if": {"required": ["a"]}, "then": {"required": ["b"]}}
    new = {"if": {"required": ["a"]}, "then": {"required": ["b", "c"]}}
    assert summary(compare_schemas(old, new)) == [("required-added", "/then/required/1", "backward")]


def test_unchanged_pattern_has_no_change_and_changed_pattern_says_why() -> None:
    assert compare_schemas({"pattern": "^urn:"}, {"pattern": "^urn:"}) == []
    [change] = compare_schemas({"pattern": "^urn:"}, {"pattern": "^urn:ngsi-ld:"})
    assert "cannot be proven" in change.message


# -- soundness: a direction the checker calls safe must hold for real payloads ---------------

JSON_TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.5, 1.0, "", "a", "abc"]))
PAYLOADS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=6,
)
SMALL = st.integers(-2, 2)
COUNT = st.integers(0, 2)
IN_PLACE = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(JSON_TYPES)
        | st.lists(st.sampled_from(JSON_TYPES), min_size=1, max_size=3, unique=True),
        "enum": st.lists(SCALARS, min_size=1, max_size=3),
        "const": SCALARS,
        "minimum": SMALL,
        "maximum": SMALL,
        "exclusiveMinimum": SMALL,
        "exclusiveMaximum": SMALL,
        "multipleOf": st.sampled_from([0.5, 1, 2, 3]),
        "minLength": COUNT,
        "maxLength": COUNT,
        "minItems": COUNT,
        "maxItems": COUNT,
        "minProperties": COUNT,
        "maxProperties": COUNT,
        "uniqueItems": st.booleans(),
    },
)


def nesting(inner: st.SearchStrategy) -> st.SearchStrategy:
    closable = st.booleans() | inner
    return st.fixed_dictionaries(
        {},
        optional={
            "properties": st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2),
            "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True),
            "patternProperties": st.dictionaries(st.sampled_from(["^b", "^c"]), inner, max_size=1),
            "additionalProperties": closable,
            "unevaluatedProperties": closable,
            "propertyNames": inner,
            "prefixItems": st.lists(inner, max_size=2),
            "items": closable,
            "contains": inner,
            "anyOf": st.lists(inner, min_size=1, max_size=2),
            "allOf": st.lists(inner, min_size=1, max_size=2),
            "oneOf": st.lists(inner, min_size=1, max_size=3),
            "not": inner,
            "if": inner,
            "then": inner,
        },
    )


SCHEMAS = st.recursive(IN_PLACE, nesting, max_leaves=4)


def subschemas(schema: Any) -> list[dict]:
    if not isinstance(schema, dict):
        return []
    found = [schema]
    for keyword, value in schema.items():
        if keyword in ("properties", "patternProperties"):
            value = list(value.values())
        if keyword in ("properties", "patternProperties", "anyOf", "allOf", "oneOf", "prefixItems"):
            found += [sub for item in value for sub in subschemas(item)]
        elif keyword in (
            "additionalProperties",
            "unevaluatedProperties",
            "items",
            "contains",
            "not",
            "propertyNames",
            "if",
            "then",
        ):
            found += subschemas(value)
    return found


@st.composite
def edited_schemas(draw: st.DrawFn) -> tuple[dict, dict]:
    """A schema and a copy with one or two keywords added, replaced or removed somewhere inside."""
    old = draw(SCHEMAS)
    new = copy.deepcopy(old)
    for _ in range(draw(st.integers(1, 2))):
        target = draw(st.sampled_from(subschemas(new)))
        if target and draw(st.booleans()):
            del target[draw(st.sampled_from(sorted(target)))]
        else:
            donor = draw(IN_PLACE | nesting(IN_PLACE))
            if donor:
                keyword = draw(st.sampled_from(sorted(donor)))
                target[keyword] = donor[keyword]
    return old, new


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_schemas(), st.lists(PAYLOADS, min_size=10, max_size=30))
def test_a_direction_called_safe_holds_for_sample_payloads(schemas: tuple[dict, dict], payloads: list[Any]) -> None:
    old, new = schemas
    changes = compare_schemas(old, new)
    broken = {change.breaks for change in changes}
    accepts_old, accepts_new = Draft202012Validator(old).is_valid, Draft202012Validator(new).is_valid
    for payload in payloads:
        if not broken & {"backward", "both"} and accepts_old(payload):
            assert accepts_new(payload), changes
        if not broken & {"forward", "both"} and accepts_new(payload):
            assert accepts_old(payload), changes


# -- @context ----------------------------------------------------------------------------------


def context(**terms: Any) -> dict[str, Any]:
    return {"@context": terms}


def test_context_term_added_breaks_nothing() -> None:
    assert compare_contexts(context(a="https://ex.org/a"), context(a="https://ex.org/a", b="https://ex.org/b")) == []


def test_context_term_removed_breaks_both() -> None:
    changes = compare_contexts(context(a="https://ex.org/a", b="https://ex.org/b"), context(a="https://ex.org/a"))
    assert summary(changes) == [("context-term-removed", "/@context/b", "both")]


def test_context_term_iri_changed_breaks_both() -> None:
    changes = compare_contexts(context(a="https://ex.org/a"), context(a="https://schema.org/a"))
    assert summary(changes) == [("context-term-iri-changed", "/@context/a", "both")]
    assert "https://ex.org/a" in changes[0].message and "https://schema.org/a" in changes[0].message


def test_context_null_id_unmaps_a_term() -> None:
    changes = compare_contexts(context(a="https://ex.org/a"), context(a={"@id": None}))
    assert summary(changes) == [("context-term-removed", "/@context/a", "both")]


def test_context_compact_iris_are_expanded_before_comparing() -> None:
    old = context(a="https://ex.org/ns#a", b={"@id": "https://ex.org/ns#b"})
    new = context(ex="https://ex.org/ns#", a="ex:a", b={"@id": "ex:b"})
    assert compare_contexts(old, new) == []


def test_context_prefix_change_changes_every_term_built_on_it() -> None:
    old = context(ex="https://ex.org/v1#", a="ex:a")
    new = context(ex="https://ex.org/v2#", a="ex:a")
    assert summary(compare_contexts(old, new)) == [
        ("context-term-iri-changed", "/@context/ex", "both"),
        ("context-term-iri-changed", "/@context/a", "both"),
    ]


def test_context_term_references_and_vocab_are_resolved() -> None:
    old = {"@context": {"@vocab": "https://ex.org/ns#", "name": "label", "label": "https://ex.org/ns#label"}}
    new = {"@context": {"@vocab": "https://ex.org/ns#", "name": "https://ex.org/ns#label", "b": {"@id": "b"}}}
    assert compare_contexts(old, new) == []


def test_context_term_left_to_vocab_keeps_its_meaning_when_removed() -> None:
    old = {"@context": {"@vocab": "https://ex.org/ns#", "a": "https://ex.org/ns#a"}}
    new = {"@context": {"@vocab": "https://ex.org/ns#"}}
    assert compare_contexts(old, new) == []


def test_context_term_shadowing_vocab_changes_meaning() -> None:
    old = {"@context": {"@vocab": "https://ex.org/ns#"}}
    new = {"@context": {"@vocab": "https://ex.org/ns#", "a": "https://schema.org/a"}}
    assert summary(compare_contexts(old, new)) == [("context-term-iri-changed", "/@context/a", "both")]


def test_context_vocab_changed_breaks_both() -> None:
    old = {"@context": {"@vocab": "https://ex.org/v1#"}}
    new = {"@context": {"@vocab": "https://ex.org/v2#"}}
    assert summary(compare_contexts(old, new)) == [("context-vocab-changed", "/@context/@vocab", "both")]


def test_context_coercion_change_breaks_both() -> None:
    old = context(a={"@id": "https://ex.org/a", "@type": "@id"})
    new = context(a={"@id": "https://ex.org/a"})
    [change] = compare_contexts(old, new)
    assert (change.rule, change.breaks) == ("context-term-definition-changed", "both")
    assert "type" in change.message


def test_context_coercion_added_to_a_vocab_term_breaks_both() -> None:
    old = {"@context": {"@vocab": "https://ex.org/ns#"}}
    new = {"@context": {"@vocab": "https://ex.org/ns#", "b": {"@type": "@id"}}}
    assert summary(compare_contexts(old, new)) == [("context-term-definition-changed", "/@context/b", "both")]


def test_remote_contexts_are_compared_as_url_lists() -> None:
    core = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    assert compare_contexts({"@context": core}, {"@context": [core]}) == []
    changes = compare_contexts({"@context": core}, {"@context": core.replace("1.8", "1.9")})
    assert summary(changes) == [("context-url-changed", "/@context", "both")]


def test_context_list_pointers_and_null_reset() -> None:
    core = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    old = {"@context": [core, {"a": "https://ex.org/a", "b": "https://ex.org/b"}]}
    new = {"@context": [core, {"a": "https://ex.org/a"}]}
    assert summary(compare_contexts(old, new)) == [("context-term-removed", "/@context/1/b", "both")]
    reset = {"@context": [{"b": "https://ex.org/b"}, None, core, {"a": "https://ex.org/a"}]}
    assert compare_contexts(new, reset) == []


# -- verdicts and reports -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breaks", "expected"),
    [
        ([], Compatibility.FULL),
        (["forward"], Compatibility.BACKWARD),
        (["backward", "backward"], Compatibility.FORWARD),
        (["backward", "forward"], Compatibility.BREAKING),
        (["both"], Compatibility.BREAKING),
    ],
)
def test_verdict_follows_from_the_broken_directions(breaks: list[str], expected: Compatibility) -> None:
    changes = [Change("rule", "", "message", direction) for direction in breaks]  # type: ignore[arg-type]
    result = verdict(changes)
    assert result is expected
    report = CompatReport("a@1.0.0", "a@1.1.0", result, changes, [])
    assert report.backward == (expected in (Compatibility.FULL, Compatibility.BACKWARD))
    assert report.forward == (expected in (Compatibility.FULL, Compatibility.FORWARD))


@pytest.fixture(scope="module")
def fixture_catalogue() -> Catalogue:
    return load_catalogue(FIXTURES)


def sensor(fixtures: Catalogue, version: str) -> PPI:
    return fixtures.get("sensor-reading", version)


def test_fixture_examples_match_their_own_version(fixture_catalogue: Catalogue) -> None:
    """The empirical pass is only meaningful if OLD's examples are valid under OLD."""
    for ppi in fixture_catalogue:
        assert check(ppi, ppi).verdict is Compatibility.FULL
        assert check(ppi, ppi).changes == []


def test_check_compatible_minor(fixture_catalogue: Catalogue) -> None:
    report = check(sensor(fixture_catalogue, "1.0.0"), sensor(fixture_catalogue, "1.1.0"))
    assert (report.old, report.new) == ("sensor-reading@1.0.0", "sensor-reading@1.1.0")
    assert report.verdict is Compatibility.BACKWARD
    assert report.backward and not report.forward
    assert report.example_failures == []
    assert summary(report.changes) == [
        ("required-removed", "/required/2", "forward"),
        ("bound-loosened", "/properties/value/maximum", "forward"),
        ("enum-widened", "/properties/unit/enum", "forward"),
        ("property-added", "/properties/quality", "forward"),
    ]


def test_check_breaking_minor(fixture_catalogue: Catalogue) -> None:
    report = check(sensor(fixture_catalogue, "1.1.0"), sensor(fixture_catalogue, "1.2.0"))
    assert report.verdict is Compatibility.BREAKING
    assert not report.backward and not report.forward
    rules = {change.rule for change in report.changes}
    assert {
        "required-added",
        "type-narrowed",
        "property-removed",
        "context-term-iri-changed",
        "context-term-removed",
        "example-rejected",
    } <= rules
    assert len(report.example_failures) == 3
    full = next(failure for failure in report.example_failures if failure.startswith("examples/valid/full.json"))
    assert "/value: 21.5 is not of type 'integer'" in full
    assert "/observedAt" in full
    rejected = [change for change in report.changes if change.rule == "example-rejected"]
    assert {change.breaks for change in rejected} == {"backward"}


def write_ppi(root: Path, version: str, schema: dict[str, Any], valid: dict[str, Any]) -> None:
    folder = root / "reading" / version
    (folder / "examples" / "valid").mkdir(parents=True)
    (root / "reading" / "CHANGELOG.md").write_text("# reading\n", encoding="utf-8")
    metadata = json.loads((FIXTURES / "sensor-reading" / "1.0.0" / "ppi.json").read_text(encoding="utf-8"))
    metadata.update(
        name="reading", version=version, contextUrl=f"https://w3id.org/oup/ppi/reading/{version}/context.jsonld"
    )
    schema = {"$id": f"https://w3id.org/oup/ppi/reading/{version}/schema.json", **schema}
    documents = {"ppi.json": metadata, "schema.json": schema, "context.jsonld": context(v="https://ex.org/v")}
    for name, document in documents.items():
        (folder / name).write_text(json.dumps(document), encoding="utf-8")
    for name, payload in valid.items():
        (folder / "examples" / "valid" / f"{name}.json").write_text(json.dumps(payload), encoding="utf-8")


def test_empirical_pass_rejections_break_backward_compatibility(tmp_path: Path) -> None:
    """Identical schemas, but an example OLD ships as valid fails under NEW: that alone breaks."""
    schema = {"properties": {"v": {"type": "string"}}}
    write_ppi(tmp_path, "1.0.0", schema, {"five": {"v": 5}, "text": {"v": "5"}})
    write_ppi(tmp_path, "1.1.0", schema, {"text": {"v": "5"}})
    readings = load_catalogue(tmp_path)
    old, new = readings.get("reading", "1.0.0"), readings.get("reading", "1.1.0")
    assert compare_schemas(old.schema, new.schema) == []
    report = check(old, new)
    assert report.verdict is Compatibility.FORWARD
    assert report.example_failures == ["examples/valid/five.json: /v: 5 is not of type 'string'"]
    [change] = report.changes
    assert (change.rule, change.pointer, change.breaks) == ("example-rejected", "/properties/v/type", "backward")


# -- the catalogue ------------------------------------------------------------------------------


def incompatible_minor_versions(ppis: Catalogue) -> list[str]:
    """Every version that keeps its predecessor's major yet is not backward compatible with it."""
    failures = []
    for name in ppis.names():
        versions = [ppis.get(name, version) for version in ppis.versions(name)]
        for previous, current in itertools.pairwise(versions):
            if current.major == previous.major:
                report = check(previous, current)
                if not report.backward:
                    reasons = "; ".join(f"{change.rule} at {change.pointer or '/'}" for change in report.changes)
                    failures.append(f"{previous.ref} -> {current.ref}: {report.verdict}: {reasons}")
    return failures


def test_every_minor_version_in_the_catalogue_is_backward_compatible() -> None:
    assert incompatible_minor_versions(catalogue()) == []


def test_minor_version_rule_catches_a_breaking_minor(fixture_catalogue: Catalogue) -> None:
    [failure] = incompatible_minor_versions(fixture_catalogue)
    assert failure.startswith("sensor-reading@1.1.0 -> sensor-reading@1.2.0: breaking: ")


def test_every_shipped_ppi_is_fully_compatible_with_itself() -> None:
    """Walks every real schema and context (refs, cycles) and validates every example."""
    for ppi in catalogue():
        report = check(ppi, ppi)
        assert (report.verdict, report.changes) == (Compatibility.FULL, []), ppi.ref
