"""Fixtures of the identity MIM tests: the running app on SQLite and on PostgreSQL, in the
test's own event loop, reached over HTTP through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from mims.identity.clients import Registration, register_client
from mims.identity.service import create_app
from mims.identity.storage import SqlClientStore

ISSUER = "http://127.0.0.1:8001"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@dataclass
class Identity:
    app: FastAPI
    http: httpx.AsyncClient

    async def register(self, scopes: list[str], method: str = "client_secret_basic") -> Registration:
        return await register_client(
            SqlClientStore(self.app.state.engine),
            name="test client",
            scopes=scopes,
            platform_scopes=self.app.state.settings.scopes,
            token_endpoint_auth_method=method,
        )


@pytest.fixture
async def start(tmp_path: Path, database_url: str | None) -> AsyncIterator[Callable[..., Awaitable[Identity]]]:
    """Starts an identity app (settings overridable) that runs until the test ends."""
    async with AsyncExitStack() as stack:

        async def started(**overrides: object) -> Identity:
            app = create_app(**{"data_dir": tmp_path, "database_url": database_url, **overrides})
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)
            )
            return Identity(app, http)

        yield started


@pytest.fixture
async def identity(start) -> Identity:
    return await start()


async def issue_token(identity: Identity, registration: Registration, **data: str) -> str:
    """A client_credentials access token for ``registration``, got over HTTP."""
    client_id, secret = registration.client.client_id, registration.client_secret
    if registration.client.token_endpoint_auth_method == "client_secret_post":
        response = await identity.http.post(
            "/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **data}
        )
    else:
        response = await identity.http.post(
            "/token", data={"grant_type": "client_credentials", **data}, auth=(client_id, secret)
        )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def issue() -> Callable[..., Awaitable[str]]:
    """``await issue(identity, registration, scope=...)``: an access token from /token."""
    return issue_token
