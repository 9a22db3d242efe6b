"""Users: registration rules, argon2id passwords, roles and the scopes they allow, the
`oup identity add-user` command and the demo sign-in made on first start."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import httpx
import pytest
from signin import REDIRECT_URI, add_client, add_user, authorize_params, pkce, read_page, redirect_params, submit
from typer.testing import CliRunner

from mims.cli import app
from mims.identity.bootstrap import DEMO_PORTAL_REDIRECT_URI
from mims.identity.service import SPEC, create_app
from mims.identity.settings import IdentitySettings
from mims.identity.user_storage import SqlUserStore
from mims.identity.users import InvalidUser, UserExists, authenticate, register_user, scopes_of_roles

ISSUER = "http://127.0.0.1:8001"
runner = CliRunner(env={"COLUMNS": "200"})


async def test_a_user_is_stored_with_an_argon2id_hash_and_authenticates(identity):
    store = SqlUserStore(identity.app.state.engine)
    user = await add_user(identity, roles=("citizen", "publisher"))
    stored = await store.by_username("anna")
    assert stored == user and stored.password_hash.startswith("$argon2id$")
    assert len(user.user_id) >= 22 and user.roles == ("citizen", "publisher")
    assert await authenticate(store, "anna", "correct horse battery") == user
    assert await authenticate(store, "anna", "wrong horse battery") is None
    assert await authenticate(store, "nobody", "correct horse battery") is None
    with pytest.raises(UserExists):
        await add_user(identity)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "has space"}, "username"),
        ({"roles": ("mayor",)}, "roles"),
        ({"roles": ()}, "roles"),
        ({"password": "short"}, "at least 10"),
        ({"email": "not-an-address"}, "email"),
    ],
)
async def test_registration_refuses_what_it_cannot_keep(identity, fields, message):
    arguments = {"username": "anna", "password": "long enough password", "roles": ("citizen",)} | fields
    with pytest.raises(InvalidUser, match=message):
        await register_user(SqlUserStore(identity.app.state.engine), **arguments)


def test_roles_give_scopes_by_a_configurable_mapping(monkeypatch):
    settings = IdentitySettings()
    assert scopes_of_roles(["citizen"], settings.role_scopes, settings.scopes) == {
        "context:read",
        "marketplace:consume",
        "permit:submit",
    }
    assert scopes_of_roles(["officer"], settings.role_scopes, settings.scopes) == {"context:read", "permit:review"}
    assert scopes_of_roles(["admin"], settings.role_scopes, settings.scopes) == set(settings.scopes)
    monkeypatch.setenv("OUP_IDENTITY_ROLE_SCOPES", '{"citizen": ["context:read"]}')
    configured = SPEC.settings()
    assert scopes_of_roles(["citizen", "officer"], configured.role_scopes, configured.scopes) == {"context:read"}
    with pytest.raises(ValueError, match="unknown roles"):
        IdentitySettings(role_scopes={"mayor": ["admin"]})


async def test_a_token_scope_is_what_was_asked_the_client_may_have_and_the_roles_allow(start):
    identity = await start(role_scopes={"officer": ["permit:review", "context:write"]})
    client = (await add_client(identity, public=True, scopes=("context:read", "permit:review"))).client
    await add_user(identity, roles=("officer",))
    verifier, challenge = pkce()
    params = authorize_params(client.client_id, challenge, scope="openid context:read context:write permit:review")
    page = read_page((await identity.http.get("/authorize", params=params)).text)
    code = redirect_params(await submit(identity.http, page))["code"]
    response = await identity.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client.client_id,
            "code_verifier": verifier,
        },
    )
    # context:write: the client may not have it; context:read: the officer role may not.
    assert response.json()["scope"] == "openid permit:review"


async def test_a_user_whose_roles_allow_nothing_asked_gets_invalid_scope(identity):
    client = (await add_client(identity, scopes=("permit:review",))).client
    await add_user(identity, roles=("citizen",))
    _, challenge = pkce()
    page = read_page(
        (
            await identity.http.get(
                "/authorize", params=authorize_params(client.client_id, challenge, scope="permit:review")
            )
        ).text
    )
    answer = redirect_params(await submit(identity.http, page))
    assert (answer["error"], answer["state"], answer["iss"]) == ("invalid_scope", "xyz", ISSUER)


def test_add_user_reads_the_password_without_echoing_it_and_the_user_can_sign_in(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    password = "a very secret phrase"
    prompted = runner.invoke(
        app,
        [
            "identity",
            "add-user",
            "bert",
            "--role",
            "officer",
            "--role",
            "citizen",
            "--name",
            "Bert Jansen",
            "--email",
            "bert@example.org",
            "--data-dir",
            str(tmp_path),
        ],
        input=f"{password}\n{password}\n",
    )
    assert prompted.exit_code == 0, prompted.output
    assert password not in prompted.output and password not in caplog.text
    assert "bert" in prompted.output and "officer citizen" in prompted.output
    piped = runner.invoke(
        app,
        ["identity", "add-user", "carla", "--role", "publisher", "--password-stdin", "--data-dir", str(tmp_path)],
        input=f"{password}\n",
    )
    assert piped.exit_code == 0, piped.output
    assert password not in piped.output

    async def check() -> None:
        service = create_app(data_dir=tmp_path)
        async with service.router.lifespan_context(service):
            store = SqlUserStore(service.state.engine)
            bert = await authenticate(store, "bert", password)
            assert bert is not None and (bert.name, bert.email, bert.roles) == (
                "Bert Jansen",
                "bert@example.org",
                ("officer", "citizen"),
            )
            assert (await authenticate(store, "carla", password)).roles == ("publisher",)

    asyncio.run(check())


def test_add_user_refuses_unknown_roles_and_taken_names(tmp_path: Path) -> None:
    arguments = ["identity", "add-user", "dirk", "--password-stdin", "--data-dir", str(tmp_path)]
    unknown = runner.invoke(app, [*arguments, "--role", "mayor"], input="long enough password\n")
    assert unknown.exit_code == 1 and "roles must be among" in unknown.output
    assert runner.invoke(app, [*arguments, "--role", "citizen"], input="long enough password\n").exit_code == 0
    taken = runner.invoke(app, [*arguments, "--role", "citizen"], input="long enough password\n")
    assert taken.exit_code == 1 and "already registered" in taken.output
    mismatch = runner.invoke(
        app,
        ["identity", "add-user", "erik", "--role", "citizen", "--data-dir", str(tmp_path)],
        input="long enough password\nanother password!!\nlong enough password\nlong enough password\n",
    )
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output


def test_first_start_creates_the_demo_portal_and_users_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mims.cli.run.uvicorn.run", lambda app, **kw: None)
    first = runner.invoke(app, ["serve", "identity", "--data-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    passwords = dict(re.findall(r"user (\w+) \(\w+\), password (\S+)", first.output))
    assert passwords.keys() == {"citizen", "officer"}
    assert f"portal demo-portal (public client, PKCE), redirect URI {DEMO_PORTAL_REDIRECT_URI}" in first.output
    again = runner.invoke(app, ["serve", "identity", "--data-dir", str(tmp_path)])
    assert "password" not in again.output and "demo-portal" not in again.output

    async def sign_in_as_officer() -> dict[str, str]:
        service = create_app(data_dir=tmp_path)
        async with (
            service.router.lifespan_context(service),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=service), base_url=ISSUER) as http,
        ):
            _, challenge = pkce()
            params = authorize_params(
                "demo-portal", challenge, scope="openid permit:review", redirect_uri=DEMO_PORTAL_REDIRECT_URI
            )
            page = read_page((await http.get("/authorize", params=params)).text)
            return redirect_params(await submit(http, page, username="officer", password=passwords["officer"]))

    assert "code" in asyncio.run(sign_in_as_officer())
