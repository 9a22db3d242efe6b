"""Fixtures of the context MIM tests: the broker on SQLite and on PostgreSQL, offline contexts."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mims.context.service import create_app

SMART_DATA_MODELS = Path(__file__).resolve().parents[1] / "ppi_schemas" / "data" / "smart-data-models"


@pytest.fixture(params=["sqlite", "postgresql"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> TestClient:
    """The broker over HTTP, once per storage engine; remote contexts off, Smart Data Models preloaded."""
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    app = create_app(
        data_dir=tmp_path, database_url=database_url, jsonld_remote=False, jsonld_preload_dir=SMART_DATA_MODELS
    )
    with TestClient(app) as client:
        yield client
