"""RFC 7591 dynamic client registration at /register, behind initial access tokens; on both engines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import anyio.to_thread
import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from mims.cli import app as oup

from mims.identity.clients import register_client
from mims.identity.initial_access_tokens import SqlInitialAccessTokenStore, issue_initial_access_token
from mims.identity.service import SPEC
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore
from mims.kit import storage
from mims.kit.storage import _alembic_config

PUBLIC_APP = {
    "client_name": "Parking app",
    "token_endpoint_auth_method": "none",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["com.example.parking:/callback", "http://127.0.0.1:7000/cb"],
    "scope": "context:read",
}
SERVICE = {"client_name": "Sensor hub", "grant_types": ["client_credentials"], "scope": "context:read context:write"}


async def initial_access_token(identity, **terms) -> str:
    """An initial access token, straight from storage (``clock`` for ones that already expired)."""
    issued = await issue_initial_access_token(
        SqlInitialAccessTokenStore(identity.app.state.engine), platform_scopes=PLATFORM_SCOPES, **terms
    )
    return issued.token


async def register(identity, token: str | None, metadata: dict, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await identity.http.post("/register", json=metadata, headers=headers, **kwargs)


async def test_registration_needs_an_initial_access_token(identity) -> None:
    missing = await register(identity, None, SERVICE)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="oup"'
    unknown = await register(identity, "not-a-token-we-issued", SERVICE)
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"] == 'Bearer realm="oup", error="invalid_token"'
    assert unknown.json()["error"] == "invalid_token"
    basic = await identity.http.post("/register", json=SERVICE, auth=("admin", "secret"))
    assert basic.status_code == 401


async def test_an_expired_initial_access_token_is_refused(identity) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=2)
    token = await initial_access_token(identity, expires_in=60, clock=lambda: long_ago)
    response = await register(identity, token, SERVICE)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_a_used_up_initial_access_token_is_refused_and_refusals_do_not_use_it(identity) -> None:
    token = await initial_access_token(identity, max_uses=1)
    refused = await register(identity, token, {**SERVICE, "grant_types": ["password"]})
    assert refused.status_code == 400
    first = await register(identity, token, SERVICE)
    assert first.status_code == 201, first.text
    second = await register(identity, token, SERVICE)
    assert second.status_code == 401
    assert second.json()["error"] == "invalid_token"


async def test_confidential_client_registers_and_gets_a_client_credentials_token(identity) -> None:
    token = await initial_access_token(identity)
    metadata = {
        **SERVICE,
        "contacts": ["ops@example.org"],
        "client_uri": "https://hub.example.org",
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.1",
        "unknown_member": {"ignored": True},
    }
    response = await register(identity, token, metadata)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    assert abs(body["client_id_issued_at"] - datetime.now(UTC).timestamp()) < 60
    assert body["grant_types"] == ["client_credentials"] and body["response_types"] == []
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["scope"] == "context:read context:write"
    for name in ("client_name", "contacts", "client_uri", "software_id", "software_version"):
        assert body[name] == metadata[name]
    assert "unknown_member" not in body

    issued = await identity.http.post(
        "/token", data={"grant_type": "client_credentials", "scope": "context:write"},
        auth=(body["client_id"], body["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    assert issued.json()["scope"] == "context:write"


async def test_public_client_registers_without_a_secret(identity) -> None:
    token = await initial_access_token(identity)
    response = await register(identity, token, PUBLIC_APP)
    assert response.status_code == 201, response.text
    body = response.json()
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["token_endpoint_auth_method"] == "none"
    assert body["response_types"] == ["code"]
    assert body["redirect_uris"] == PUBLIC_APP["redirect_uris"]
    # It cannot get tokens on its own: client_credentials needs a secret.
    refused = await identity.http.post("/token", data={"grant_type": "client_credentials", "client_id": body["client_id"]})
    assert refused.status_code in (400, 401)


async def test_scopes_default_to_the_initial_access_tokens_and_stay_within_them(identity) -> None:
    token = await initial_access_token(identity, scopes=["context:read", "permit:submit"])
    defaulted = await register(identity, token, {"grant_types": ["client_credentials"]})
    assert defaulted.status_code == 201, defaulted.text
    assert defaulted.json()["scope"] == "context:read permit:submit"
    beyond = await register(identity, token, {**SERVICE, "scope": "context:read admin"})
    assert beyond.status_code == 400
    assert beyond.json()["error"] == "invalid_client_metadata"
    assert "admin" in beyond.json()["error_description"]


async def test_default_initial_access_token_never_allows_admin(identity) -> None:
    token = await initial_access_token(identity)
    response = await register(identity, token, {**SERVICE, "scope": "admin"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


@pytest.mark.parametrize(
    ("metadata", "error", "mentions"),
    [
        ({**PUBLIC_APP, "redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri", "https"),
        ({**PUBLIC_APP, "redirect_uris": ['http://\u00e9vil.example/"cb"']}, "invalid_redirect_uri", "%C3%A9vil"),
        ({**PUBLIC_APP, "redirect_uris": ["https://app.example/cb#fragment"]}, "invalid_redirect_uri", "fragment"),
        ({**PUBLIC_APP, "redirect_uris": []}, "invalid_client_metadata", "redirect URI"),
        ({"client_name": "x"}, "invalid_client_metadata", "redirect URI"),  # RFC default: authorization_code
        ({**SERVICE, "grant_types": ["password"]}, "invalid_client_metadata", "password"),
        ({**SERVICE, "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"]},
         "invalid_client_metadata", "administrator"),
        ({**SERVICE, "grant_types": []}, "invalid_client_metadata", "grant_types"),
        ({**SERVICE, "response_types": ["code"]}, "invalid_client_metadata", "together"),
        ({**PUBLIC_APP, "response_types": []}, "invalid_client_metadata", "together"),
        ({**PUBLIC_APP, "response_types": ["token"]}, "invalid_client_metadata", "token"),
        ({**SERVICE, "token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata", "token_endpoint_auth_method"),
        ({**SERVICE, "token_endpoint_auth_method": "none"}, "invalid_client_metadata", "public"),
        ({**SERVICE, "scope": "context:read lunch:order"}, "invalid_client_metadata", "lunch:order"),
        ({**SERVICE, "client_name": "  "}, "invalid_client_metadata", "name"),
        ({**SERVICE, "client_name": 42}, "invalid_client_metadata", "client_name"),
        ({**SERVICE, "software_id": "hub\u0000"}, "invalid_client_metadata", "control characters"),
        ({**PUBLIC_APP, "redirect_uris": ["https://app.example/c\u0000b"]}, "invalid_redirect_uri", "absolute"),
        ({**SERVICE, "redirect_uris": "https://app.example/cb"}, "invalid_client_metadata", "redirect_uris"),
        ({**SERVICE, "contacts": ["", "ops@example.org"]}, "invalid_client_metadata", "contacts"),
        ({**SERVICE, "logo_uri": "http://cdn.example/logo.png"}, "invalid_client_metadata", "logo_uri"),
        ({**SERVICE, "tos_uri": "javascript:alert(1)"}, "invalid_client_metadata", "tos_uri"),
        ({**SERVICE, "grant_types": ["refresh_token"]}, "invalid_client_metadata", "authorization_code"),
    ],
)
async def test_metadata_errors_are_rfc7591_errors(identity, metadata, error, mentions) -> None:
    token = await initial_access_token(identity)
    response = await register(identity, token, metadata)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == error
    assert mentions in body["error_description"]
    # RFC 6749 section 5.2: printable ASCII without '"' and '\\', whatever the request held.
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]+", body["error_description"])


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"[]", "application/json"), (b"{not json", "application/json"), (b"client_name=x", "application/x-www-form-urlencoded")],
)
async def test_a_body_that_is_not_a_json_object_is_invalid_metadata(identity, content, content_type) -> None:
    token = await initial_access_token(identity)
    response = await identity.http.post(
        "/register", content=content, headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


async def test_metadata_advertises_the_registration_endpoint(identity) -> None:
    document = (await identity.http.get("/.well-known/oauth-authorization-server")).json()
    assert document["registration_endpoint"] == document["issuer"] + "/register"


async def test_cli_prints_an_initial_access_token_once_that_registers(identity, tmp_path, database_url) -> None:
    arguments = ["identity", "add-initial-access-token", "--scope", "permit:submit", "--max-uses", "1",
                 "--expires-in", "600", "--data-dir", str(tmp_path)]
    arguments += ["--database-url", database_url] if database_url else []
    result = await anyio.to_thread.run_sync(CliRunner().invoke, oup, arguments)
    assert result.exit_code == 0, result.output
    token = re.search(r"initial_access_token:\s+(\S+)", result.output).group(1)
    response = await register(identity, token, {"grant_types": ["client_credentials"]})
    assert response.status_code == 201, response.text
    assert response.json()["scope"] == "permit:submit"
    assert (await register(identity, token, {"grant_types": ["client_credentials"]})).status_code == 401
    refused = await anyio.to_thread.run_sync(
        CliRunner().invoke, oup, ["identity", "add-initial-access-token", "--scope", "lunch:order", "--data-dir", str(tmp_path)]
    )
    assert refused.exit_code == 1 and "lunch:order" in refused.output


async def test_migration_identity_0006_downgrades_and_upgrades_again(tmp_path, database_url) -> None:
    engine = storage.create_engine(database_url or storage.default_database_url("identity", tmp_path))
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        store = SqlClientStore(engine)
        await register_client(store, name="hub", scopes=["context:read"], platform_scopes=PLATFORM_SCOPES,
                              client_id="hub", metadata={"software_id": "hub-1"})
        await issue_initial_access_token(SqlInitialAccessTokenStore(engine), platform_scopes=PLATFORM_SCOPES)

        def downgrade(connection: sa.Connection) -> list[str]:
            config = _alembic_config(SPEC.name, SPEC.migrations)
            config.attributes["connection"] = connection
            command.downgrade(config, "identity_0005")
            return sa.inspect(connection).get_table_names()

        async with engine.connect() as connection:
            tables = await connection.run_sync(downgrade)
            await connection.commit()
        assert "identity_initial_access_token" not in tables and "identity_client" in tables

        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        client = await store.get("hub")
        assert client is not None and client.metadata == {}
        assert (await issue_initial_access_token(SqlInitialAccessTokenStore(engine), platform_scopes=PLATFORM_SCOPES)).token
    finally:
        await engine.dispose()

