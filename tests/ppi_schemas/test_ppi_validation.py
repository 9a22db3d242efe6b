"""Validation reports every problem at a pointer a client can act on, and never fetches schemas."""

from __future__ import annotations

import copy
import itertools
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppi_schemas
from ppi_schemas import PPI, Problem, UnresolvableReference, is_valid, json_pointer, validate

_names = itertools.count()


def inline_ppi(schema: dict[str, Any]) -> PPI:
    """A PPI around an inline schema; each gets its own name, as compiled validators are cached per PPI."""
    name = f"inline-{next(_names)}"
    return PPI(
        name=name,
        version="1.0.0",
        title="inline",
        description="inline schema under test",
        status="draft",
        media_type="application/json",
        context_url=f"https://w3id.org/oup/ppi/{name}/1.0.0/context.jsonld",
        schema={"$id": f"https://w3id.org/oup/ppi/{name}/1.0.0/schema.json", **schema},
        context={"@context": {}},
        path=Path(name),
        producers=(),
        consumers=(),
        license="EUPL-1.2",
    )


def pointers(problems: list[Problem]) -> list[str]:
    return [problem.pointer for problem in problems]


def test_json_pointer_escapes_per_rfc_6901() -> None:
    assert json_pointer([]) == ""
    assert json_pointer(["a/b", "m~n", 0, ""]) == "/a~1b/m~0n/0/"


def test_every_missing_member_is_reported_at_its_own_pointer() -> None:
    ppi = inline_ppi({"required": ["name", "a/b"], "properties": {"inner": {"required": ["x~y"]}}})
    problems = validate({"inner": {}}, ppi)
    assert pointers(problems) == ["/a~1b", "/inner/x~0y", "/name"]
    assert problems[2] == Problem("/name", "'name' is a required property", "required", "/required")


def test_each_additional_member_is_reported_at_its_pointer() -> None:
    ppi = inline_ppi(
        {"properties": {"known": True}, "patternProperties": {"^x-": True}, "additionalProperties": False}
    )
    problems = validate({"known": 1, "x-ok": 2, "extra": 3, "more": 4}, ppi)
    assert pointers(problems) == ["/extra", "/more"]
    assert problems[0].message == "additional property 'extra' is not allowed"
    assert problems[0].keyword == "additionalProperties"


def test_additional_properties_schema_reports_inside_the_member() -> None:
    ppi = inline_ppi({"additionalProperties": {"type": "integer"}})
    assert pointers(validate({"a": 1, "b": "two"}, ppi)) == ["/b"]


def test_unevaluated_members_are_reported_at_their_pointer() -> None:
    closed = inline_ppi({"allOf": [{"properties": {"a": True}}], "unevaluatedProperties": False})
    problems = validate({"a": 1, "b": 2, "c'd": 3}, closed)
    assert pointers(problems) == ["/b", "/c'd"]
    assert problems[0].message == "unevaluated property 'b' is not allowed"


def test_unevaluated_members_under_a_schema_keep_their_reasons() -> None:
    ppi = inline_ppi(
        {
            "properties": {"a": True},
            "unevaluatedProperties": {"type": "object", "required": ["value"]},
        }
    )
    problems = validate({"a": 1, "b": {}, "c": 5, "d": {"value": 1}}, ppi)
    assert [(p.pointer, p.keyword) for p in problems] == [("/b/value", "required"), ("/c", "type")]
    assert problems[1].schema_path == "/unevaluatedProperties/c/type"


def test_bad_member_names_are_reported_at_the_member() -> None:
    ppi = inline_ppi({"propertyNames": {"pattern": "^[a-z]+$"}})
    problems = validate({"ok": 1, "Not OK": 2}, ppi)
    assert pointers(problems) == ["/Not OK"]
    assert problems[0].keyword == "pattern"


def test_false_subschemas_point_at_the_forbidden_member_or_item() -> None:
    ppi = inline_ppi(
        {
            "properties": {"gone": False, "list": {"prefixItems": [True, False]}},
            "patternProperties": {"^tmp-": False},
        }
    )
    problems = validate({"gone": 1, "tmp-x": 2, "list": [1, 2]}, ppi)
    assert [(p.pointer, p.message) for p in problems] == [
        ("/gone", "member 'gone' is not allowed here"),
        ("/list/1", "item 1 is not allowed here"),
        ("/tmp-x", "member 'tmp-x' is not allowed here"),
    ]
    assert problems[0].schema_path == "/properties/gone"


def test_all_problems_are_returned_sorted_with_array_indices_numerically() -> None:
    ppi = inline_ppi({"type": "object", "properties": {"items": {"items": {"type": "integer"}}, "name": {"type": "string"}}})
    payload = {"name": 3, "items": [0, "a", 2, 3, 4, 5, 6, 7, 8, 9, "b"]}
    assert pointers(validate(payload, ppi)) == ["/items/1", "/items/10", "/name"]
    whole = validate("not an object", ppi)
    assert pointers(whole) == [""] and whole[0].keyword == "type"


@pytest.mark.parametrize(
    ("format_name", "bad", "good"),
    [
        ("date-time", "2026-11-20 11:00", "2026-11-20T11:00:00Z"),
        ("uri", "no scheme", "urn:ngsi-ld:Building:1"),
        ("uri-reference", "a b", "/relative/path"),
    ],
)
def test_formats_are_checked(format_name: str, bad: str, good: str) -> None:
    ppi = inline_ppi({"format": format_name})
    [problem] = validate(bad, ppi)
    assert problem.keyword == "format"
    assert not is_valid(bad, ppi)
    assert validate(good, ppi) == [] and is_valid(good, ppi)


def test_problem_carries_keyword_and_schema_path() -> None:
    [problem] = validate({"type": "about:blank", "title": "x", "status": 99}, "problem-details@1")
    assert problem == Problem("/status", "99 is less than the minimum of 100", "minimum", "/properties/status/minimum")


def test_references_to_other_catalogue_schemas_resolve_locally() -> None:
    ppi = inline_ppi({"properties": {"problem": {"$ref": "https://w3id.org/oup/ppi/problem-details/1.0.0/schema.json"}}})
    assert validate({"problem": {"type": "about:blank", "title": "Gone", "status": 410}}, ppi) == []
    assert pointers(validate({"problem": {"title": "Gone", "status": "410"}}, ppi)) == ["/problem/status", "/problem/type"]
    assert not is_valid({"problem": {"status": 410}}, ppi)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
def test_reference_outside_the_catalogue_is_refused_not_fetched() -> None:
    ppi = inline_ppi({"properties": {"geo": {"$ref": "https://geojson.org/schema/Point.json"}}})
    with pytest.raises(UnresolvableReference, match="https://geojson.org/schema/Point.json"):
        validate({}, ppi)
    with pytest.raises(UnresolvableReference, match="https://geojson.org/schema/Point.json"):
        is_valid({"geo": {}}, ppi)


def test_string_references_select_the_same_ppi() -> None:
    payload = {"title": "x", "status": 400}
    assert validate(payload, "problem-details") == validate(payload, ppi_schemas.get("problem-details@1.0.0"))
    assert is_valid({"type": "about:blank", "title": "x", "status": 400}, "problem-details@1")


def test_unknown_ppi_reference_raises_not_found() -> None:
    with pytest.raises(ppi_schemas.PPINotFound):
        validate({}, "no-such-ppi@1")
    with pytest.raises(ppi_schemas.PPINotFound):
        is_valid({}, "no-such-ppi@1")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
MEMBERS = sorted({name for ppi in ppi_schemas.catalogue() for e in ppi.examples_valid for name in e.payload})
EXAMPLES = [(ppi, e.payload) for ppi in ppi_schemas.catalogue() for e in ppi.examples_valid]


def _mutate(document: Any, path: list[int], replacement: Any) -> Any:
    """Replace one node, chosen by ``path`` (indices into each level's members), with ``replacement``."""
    mutated = copy.deepcopy(document)
    parent, key = None, None
    node = mutated
    for step in path:
        children = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not children:
            break
        parent, key = node, children[step % len(children)]
        node = node[key]
    if parent is None:
        return replacement
    parent[key] = replacement
    return mutated


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    example=st.sampled_from(EXAMPLES),
    path=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
    replacement=json_values | st.sampled_from(MEMBERS) | st.sampled_from(["urn:x:1", "2026-01-01T00:00:00Z", "Property"]),
)
def test_hot_path_agrees_with_full_validation(example: tuple[PPI, Any], path: list[int], replacement: Any) -> None:
    ppi, payload = example
    mutated = _mutate(payload, path, replacement)
    assert is_valid(mutated, ppi) == (validate(mutated, ppi) == []), json.dumps(mutated)
