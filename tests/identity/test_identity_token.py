"""RFC 6749 /token with client_credentials: RFC 9068 access tokens our own verifier accepts,
scopes narrowed to the client's, RFC 8707 audiences, and RFC 6749 section 5.2 errors."""

from __future__ import annotations

import base64
import json

import pytest

from mims.kit.auth import InvalidToken, TokenVerifier

ISSUER = "http://127.0.0.1:8001"  # the default setting
DEFAULT_AUDIENCE = "urn:oup:platform"
GRANT = {"grant_type": "client_credentials"}


def header(token: str) -> dict:
    encoded = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


async def verify(identity, token: str, audience: str = DEFAULT_AUDIENCE):
    verifier = TokenVerifier(jwks_url=f"{ISSUER}/jwks", issuers=[ISSUER], audience=audience, http=identity.http)
    return await verifier.verify(token)


def assert_no_store(response):
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"


async def test_client_secret_basic_gets_a_token_the_verifier_accepts(identity):
    registration = await identity.register(["context:read", "context:write"])
    client_id = registration.client.client_id
    response = await identity.http.post(
        "/token", data={**GRANT, "scope": "context:read"}, auth=(client_id, registration.client_secret)
    )
    assert response.status_code == 200, response.text
    assert_no_store(response)
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "context:read")
    jwks = (await identity.http.get("/jwks")).json()
    assert header(body["access_token"]) == {"typ": "at+jwt", "alg": "ES256", "kid": jwks["keys"][0]["kid"]}
    token = await verify(identity, body["access_token"])
    claims = token.claims
    assert (token.sub, token.client_id, token.scopes) == (client_id, client_id, frozenset({"context:read"}))
    assert (claims["iss"], claims["aud"], claims["sub"], claims["client_id"]) == (
        ISSUER, DEFAULT_AUDIENCE, client_id, client_id,
    )
    assert claims["exp"] - claims["iat"] == 300
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16


async def test_client_secret_post_gets_a_token_the_verifier_accepts(identity):
    registration = await identity.register(["permit:submit"], method="client_secret_post")
    client_id = registration.client.client_id
    response = await identity.http.post(
        "/token", data={**GRANT, "client_id": client_id, "client_secret": registration.client_secret}
    )
    assert response.status_code == 200, response.text
    assert_no_store(response)
    token = await verify(identity, response.json()["access_token"])
    assert (token.sub, token.client_id, token.scopes) == (client_id, client_id, frozenset({"permit:submit"}))


async def test_token_lifetime_and_default_audience_are_settings(start):
    identity = await start(access_token_lifetime=60, default_audience="https://context.rotterdam.example")
    registration = await identity.register(["context:read"])
    response = await identity.http.post(
        "/token", data=GRANT, auth=(registration.client.client_id, registration.client_secret)
    )
    assert response.json()["expires_in"] == 60
    claims = (await verify(identity, response.json()["access_token"], "https://context.rotterdam.example")).claims
    assert claims["exp"] - claims["iat"] == 60


async def test_tokens_have_distinct_ids(identity):
    registration = await identity.register(["context:read"])
    auth = (registration.client.client_id, registration.client_secret)
    tokens = [(await identity.http.post("/token", data=GRANT, auth=auth)).json()["access_token"] for _ in range(2)]
    ids = {(await verify(identity, token)).claims["jti"] for token in tokens}
    assert len(ids) == 2


async def test_scopes_the_client_may_not_have_are_dropped(identity):
    registration = await identity.register(["context:read", "context:write"])
    response = await identity.http.post(
        "/token",
        data={**GRANT, "scope": "context:read no:such-scope admin"},
        auth=(registration.client.client_id, registration.client_secret),
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "context:read"
    assert (await verify(identity, response.json()["access_token"])).scopes == {"context:read"}


async def test_no_scope_asked_gives_every_scope_of_the_client(identity):
    registration = await identity.register(["context:read", "context:write"])
    response = await identity.http.post(
        "/token", data=GRANT, auth=(registration.client.client_id, registration.client_secret)
    )
    assert (await verify(identity, response.json()["access_token"])).scopes == {"context:read", "context:write"}


@pytest.mark.parametrize("scope", ["admin", "no:such-scope", 'bad"scope'])
async def test_nothing_allowed_asked_for_is_invalid_scope(identity, scope):
    registration = await identity.register(["context:read"])
    response = await identity.http.post(
        "/token", data={**GRANT, "scope": scope}, auth=(registration.client.client_id, registration.client_secret)
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")


async def test_resource_indicators_become_the_audience(identity):
    registration = await identity.register(["context:read"])
    auth = (registration.client.client_id, registration.client_secret)
    one = await identity.http.post("/token", data={**GRANT, "resource": "https://context.example/"}, auth=auth)
    assert (await verify(identity, one.json()["access_token"], "https://context.example/")).claims["aud"] == (
        "https://context.example/"
    )
    both = await identity.http.post(
        "/token", data={**GRANT, "resource": ["https://context.example/", "https://permit.example/"]}, auth=auth
    )
    claims = (await verify(identity, both.json()["access_token"], "https://permit.example/")).claims
    assert claims["aud"] == ["https://context.example/", "https://permit.example/"]
    with pytest.raises(InvalidToken):
        await verify(identity, both.json()["access_token"])


@pytest.mark.parametrize("resource", ["context", "https://context.example/#frag"])
async def test_resource_that_is_not_an_absolute_uri_is_invalid_target(identity, resource):
    registration = await identity.register(["context:read"])
    response = await identity.http.post(
        "/token", data={**GRANT, "resource": resource}, auth=(registration.client.client_id, registration.client_secret)
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_target")


def assert_invalid_client(response):
    assert response.status_code == 401
    assert_no_store(response)
    assert response.headers["www-authenticate"].startswith("Basic realm=")
    assert response.json() == {"error": "invalid_client", "error_description": "client authentication failed"}
    assert "access_token" not in response.text


async def test_wrong_secret_is_invalid_client_with_a_challenge(identity):
    registration = await identity.register(["context:read"])
    response = await identity.http.post("/token", data=GRANT, auth=(registration.client.client_id, "not-the-secret"))
    assert_invalid_client(response)


async def test_wrong_secret_posted_is_invalid_client_too(identity):
    registration = await identity.register(["context:read"], method="client_secret_post")
    response = await identity.http.post(
        "/token", data={**GRANT, "client_id": registration.client.client_id, "client_secret": "not-the-secret"}
    )
    assert_invalid_client(response)


async def test_unknown_client_looks_like_a_wrong_secret(identity):
    assert_invalid_client(await identity.http.post("/token", data=GRANT, auth=("nobody", "secret")))
    assert_invalid_client(
        await identity.http.post("/token", data={**GRANT, "client_id": "nobody", "client_secret": "secret"})
    )


async def test_no_credentials_is_invalid_client(identity):
    assert_invalid_client(await identity.http.post("/token", data=GRANT))


async def test_only_the_registered_authentication_method_is_accepted(identity):
    registration = await identity.register(["context:read"])  # client_secret_basic
    response = await identity.http.post(
        "/token",
        data={**GRANT, "client_id": registration.client.client_id, "client_secret": registration.client_secret},
    )
    assert_invalid_client(response)


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:example:unknown"])
async def test_unknown_grant_is_unsupported_grant_type(identity, grant_type):
    registration = await identity.register(["context:read"])
    response = await identity.http.post(
        "/token", data={"grant_type": grant_type}, auth=(registration.client.client_id, registration.client_secret)
    )
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
async def test_a_grant_the_client_is_not_registered_for_is_unauthorized_client(identity, grant_type):
    registration = await identity.register(["context:read"])  # client_credentials only
    response = await identity.http.post(
        "/token", data={"grant_type": grant_type}, auth=(registration.client.client_id, registration.client_secret)
    )
    assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")
    assert_no_store(response)


@pytest.mark.parametrize(
    "content",
    [
        {"content": "scope=context:read"},
        {"data": {"grant_type": ""}},
        {"content": "grant_type=client_credentials&grant_type=client_credentials"},
        {"content": "grant_type=client_credentials&scope=a&scope=b"},
        {"json": GRANT},
        {"content": b"grant_type=client_credentials&scope=\xff"},
        {"content": "grant_type=client_credentials&scope=%FF"},
    ],
)
async def test_malformed_requests_are_invalid_request(identity, content):
    registration = await identity.register(["context:read"])
    headers = {} if "json" in content or "data" in content else {"content-type": "application/x-www-form-urlencoded"}
    response = await identity.http.post(
        "/token", headers=headers, auth=(registration.client.client_id, registration.client_secret), **content
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request"), response.text
    assert_no_store(response)
