"""Entity operations over HTTP (clauses 6.4 and 6.5) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from mims.context.ngsild.context import JSONLD_CONTEXT_REL
from mims.kit.problems import PROBLEM_JSON
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL

ENTITIES = "/ngsi-ld/v1/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"

BUILDING = {
    "id": "urn:ngsi-ld:Building:1",
    "type": "Building",
    "scope": "/Rotterdam/Centre",
    "name": {"type": "Property", "value": "Depot", "observedAt": "2026-01-01T10:00:00Z",
             "accuracy": {"type": "Property", "value": 0.9}},
    "height": {"type": "Property", "value": 21.5, "unitCode": "MTR"},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.47, 51.92]}},
    "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1", "objectType": "Person"},
    "title": {"type": "LanguageProperty", "languageMap": {"nl": "Opslag", "en": "Depot"}},
    "category": {"type": "VocabProperty", "vocab": "commercial"},
    "raw": {"type": "JsonProperty", "json": {"any": ["json", None]}},
    "levels": {"type": "ListProperty", "valueList": [1, 2, 3]},
    "parts": {"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:Part:1"}]},
    "occupancy": [
        {"type": "Property", "value": 10},
        {"type": "Property", "value": 12, "datasetId": "urn:ngsi-ld:Dataset:sensor"},
    ],
}


def problem(response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == ERRORS + error_type
    return body


def create(broker, entity, **headers):
    return broker.post(ENTITIES, json=entity, headers=headers)


def test_create_answers_201_with_location_and_retrieve_gives_it_back(broker):
    created = create(broker, BUILDING)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{ENTITIES}/urn:ngsi-ld:Building:1"
    got = broker.get(created.headers["location"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.headers["link"] == f'<{NGSI_LD_CORE_CONTEXT_URL}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'
    body = got.json()
    expected = {key: value for key, value in BUILDING.items()}
    assert body == expected


def test_sys_attrs_are_set_at_every_level(broker):
    create(broker, BUILDING)
    body = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"options": "sysAttrs"}).json()
    assert body["createdAt"] == body["modifiedAt"] and body["createdAt"].endswith("Z")
    assert body["name"]["createdAt"] == body["createdAt"]
    assert body["name"]["accuracy"]["modifiedAt"] == body["createdAt"]
    assert all("createdAt" in instance for instance in body["occupancy"])


def test_duplicate_id_is_409_already_exists(broker):
    assert create(broker, BUILDING).status_code == 201
    problem(create(broker, BUILDING), 409, "AlreadyExists")


def test_invalid_entity_is_400_and_nothing_is_written(broker):
    bad = {**BUILDING, "owner": {"type": "Relationship", "object": "not a uri"}}
    body = problem(create(broker, bad), 400, "BadRequestData")
    assert body["errors"][0]["pointer"] == "/owner/object" and "owner" in body["detail"]
    problem(broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    ("entity", "pointer"),
    [
        ({"type": "Building"}, "/id"),
        ({"id": "not-a-uri", "type": "Building"}, "/id"),
        ({"id": "urn:a:1"}, "/type"),
        ({"id": "urn:a:1", "type": "T", "observedAt": {"type": "Property", "value": 1}}, "/observedAt"),
        ({"id": "urn:a:1", "type": "T", "a": {"type": "Thing", "value": 1}}, "/a/type"),
        ({"id": "urn:a:1", "type": "T", "a": {"type": "Property"}}, "/a"),
        ({"id": "urn:a:1", "type": "T", "a": None}, "/a"),
        ({"id": "urn:a:1", "type": "T", "a": {"type": "Property", "value": "urn:ngsi-ld:null"}}, "/a/value"),
        ({"id": "urn:a:1", "type": "T", "a": {"type": "Property", "value": 1, "datasetId": "x y"}}, "/a/datasetId"),
        ({"id": "urn:a:1", "type": "T", "a": {"type": "Property", "value": 1, "observedAt": "yesterday"}}, "/a/observedAt"),
        ({"id": "urn:a:1", "type": "T", "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1]}}}, "/location/value/coordinates"),
        ({"id": "urn:a:1", "type": "T", "t": {"type": "LanguageProperty", "languageMap": {"not a tag": "x"}}}, "/t/languageMap/not a tag"),
        ({"id": "urn:a:1", "type": "T", "l": {"type": "ListProperty", "valueList": 5}}, "/l/valueList"),
        ({"id": "urn:a:1", "type": "T", "p": {"type": "ListRelationship", "objectList": ["bad uri"]}}, "/p/objectList/0"),
        ({"id": "urn:a:1", "type": "T", "scope": "no-slash"}, "/scope"),
        ({"id": "urn:a:1", "type": "T", "a b": 1}, "/a b"),
    ],
)
def test_each_kind_of_bad_entity_is_400_pointing_at_the_member(broker, entity, pointer):
    body = problem(create(broker, entity), 400, "BadRequestData")
    assert pointer in [error["pointer"] for error in body["errors"]], body


def test_multi_attribute_with_two_default_instances_is_400(broker):
    entity = {"id": "urn:a:1", "type": "T", "a": [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}]}
    problem(create(broker, entity), 400, "BadRequestData")


def test_malformed_json_is_400_invalid_request(broker):
    response = broker.post(ENTITIES, content=b"{nope", headers={"Content-Type": "application/json"})
    problem(response, 400, "InvalidRequest")


def test_unsupported_content_type_is_415(broker):
    response = broker.post(ENTITIES, content=b"<x/>", headers={"Content-Type": "application/xml"})
    problem(response, 415, "UnsupportedMediaType")


def test_retrieve_unknown_is_404_and_bad_id_is_400(broker):
    problem(broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:none"), 404, "ResourceNotFound")
    problem(broker.get(f"{ENTITIES}/not-a-uri"), 400, "BadRequestData")


def test_unknown_ngsi_ld_path_is_resource_not_found(broker):
    problem(broker.get("/ngsi-ld/v1/nothing-here"), 404, "ResourceNotFound")
    assert broker.get("/nothing-here").json()["type"] == "about:blank"


def test_delete_is_204_then_404(broker):
    create(broker, BUILDING)
    deleted = broker.delete(f"{ENTITIES}/urn:ngsi-ld:Building:1")
    assert deleted.status_code == 204 and deleted.content == b""
    problem(broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1"), 404, "ResourceNotFound")
    problem(broker.delete(f"{ENTITIES}/urn:ngsi-ld:Building:1"), 404, "ResourceNotFound")
    assert create(broker, BUILDING).status_code == 201  # the id is free again


def test_key_values_and_concise(broker):
    create(broker, BUILDING)
    url = f"{ENTITIES}/urn:ngsi-ld:Building:1"
    simplified = broker.get(url, params={"options": "keyValues"}).json()
    assert simplified["name"] == "Depot" and simplified["owner"] == "urn:ngsi-ld:Person:1"
    assert simplified["location"] == BUILDING["location"]["value"]
    assert simplified["category"] == "commercial" and simplified["levels"] == [1, 2, 3]
    assert simplified["parts"] == ["urn:ngsi-ld:Part:1"] and simplified["occupancy"] == [10, 12]
    assert broker.get(url, params={"format": "keyValues"}).json() == simplified
    concise = broker.get(url, params={"format": "concise"}).json()
    assert concise["height"] == {"value": 21.5, "unitCode": "MTR"}
    assert concise["location"] == BUILDING["location"]["value"]
    assert concise["owner"] == {"object": "urn:ngsi-ld:Person:1", "objectType": "Person"}
    assert concise["name"] == {"value": "Depot", "observedAt": "2026-01-01T10:00:00Z", "accuracy": 0.9}


def test_concise_input_round_trips_to_normalized(broker):
    concise = {
        "id": "urn:a:concise", "type": "T", "n": 5, "name": {"value": "x", "unitCode": "C"},
        "location": {"type": "Point", "coordinates": [1, 2]}, "owner": {"object": "urn:b:1"},
        "t": {"languageMap": {"en": "x"}}, "v": {"vocab": "y"}, "j": {"json": {"a": 1}},
        "l": {"valueList": [1]}, "r": {"objectList": [{"object": "urn:c:1"}]}, "compound": {"street": "Main"},
    }
    assert create(broker, concise).status_code == 201
    body = broker.get(f"{ENTITIES}/urn:a:concise").json()
    assert body["n"] == {"type": "Property", "value": 5}
    assert body["location"]["type"] == "GeoProperty" and body["owner"]["type"] == "Relationship"
    assert [body[k]["type"] for k in ("t", "v", "j", "l", "r")] == [
        "LanguageProperty", "VocabProperty", "JsonProperty", "ListProperty", "ListRelationship"]
    assert body["compound"] == {"type": "Property", "value": {"street": "Main"}}
    # A compound value keeps its "value" wrapper in concise output, or it would read as an attribute.
    expected = {**concise, "compound": {"value": {"street": "Main"}}}
    assert broker.get(f"{ENTITIES}/urn:a:concise", params={"format": "concise"}).json() == expected


def test_projection_attrs_pick_omit(broker):
    create(broker, BUILDING)
    url = f"{ENTITIES}/urn:ngsi-ld:Building:1"
    assert set(broker.get(url, params={"attrs": "name,height"}).json()) == {"id", "type", "scope", "name", "height"}
    assert set(broker.get(url, params={"pick": "id,name"}).json()) == {"id", "name"}
    omitted = broker.get(url, params={"omit": "type,name"}).json()
    assert "type" not in omitted and "name" not in omitted and "height" in omitted
    problem(broker.get(url, params={"pick": "id", "omit": "name"}), 400, "BadRequestData")
    problem(broker.get(url, params={"options": "fancy"}), 400, "BadRequestData")


def test_dataset_id_selects_instances(broker):
    create(broker, BUILDING)
    url = f"{ENTITIES}/urn:ngsi-ld:Building:1"
    sensor = broker.get(url, params={"datasetId": "urn:ngsi-ld:Dataset:sensor", "attrs": "occupancy"}).json()
    assert sensor["occupancy"]["value"] == 12
    default = broker.get(url, params={"datasetId": "@none", "attrs": "occupancy"}).json()
    assert default["occupancy"]["value"] == 10


@pytest.mark.parametrize(("lang", "expected"), [("nl", "Opslag"), ("en-GB", "Depot"), ("fr,en;q=0.5", "Depot"), ("*", "Depot")])
def test_lang_filters_language_properties(broker, lang, expected):
    create(broker, BUILDING)
    body = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", params={"lang": lang, "attrs": "title"}).json()
    assert body["title"]["type"] == "Property" and body["title"]["value"] == expected
    assert body["title"]["lang"] in ("nl", "en")


def test_accept_negotiation(broker):
    create(broker, BUILDING)
    url = f"{ENTITIES}/urn:ngsi-ld:Building:1"
    ld = broker.get(url, headers={"Accept": "application/ld+json"})
    assert ld.headers["content-type"] == "application/ld+json" and "link" not in ld.headers
    assert ld.json()["@context"] == NGSI_LD_CORE_CONTEXT_URL
    assert broker.get(url, headers={"Accept": "*/*"}).headers["content-type"] == "application/json"
    problem(broker.get(url, headers={"Accept": "text/html"}), 406, "NotAcceptable")


def test_geojson_feature_and_collection(broker):
    create(broker, BUILDING)
    feature = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", headers={"Accept": "application/geo+json"})
    assert feature.headers["content-type"] == "application/geo+json"
    body = feature.json()
    assert (body["type"], body["id"], body["geometry"]) == ("Feature", BUILDING["id"], BUILDING["location"]["value"])
    assert body["properties"]["type"] == "Building" and body["properties"]["name"]["value"] == "Depot"
    collection = broker.get(ENTITIES, params={"type": "Building", "geometryProperty": "height"},
                            headers={"Accept": "application/geo+json"}).json()
    assert collection["type"] == "FeatureCollection" and collection["features"][0]["geometry"] is None


def _many(broker, count, type_="Sensor", **headers):
    for n in range(count):
        assert create(broker, {"id": f"urn:ngsi-ld:{type_}:{n}", "type": type_, "n": {"type": "Property", "value": n}},
                      **headers).status_code == 201


def test_query_by_type_pages_in_creation_order_with_count(broker):
    _many(broker, 5)
    create(broker, BUILDING)
    page = broker.get(ENTITIES, params={"type": "Sensor", "limit": 2, "offset": 1, "count": "true"})
    assert page.status_code == 200 and page.headers["ngsild-results-count"] == "5"
    assert [e["id"] for e in page.json()] == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
    only_count = broker.get(ENTITIES, params={"type": "Sensor", "limit": 0, "count": "true"})
    assert only_count.json() == [] and only_count.headers["ngsild-results-count"] == "5"
    assert "ngsild-results-count" not in broker.get(ENTITIES, params={"type": "Sensor"}).headers
    assert len(broker.get(ENTITIES, params={"type": "Sensor,Building"}).json()) == 6


def test_query_paging_errors(broker):
    problem(broker.get(ENTITIES, params={"type": "T", "limit": 0}), 400, "BadRequestData")
    problem(broker.get(ENTITIES, params={"type": "T", "limit": -1}), 400, "BadRequestData")
    problem(broker.get(ENTITIES, params={"type": "T", "offset": "x"}), 400, "BadRequestData")
    problem(broker.get(ENTITIES, params={"type": "T", "limit": 5000}), 403, "TooManyResults")
    problem(broker.get(ENTITIES, params={"type": "T", "count": "yes"}), 400, "BadRequestData")


def test_query_needs_a_selector(broker):
    problem(broker.get(ENTITIES), 400, "BadRequestData")
    _many(broker, 2)
    assert len(broker.get(ENTITIES, params={"local": "true"}).json()) == 2


def test_query_by_id_id_pattern_and_attrs(broker):
    _many(broker, 3)
    create(broker, BUILDING)
    ids = broker.get(ENTITIES, params={"id": "urn:ngsi-ld:Sensor:0,urn:ngsi-ld:Sensor:2"}).json()
    assert [e["id"] for e in ids] == ["urn:ngsi-ld:Sensor:0", "urn:ngsi-ld:Sensor:2"]
    pattern = broker.get(ENTITIES, params={"idPattern": "urn:ngsi-ld:Sensor:[12]", "count": "true"})
    assert [e["id"] for e in pattern.json()] == ["urn:ngsi-ld:Sensor:1", "urn:ngsi-ld:Sensor:2"]
    assert pattern.headers["ngsild-results-count"] == "2"
    with_attr = broker.get(ENTITIES, params={"attrs": "height"}).json()
    assert [e["id"] for e in with_attr] == [BUILDING["id"]] and set(with_attr[0]) == {"id", "type", "scope", "height"}
    problem(broker.get(ENTITIES, params={"idPattern": "("}), 400, "BadRequestData")
    problem(broker.get(ENTITIES, params={"id": "not a uri"}), 400, "BadRequestData")


def test_query_type_expressions(broker):
    create(broker, {"id": "urn:a:1", "type": ["A", "B"]})
    create(broker, {"id": "urn:a:2", "type": "A"})
    create(broker, {"id": "urn:a:3", "type": "C"})

    def ids(expression):
        return [e["id"] for e in broker.get(ENTITIES, params={"type": expression}).json()]

    assert ids("A;B") == ["urn:a:1"]
    assert ids("A|C") == ["urn:a:1", "urn:a:2", "urn:a:3"]
    assert ids("(A;B)|C") == ["urn:a:1", "urn:a:3"]
    problem(broker.get(ENTITIES, params={"type": "(A"}), 400, "BadRequestData")


def test_query_with_q_scope_and_geo(broker):
    _many(broker, 4)
    create(broker, BUILDING)
    q = broker.get(ENTITIES, params={"type": "Sensor", "q": "n>=2", "count": "true"})
    assert [e["id"] for e in q.json()] == ["urn:ngsi-ld:Sensor:2", "urn:ngsi-ld:Sensor:3"]
    assert q.headers["ngsild-results-count"] == "2"
    scoped = broker.get(ENTITIES, params={"scopeQ": "/Rotterdam/#"}).json()
    assert [e["id"] for e in scoped] == [BUILDING["id"]]
    near = broker.get(ENTITIES, params={"type": "Building", "georel": "near;maxDistance==2000",
                                        "geometry": "Point", "coordinates": "[4.48,51.92]"}).json()
    assert [e["id"] for e in near] == [BUILDING["id"]]
    far = broker.get(ENTITIES, params={"type": "Building", "georel": "near;maxDistance==10",
                                       "geometry": "Point", "coordinates": "[5,52]"}).json()
    assert far == []
    problem(broker.get(ENTITIES, params={"type": "Sensor", "q": "n>>"}), 400, "BadRequestData")
    problem(broker.get(ENTITIES, params={"type": "Sensor", "georel": "near"}), 400, "BadRequestData")


def test_tenants_are_isolated(broker):
    tenant = {"NGSILD-Tenant": "rotterdam"}
    created = create(broker, BUILDING, **tenant)
    assert created.status_code == 201 and created.headers["ngsild-tenant"] == "rotterdam"
    problem(broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1"), 404, "ResourceNotFound")
    got = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", headers=tenant)
    assert got.status_code == 200 and got.headers["ngsild-tenant"] == "rotterdam"
    assert create(broker, BUILDING).status_code == 201  # same id, default tenant
    other = {"NGSILD-Tenant": "the-hague"}
    problem(broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1", headers=other), 404, "NonexistentTenant")
    problem(broker.get(ENTITIES, params={"type": "Building"}, headers=other), 404, "NonexistentTenant")
    problem(broker.delete(f"{ENTITIES}/urn:ngsi-ld:Building:1", headers=other), 404, "NonexistentTenant")
    problem(broker.get(ENTITIES, params={"type": "T"}, headers={"NGSILD-Tenant": "bad tenant"}), 400, "BadRequestData")


def test_well_known_names_the_ngsi_ld_ppis(broker):
    document = broker.get("/.well-known/mim").json()
    assert document["name"] == "context"
    consumed = {(p["ppi"], p["version"]) for p in document["consumes"]}
    produced = {(p["ppi"], p["version"]) for p in document["produces"]}
    both = {("ngsi-ld-entity", "1.0.0"), ("ngsi-ld-subscription", "1.0.0"), ("ngsi-ld-csource-registration", "1.0.0")}
    assert both <= consumed
    assert both | {("ngsi-ld-notification", "1.0.0")} <= produced
