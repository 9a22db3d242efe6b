"""The temporal API (clauses 6.18 to 6.22) over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mims.context.service import create_app

TEMPORAL = "/ngsi-ld/v1/temporal/entities"
ENTITIES = "/ngsi-ld/v1/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
VEHICLE = "urn:ngsi-ld:Vehicle:1"
T10, T11, T12, T13 = (f"2026-01-01T{hour}:00:00Z" for hour in (10, 11, 12, 13))


def vehicle(entity_id: str = VEHICLE, speeds: tuple[int, ...] = (10, 20, 30, 40)) -> dict:
    return {
        "id": entity_id,
        "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": value, "observedAt": at} for value, at in zip(speeds, (T10, T11, T12, T13), strict=True)
        ],
        "status": [
            {"type": "Property", "value": "on", "observedAt": T10},
            {"type": "Property", "value": "off", "observedAt": T12},
        ],
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def paged_broker(request: pytest.FixtureRequest, tmp_path: Path) -> TestClient:
    """A broker returning at most two instances per attribute history."""
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    app = create_app(data_dir=tmp_path, database_url=database_url, jsonld_remote=False, temporal_max_instances=2)
    with TestClient(app) as client:
        yield client


def problem(response, status: int, error_type: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == ERRORS + error_type
    return body


def values(body: dict, attribute: str) -> list:
    return [instance["value"] for instance in body[attribute]]


def test_create_then_update_temporal_representation(broker):
    created = broker.post(TEMPORAL, json=vehicle(speeds=(10, 20, 30, 40)))
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{TEMPORAL}/{VEHICLE}"
    more = {"id": VEHICLE, "type": "Vehicle", "fuel": [{"type": "Property", "value": 0.5, "observedAt": T12}]}
    assert broker.post(TEMPORAL, json=more).status_code == 204
    body = broker.get(f"{TEMPORAL}/{VEHICLE}").json()
    assert body["id"] == VEHICLE and body["type"] == "Vehicle"
    assert values(body, "speed") == [10, 20, 30, 40]
    assert values(body, "status") == ["on", "off"]
    assert values(body, "fuel") == [0.5]
    ids = [instance["instanceId"] for instance in body["speed"]]
    assert len(set(ids)) == 4 and all(item.startswith("urn:ngsi-ld:AttributeInstance:") for item in ids)


def test_each_timerel_selects_its_range(broker):
    broker.post(TEMPORAL, json=vehicle())
    cases = {
        ("before", T12, None): [10, 20],
        ("after", T11, None): [30, 40],
        ("between", T11, T13): [20, 30],
    }
    for (timerel, at, end), expected in cases.items():
        params = {"timerel": timerel, "timeAt": at, **({"endTimeAt": end} if end else {})}
        body = broker.get(f"{TEMPORAL}/{VEHICLE}", params=params).json()
        assert values(body, "speed") == expected, timerel


def test_last_n_keeps_the_most_recent_instances(broker):
    broker.post(TEMPORAL, json=vehicle())
    body = broker.get(f"{TEMPORAL}/{VEHICLE}", params={"lastN": "2", "attrs": "speed"}).json()
    assert values(body, "speed") == [30, 40]
    assert "status" not in body


def test_temporal_values_are_value_time_pairs(broker):
    broker.post(TEMPORAL, json=vehicle())
    body = broker.get(f"{TEMPORAL}/{VEHICLE}", params={"options": "temporalValues"}).json()
    assert body["speed"] == {"type": "Property", "values": [[10, T10], [20, T11], [30, T12], [40, T13]]}
    assert body["status"] == {"type": "Property", "values": [["on", T10], ["off", T12]]}


def test_every_aggregation_method_over_the_whole_range(broker):
    broker.post(TEMPORAL, json=vehicle())
    params = {"format": "aggregatedValues", "attrs": "speed",
              "aggrMethods": "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq"}
    speed = broker.get(f"{TEMPORAL}/{VEHICLE}", params=params).json()["speed"]
    figures = {method: entries[0][0] for method, entries in speed.items() if method != "type"}
    assert figures.pop("stddev") == pytest.approx(math.sqrt(500 / 3))
    assert figures == {"totalCount": 4, "distinctCount": 4, "sum": 100, "avg": 25, "min": 10, "max": 40, "sumsq": 3000}
    assert speed["sum"] == [[100, T10, T13]]


def test_aggregation_periods(broker):
    broker.post(TEMPORAL, json=vehicle())
    params = {"options": "aggregatedValues", "aggrMethods": "avg,totalCount", "aggrPeriodDuration": "PT2H",
              "timerel": "between", "timeAt": T10, "endTimeAt": "2026-01-02T00:00:00Z"}
    body = broker.get(f"{TEMPORAL}/{VEHICLE}", params=params).json()
    assert body["speed"]["avg"] == [[15, T10, T12], [35, T12, "2026-01-01T14:00:00Z"]]
    assert body["status"]["totalCount"] == [[1, T10, T12], [1, T12, "2026-01-01T14:00:00Z"]]


def test_long_histories_are_paged_with_content_range(paged_broker):
    paged_broker.post(TEMPORAL, json=vehicle())
    first = paged_broker.get(f"{TEMPORAL}/{VEHICLE}")
    assert first.status_code == 206
    assert first.headers["content-range"] == f"date-time {T10}-{T11}/*"
    assert values(first.json(), "speed") == [10, 20]
    assert values(first.json(), "status") == ["on"]
    rest = paged_broker.get(f"{TEMPORAL}/{VEHICLE}", params={"timerel": "after", "timeAt": T11})
    assert rest.status_code == 200 and "content-range" not in rest.headers
    assert values(rest.json(), "speed") == [30, 40]
    assert values(rest.json(), "status") == ["off"]
    recent = paged_broker.get(f"{TEMPORAL}/{VEHICLE}", params={"lastN": "3"})
    assert recent.status_code == 206
    assert recent.headers["content-range"] == f"date-time {T13}-{T12}/3"
    assert values(recent.json(), "speed") == [30, 40]


def test_modify_and_delete_an_instance(broker):
    broker.post(TEMPORAL, json=vehicle())
    instance_id = broker.get(f"{TEMPORAL}/{VEHICLE}").json()["speed"][1]["instanceId"]
    url = f"{TEMPORAL}/{VEHICLE}/attrs/speed/{instance_id}"
    changed = broker.patch(url, json={"speed": {"type": "Property", "value": 25, "observedAt": T11}})
    assert changed.status_code == 204, changed.text
    speed = broker.get(f"{TEMPORAL}/{VEHICLE}").json()["speed"]
    assert [(item["value"], item["instanceId"] == instance_id) for item in speed][1] == (25, True)
    assert broker.delete(url).status_code == 204
    assert values(broker.get(f"{TEMPORAL}/{VEHICLE}").json(), "speed") == [10, 30, 40]
    problem(broker.delete(url), 404, "ResourceNotFound")
    problem(broker.patch(url, json={"speed": 1}), 404, "ResourceNotFound")
    problem(broker.patch(f"{TEMPORAL}/{VEHICLE}/attrs/speed/x", json={"status": 1}), 400, "BadRequestData")


def test_add_and_delete_attributes(broker):
    broker.post(TEMPORAL, json=vehicle())
    added = broker.post(f"{TEMPORAL}/{VEHICLE}/attrs", json={"status": [
        {"type": "Property", "value": "on", "observedAt": T13, "datasetId": "urn:ngsi-ld:Dataset:b"}]})
    assert added.status_code == 204, added.text
    body = broker.get(f"{TEMPORAL}/{VEHICLE}", params={"options": "temporalValues", "attrs": "status"}).json()
    assert body["status"] == [
        {"type": "Property", "values": [["on", T10], ["off", T12]]},
        {"type": "Property", "values": [["on", T13]], "datasetId": "urn:ngsi-ld:Dataset:b"},
    ]
    assert broker.delete(f"{TEMPORAL}/{VEHICLE}/attrs/status").status_code == 204
    assert values(broker.get(f"{TEMPORAL}/{VEHICLE}").json(), "status") == ["on"]
    problem(broker.delete(f"{TEMPORAL}/{VEHICLE}/attrs/status"), 404, "ResourceNotFound")
    assert broker.delete(f"{TEMPORAL}/{VEHICLE}/attrs/status", params={"deleteAll": "true"}).status_code == 204
    assert "status" not in broker.get(f"{TEMPORAL}/{VEHICLE}").json()
    problem(broker.post(f"{TEMPORAL}/urn:ngsi-ld:Vehicle:none/attrs", json={"speed": 1}), 404, "ResourceNotFound")


def test_history_records_normal_entity_writes(broker):
    building = {"id": "urn:ngsi-ld:Building:1", "type": "Building",
                "height": {"type": "Property", "value": 20, "observedAt": T10},
                "title": {"type": "LanguageProperty", "languageMap": {"en": "Depot"}}}
    assert broker.post(ENTITIES, json=building).status_code == 201
    assert broker.delete(f"{ENTITIES}/urn:ngsi-ld:Building:1").status_code == 204
    building["height"] = {"type": "Property", "value": 22, "observedAt": T12}
    assert broker.post(ENTITIES, json=building).status_code == 201
    url = f"{TEMPORAL}/urn:ngsi-ld:Building:1"
    history = broker.get(url, params={"timeproperty": "modifiedAt"}).json()["height"]
    assert [item["value"] for item in history] == [20, "urn:ngsi-ld:null", 22]
    assert "deletedAt" in history[1]
    deletions = broker.get(url, params={"timeproperty": "deletedAt"}).json()["height"]
    assert [item["value"] for item in deletions] == ["urn:ngsi-ld:null"]
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:1").json()["height"]["value"] == 22
    titles = broker.get(url, params={"timeproperty": "modifiedAt", "lang": "en", "attrs": "title"}).json()["title"]
    assert [item["value"] for item in titles] == ["Depot", "urn:ngsi-ld:null", "Depot"]


def test_history_records_attribute_updates(broker):
    building = {"id": "urn:ngsi-ld:Building:2", "type": "Building",
                "height": {"type": "Property", "value": 20, "observedAt": T10},
                "name": {"type": "Property", "value": "Depot"}}
    assert broker.post(ENTITIES, json=building).status_code == 201
    update = {"height": {"type": "Property", "value": 21, "observedAt": T11}}
    assert broker.patch(f"{ENTITIES}/urn:ngsi-ld:Building:2/attrs", json=update).status_code == 204
    body = broker.get(f"{TEMPORAL}/urn:ngsi-ld:Building:2", params={"options": "temporalValues"}).json()
    assert body["height"]["values"] == [[20, T10], [21, T11]]
    assert [value for value, _ in body["name"]["values"]] == ["Depot"]


def test_query_selects_on_the_latest_state_and_pages_entities(broker):
    broker.post(TEMPORAL, json=vehicle())
    broker.post(TEMPORAL, json=vehicle("urn:ngsi-ld:Vehicle:2", speeds=(40, 30, 20, 5)))
    found = broker.get(TEMPORAL, params={"type": "Vehicle", "q": "speed>35", "count": "true", "lastN": "1"})
    assert found.status_code == 200, found.text
    assert found.headers["ngsild-results-count"] == "1"
    assert [(body["id"], values(body, "speed")) for body in found.json()] == [(VEHICLE, [40])]
    paged = broker.get(TEMPORAL, params={"type": "Vehicle", "limit": "1", "offset": "1", "attrs": "speed"})
    assert [body["id"] for body in paged.json()] == ["urn:ngsi-ld:Vehicle:2"]
    problem(broker.get(TEMPORAL, params={"timerel": "after", "timeAt": T10}), 400, "BadRequestData")


def test_delete_temporal_entity(broker):
    broker.post(TEMPORAL, json=vehicle())
    assert broker.delete(f"{TEMPORAL}/{VEHICLE}").status_code == 204
    problem(broker.get(f"{TEMPORAL}/{VEHICLE}"), 404, "ResourceNotFound")
    problem(broker.delete(f"{TEMPORAL}/{VEHICLE}"), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "params",
    [
        {"timerel": "after"},
        {"timerel": "between", "timeAt": T10},
        {"timerel": "during", "timeAt": T10},
        {"timeAt": T10},
        {"timerel": "before", "timeAt": "yesterday"},
        {"timerel": "between", "timeAt": T12, "endTimeAt": T10},
        {"timeproperty": "seenAt"},
        {"lastN": "0"},
        {"options": "aggregatedValues"},
        {"options": "aggregatedValues", "aggrMethods": "median"},
        {"options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "1 day"},
        {"options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "PT"},
        {"options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "P1W2D"},
    ],
)
def test_bad_temporal_queries_are_400(broker, params):
    broker.post(TEMPORAL, json=vehicle())
    problem(broker.get(f"{TEMPORAL}/{VEHICLE}", params=params), 400, "BadRequestData")


def test_unknown_entity_tenant_and_invalid_body(broker):
    problem(broker.get(f"{TEMPORAL}/urn:ngsi-ld:Vehicle:none"), 404, "ResourceNotFound")
    problem(broker.get(f"{TEMPORAL}/{VEHICLE}", headers={"NGSILD-Tenant": "nobody"}), 404, "NonexistentTenant")
    bad = {"id": "not a uri", "type": "Vehicle", "speed": [{"type": "Property", "value": 1, "observedAt": "noon"}]}
    body = problem(broker.post(TEMPORAL, json=bad), 400, "BadRequestData")
    assert {item["pointer"] for item in body["errors"]} == {"/id", "/speed/0/observedAt"}
    tenant = {"NGSILD-Tenant": "fleet"}
    assert broker.post(TEMPORAL, json=vehicle(), headers=tenant).status_code == 201
    assert values(broker.get(f"{TEMPORAL}/{VEHICLE}", headers=tenant).json(), "speed") == [10, 20, 30, 40]
    problem(broker.get(f"{TEMPORAL}/{VEHICLE}"), 404, "ResourceNotFound")


def test_query_via_post_takes_a_query_with_temporal_q(broker):
    """Clause 6.24: the Query's selectors, q and temporalQ select like the URL parameters do."""
    broker.post(TEMPORAL, json=vehicle())
    broker.post(TEMPORAL, json=vehicle("urn:ngsi-ld:Vehicle:2", speeds=(40, 30, 20, 5)))
    query = {"type": "Query", "entities": [{"type": "Vehicle", "idPattern": ".*:2$"}, {"id": VEHICLE}],
             "q": "speed>0", "attrs": ["speed"], "temporalQ": {"timerel": "before", "timeAt": T12}}
    found = broker.post("/ngsi-ld/v1/temporal/entityOperations/query", json=query, params={"count": "true"})
    assert found.status_code == 200, found.text
    assert found.headers["ngsild-results-count"] == "2"
    assert [(body["id"], values(body, "speed")) for body in found.json()] == [
        (VEHICLE, [10, 20]), ("urn:ngsi-ld:Vehicle:2", [40, 30])]
    assert all("status" not in body for body in found.json())
    last = broker.post("/ngsi-ld/v1/temporal/entityOperations/query", params={"lastN": "1"},
                       json={"type": "Query", "entities": [{"id": "urn:ngsi-ld:Vehicle:2"}]})
    assert [values(body, "speed") for body in last.json()] == [[5]]
    problem(broker.post("/ngsi-ld/v1/temporal/entityOperations/query", json={"type": "Query", "temporalQ": "soon"}),
            400, "BadRequestData")
    problem(broker.post("/ngsi-ld/v1/temporal/entityOperations/query", json={"entities": []}), 400, "BadRequestData")
