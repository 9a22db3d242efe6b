"""Client-credentials tokens on an httpx.AsyncClient: fetched once with HTTP Basic and the scope,
sent as Bearer, reused while valid, renewed before they expire; a refusing or unreachable token
endpoint is a TokenRequestFailed naming it. The token endpoint is a small app served on loopback."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mims.kit.auth.client_credentials import TokenRequestFailed, client_credentials_client
from tests.serving import closed_port, free_port, served

SECRET = "s3cret"


@dataclass
class TokenServer:
    url: str
    expires_in: int = 3600
    requests: list[dict[str, Any]] = field(default_factory=list)


def token_app(server: TokenServer) -> FastAPI:
    app = FastAPI()

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        client_id, _, secret = base64.b64decode(credentials).decode().partition(":") if scheme == "Basic" else ("", "", "")
        server.requests.append({"client_id": client_id, **form})
        if secret != SECRET:
            return JSONResponse({"error": "invalid_client", "error_description": "client authentication failed"}, 401)
        number = len(server.requests)
        return JSONResponse({"access_token": f"token-{number}", "token_type": "Bearer", "expires_in": server.expires_in,
                             "scope": form.get("scope", "")})

    @app.get("/api")
    async def api(request: Request) -> dict[str, Any]:
        return {"authorization": request.headers.get("authorization")}

    return app


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenServer]:
    port = free_port()
    server = TokenServer(f"http://127.0.0.1:{port}")
    with served(token_app(server), port):
        yield server


@pytest.fixture
def server(tokens: TokenServer) -> TokenServer:
    tokens.requests.clear()
    tokens.expires_in = 3600
    return tokens


async def authorizations(server: TokenServer, calls: int, secret: str = SECRET, token_url: str | None = None) -> list[str]:
    async with client_credentials_client(token_url=token_url or f"{server.url}/token", client_id="permit-check",
                                         client_secret=secret, scope="context:read", timeout=5) as client:
        answers = await asyncio.gather(*(client.get(f"{server.url}/api") for _ in range(calls)))
        return [answer.json()["authorization"] for answer in answers]


def test_one_token_is_fetched_and_sent_as_bearer_while_it_is_valid(server: TokenServer) -> None:
    assert asyncio.run(authorizations(server, 5)) == ["Bearer token-1"] * 5
    assert server.requests == [{"client_id": "permit-check", "grant_type": "client_credentials", "scope": "context:read"}]


def test_a_token_about_to_expire_is_replaced_before_the_next_request(server: TokenServer) -> None:
    server.expires_in = 30  # within the 60 s leeway: stale at once

    async def sequential() -> list[str]:
        async with client_credentials_client(token_url=f"{server.url}/token", client_id="permit-check",
                                             client_secret=SECRET, timeout=5) as client:
            return [(await client.get(f"{server.url}/api")).json()["authorization"] for _ in range(3)]

    assert asyncio.run(sequential()) == ["Bearer token-1", "Bearer token-2", "Bearer token-3"]
    assert len(server.requests) == 3 and "scope" not in server.requests[0]


def test_a_refused_client_names_the_token_endpoint_and_the_error(server: TokenServer) -> None:
    with pytest.raises(TokenRequestFailed) as caught:
        asyncio.run(authorizations(server, 1, secret="wrong"))
    assert caught.value.error == "invalid_client" and caught.value.token_url == f"{server.url}/token"
    assert f"{server.url}/token" in str(caught.value) and "client authentication failed" in str(caught.value)


def test_an_unreachable_token_endpoint_is_a_token_request_failure(server: TokenServer) -> None:
    with closed_port() as port, pytest.raises(TokenRequestFailed) as caught:
        asyncio.run(authorizations(server, 1, token_url=f"http://127.0.0.1:{port}/token"))
    assert caught.value.error is None and f"127.0.0.1:{port}/token" in str(caught.value)
    assert "ConnectError" in caught.value.reason
