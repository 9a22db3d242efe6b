"""Every error status the kit answers is RFC 9457 problem+json that says what and where."""

from __future__ import annotations

import logging

import pytest

from kit_app import client, kit_loggers_enabled, problem
from mims.kit.errors import MALFORMED_JSON, REQUEST_VALIDATION
from mims.kit.ppi import PPI_VALIDATION

pytestmark = pytest.mark.usefixtures(kit_loggers_enabled.__name__)


@pytest.fixture
def http(tmp_path):
    return client(tmp_path, max_body_bytes=256)


def test_malformed_json_says_line_and_column(http):
    response = http.post("/things", content=b'{"name": "a",\n "size": }', headers={"Content-Type": "application/json"})
    body = problem(response, 400)
    assert body["type"] == MALFORMED_JSON
    assert (body["line"], body["column"]) == (2, 10)
    assert "line 2, column 10" in body["detail"]


def test_malformed_json_on_a_ppi_route_says_line_and_column(http):
    response = http.post("/entities", content=b'{"id": "urn:x",\n  "type": ]}', headers={"Content-Type": "application/ld+json"})
    body = problem(response, 400)
    assert body["type"] == MALFORMED_JSON
    assert (body["line"], body["column"]) == (2, 11)


def test_validation_errors_point_at_each_member(http):
    body = problem(http.post("/things", json={"size": -1}), 400)
    assert body["type"] == REQUEST_VALIDATION
    assert {(e["pointer"], e["location"]) for e in body["errors"]} == {("/name", "body"), ("/size", "body")}


def test_validation_errors_in_path_and_query_name_their_location(http):
    body = problem(http.get("/items/abc", params={"verbose": "perhaps"}), 400)
    assert {(e["pointer"], e["location"]) for e in body["errors"]} == {("/item_id", "path"), ("/verbose", "query")}


def test_ppi_violations_are_all_reported_with_pointers(http):
    entity = {"id": "not a uri", "type": "Building", "height": {"type": "Property"}}
    body = problem(http.post("/entities", json=entity), 400)
    assert body["type"] == PPI_VALIDATION
    assert body["title"] == "Request body does not match PPI ngsi-ld-entity@1.0.0"
    pointers = {e["pointer"] for e in body["errors"]}
    assert "/id" in pointers
    assert any(p.startswith("/height") for p in pointers)


def test_declared_oversize_body_is_413(http):
    body = problem(http.post("/things", content=b"x" * 257, headers={"Content-Type": "application/json"}), 413)
    assert body["maxBodyBytes"] == 256


def test_chunked_oversize_body_is_413(http):
    def chunks():
        yield b'{"name": "'
        yield b"x" * 300
        yield b'", "size": 1}'

    response = http.post("/things", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    problem(response, 413)


def test_understated_content_length_is_413(http):
    payload = b'{"name": "' + b"x" * 300 + b'", "size": 1}'
    response = http.post("/entities", content=payload, headers={"Content-Type": "application/json", "Content-Length": "20"})
    problem(response, 413)


def test_body_within_limit_passes(http):
    assert http.post("/things", json={"name": "a", "size": 1}).json() == {"name": "a", "size": 1}


@pytest.mark.parametrize("path", ["/entities", "/things"])
def test_non_json_body_is_415_naming_accepted_types(http, path):
    body = problem(http.post(path, content=b"name=a", headers={"Content-Type": "text/plain"}), 415)
    assert "application/json" in body["accept"]
    assert "text/plain" in body["detail"]


def test_unknown_route_is_404(http):
    body = problem(http.get("/nowhere"), 404)
    assert body["title"] == "Not Found"
    assert "/nowhere" in body["detail"]


def test_wrong_method_is_405_with_allow(http):
    response = http.delete("/things")
    body = problem(response, 405)
    assert response.headers["allow"] == "POST"
    assert "DELETE" in body["detail"]


def test_problem_error_is_rendered_as_raised(http):
    response = http.get("/gone")
    body = problem(response, 410)
    assert (body["type"], body["title"], body["detail"]) == ("https://example.org/gone", "Gone", "It left.")
    assert response.headers["retry-after"] == "60"


def test_unhandled_error_is_500_without_internals_and_logged_with_request_id(http, caplog):
    with caplog.at_level(logging.ERROR, logger="mims.kit.errors"):
        response = http.get("/boom", headers={"X-Request-ID": "trace-500"})
    body = problem(response, 500)
    assert body["requestId"] == "trace-500"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    record = next(r for r in caplog.records if r.name == "mims.kit.errors")
    assert record.exc_info and "secret internals" in str(record.exc_info[1])
