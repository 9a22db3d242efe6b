"""Settings precedence: overrides > OUP_<MIM>_<FIELD> > OUP_<FIELD> > default."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from mims.kit.settings import MimSettings, env_prefix, settings_for


class PortedSettings(MimSettings):
    port: int = Field(8123, ge=1, le=65535)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("OUP_PORT", "OUP_DEMO_PORT", "OUP_PERMIT_CHECK_PORT", "OUP_ISSUERS", "OUP_AUTH", "OUP_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def test_default_comes_from_the_settings_class():
    assert settings_for("demo", PortedSettings).port == 8123


def test_platform_wide_variable_beats_default(monkeypatch):
    monkeypatch.setenv("OUP_PORT", "9001")
    assert settings_for("demo", PortedSettings).port == 9001


def test_mim_specific_variable_beats_platform_wide(monkeypatch):
    monkeypatch.setenv("OUP_PORT", "9001")
    monkeypatch.setenv("OUP_DEMO_PORT", "9002")
    assert settings_for("demo", PortedSettings).port == 9002
    assert settings_for("other", PortedSettings).port == 9001


def test_overrides_beat_the_environment(monkeypatch):
    monkeypatch.setenv("OUP_DEMO_PORT", "9002")
    assert settings_for("demo", PortedSettings, port=9003).port == 9003


def test_dashed_mim_names_become_underscores(monkeypatch):
    assert env_prefix("permit-check") == "OUP_PERMIT_CHECK_"
    monkeypatch.setenv("OUP_PERMIT_CHECK_PORT", "9004")
    assert settings_for("permit-check").port == 9004


def test_defaults():
    settings = settings_for("demo")
    assert (settings.host, settings.data_dir, settings.database_url) == ("127.0.0.1", Path("data"), None)
    assert (settings.max_body_bytes, settings.auth, settings.log_level) == (1024 * 1024, "off", "INFO")


@pytest.mark.parametrize("text", ["https://a.example, https://b.example", '["https://a.example", "https://b.example"]'])
def test_issuers_from_comma_list_or_json(monkeypatch, text):
    monkeypatch.setenv("OUP_ISSUERS", text)
    assert settings_for("demo").issuers == ["https://a.example", "https://b.example"]


def test_log_level_is_case_insensitive(monkeypatch):
    monkeypatch.setenv("OUP_LOG_LEVEL", "debug")
    assert settings_for("demo").log_level == "DEBUG"


def test_required_auth_without_keys_is_refused():
    with pytest.raises(ValidationError, match="jwks_url"):
        settings_for("demo", MimSettings, auth="required")


def test_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("OUP_DEMO_PORT", "seventy")
    with pytest.raises(ValidationError, match="port"):
        settings_for("demo")
