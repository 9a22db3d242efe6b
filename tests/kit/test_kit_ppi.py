"""Request bodies against PPIs: every problem reported, JSON media types recognised."""

from __future__ import annotations

import ppi_schemas
import pytest

from mims.kit.ppi import PPI_VALIDATION, is_json_media_type, openapi_request_body, parse_json, ppi_body, validate_body
from mims.kit.problems import ProblemError


def test_valid_example_passes():
    for example in ppi_schemas.get("ngsi-ld-entity@1").examples_valid:
        validate_body(example.payload, "ngsi-ld-entity@1")


def test_every_invalid_example_is_refused_at_its_pointer():
    for example in ppi_schemas.get("ngsi-ld-entity@1").examples_invalid:
        with pytest.raises(ProblemError) as caught:
            validate_body(example.payload, "ngsi-ld-entity@1.0.0")
        problem = caught.value
        assert (problem.status, problem.type) == (400, PPI_VALIDATION)
        assert problem.extensions["ppi"] == "ngsi-ld-entity@1.0.0"
        assert example.pointer in {item.pointer for item in problem.errors}, example.name


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/LD+JSON", True),
        ("application/geo+json", True),
        ("text/json", False),
        ("text/plain", False),
        ("application/jsonx", False),
        (None, False),
        ("", False),
    ],
)
def test_json_media_types(content_type, expected):
    assert is_json_media_type(content_type) is expected


@pytest.mark.parametrize(("body", "line", "column"), [(b"", 1, 1), (b'{"a": 1,}', 1, 8), (b'[1,\n2,\n  x]', 3, 3)])
def test_parse_json_reports_where_it_broke(body, line, column):
    with pytest.raises(ProblemError) as caught:
        parse_json(body)
    assert (caught.value.extensions["line"], caught.value.extensions["column"]) == (line, column)


def test_unknown_ppi_fails_when_the_route_is_declared():
    with pytest.raises(ppi_schemas.PPINotFound):
        ppi_body("no-such-ppi@1")


def test_openapi_body_documents_the_ppi_schema_under_its_media_types():
    ppi = ppi_schemas.get("ngsi-ld-entity@1")
    content = openapi_request_body("ngsi-ld-entity@1")["requestBody"]["content"]
    assert set(content) == {"application/json", ppi.media_type}
    assert content["application/json"]["schema"] == ppi.schema
