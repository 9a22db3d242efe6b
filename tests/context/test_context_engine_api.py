"""Query Entities on the query indexes, and discovery (clauses 6.25-6.28), over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

ENTITIES = "/ngsi-ld/v1/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def building(number: int, **attributes) -> dict:
    return {"id": f"urn:ngsi-ld:Building:{number}", "type": "Building", **attributes}


FIXTURES = [
    building(1, height={"type": "Property", "value": 21.5, "accuracy": {"type": "Property", "value": 0.9}},
             name={"type": "Property", "value": "Depot Noord"},
             opened={"type": "Property", "value": {"@type": "DateTime", "@value": "2020-05-01T10:00:00Z"}},
             address={"type": "Property", "value": {"city": "Rotterdam", "zip": "3011"}},
             owner={"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
             category={"type": "VocabProperty", "vocab": "commercial"},
             location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.47, 51.92]}}),
    building(2, height=[{"type": "Property", "value": 5},
                        {"type": "Property", "value": 40, "datasetId": "urn:ngsi-ld:Dataset:roof"}],
             name={"type": "Property", "value": "Hal"},
             opened={"type": "Property", "value": "2021-01-01T00:00:00+01:00"},
             tags={"type": "Property", "value": ["red", "blue"]},
             location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.90, 52.37]}}),
    {"id": "urn:ngsi-ld:Road:1", "type": "Road", "name": {"type": "Property", "value": "x' OR '1'='1"},
     "location": {"type": "GeoProperty", "value": {"type": "LineString", "coordinates": [[4.4, 51.9], [4.5, 51.95]]}}},
]


@pytest.fixture
def loaded(broker):
    for entity in FIXTURES:
        assert broker.post(ENTITIES, json=entity).status_code == 201
    return broker


def ids(broker, **params) -> list[str]:
    response = broker.get(ENTITIES, params=params)
    assert response.status_code == 200, response.text
    return [entity["id"] for entity in response.json()]


@pytest.mark.parametrize(("q", "expected"), [
    ("height>20", ["1", "2"]),
    ("height==5", ["2"]),
    ("height!=5", ["1", "2"]),  # the roof instance differs
    ("height==1..10", ["2"]),
    ("height<=21.5;name~=Dep", ["1"]),
    ("height.accuracy>=0.9", ["1"]),
    ("address[city]==\"Rotterdam\"", ["1"]),
    ("opened>2020-12-31T23:30:00Z", []),
    ("opened<2021-01-01T00:00:00Z", ["1", "2"]),
    ("tags==\"blue\"", ["2"]),
    ("tags!=\"green\"", ["2"]),
    ("name!~=^H", ["1"]),
    ("owner==urn:ngsi-ld:Person:1", ["1"]),
    ("owner>\"a\"", []),
    ("category==commercial", ["1"]),
    ("tags|owner", ["1", "2"]),
    ("(height>30|name==\"Hal\");tags", ["2"]),
])
def test_q_operators(loaded, q: str, expected: list[str]):
    assert ids(loaded, type="Building", q=q) == [f"urn:ngsi-ld:Building:{n}" for n in expected]


def test_injection_strings_are_data(loaded):
    assert ids(loaded, q="name==\"x' OR '1'='1\"") == ["urn:ngsi-ld:Road:1"]
    assert ids(loaded, q="name==\"x'; DROP TABLE context_entity; --\"") == []
    assert len(ids(loaded, local="true")) == 3


def test_id_pattern_and_attrs(loaded):
    assert ids(loaded, idPattern="urn:ngsi-ld:Building:.*") == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"]
    assert ids(loaded, idPattern="Building") == []
    assert ids(loaded, attrs="tags,owner") == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"]


@pytest.mark.parametrize(("georel", "geometry", "coordinates", "expected"), [
    ("near;maxDistance==5000", "Point", "[4.47,51.92]", ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Road:1"]),
    ("near;minDistance==5000", "Point", "[4.47,51.92]", ["urn:ngsi-ld:Building:2"]),
    ("within", "Polygon", "[[[4,51],[5,51],[5,53],[4,53],[4,51]]]",
     ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2", "urn:ngsi-ld:Road:1"]),
    ("intersects", "LineString", "[[4.45,51.0],[4.45,52.0]]", ["urn:ngsi-ld:Road:1"]),
    ("disjoint", "Point", "[4.47,51.92]", ["urn:ngsi-ld:Building:2", "urn:ngsi-ld:Road:1"]),
    ("equals", "Point", "[4.9,52.37]", ["urn:ngsi-ld:Building:2"]),
])
def test_geo_queries_page_and_count_exactly(loaded, georel, geometry, coordinates, expected):
    params = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    assert ids(loaded, **params) == expected
    response = loaded.get(ENTITIES, params={**params, "limit": 1, "offset": 1, "count": "true"})
    assert response.headers["NGSILD-Results-Count"] == str(len(expected))
    assert [entity["id"] for entity in response.json()] == expected[1:2]


def test_index_follows_deletes(loaded):
    assert loaded.delete(f"{ENTITIES}/urn:ngsi-ld:Building:2").status_code == 204
    assert ids(loaded, q="height>20") == ["urn:ngsi-ld:Building:1"]
    assert ids(loaded, georel="near;maxDistance==1000", geometry="Point", coordinates="[4.90,52.37]") == []


def test_entity_types(loaded):
    listed = loaded.get("/ngsi-ld/v1/types").json()
    assert listed["type"] == "EntityTypeList" and listed["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert listed["typeList"] == ["Building", "Road"]
    detailed = loaded.get("/ngsi-ld/v1/types", params={"details": "true"}).json()
    assert detailed[1] == {"id": DEFAULT + "Road", "type": "EntityType", "typeName": "Road",
                           "attributeNames": ["name", "location"]}
    info = loaded.get("/ngsi-ld/v1/types/Building").json()
    assert info["type"] == "EntityTypeInformation" and info["entityCount"] == 2 and info["typeName"] == "Building"
    owner = next(item for item in info["attributeDetails"] if item["attributeName"] == "owner")
    assert owner == {"id": DEFAULT + "owner", "type": "Attribute", "attributeName": "owner",
                     "attributeTypes": ["Relationship"]}
    missing = loaded.get("/ngsi-ld/v1/types/Sensor")
    assert missing.status_code == 404 and missing.json()["type"] == ERRORS + "ResourceNotFound"


def test_attributes(loaded):
    listed = loaded.get("/ngsi-ld/v1/attributes").json()
    assert listed["type"] == "AttributeList"
    assert listed["attributeList"] == sorted(
        ["height", "name", "opened", "address", "owner", "category", "location", "tags"],
        key=lambda term: "https://uri.etsi.org/ngsi-ld/location" if term == "location" else DEFAULT + term)
    height = loaded.get("/ngsi-ld/v1/attributes/height").json()
    assert height == {"id": DEFAULT + "height", "type": "Attribute", "attributeName": "height",
                      "attributeCount": 3, "attributeTypes": ["Property"], "typeNames": ["Building"]}
    detailed = loaded.get("/ngsi-ld/v1/attributes", params={"details": "true"}).json()
    assert {item["attributeName"]: item["attributeCount"] for item in detailed}["name"] == 3
    assert loaded.get("/ngsi-ld/v1/attributes/nothing").status_code == 404
    assert loaded.get("/ngsi-ld/v1/attributes", params={"details": "maybe"}).status_code == 400


def test_discovery_honours_tenants(loaded):
    assert loaded.post(ENTITIES, json=building(9), headers={"NGSILD-Tenant": "other"}).status_code == 201
    other = loaded.get("/ngsi-ld/v1/types", headers={"NGSILD-Tenant": "other"}).json()
    assert other["typeList"] == ["Building"]
    assert loaded.get("/ngsi-ld/v1/attributes", headers={"NGSILD-Tenant": "other"}).json()["attributeList"] == []
    unknown = loaded.get("/ngsi-ld/v1/types", headers={"NGSILD-Tenant": "nobody"})
    assert unknown.status_code == 404 and unknown.json()["type"] == ERRORS + "NonexistentTenant"
