"""Property-based robustness of the identity MIM: no generated request may end in a server error.

Schemathesis generates requests for every operation of the OpenAPI document (form bodies for the
OAuth endpoints, JSON for /register and the admin API, parameters as declared, and requests that
break them) and sends them over HTTP to a fresh server; generation is derandomized, so a run is
repeatable. Every operation is exercised anonymously, and those behind a bearer token also with a
valid one (an admin access token, or an initial access token at /register), so that generated
input reaches the code behind the authentication.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from robustness import server_errors
from serving import free_port
from serving import served as served_app

from mims.identity.clients import register_client
from mims.identity.initial_access_tokens import (
    SqlInitialAccessTokenStore,
    issue_initial_access_token,
)
from mims.identity.service import SPEC, create_app
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore
from mims.kit import storage

EXAMPLES_PER_OPERATION = 8


async def _prepare(database_url: str) -> tuple[str, str]:
    """An admin client's secret and an initial access token, in the database the server will use."""
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        admin = await register_client(
            SqlClientStore(engine), name="fuzzing admin", scopes=["admin"], platform_scopes=PLATFORM_SCOPES,
            client_id="fuzzing-admin",
        )
        initial = await issue_initial_access_token(SqlInitialAccessTokenStore(engine), platform_scopes=PLATFORM_SCOPES)
    finally:
        await engine.dispose()
    assert admin.client_secret is not None
    return admin.client_secret, initial.token


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    """The identity MIM served by uvicorn on a free local port, once per storage engine, with the
    headers of its bearer tokens: ``admin`` (an admin access token) and ``register`` (an initial
    access token)."""
    database_url = (
        storage.default_database_url("identity", tmp_path)
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    admin_secret, initial_access_token = asyncio.run(_prepare(database_url))
    port = free_port()
    app = create_app(data_dir=tmp_path, database_url=database_url, issuer=f"http://127.0.0.1:{port}")
    with served_app(app, port) as base_url:
        token = httpx.post(
            f"{base_url}/token", data={"grant_type": "client_credentials"}, auth=("fuzzing-admin", admin_secret),
            timeout=10,
        )
        assert token.status_code == 200, token.text
        headers = {
            "admin": {"Authorization": f"Bearer {token.json()['access_token']}"},
            "register": {"Authorization": f"Bearer {initial_access_token}"},
        }
        yield base_url, headers


def _credentials(path: str, headers: dict[str, dict[str, str]]) -> dict[str, str] | None:
    if path.startswith("/admin/"):
        return headers["admin"]
    if path == "/register":
        return headers["register"]
    return None


def test_no_operation_answers_a_generated_request_with_a_server_error(served) -> None:
    base_url, headers = served
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    assert {"/token", "/introspect", "/revoke", "/register", "/admin/clients", "/admin/initial-access-tokens"} <= paths
    runs = [(operation, None) for operation in operations]
    runs += [(operation, auth) for operation in operations if (auth := _credentials(operation.path, headers))]
    failures, without_body = server_errors(base_url, runs, examples=EXAMPLES_PER_OPERATION, timeout=20)
    assert not failures, "\n\n".join(failures)
    assert not without_body, f"no body generated for {without_body}"
