"""Entity and attribute updates, merge, replace, purge and batch operations over HTTP, on both engines."""

from __future__ import annotations

from mims.context.ngsild.context import JSONLD_CONTEXT_REL
from mims.kit.problems import PROBLEM_JSON

ENTITIES = "/ngsi-ld/v1/entities"
BATCH = "/ngsi-ld/v1/entityOperations"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
ID = "urn:ngsi-ld:Building:1"
ENTITY = f"{ENTITIES}/{ID}"
USER_CONTEXT = {"@context": {"b": "https://example.org/building#"}}

BUILDING = {
    "id": ID,
    "type": "Building",
    "name": {"type": "Property", "value": "Depot", "observedAt": "2026-01-01T10:00:00Z",
             "accuracy": {"type": "Property", "value": 0.9}},
    "address": {"type": "Property", "value": {"street": "Main", "number": 1}},
    "occupancy": [
        {"type": "Property", "value": 10},
        {"type": "Property", "value": 12, "datasetId": "urn:ngsi-ld:Dataset:sensor"},
    ],
    "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
}


def problem(response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == ERRORS + error_type
    return body


def created(broker, entity=BUILDING):
    response = broker.post(ENTITIES, json=entity)
    assert response.status_code == 201, response.text


def fetch(broker, entity_id=ID, **params):
    response = broker.get(f"{ENTITIES}/{entity_id}", params={"options": "sysAttrs", **params})
    assert response.status_code == 200, response.text
    return response.json()


# -- Append (POST /attrs) and Update (PATCH /attrs) ----------------------------------------------


def test_append_is_204_and_adds_or_replaces(broker):
    created(broker)
    before = fetch(broker)
    response = broker.post(f"{ENTITY}/attrs", json={"height": 21.5, "name": "Store"})
    assert response.status_code == 204, response.text
    after = fetch(broker)
    assert after["height"]["value"] == 21.5 and after["name"]["value"] == "Store"
    assert after["name"]["createdAt"] == before["name"]["createdAt"]
    assert after["modifiedAt"] > before["modifiedAt"] and after["createdAt"] == before["createdAt"]
    assert after["owner"]["modifiedAt"] == before["owner"]["modifiedAt"]


def test_append_no_overwrite_is_207_with_update_result(broker):
    created(broker)
    response = broker.post(f"{ENTITY}/attrs", params={"options": "noOverwrite"}, json={"height": 3, "name": "Store"})
    assert response.status_code == 207, response.text
    assert response.headers["link"].startswith("<") and JSONLD_CONTEXT_REL in response.headers["link"]
    body = response.json()
    assert body["updated"] == ["height"]
    assert [item["attributeName"] for item in body["notUpdated"]] == ["name"] and body["notUpdated"][0]["reason"]
    assert fetch(broker)["name"]["value"] == "Depot"


def test_append_compacts_names_with_the_requests_context(broker):
    created(broker)
    response = broker.post(
        f"{ENTITY}/attrs",
        params={"options": "noOverwrite"},
        json={**USER_CONTEXT, "b:floors": 3, "name": "x"},
        headers={"content-type": "application/ld+json"},
    )
    assert response.status_code == 207
    assert response.json()["updated"] == ["b:floors"]
    floors = broker.get(ENTITY, params={"attrs": "https://example.org/building#floors"}).json()
    assert floors["https://example.org/building#floors"]["value"] == 3


def test_update_is_207_for_attributes_the_entity_lacks(broker):
    created(broker)
    response = broker.patch(f"{ENTITY}/attrs", json={"name": "Store", "height": 3})
    assert response.status_code == 207, response.text
    assert response.json() == {"updated": ["name"], "notUpdated": [
        {"attributeName": "height", "reason": "the entity has no such attribute"}]}
    body = fetch(broker)
    assert "height" not in body and body["name"]["value"] == "Store"
    all_done = broker.patch(f"{ENTITY}/attrs", json={"name": "Depot"})
    assert all_done.status_code == 204


def test_update_by_dataset_id(broker):
    created(broker)
    body = {"occupancy": {"type": "Property", "value": 13, "datasetId": "urn:ngsi-ld:Dataset:sensor"}}
    assert broker.patch(f"{ENTITY}/attrs", json=body).status_code == 204
    values = {i.get("datasetId"): i["value"] for i in fetch(broker)["occupancy"]}
    assert values == {None: 10, "urn:ngsi-ld:Dataset:sensor": 13}


def test_attribute_writes_on_missing_entities_and_tenants_are_404(broker):
    problem(broker.post(f"{ENTITY}/attrs", json={"height": 1}), 404, "ResourceNotFound")
    problem(broker.patch(f"{ENTITY}/attrs", json={"height": 1}), 404, "ResourceNotFound")
    problem(broker.patch(ENTITY, json={"height": 1}), 404, "ResourceNotFound")
    problem(broker.put(ENTITY, json={"type": "Building"}), 404, "ResourceNotFound")
    problem(broker.patch(ENTITY, json={"height": 1}, headers={"NGSILD-Tenant": "nobody"}), 404, "NonexistentTenant")


def test_invalid_fragments_are_400_and_nothing_is_written(broker):
    created(broker)
    before = fetch(broker)
    body = problem(broker.post(f"{ENTITY}/attrs", json={"height": 1, "owner": {"type": "Relationship", "object": "x y"}}),
                   400, "BadRequestData")
    assert body["errors"][0]["pointer"] == "/owner/object"
    problem(broker.patch(ENTITY, json={"id": "urn:ngsi-ld:Building:2", "height": 1}), 400, "BadRequestData")
    problem(broker.post(f"{ENTITY}/attrs", params={"options": "bogus"}, json={"height": 1}), 400, "BadRequestData")
    problem(broker.patch(f"{ENTITIES}/not-a-uri/attrs", json={"height": 1}), 400, "BadRequestData")
    assert fetch(broker) == before


# -- Merge (PATCH /entities/{id}) and Replace (PUT /entities/{id}) -------------------------------


def test_merge_patches_values_and_null_deletes(broker):
    created(broker)
    before = fetch(broker)
    body = {
        "type": "Depot",
        "name": "Store",
        "address": {"type": "Property", "value": {"number": None, "city": "Rotterdam"}},
        "owner": "urn:ngsi-ld:null",
        "occupancy": {"type": "Property", "value": None, "datasetId": "urn:ngsi-ld:Dataset:sensor"},
    }
    assert broker.patch(ENTITY, json=body).status_code == 204
    after = fetch(broker)
    assert after["type"] == ["Building", "Depot"]
    assert after["name"]["value"] == "Store" and after["name"]["observedAt"] == "2026-01-01T10:00:00Z"
    assert after["name"]["accuracy"]["modifiedAt"] == before["name"]["accuracy"]["modifiedAt"]
    assert after["address"]["value"] == {"street": "Main", "city": "Rotterdam"}
    assert "owner" not in after
    assert after["occupancy"]["value"] == 10 and "datasetId" not in after["occupancy"]


def test_merge_with_the_same_content_changes_no_timestamp(broker):
    created(broker)
    before = fetch(broker)
    assert broker.patch(ENTITY, json={"name": "Depot"}).status_code == 204
    assert fetch(broker) == before


def test_replace_entity_keeps_id_and_created_at(broker):
    created(broker)
    before = fetch(broker)
    response = broker.put(ENTITY, json={"type": "Depot", "height": 3})
    assert response.status_code == 204, response.text
    after = fetch(broker)
    assert set(after) == {"id", "type", "createdAt", "modifiedAt", "height"}
    assert after["type"] == "Depot" and after["createdAt"] == before["createdAt"]
    found = broker.get(ENTITIES, params={"type": "Depot"}).json()
    assert [entity["id"] for entity in found] == [ID]
    assert broker.get(ENTITIES, params={"type": "Building"}).json() == []
    problem(broker.put(ENTITY, json={"id": "urn:ngsi-ld:Building:2", "type": "Depot"}), 400, "BadRequestData")
    problem(broker.put(ENTITY, json={"height": 3}), 400, "BadRequestData")


# -- /attrs/{attrId}: partial update, replace, delete --------------------------------------------


def test_partial_attribute_update(broker):
    created(broker)
    response = broker.patch(f"{ENTITY}/attrs/name", json={"observedAt": "2026-02-01T00:00:00Z", "accuracy": 0.95})
    assert response.status_code == 204, response.text
    name = fetch(broker)["name"]
    assert name["value"] == "Depot" and name["observedAt"] == "2026-02-01T00:00:00Z"
    assert name["accuracy"]["value"] == 0.95
    problem(broker.patch(f"{ENTITY}/attrs/height", json={"value": 1}), 404, "ResourceNotFound")
    by_dataset = broker.patch(f"{ENTITY}/attrs/occupancy", json={"value": 14, "datasetId": "urn:ngsi-ld:Dataset:sensor"})
    assert by_dataset.status_code == 204
    assert {i.get("datasetId"): i["value"] for i in fetch(broker)["occupancy"]}[
        "urn:ngsi-ld:Dataset:sensor"] == 14


def test_replace_attribute(broker):
    created(broker)
    response = broker.put(f"{ENTITY}/attrs/name", json={"type": "Property", "value": "New"})
    assert response.status_code == 204, response.text
    name = fetch(broker)["name"]
    assert name["value"] == "New" and "observedAt" not in name and "accuracy" not in name
    problem(broker.put(f"{ENTITY}/attrs/height", json={"type": "Property", "value": 1}), 404, "ResourceNotFound")
    problem(broker.put(f"{ENTITY}/attrs/name", json={"type": "Property"}), 400, "BadRequestData")


def test_delete_attribute_default_dataset_and_all(broker):
    created(broker)
    assert broker.delete(f"{ENTITY}/attrs/occupancy").status_code == 204
    assert fetch(broker)["occupancy"]["datasetId"] == "urn:ngsi-ld:Dataset:sensor"
    problem(broker.delete(f"{ENTITY}/attrs/occupancy"), 404, "ResourceNotFound")
    gone = broker.delete(f"{ENTITY}/attrs/occupancy", params={"datasetId": "urn:ngsi-ld:Dataset:sensor"})
    assert gone.status_code == 204
    assert "occupancy" not in fetch(broker)
    assert broker.delete(f"{ENTITY}/attrs/owner", params={"deleteAll": "true"}).status_code == 204
    assert "owner" not in fetch(broker)
    problem(broker.delete(f"{ENTITY}/attrs/owner"), 404, "ResourceNotFound")
    problem(broker.delete(f"{ENTITY}/attrs/name", params={"deleteAll": "maybe"}), 400, "BadRequestData")


# -- Purge (DELETE /entities) ----------------------------------------------------------------


def test_purge_deletes_what_the_query_selects(broker):
    for number, kind in ((1, "Building"), (2, "Building"), (3, "Depot")):
        created(broker, {"id": f"urn:ngsi-ld:X:{number}", "type": kind, "height": number})
    assert broker.delete(ENTITIES, params={"type": "Building", "q": "height>1"}).status_code == 204
    remaining = broker.get(ENTITIES, params={"type": "Building,Depot"}).json()
    assert sorted(entity["id"] for entity in remaining) == ["urn:ngsi-ld:X:1", "urn:ngsi-ld:X:3"]
    problem(broker.delete(ENTITIES, params={"local": "true"}), 400, "BadRequestData")
    problem(broker.delete(ENTITIES, params={"type": "Building"}, headers={"NGSILD-Tenant": "nobody"}), 404, "NonexistentTenant")


# -- Batch operations ------------------------------------------------------------------------


def batch_entities(count, kind="Building"):
    return [{"id": f"urn:ngsi-ld:B:{n}", "type": kind, "height": n} for n in range(count)]


def test_batch_create_is_201_with_ids(broker):
    response = broker.post(f"{BATCH}/create", json=batch_entities(3))
    assert response.status_code == 201, response.text
    assert response.json() == [f"urn:ngsi-ld:B:{n}" for n in range(3)]
    assert len(broker.get(ENTITIES, params={"type": "Building"}).json()) == 3


def test_batch_create_partial_failure_is_207_and_others_are_written(broker):
    created(broker, {"id": "urn:ngsi-ld:B:0", "type": "Building"})
    body = [*batch_entities(2), {"id": "urn:ngsi-ld:B:9", "type": "Building", "bad": {"type": "Nope", "value": 1}},
            {"id": "not a uri", "type": "Building"}, {"id": "urn:ngsi-ld:B:1", "type": "Building"}]
    response = broker.post(f"{BATCH}/create", json=body)
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:B:1"]
    errors = {error["entityId"]: error["error"] for error in result["errors"]}
    assert errors["urn:ngsi-ld:B:0"]["type"] == ERRORS + "AlreadyExists"
    assert errors["urn:ngsi-ld:B:9"]["type"] == ERRORS + "BadRequestData"
    assert errors["not a uri"]["status"] == 400
    assert len(result["errors"]) == 4  # the second B:1 of the batch already exists by then
    ids = sorted(entity["id"] for entity in broker.get(ENTITIES, params={"type": "Building"}).json())
    assert ids == ["urn:ngsi-ld:B:0", "urn:ngsi-ld:B:1"]


def test_batch_upsert_replace_and_update(broker):
    assert broker.post(f"{BATCH}/upsert", json=batch_entities(2)).status_code == 201
    first = fetch(broker, "urn:ngsi-ld:B:0")
    replaced = broker.post(f"{BATCH}/upsert", json=[{"id": "urn:ngsi-ld:B:0", "type": "Building", "name": "x"},
                                                    {"id": "urn:ngsi-ld:B:5", "type": "Building"}])
    assert replaced.status_code == 201 and replaced.json() == ["urn:ngsi-ld:B:5"]
    after = fetch(broker, "urn:ngsi-ld:B:0")
    assert "height" not in after and after["name"]["value"] == "x" and after["createdAt"] == first["createdAt"]
    updated = broker.post(f"{BATCH}/upsert", params={"options": "update"},
                          json=[{"id": "urn:ngsi-ld:B:0", "type": "Building", "height": 7}])
    assert updated.status_code == 204, updated.text
    after = fetch(broker, "urn:ngsi-ld:B:0")
    assert after["height"]["value"] == 7 and after["name"]["value"] == "x"
    problem(broker.post(f"{BATCH}/upsert", params={"options": "replace,update"}, json=batch_entities(1)), 400, "BadRequestData")


def test_batch_update_and_merge(broker):
    broker.post(f"{BATCH}/create", json=batch_entities(2))
    response = broker.post(f"{BATCH}/update", params={"options": "noOverwrite"},
                           json=[{"id": "urn:ngsi-ld:B:0", "height": 100, "name": "kept"},
                                 {"id": "urn:ngsi-ld:B:7", "height": 1}])
    assert response.status_code == 207, response.text
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:B:0"]
    assert result["errors"][0]["entityId"] == "urn:ngsi-ld:B:7"
    assert result["errors"][0]["error"]["type"] == ERRORS + "ResourceNotFound"
    body = fetch(broker, "urn:ngsi-ld:B:0")
    assert body["height"]["value"] == 0 and body["name"]["value"] == "kept"
    merged = broker.post(f"{BATCH}/merge", json=[{"id": "urn:ngsi-ld:B:0", "height": None},
                                                 {"id": "urn:ngsi-ld:B:1", "height": 5}])
    assert merged.status_code == 204, merged.text
    assert "height" not in fetch(broker, "urn:ngsi-ld:B:0")
    assert fetch(broker, "urn:ngsi-ld:B:1")["height"]["value"] == 5


def test_batch_delete(broker):
    broker.post(f"{BATCH}/create", json=batch_entities(3))
    assert broker.post(f"{BATCH}/delete", json=["urn:ngsi-ld:B:0", "urn:ngsi-ld:B:1"]).status_code == 204
    response = broker.post(f"{BATCH}/delete", json=["urn:ngsi-ld:B:1", "urn:ngsi-ld:B:2", 7])
    assert response.status_code == 207
    result = response.json()
    assert result["success"] == ["urn:ngsi-ld:B:2"]
    assert [error["error"]["status"] for error in result["errors"]] == [404, 400]
    assert broker.get(ENTITIES, params={"type": "Building"}).json() == []


def test_batch_bodies_must_be_arrays(broker):
    problem(broker.post(f"{BATCH}/create", json={"id": ID}), 400, "BadRequestData")
    problem(broker.post(f"{BATCH}/create", json=[]), 400, "BadRequestData")
    problem(broker.post(f"{BATCH}/create", content=b"[", headers={"content-type": "application/json"}), 400, "InvalidRequest")
    problem(broker.post(f"{BATCH}/update", json=batch_entities(1), headers={"NGSILD-Tenant": "nobody"}), 404, "NonexistentTenant")


def test_batch_ld_json_uses_each_entitys_context(broker):
    body = [{**USER_CONTEXT, "id": "urn:ngsi-ld:B:1", "type": "b:Store"}, {"id": "urn:ngsi-ld:B:2", "type": "Building"}]
    response = broker.post(f"{BATCH}/create", json=body, headers={"content-type": "application/ld+json"})
    assert response.status_code == 207
    assert response.json()["success"] == ["urn:ngsi-ld:B:1"]
    stores = broker.get(ENTITIES, params={"type": "https://example.org/building#Store"}).json()
    assert [entity["id"] for entity in stores] == ["urn:ngsi-ld:B:1"]


def test_batch_query_takes_a_query_body(broker):
    broker.post(f"{BATCH}/create", json=[*batch_entities(3), *batch_entities(1, "Depot")[:0],
                                         {"id": "urn:ngsi-ld:D:1", "type": "Depot", "height": 50}])
    query = {"type": "Query", "entities": [{"type": "Building"}, {"id": "urn:ngsi-ld:D:1", "type": "Depot"}], "q": "height>0"}
    response = broker.post(f"{BATCH}/query", json=query, params={"count": "true", "options": "keyValues"})
    assert response.status_code == 200, response.text
    assert response.headers["ngsild-results-count"] == "3"
    assert {entity["id"]: entity["height"] for entity in response.json()} == {
        "urn:ngsi-ld:B:1": 1, "urn:ngsi-ld:B:2": 2, "urn:ngsi-ld:D:1": 50}
    geo = {"type": "Query", "entities": [{"type": "Building"}], "attrs": ["height"],
           "geoQ": {"georel": "near;maxDistance==10", "geometry": "Point", "coordinates": [4.0, 51.0]}}
    assert broker.post(f"{BATCH}/query", json=geo).json() == []
    problem(broker.post(f"{BATCH}/query", json={"entities": []}), 400, "BadRequestData")


def test_tenants_are_kept_apart_by_batch_writes(broker):
    tenant = {"NGSILD-Tenant": "city"}
    response = broker.post(f"{BATCH}/upsert", json=batch_entities(1), headers=tenant)
    assert response.status_code == 201 and response.headers["ngsild-tenant"] == "city"
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:B:0", headers=tenant).status_code == 200
    problem(broker.get(f"{ENTITIES}/urn:ngsi-ld:B:0"), 404, "ResourceNotFound")
