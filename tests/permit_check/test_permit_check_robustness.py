"""Property-based robustness of the permit check: no generated request may end in a server error.

Schemathesis generates requests for every operation of the OpenAPI document (building plans from
the building-plan PPI's schema, which the document carries, CityJSON and IFC bodies, and requests
that break them) and sends them to a fresh server on each engine, in front of a served context
MIM holding the Spijkenisse zoning plan; generation is derandomized, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from robustness import server_errors
from serving import free_port
from serving import served as served_app

from mims.context.service import create_app as create_context
from mims.permit_check.service import create_app
from tests.permit_check.test_permit_check_api import publish

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def context_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_app(create_context(data_dir=tmp_path_factory.mktemp("context")), free_port()) as url:
        asyncio.run(publish(url))
        yield url


@pytest.fixture
def served(tmp_path: Path, database_url: str, context_url: str) -> Iterator[str]:
    app = create_app(data_dir=tmp_path, database_url=database_url, context_url=context_url)
    with served_app(app, free_port()) as base_url:
        yield base_url


def test_no_operation_answers_a_generated_request_with_a_server_error(served: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"/v1/checks", "/v1/checks/{check_id}", "/v1/checks/{check_id}.html"} <= {op.path for op in operations}
    failures, without_body = server_errors(served, [(operation, None) for operation in operations],
                                           examples=EXAMPLES_PER_OPERATION, timeout=30)
    assert not failures, "\n\n".join(failures)
    assert not without_body, f"no body generated for {without_body}"
