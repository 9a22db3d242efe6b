"""Property-based robustness of the gateway: no generated request may end in a server error.

A real city behind the gateway (identity and context MIMs on SQLite) and the gateway's own
storage on each engine. Schemathesis generates requests for every operation of the gateway's
aggregated OpenAPI document: its own routes (discovery, audit, peers, region) and every MIM path as
reached through it. Each operation is sent anonymously and with an identity-issued token holding
every platform scope, so generated input gets past the policy enforcement point too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import schemathesis
from robustness import server_errors, unavailable_ld_context
from serving import free_port, served

from gateway.service import create_app as create_gateway
from mims.context.service import create_app as create_context
from mims.identity.clients import register_client
from mims.identity.service import SPEC as IDENTITY
from mims.identity.service import create_app as create_identity
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore
from mims.kit import storage

EXAMPLES_PER_OPERATION = 5


async def _admin_client(database_url: str) -> str:
    """A client holding every platform scope, registered in the identity database; its secret."""
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, IDENTITY.name, IDENTITY.migrations)
        client = await register_client(
            SqlClientStore(engine), name="fuzzing console", scopes=list(PLATFORM_SCOPES),
            platform_scopes=PLATFORM_SCOPES, client_id="fuzzing-console",
        )
    finally:
        await engine.dispose()
    assert client.client_secret is not None
    return client.client_secret


@pytest.fixture(params=["sqlite", "postgresql"])
def city(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The gateway's URL, in front of a served identity and context MIM, and a bearer header."""
    gateway_database = (
        storage.default_database_url("gateway", tmp_path / "gateway")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    identity_database = storage.default_database_url("identity", tmp_path / "identity")
    secret = asyncio.run(_admin_client(identity_database))
    identity_port = free_port()
    identity_url = f"http://127.0.0.1:{identity_port}"
    with ExitStack() as stack:
        stack.enter_context(served(create_identity(
            data_dir=tmp_path / "identity", database_url=identity_database, issuer=identity_url), identity_port))
        context_url = stack.enter_context(served(create_context(data_dir=tmp_path / "context", jsonld_remote=False), free_port()))
        gateway = create_gateway(
            data_dir=tmp_path / "gateway", database_url=gateway_database, identity_url=identity_url,
            context_url=context_url, rate_limit=None, city="fuzz",
        )
        url = stack.enter_context(served(gateway, free_port()))
        token = httpx.post(f"{url}/identity/token", data={"grant_type": "client_credentials"},
                           auth=("fuzzing-console", secret), timeout=10)
        assert token.status_code == 200, token.text
        yield url, {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_no_operation_answers_a_generated_request_with_a_server_error(city) -> None:
    url, bearer = city
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    assert {"/admin/audit", "/admin/peers/{name}", "/region/ngsi-ld/v1/entities", "/ngsi-ld/v1/entities",
            "/identity/token", "/ppi"} <= paths, sorted(paths)
    runs = [(operation, None) for operation in operations] + [(operation, bearer) for operation in operations]
    failures, without_body = server_errors(url, runs, examples=EXAMPLES_PER_OPERATION, timeout=20,
                                          expected=unavailable_ld_context)
    assert not failures, "\n\n".join(failures)
    assert not without_body, f"no body generated for {without_body}"
