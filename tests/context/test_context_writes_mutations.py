"""Entity changes on the stored form (clauses 5.6.2 to 5.6.5, 5.6.17 to 5.6.19), without storage."""

from __future__ import annotations

import asyncio
import copy

import pytest

from mims.context.ngsild.context import ContextResolver
from mims.context.ngsild.entity import normalize_entity
from mims.context.ngsild.errors import BadRequestData, ResourceNotFound
from mims.context.ngsild.mutations import (
    DELETE,
    append_attributes,
    delete_attribute,
    merge_entity,
    merge_patch,
    normalize_attribute,
    normalize_fragment,
    normalize_replacement,
    partial_attribute_update,
    replace_attribute,
    replace_entity,
    update_attributes,
)
from ppi_schemas.jsonld import DocumentLoader

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-02T00:00:00.000000Z"
CORE = "https://uri.etsi.org/ngsi-ld/default-context/"
ID = "urn:ngsi-ld:Building:1"


@pytest.fixture(scope="module")
def context():
    resolver = ContextResolver(DocumentLoader(allow_remote=False))
    return asyncio.run(resolver.resolve(()))


@pytest.fixture
def entity(context):
    return normalize_entity(
        {
            "id": ID,
            "type": "Building",
            "scope": "/A",
            "name": {"type": "Property", "value": "Depot", "observedAt": "2025-12-31T00:00:00Z",
                     "accuracy": {"type": "Property", "value": 0.9}},
            "address": {"type": "Property", "value": {"street": "Main", "number": 1}},
            "occupancy": [{"type": "Property", "value": 10},
                          {"type": "Property", "value": 12, "datasetId": "urn:ngsi-ld:Dataset:s"}],
            "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
        },
        context,
        T0,
    )


def iri(name):
    return CORE + name


def fragment(context, body, *, nulls=False):
    return normalize_fragment(body, context, T1, ID, nulls=nulls)


def test_append_adds_replaces_and_keeps_created_at(entity, context):
    new, result = append_attributes(entity, fragment(context, {"name": "Store", "height": 3}), T1, no_overwrite=False)
    assert result.updated == [iri("name"), iri("height")] and result.not_updated == []
    name = new["attributes"][iri("name")][0]
    assert name["value"] == "Store" and name["createdAt"] == T0 and name["modifiedAt"] == T1
    assert new["attributes"][iri("height")][0]["createdAt"] == T1
    assert new["createdAt"] == T0 and new["modifiedAt"] == T1
    assert entity["attributes"][iri("name")][0]["value"] == "Depot"  # the input is not mutated


def test_append_no_overwrite_reports_existing_instances(entity, context):
    body = {"name": "Store", "occupancy": {"type": "Property", "value": 5, "datasetId": "urn:ngsi-ld:Dataset:new"}}
    new, result = append_attributes(entity, fragment(context, body), T1, no_overwrite=True)
    assert result.updated == [iri("occupancy")]
    assert [name for name, _ in result.not_updated] == [iri("name")]
    assert "noOverwrite" in result.not_updated[0][1]
    assert len(new["attributes"][iri("occupancy")]) == 3


def test_append_adds_entity_types(entity, context):
    new, _ = append_attributes(entity, fragment(context, {"type": "Depot"}), T1, no_overwrite=False)
    assert new["type"] == [iri("Building"), iri("Depot")]


def test_an_identical_change_is_no_change(entity, context):
    new, result = append_attributes(entity, fragment(context, {"owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"}}),
                                    T1, no_overwrite=False)
    assert new is None and result.updated == [iri("owner")]


def test_update_only_touches_existing_instances(entity, context):
    body = {"name": "Store", "height": 3,
            "occupancy": {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:missing"}}
    new, result = update_attributes(entity, fragment(context, body, nulls=True), T1)
    assert result.updated == [iri("name")]
    assert {name for name, _ in result.not_updated} == {iri("height"), iri("occupancy")}
    assert iri("height") not in new["attributes"]
    # Update replaces the whole instance: members not sent (observedAt, sub-attributes) go.
    assert new["attributes"][iri("name")][0].keys() == {"type", "value", "createdAt", "modifiedAt"}


def test_update_with_null_deletes_the_instance(entity, context):
    body = {"occupancy": {"type": "Property", "value": "urn:ngsi-ld:null", "datasetId": "urn:ngsi-ld:Dataset:s"}}
    new, result = update_attributes(entity, fragment(context, body, nulls=True), T1)
    assert result.updated == [iri("occupancy")]
    assert [i.get("datasetId") for i in new["attributes"][iri("occupancy")]] == [None]


def test_merge_keeps_unsent_members_and_merges_json_values(entity, context):
    body = {"name": "Store", "address": {"type": "Property", "value": {"number": None, "city": "Rotterdam"}}}
    new = merge_entity(entity, fragment(context, body, nulls=True), T1)
    name = new["attributes"][iri("name")][0]
    assert name["value"] == "Store" and name["observedAt"] == "2025-12-31T00:00:00Z"
    accuracy = name["attributes"][iri("accuracy")][0]
    assert accuracy["value"] == 0.9 and accuracy["modifiedAt"] == T0  # untouched sub-attribute
    assert new["attributes"][iri("address")][0]["value"] == {"street": "Main", "city": "Rotterdam"}
    assert new["attributes"][iri("owner")] == entity["attributes"][iri("owner")]


def test_merge_null_deletes_attributes_sub_attributes_and_scope(entity, context):
    body = {"owner": "urn:ngsi-ld:null", "occupancy": None, "scope": None,
            "name": {"type": "Property", "value": "Depot", "accuracy": None}}
    new = merge_entity(entity, fragment(context, body, nulls=True), T1)
    assert iri("owner") not in new["attributes"] and iri("occupancy") not in new["attributes"]
    assert "scope" not in new
    name = new["attributes"][iri("name")][0]
    assert "attributes" not in name and name["modifiedAt"] == T1


def test_merge_adds_types_and_changes_attribute_type(entity, context):
    body = {"type": "Depot", "owner": {"type": "Property", "value": "nobody"}}
    new = merge_entity(entity, fragment(context, body, nulls=True), T1)
    assert new["type"] == [iri("Building"), iri("Depot")]
    owner = new["attributes"][iri("owner")][0]
    assert owner["type"] == "Property" and "object" not in owner and owner["createdAt"] == T0


def test_merge_with_nothing_new_changes_nothing(entity, context):
    assert merge_entity(entity, fragment(context, {"name": "Depot"}, nulls=True), T1) is None


def test_nulls_are_refused_outside_patch_operations(context):
    with pytest.raises(BadRequestData):
        fragment(context, {"name": None})


def test_fragment_with_another_id_is_refused(context):
    with pytest.raises(BadRequestData) as caught:
        normalize_fragment({"id": "urn:ngsi-ld:Building:2", "name": 1}, context, T1, ID)
    assert caught.value.errors[0].pointer == "/id"


def test_replace_entity_keeps_created_at_of_entity_and_surviving_instances(entity, context):
    replacement = normalize_replacement({"type": "Depot", "name": "Depot", "height": 3}, context, T1, ID)
    new = replace_entity(entity, replacement, T1)
    assert new["type"] == [iri("Depot")] and "scope" not in new
    assert set(new["attributes"]) == {iri("name"), iri("height")}
    assert new["createdAt"] == T0 and new["modifiedAt"] == T1
    name = new["attributes"][iri("name")][0]
    assert name["createdAt"] == T0 and name["modifiedAt"] == T1  # observedAt and accuracy went


def test_replacement_with_another_id_is_refused(context):
    with pytest.raises(BadRequestData):
        normalize_replacement({"id": "urn:ngsi-ld:Building:2", "type": "Depot"}, context, T1, ID)


def test_partial_update_patches_one_instance(entity, context):
    existing = entity["attributes"][iri("occupancy")][1]
    body = {"value": 13, "datasetId": "urn:ngsi-ld:Dataset:s", "observedAt": "2026-01-01T12:00:00Z"}
    name, patch = normalize_attribute("occupancy", body, context, T1, existing=existing, nulls=True)
    new = partial_attribute_update(entity, name, patch, T1)
    first, second = new["attributes"][iri("occupancy")]
    assert first == entity["attributes"][iri("occupancy")][0]
    assert second["value"] == 13 and second["observedAt"] == "2026-01-01T12:00:00Z" and second["createdAt"] == T0


def test_partial_update_without_content_keeps_the_value(entity, context):
    existing = entity["attributes"][iri("name")][0]
    name, patch = normalize_attribute("name", {"observedAt": "2026-01-01T12:00:00Z"}, context, T1, existing=existing, nulls=True)
    new = partial_attribute_update(entity, name, patch, T1)
    assert new["attributes"][iri("name")][0]["value"] == "Depot"
    assert new["attributes"][iri("name")][0]["observedAt"] == "2026-01-01T12:00:00Z"


def test_partial_update_of_a_missing_instance_is_404(entity, context):
    name, patch = normalize_attribute("occupancy", {"value": 1, "datasetId": "urn:ngsi-ld:Dataset:x"}, context, T1, nulls=True)
    with pytest.raises(ResourceNotFound):
        partial_attribute_update(entity, name, patch, T1)


def test_replace_attribute_replaces_the_instance_wholesale(entity, context):
    name, replacement = normalize_attribute("name", {"type": "Property", "value": "New"}, context, T1)
    new = replace_attribute(entity, name, replacement, T1)
    assert new["attributes"][iri("name")][0] == {"type": "Property", "value": "New", "createdAt": T0, "modifiedAt": T1}
    _, missing = normalize_attribute("height", {"type": "Property", "value": 1}, context, T1)
    with pytest.raises(ResourceNotFound):
        replace_attribute(entity, iri("height"), missing, T1)


def test_delete_attribute_by_dataset_id_default_and_all(entity):
    only_default = delete_attribute(entity, iri("occupancy"), T1)
    assert [i.get("datasetId") for i in only_default["attributes"][iri("occupancy")]] == ["urn:ngsi-ld:Dataset:s"]
    by_dataset = delete_attribute(entity, iri("occupancy"), T1, dataset_id="urn:ngsi-ld:Dataset:s")
    assert [i.get("datasetId") for i in by_dataset["attributes"][iri("occupancy")]] == [None]
    everything = delete_attribute(entity, iri("occupancy"), T1, delete_all=True)
    assert iri("occupancy") not in everything["attributes"] and everything["modifiedAt"] == T1
    with pytest.raises(ResourceNotFound):
        delete_attribute(entity, iri("occupancy"), T1, dataset_id="urn:ngsi-ld:Dataset:none")
    with pytest.raises(ResourceNotFound):
        delete_attribute(entity, iri("height"), T1)


def test_deletion_marks_never_reach_the_stored_form(entity, context):
    body = {"height": {"type": "Property", "value": 1, "accuracy": None}}
    new = merge_entity(entity, fragment(context, body, nulls=True), T1)
    height = new["attributes"][iri("height")][0]
    assert height["value"] == 1 and "attributes" not in height
    assert DELETE not in str(new)


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1, "b": {"c": 2}}, {"b": {"c": None, "d": 3}}, {"a": 1, "b": {"d": 3}}),
        ({"a": 1}, [1, 2], [1, 2]),
        ("text", {"a": None, "b": 1}, {"b": 1}),
    ],
)
def test_merge_patch_follows_rfc_7396(target, patch, expected):
    original = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == original
