"""The demo's own clients and the portal's redirect URI, in the identity database of a data folder:
a seeder whose secret file is gone gets a new secret, the commands know a platform whose identity
MIM keeps its database elsewhere, and every `oup up` lets the portal return to that start's gateway."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mims.cli import app
from mims.cli.supervisor import Supervisor
from mims.identity.bootstrap import DEMO_PORTAL, identity_storage
from mims.identity.clients import Client
from mims.identity.service import SPEC
from mims.identity.storage import SqlClientStore
from tests.serving import closed_port

# By module: `mims.cli` names its `demo` command group after the package.
commands = importlib.import_module("mims.cli.demo.commands")
runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(autouse=True)
def own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OUP_IDENTITY_DATABASE_URL", "OUP_DATABASE_URL", "OUP_GATEWAY_PUBLIC_URL", "OUP_PUBLIC_URL",
                 "OUP_GATEWAY_PORTAL_REDIRECT_URI", "OUP_PORTAL_REDIRECT_URI"):
        monkeypatch.delenv(name, raising=False)


def stored(data_dir: Path, client_id: str) -> Client | None:
    async def read() -> Client | None:
        async with identity_storage(SPEC.settings(data_dir=data_dir)) as engine:
            return await SqlClientStore(engine).get(client_id)
    return asyncio.run(read())


def test_a_seeder_whose_secret_file_is_gone_gets_a_new_secret(tmp_path: Path) -> None:
    first = commands.seeder_secret(tmp_path)
    kept = tmp_path / f"{commands.CLIENT_ID}.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert commands.seeder_secret(tmp_path) == first
    kept.unlink()  # as if a crash came between the registration and the file
    second = commands.seeder_secret(tmp_path)
    assert second != first
    assert kept.stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []
    client = stored(tmp_path, commands.CLIENT_ID)
    assert client is not None and client.check_secret(second) and not client.check_secret(first)


@pytest.mark.parametrize("command", ["seed", "certify"])
def test_a_platform_with_its_identity_database_elsewhere_is_one(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    refused = runner.invoke(app, ["demo", command, "--data-dir", str(folder)])
    assert refused.exit_code == 2 and "holds no platform" in refused.output
    monkeypatch.setenv("OUP_IDENTITY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}")
    with closed_port() as port:
        result = runner.invoke(app, ["demo", command, "--data-dir", str(folder),
                                     "--gateway", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1, result.output
    assert "did not answer" in result.output


def redirect_uris(data_dir: Path) -> tuple[str, ...]:
    portal = stored(data_dir, DEMO_PORTAL.client_id)
    assert portal is not None
    return portal.redirect_uris


def test_every_start_lets_the_portal_return_to_its_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Supervisor, "run", lambda self, ready_timeout: 0)

    def up(*options: str) -> str:
        result = runner.invoke(app, ["up", "--only", "identity", "--data-dir", str(tmp_path), *options])
        assert result.exit_code == 0, result.output
        return result.output

    up("--host", "0.0.0.0")
    assert redirect_uris(tmp_path) == ("http://127.0.0.1:8000/auth/callback",)
    assert "may now return to" in up("--port-offset", "100")
    up("--port-offset", "100")
    monkeypatch.setenv("OUP_GATEWAY_PUBLIC_URL", "https://city.example")
    up()
    assert redirect_uris(tmp_path) == ("http://127.0.0.1:8000/auth/callback", "http://127.0.0.1:8100/auth/callback",
                                       "https://city.example/auth/callback")


def test_a_redirect_uri_the_portal_may_not_use_is_refused_with_a_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Supervisor, "run", lambda self, ready_timeout: 0)
    monkeypatch.setenv("OUP_GATEWAY_PUBLIC_URL", "http://192.0.2.7:8000")
    result = runner.invoke(app, ["up", "--only", "identity", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "OUP_GATEWAY_PUBLIC_URL" in result.output
    assert redirect_uris(tmp_path) == ("http://127.0.0.1:8000/auth/callback",)
