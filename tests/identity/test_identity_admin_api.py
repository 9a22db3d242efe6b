"""The administration API (/admin/...): admin scope required even with OUP_AUTH=off; on both engines."""

from __future__ import annotations

import pytest

from mims.identity.settings import PLATFORM_SCOPES

ROUTES = [
    ("GET", "/admin/clients", None),
    ("POST", "/admin/clients", {"name": "x", "scopes": ["context:read"]}),
    ("GET", "/admin/clients/anyone", None),
    ("DELETE", "/admin/clients/anyone", None),
    ("POST", "/admin/initial-access-tokens", {}),
]


@pytest.fixture
async def admin(identity, issue) -> dict[str, str]:
    """Authorization headers with an access token holding the admin scope."""
    registration = await identity.register(["admin"])
    return {"Authorization": f"Bearer {await issue(identity, registration)}"}


async def call(identity, method: str, path: str, body: dict | None, headers: dict[str, str] | None = None):
    return await identity.http.request(method, path, json=body, headers=headers or {})


async def test_admin_routes_refuse_requests_without_a_token(identity) -> None:
    assert identity.app.state.settings.auth == "off"
    for method, path, body in ROUTES:
        response = await call(identity, method, path, body)
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_admin_routes_refuse_tokens_without_the_admin_scope(identity, issue) -> None:
    reader = await identity.register(["context:read"])
    headers = {"Authorization": f"Bearer {await issue(identity, reader)}"}
    for method, path, body in ROUTES:
        response = await call(identity, method, path, body, headers)
        assert response.status_code == 403, (method, path)
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    forged = await call(identity, "GET", "/admin/clients", None, {"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401


async def test_admin_registers_lists_reads_and_deletes_a_client(identity, admin) -> None:
    created = await call(
        identity, "POST", "/admin/clients",
        {"name": "Sensor hub", "scopes": ["context:read", "context:write"], "client_id": "hub",
         "token_endpoint_auth_method": "client_secret_post"},
        admin,
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/admin/clients/hub"
    body = created.json()
    secret = body["client_secret"]
    assert body["client_id"] == "hub" and body["public"] is False and body["grant_types"] == ["client_credentials"]

    listed = await call(identity, "GET", "/admin/clients", None, admin)
    assert listed.status_code == 200
    assert sorted(client["client_id"] for client in listed.json()) == sorted([admin_client_id(listed.json()), "hub"])
    assert secret not in listed.text and "argon2" not in listed.text
    one = await call(identity, "GET", "/admin/clients/hub", None, admin)
    assert one.status_code == 200
    assert one.json()["scopes"] == ["context:read", "context:write"]
    assert secret not in one.text

    form = {"grant_type": "client_credentials", "client_id": "hub", "client_secret": secret}
    assert (await identity.http.post("/token", data=form)).status_code == 200
    deleted = await call(identity, "DELETE", "/admin/clients/hub", None, admin)
    assert deleted.status_code == 204 and deleted.content == b""
    refused = await identity.http.post("/token", data=form)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert (await call(identity, "GET", "/admin/clients/hub", None, admin)).status_code == 404
    again = await call(identity, "DELETE", "/admin/clients/hub", None, admin)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    assert "hub" in again.json()["detail"]
    # An id no client can have (PostgreSQL cannot even compare text holding NUL) is simply unknown.
    assert (await call(identity, "GET", "/admin/clients/a%00b", None, admin)).status_code == 404


def admin_client_id(clients: list[dict]) -> str:
    [client_id] = [client["client_id"] for client in clients if client["scopes"] == ["admin"]]
    return client_id


async def test_admin_registers_a_public_client_without_secret(identity, admin) -> None:
    created = await call(
        identity, "POST", "/admin/clients",
        {"name": "Citizen app", "token_endpoint_auth_method": "none", "scopes": ["permit:submit"],
         "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": ["https://app.example/cb"]},
        admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["client_secret"] is None and created.json()["public"] is True


async def test_every_invalid_field_is_named(identity, admin) -> None:
    response = await call(
        identity, "POST", "/admin/clients",
        {"name": "x", "scopes": ["context:read", "lunch:order", "coffee"],
         "grant_types": ["authorization_code"], "redirect_uris": ["https://ok.example/cb", "http://evil.example/cb"]},
        admin,
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    pointers = [error["pointer"] for error in response.json()["errors"]]
    assert pointers == ["/scopes/1", "/scopes/2", "/redirect_uris/1"]

    typed = await call(identity, "POST", "/admin/clients",
                       {"name": "", "grant_types": ["password"], "token_endpoint_auth_method": "magic"}, admin)
    assert typed.status_code == 400
    pointers = {error["pointer"] for error in typed.json()["errors"]}
    assert {"/name", "/grant_types/0", "/token_endpoint_auth_method"} <= pointers

    rule = await call(identity, "POST", "/admin/clients",
                      {"name": "x", "grant_types": ["authorization_code"], "scopes": []}, admin)
    assert rule.status_code == 400
    assert "redirect URI" in rule.json()["detail"]


async def test_a_taken_client_id_is_a_conflict(identity, admin) -> None:
    body = {"name": "first", "scopes": ["context:read"], "client_id": "taken"}
    assert (await call(identity, "POST", "/admin/clients", body, admin)).status_code == 201
    conflict = await call(identity, "POST", "/admin/clients", {**body, "name": "second"}, admin)
    assert conflict.status_code == 409
    assert "taken" in conflict.json()["detail"]
    assert (await call(identity, "GET", "/admin/clients/taken", None, admin)).json()["name"] == "first"


async def test_admin_issues_initial_access_tokens_that_register_clients(identity, admin) -> None:
    default = await call(identity, "POST", "/admin/initial-access-tokens", {}, admin)
    assert default.status_code == 201, default.text
    assert default.json()["scopes"] == [scope for scope in PLATFORM_SCOPES if scope != "admin"]
    assert default.json()["max_uses"] is None

    issued = await call(identity, "POST", "/admin/initial-access-tokens",
                        {"scopes": ["permit:submit"], "max_uses": 1, "expires_in": 600}, admin)
    assert issued.status_code == 201
    token = issued.json()["initial_access_token"]
    registered = await identity.http.post(
        "/register", json={"client_name": "Permit kiosk", "grant_types": ["client_credentials"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["scope"] == "permit:submit"
    listed = await call(identity, "GET", f"/admin/clients/{registered.json()['client_id']}", None, admin)
    assert listed.json()["name"] == "Permit kiosk"

    unknown = await call(identity, "POST", "/admin/initial-access-tokens", {"scopes": ["lunch:order"]}, admin)
    assert unknown.status_code == 400
    assert "lunch:order" in unknown.json()["detail"]
    bounded = await call(identity, "POST", "/admin/initial-access-tokens", {"max_uses": 0, "expires_in": 0}, admin)
    assert {error["pointer"] for error in bounded.json()["errors"]} == {"/max_uses", "/expires_in"}


async def test_admin_routes_are_in_the_openapi_document_with_their_bodies(identity) -> None:
    document = (await identity.http.get("/openapi.json")).json()
    create = document["paths"]["/admin/clients"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/NewClient")
    assert "bearer" in str(create.get("security"))
    assert "/register" in document["paths"]
