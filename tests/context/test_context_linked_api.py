"""Linked Entity Retrieval over the API (clause 4.5.23): join=inline|flat, joinLevel, containedBy."""

from __future__ import annotations

from starlette.testclient import TestClient

ENTITIES = "/ngsi-ld/v1/entities"


def seed(broker: TestClient) -> None:
    bodies = [
        {"id": "urn:ngsi-ld:Company:1", "type": "Company", "name": {"type": "Property", "value": "Port"}},
        {"id": "urn:ngsi-ld:Person:1", "type": "Person", "name": {"type": "Property", "value": "Ada"},
         "employer": {"type": "Relationship", "object": "urn:ngsi-ld:Company:1"}},
        {"id": "urn:ngsi-ld:Building:1", "type": "Building", "name": {"type": "Property", "value": "Depot"},
         "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
         "neighbour": {"type": "Relationship", "object": "urn:ngsi-ld:Building:2"}},
        {"id": "urn:ngsi-ld:Building:2", "type": "Building", "name": {"type": "Property", "value": "Shed"},
         "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
         "neighbour": {"type": "Relationship", "object": "urn:ngsi-ld:Building:1"}},
    ]
    for body in bodies:
        assert broker.post(ENTITIES, json=body).status_code == 201


def test_retrieve_inlines_linked_entities_to_the_level_asked(broker: TestClient) -> None:
    seed(broker)
    one = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"join": "inline"}).json()
    assert one["owner"]["entity"]["name"]["value"] == "Ada"
    assert "entity" not in one["owner"]["entity"]["employer"]  # joinLevel 1
    assert one["neighbour"]["entity"]["id"] == "urn:ngsi-ld:Building:2"
    deep = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"join": "inline", "joinLevel": "3"}).json()
    assert deep["owner"]["entity"]["employer"]["entity"]["name"]["value"] == "Port"
    assert "entity" not in deep["neighbour"]["entity"]["neighbour"]  # the cycle back to Building:1 stops
    simple = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"join": "inline", "format": "keyValues"}).json()
    assert simple["owner"] == {"id": "urn:ngsi-ld:Person:1", "type": "Person", "name": "Ada",
                               "employer": "urn:ngsi-ld:Company:1"}


def test_flat_join_lists_each_linked_entity_once_after_those_found(broker: TestClient) -> None:
    seed(broker)
    found = broker.get(ENTITIES, params={"type": "Building", "join": "flat", "joinLevel": "2", "count": "true"})
    assert found.status_code == 200
    assert [item["id"] for item in found.json()] == [
        "urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2", "urn:ngsi-ld:Person:1", "urn:ngsi-ld:Company:1"]
    assert found.headers["NGSILD-Results-Count"] == "2"  # what the query matched
    retrieved = broker.get(f"{ENTITIES}/urn:ngsi-ld:Person:1", params={"join": "flat"}).json()
    assert [item["id"] for item in retrieved] == ["urn:ngsi-ld:Person:1", "urn:ngsi-ld:Company:1"]
    shown = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1",
                       params={"join": "flat", "containedBy": "urn:ngsi-ld:Person:1"}).json()
    assert [item["id"] for item in shown] == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"]


def test_without_join_relationships_hold_only_their_object(broker: TestClient) -> None:
    seed(broker)
    for params in ({}, {"join": "@none"}):
        one = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params=params).json()
        assert one["owner"] == {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"}


def test_invalid_join_parameters_are_400(broker: TestClient) -> None:
    seed(broker)
    for params, pointer in (({"join": "deep"}, "/join"), ({"join": "flat", "joinLevel": "0"}, "/joinLevel"),
                            ({"join": "flat", "containedBy": "not a uri"}, "/containedBy")):
        response = broker.get(ENTITIES, params={"type": "Building", **params})
        assert response.status_code == 400, response.text
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
        assert response.json()["errors"][0]["pointer"] == pointer
