"""The trust list managed by the identity MIM: the admin API, the file, and the published list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ppi_schemas
from mims.identity.service import create_app
from mims.kit.auth import InvalidTrustList, TrustListUrl

DEN_HAAG = {
    "issuer": "https://id.denhaag.example",
    "jwks_uri": "https://id.denhaag.example/jwks",
    "name": "Gemeente Den Haag",
    "scope_map": {"permit:submit": ["permit:submit"]},
    "allowed_audiences": ["http://127.0.0.1:8001"],
}
UTRECHT = {
    "issuer": "https://sso.utrecht.example/realms/inwoners",
    "jwks_uri": "https://sso.utrecht.example/realms/inwoners/protocol/openid-connect/certs",
    "scope_map": {"inwoner": ["context:read"]},
    "allowed_audiences": ["https://permits.rotterdam.example"],
    "accepted_typ": ["JWT"],
    "client_id_claim": "azp",
}
ISSUERS = "/admin/trust-list/issuers"


@pytest.fixture
async def admin(identity, issue) -> dict[str, str]:
    registration = await identity.register(["admin"])
    return {"Authorization": f"Bearer {await issue(identity, registration)}"}


async def test_an_admin_trusts_changes_and_removes_an_issuer(identity, admin) -> None:
    created = await identity.http.put(ISSUERS, json=DEN_HAAG, headers=admin)
    assert (created.status_code, created.json()) == (201, DEN_HAAG)

    changed = {**DEN_HAAG, "scope_map": {"permit:submit": ["permit:submit"], "inwoner": ["context:read"]}}
    replaced = await identity.http.put(ISSUERS, json=changed, headers=admin)
    assert replaced.status_code == 200
    await identity.http.put(ISSUERS, json=UTRECHT, headers=admin)

    listed = (await identity.http.get("/admin/trust-list", headers=admin)).json()
    assert listed == {"trust_list": {"issuers": [changed, UTRECHT]}, "read_only": []}
    assert ppi_schemas.validate(listed["trust_list"], "trust-list@1.1.0") == []

    removed = await identity.http.delete(ISSUERS, params={"issuer": DEN_HAAG["issuer"]}, headers=admin)
    assert removed.status_code == 204
    assert (await identity.http.get("/trust-list")).json() == {"issuers": [UTRECHT]}
    again = await identity.http.delete(ISSUERS, params={"issuer": DEN_HAAG["issuer"]}, headers=admin)
    assert again.status_code == 404
    assert again.json()["detail"] == "issuer https://id.denhaag.example is not on the trust list"


async def test_an_invalid_entry_is_refused_naming_every_problem(identity, admin) -> None:
    entry = {**DEN_HAAG, "jwks_uri": "ftp://id.denhaag.example/jwks", "scope_map": {"x": ["root"]}, "extra": 1}
    del entry["allowed_audiences"]

    response = await identity.http.put(ISSUERS, json=entry, headers=admin)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["ppi"] == "trust-list@1.1.0"
    pointers = {error["pointer"] for error in problem["errors"]}
    assert pointers == {"/allowed_audiences", "/extra", "/jwks_uri", "/scope_map/x/0"}
    assert (await identity.http.get("/trust-list")).json() == {"issuers": []}


@pytest.mark.parametrize("issuer", ["https://id.example/\u0000", "https://id.example/" + "a" * 1100])
async def test_an_issuer_the_table_cannot_hold_is_refused(identity, admin, issuer) -> None:
    put = await identity.http.put(ISSUERS, json={**DEN_HAAG, "issuer": issuer}, headers=admin)
    delete = await identity.http.delete(ISSUERS, params={"issuer": issuer}, headers=admin)

    assert (put.status_code, put.json()["errors"][0]["pointer"]) == (400, "/issuer")
    assert delete.status_code == 404


async def test_the_issuer_cannot_trust_itself_as_foreign(identity, admin) -> None:
    response = await identity.http.put(ISSUERS, json={**DEN_HAAG, "issuer": "http://127.0.0.1:8001"}, headers=admin)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"pointer": "/issuer", "detail": "our own issuer", "location": "body"}]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"[1", "application/json", 400),
        (b"issuer=x", "application/x-www-form-urlencoded", 415),
        (b"[]", "application/json", 400),
    ],
)
async def test_a_body_that_is_not_a_json_entry_is_refused(identity, admin, body, content_type, status) -> None:
    response = await identity.http.put(ISSUERS, content=body, headers={**admin, "Content-Type": content_type})

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_routes_need_the_admin_scope(identity, issue) -> None:
    reader = await identity.register(["context:read"])
    headers = {"Authorization": f"Bearer {await issue(identity, reader)}"}
    for method, kwargs in [
        ("GET", {}),
        ("PUT", {"json": DEN_HAAG}),
        ("DELETE", {"params": {"issuer": DEN_HAAG["issuer"]}}),
    ]:
        path = "/admin/trust-list" if method == "GET" else ISSUERS
        anonymous = await identity.http.request(method, path, **kwargs)
        forbidden = await identity.http.request(method, path, headers=headers, **kwargs)
        assert (anonymous.status_code, forbidden.status_code) == (401, 403), method


async def test_file_entries_are_listed_read_only(start, tmp_path: Path, issue) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"issuers": [DEN_HAAG]}))
    identity = await start(trust_list_file=path)
    registration = await identity.register(["admin"])
    admin = {"Authorization": f"Bearer {await issue(identity, registration)}"}
    await identity.http.put(ISSUERS, json=UTRECHT, headers=admin)

    listed = (await identity.http.get("/admin/trust-list", headers=admin)).json()
    changed = await identity.http.put(ISSUERS, json={**DEN_HAAG, "name": "changed"}, headers=admin)
    removed = await identity.http.delete(ISSUERS, params={"issuer": DEN_HAAG["issuer"]}, headers=admin)

    assert listed == {"trust_list": {"issuers": [DEN_HAAG, UTRECHT]}, "read_only": [DEN_HAAG["issuer"]]}
    assert (changed.status_code, removed.status_code) == (409, 409)
    assert "trust list file" in changed.json()["detail"]
    assert (await identity.http.get("/trust-list")).json() == {"issuers": [DEN_HAAG, UTRECHT]}


async def test_the_published_list_is_public_and_what_other_services_follow(identity, admin) -> None:
    await identity.http.put(ISSUERS, json=DEN_HAAG, headers=admin)

    response = await identity.http.get("/trust-list")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    assert ppi_schemas.validate(response.json(), "trust-list@1.0.0") == []
    followed = await TrustListUrl("http://127.0.0.1:8001/trust-list", http=identity.http).current()
    assert followed.get(DEN_HAAG["issuer"]).scope_map == {"permit:submit": ("permit:submit",)}


def test_an_invalid_trust_list_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"issuers": [DEN_HAAG, DEN_HAAG | {"name": "twice"}]}))

    with pytest.raises(InvalidTrustList, match="already listed at /issuers/0"):
        create_app(data_dir=tmp_path, trust_list_file=path)
