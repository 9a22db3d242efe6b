"""`oup identity` add-client, list-clients and rotate-keys on the identity MIM's storage, and the
first-start clients `oup up` and `oup serve identity` print once."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mims.cli import app
from mims.identity.service import create_app
from mims.kit.auth import TokenVerifier

ISSUER = "http://127.0.0.1:8001"
AUDIENCE = "urn:oup:platform"
runner = CliRunner(env={"COLUMNS": "200"})


def oup(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def credentials(output: str) -> list[tuple[str, str]]:
    """The (client_id, client_secret) pairs a command printed."""
    ids = re.findall(r"client_id:\s+(\S+)", output)
    secrets = re.findall(r"client_secret:\s+(\S+)", output)
    assert len(ids) == len(secrets)
    return list(zip(ids, secrets, strict=True))


def kid_of(token: str) -> str:
    encoded = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))["kid"]


async def _token_and_jwks(data_dir: Path, client_id: str, secret: str, scope: str | None) -> tuple[httpx.Response, dict]:
    """Starts the service on ``data_dir``, asks a token, returns it (verified when issued) and /jwks."""
    service = create_app(data_dir=data_dir)
    async with service.router.lifespan_context(service), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service), base_url=ISSUER
    ) as http:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        response = await http.post("/token", data=form, auth=(client_id, secret))
        if response.status_code == 200:
            verifier = TokenVerifier(jwks_url=f"{ISSUER}/jwks", issuers=[ISSUER], audience=AUDIENCE, http=http)
            verified = await verifier.verify(response.json()["access_token"])
            assert verified.client_id == client_id
        return response, (await http.get("/jwks")).json()


def token_and_jwks(data_dir: Path, client_id: str, secret: str, scope: str | None = None) -> tuple[httpx.Response, dict]:
    return asyncio.run(_token_and_jwks(data_dir, client_id, secret, scope))


def test_add_client_prints_credentials_that_get_a_token(tmp_path: Path) -> None:
    output = oup("identity", "add-client", "Sensor hub", "--scope", "context:write", "--scope", "context:read",
                 "--data-dir", str(tmp_path))
    [(client_id, secret)] = credentials(output)
    response, _ = token_and_jwks(tmp_path, client_id, secret, "context:write")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "context:write"
    refused, _ = token_and_jwks(tmp_path, client_id, "not-the-secret")
    assert refused.status_code == 401


def test_add_client_refuses_unknown_scopes_and_taken_ids(tmp_path: Path) -> None:
    refused = runner.invoke(app, ["identity", "add-client", "x", "--scope", "lunch:order", "--data-dir", str(tmp_path)])
    assert refused.exit_code == 1
    assert "lunch:order" in refused.output
    oup("identity", "add-client", "first", "--scope", "admin", "--client-id", "ops", "--data-dir", str(tmp_path))
    taken = runner.invoke(app, ["identity", "add-client", "second", "--scope", "admin", "--client-id", "ops",
                                "--data-dir", str(tmp_path)])
    assert taken.exit_code == 1
    listed = oup("identity", "list-clients", "--data-dir", str(tmp_path))
    assert "first" in listed and "second" not in listed


def test_list_clients_shows_clients_without_secrets(tmp_path: Path) -> None:
    output = oup("identity", "add-client", "Permit desk", "--scope", "permit:review", "--auth-method",
                 "client_secret_post", "--data-dir", str(tmp_path))
    [(client_id, secret)] = credentials(output)
    listed = oup("identity", "list-clients", "--data-dir", str(tmp_path))
    for shown in (client_id, "Permit desk", "permit:review", "client_credentials", "client_secret_post"):
        assert shown in listed
    assert secret not in listed
    assert "argon2" not in listed


def test_rotate_keys_makes_a_new_signing_key_and_keeps_the_old_one_published(tmp_path: Path) -> None:
    output = oup("identity", "add-client", "Reader", "--scope", "context:read", "--data-dir", str(tmp_path))
    [(client_id, secret)] = credentials(output)
    before, jwks_before = token_and_jwks(tmp_path, client_id, secret)
    [old_kid] = [key["kid"] for key in jwks_before["keys"]]
    assert kid_of(before.json()["access_token"]) == old_kid

    rotated = oup("identity", "rotate-keys", "--data-dir", str(tmp_path))
    new_kid = re.search(r"New signing key: (\S+)", rotated).group(1)
    assert f"Previous key {old_kid} stays published until" in rotated

    after, jwks_after = token_and_jwks(tmp_path, client_id, secret)
    assert kid_of(after.json()["access_token"]) == new_kid != old_kid
    assert [key["kid"] for key in jwks_after["keys"]] == [old_kid, new_kid]


SEEDED = ["admin", "demo-context-reader", "demo-context-writer", "demo-publisher", "demo-data-developer"]


def test_bootstrap_on_up_prints_clients_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    started = []

    class Supervisor:
        def __init__(self, services, **kw) -> None:
            started.append([service.name for service in services])

        def run(self, *, ready_timeout: float) -> int:
            return 0

    monkeypatch.setattr("mims.cli.run.Supervisor", Supervisor)
    first = oup("up", "--data-dir", str(tmp_path), "--only", "identity")
    printed = credentials(first)
    assert [client_id for client_id, _ in printed] == SEEDED
    assert credentials(oup("up", "--data-dir", str(tmp_path), "--only", "identity")) == []
    assert started == [["identity"], ["identity"]]
    for _, secret in printed:
        assert secret not in caplog.text
    admin_secret = dict(printed)["admin"]
    response, _ = token_and_jwks(tmp_path, "admin", admin_secret)
    assert response.json()["scope"] == "admin"


def test_up_without_identity_creates_no_clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mims.cli.run.Supervisor.run", lambda self, ready_timeout: 0)
    assert credentials(oup("up", "--data-dir", str(tmp_path), "--only", "echo")) == []
    assert "admin" not in oup("identity", "list-clients", "--data-dir", str(tmp_path))


def test_bootstrap_on_serve_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = []
    monkeypatch.setattr("mims.cli.run.uvicorn.run", lambda app, **kw: served.append(app.state.spec.name))
    first = oup("serve", "identity", "--data-dir", str(tmp_path))
    assert [client_id for client_id, _ in credentials(first)] == SEEDED
    assert credentials(oup("serve", "identity", "--data-dir", str(tmp_path))) == []
    assert served == ["identity", "identity"]
