"""The app factory: start-up migrations, the build hook, and the state other parts rely on."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text
from starlette.testclient import TestClient

from kit_app import SPEC, settings
from mims.kit.auth import TokenVerifier
from mims.kit.service import create_app
from mims.kit.settings import MimSettings

NOTES = Path(__file__).parent / "migrations_sample" / "notes"


def test_migrations_run_at_start_and_the_engine_is_shared(tmp_path):
    app = create_app(dataclasses.replace(SPEC, migrations=NOTES), settings(tmp_path))
    assert app.state.engine is None
    with TestClient(app) as client:
        assert client.get("/ready").json()["checks"]["database:connection"][0]["status"] == "pass"
        engine = app.state.engine
        assert engine.url.database == str((tmp_path / "kit-test.db").resolve())

        async def note_columns() -> list[str]:
            async with engine.connect() as connection:
                return list((await connection.execute(text("SELECT * FROM note"))).keys())

        assert "author" in client.portal.call(note_columns)
    assert app.state.engine is None


def test_a_failing_migration_stops_start_up(tmp_path):
    broken = tmp_path / "versions"
    broken.mkdir()
    (broken / "bad_0001.py").write_text(
        "revision = 'bad_0001'\ndown_revision = None\nbranch_labels = None\ndepends_on = None\n\n"
        "def upgrade():\n    raise RuntimeError('migration broke')\n"
    )
    app = create_app(dataclasses.replace(SPEC, migrations=broken), settings(tmp_path))
    with pytest.raises(RuntimeError, match="migration broke"), TestClient(app):
        pass


def test_build_hook_gets_the_app_and_settings(tmp_path):
    seen: list[tuple[FastAPI, MimSettings]] = []

    def build(app: FastAPI, mim_settings: MimSettings) -> None:
        seen.append((app, mim_settings))

        @app.get("/extra")
        async def extra() -> dict[str, int]:
            return {"port": mim_settings.port}

    configured = settings(tmp_path, port=8111)
    app = create_app(dataclasses.replace(SPEC, build=build), configured)
    assert seen == [(app, configured)]
    assert TestClient(app).get("/extra").json() == {"port": 8111}


def test_state_for_the_auth_dependency(tmp_path):
    app = create_app(SPEC, settings(tmp_path))
    assert app.state.settings.auth == "off" and app.state.token_verifier is None
    required = settings(tmp_path, auth="required", jwks_url="https://id.example/jwks", issuers=["https://id.example"])
    app = create_app(SPEC, required)
    verifier = app.state.token_verifier
    assert isinstance(verifier, TokenVerifier)
    closed: list[bool] = []
    close = verifier.aclose

    async def recording_close() -> None:
        await close()
        closed.append(True)

    verifier.aclose = recording_close
    with TestClient(app):
        assert closed == []
    assert closed == [True]  # shutdown released the verifier's JWKS client


def test_settings_come_from_the_environment_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("OUP_KIT_TEST_MAX_BODY_BYTES", "77")
    monkeypatch.setenv("OUP_DATA_DIR", str(tmp_path))
    assert create_app(SPEC).state.settings.max_body_bytes == 77


def test_background_workers_run_between_storage_start_and_close(tmp_path):
    seen: list[str] = []

    @contextlib.asynccontextmanager
    async def worker(app: FastAPI):
        seen.append(f"start engine={app.state.engine is not None}")
        yield
        seen.append(f"stop engine={app.state.engine is not None}")

    spec = dataclasses.replace(SPEC, migrations=NOTES, background=(worker,))
    with TestClient(create_app(spec, settings(tmp_path))):
        assert seen == ["start engine=True"]
    assert seen == ["start engine=True", "stop engine=True"]


def test_migrations_on_branches_all_apply(tmp_path):
    """Independent features of one MIM may keep their tables on branches of its history."""
    versions = tmp_path / "versions"
    versions.mkdir()
    for name, parent in (("trunk", None), ("left", "trunk"), ("right", "trunk")):
        (versions / f"{name}.py").write_text(
            f"from alembic import op\nimport sqlalchemy as sa\nrevision = {name!r}\n"
            f"down_revision = {parent!r}\nbranch_labels = None\ndepends_on = None\n\n"
            f"def upgrade():\n    op.create_table({name!r}, sa.Column('pk', sa.Integer, primary_key=True))\n"
        )
    app = create_app(dataclasses.replace(SPEC, migrations=versions), settings(tmp_path / "data"))
    with TestClient(app) as client:
        async def tables() -> set[str]:
            async with app.state.engine.connect() as connection:
                rows = await connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))
                return {row[0] for row in rows}

        assert {"trunk", "left", "right"} <= client.portal.call(tables)
