"""`oup up --port-offset N`: identity's issuer is where it is served, and the services that verify
tokens trust that issuer."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mims.cli import app
from mims.cli.services import SERVICES
from mims.cli.supervisor import token_settings
from tests.serving import free_port_offset

ROOT = Path(__file__).resolve().parents[2]
SCOPES = "context:read admin echo:read"
STARTED = ("identity", "echo")


@pytest.fixture
def platform(tmp_path: Path):
    """`oup up` of identity and echo (echo checking tokens), with its printed first-start admin."""
    offset = free_port_offset([SERVICES[name].port for name in STARTED])
    env = {key: value for key, value in os.environ.items() if not key.startswith("OUP_")}
    env |= {"COLUMNS": "200", "OUP_IDENTITY_SCOPES": SCOPES, "OUP_ECHO_AUTH": "required"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mims.cli", "up", "--port-offset", str(offset), "--data-dir", str(tmp_path),
         *[arg for name in STARTED for arg in ("--only", name)]],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    printed = []
    for line in proc.stdout:
        printed.append(line)
        if "All services ready" in line:
            break
    urls = {name: f"http://127.0.0.1:{SERVICES[name].port + offset}" for name in STARTED}
    try:
        yield urls, "".join(printed), proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_issuer_and_tokens_follow_the_served_port(platform) -> None:
    urls, printed, proc = platform
    assert proc.poll() is None, printed
    identity = urls["identity"]
    assert not identity.endswith(":8001")
    metadata = httpx.get(f"{identity}/.well-known/oauth-authorization-server", timeout=5).json()
    assert metadata["issuer"] == identity
    assert metadata["token_endpoint"] == f"{identity}/token"
    assert metadata["jwks_uri"] == f"{identity}/jwks"

    admin_secret = re.search(r"client_id:\s+admin\s+client_secret:\s+(\S+)", printed).group(1)
    admin = token(identity, "admin", admin_secret)
    assert claims(admin)["iss"] == identity

    # A client registered over the admin API; its token works at echo, started by the same
    # `oup up`, which therefore trusts exactly this issuer.
    created = httpx.post(f"{identity}/admin/clients", json={"name": "Echo reader", "scopes": ["echo:read"]},
                         headers={"Authorization": f"Bearer {admin}"}, timeout=5)
    assert created.status_code == 201, created.text
    reader = token(identity, created.json()["client_id"], created.json()["client_secret"])
    assert claims(reader)["iss"] == identity
    echo = f"{urls['echo']}/echo/messages"
    assert httpx.get(echo, headers={"Authorization": f"Bearer {reader}"}, timeout=5).status_code == 200
    assert httpx.get(echo, headers={"Authorization": f"Bearer {admin}"}, timeout=5).status_code == 403
    assert httpx.get(echo, timeout=5).status_code == 401


def token(identity: str, client_id: str, secret: str) -> str:
    response = httpx.post(f"{identity}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret),
                          timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize(
    ("options", "environment", "issuer"),
    [
        (["--port", "8123"], {}, "http://127.0.0.1:8123"),
        (["--host", "0.0.0.0", "--port", "8124"], {}, "http://127.0.0.1:8124"),
        (["--port", "8125", "--public-url", "https://id.rotterdam.example/"], {}, "https://id.rotterdam.example"),
        (["--port", "8126"], {"OUP_IDENTITY_ISSUER": "https://login.rotterdam.example"}, "https://login.rotterdam.example"),
    ],
)
def test_serve_derives_the_issuer_unless_it_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   options, environment, issuer) -> None:
    for name in [name for name in os.environ if name.startswith("OUP_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    served = []
    monkeypatch.setattr("mims.cli.run.uvicorn.run", lambda app, **kw: served.append(app.state.settings.issuer))
    result = CliRunner().invoke(app, ["serve", "identity", "--data-dir", str(tmp_path), *options])
    assert result.exit_code == 0, result.output
    assert served == [issuer]


def test_up_leaves_issuer_settings_made_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = {"ISSUERS": "http://127.0.0.1:8101", "JWKS_URL": "http://127.0.0.1:8101/jwks"}
    for name in [name for name in os.environ if name.startswith("OUP_")]:
        monkeypatch.delenv(name)
    assert token_settings(SERVICES["context"], issuer) == {
        "OUP_CONTEXT_ISSUERS": "http://127.0.0.1:8101", "OUP_CONTEXT_JWKS_URL": "http://127.0.0.1:8101/jwks"
    }
    monkeypatch.setenv("OUP_ISSUERS", "https://login.rotterdam.example")
    monkeypatch.setenv("OUP_CONTEXT_JWKS_URL", "https://login.rotterdam.example/jwks")
    assert token_settings(SERVICES["context"], issuer) == {}
