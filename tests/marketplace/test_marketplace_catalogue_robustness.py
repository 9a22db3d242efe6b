"""Property-based robustness of the catalogue: no generated request may end in a server error.

Schemathesis generates requests for every catalogue operation of the OpenAPI document (bodies
from the dcat-dataset PPI's schema, which the document carries, and requests that break it) and
sends them to a fresh server on each engine; generation is derandomized, so a run is repeatable.
Token checks are off, so generated input reaches the code behind them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from robustness import server_errors
from serving import free_port
from serving import served as served_app

from mims.marketplace.service import create_app

EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[str]:
    with served_app(create_app(data_dir=tmp_path, database_url=database_url), free_port()) as base_url:
        yield base_url


def test_no_catalogue_operation_answers_a_generated_request_with_a_server_error(served: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {"/datasets", "/datasets/{dataset_id}", "/catalog"} <= {operation.path for operation in operations}
    failures, without_body = server_errors(served, [(operation, None) for operation in operations],
                                           examples=EXAMPLES_PER_OPERATION, timeout=20)
    assert not failures, "\n\n".join(failures)
    assert not without_body, f"no body generated for {without_body}"
