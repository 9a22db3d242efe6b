"""Typed settings of a MIM, read from the environment.

Each field comes from ``OUP_<MIM>_<FIELD>`` (so one host can run several MIMs with
different values), falling back to the platform-wide ``OUP_<FIELD>``, then to the
default. Explicit overrides (the ``oup serve`` options, tests) beat both.
A MIM with settings of its own subclasses :class:`MimSettings`; a subclass may also
change a default, which is how each MIM gets its fixed port.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

MiB = 1024 * 1024

S = TypeVar("S", bound="MimSettings")


class MimSettings(BaseSettings):
    """What every MIM can be configured with; the kit reads these in ``create_app``."""

    model_config = SettingsConfigDict(env_prefix="OUP_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: HttpUrl | None = Field(
        None, description="Base URL clients reach the MIM at; None derives it from each request."
    )
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; None means SQLite at <data_dir>/<mim>.db."
    )
    max_body_bytes: int = Field(1 * MiB, gt=0)
    auth: Literal["off", "required"] = "off"
    jwks_url: str | None = None
    issuers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    audience: str | None = None
    token_cache_size: int = Field(4096, ge=0, description="Verified tokens remembered; 0 turns the cache off.")
    trust_list_file: Path | None = Field(None, description="PPI trust-list document of trusted foreign issuers.")
    trust_list_url: str | None = Field(None, description="Where an identity MIM publishes its trust list.")
    introspection_url: str | None = Field(None, description="RFC 7662 endpoint for introspecting routes.")
    introspection_client_id: str | None = None
    introspection_client_secret: SecretStr | None = None
    introspection_cache_ttl: float = Field(10, ge=0, description="Seconds an introspection answer is reused.")
    log_level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"] = "INFO"

    @field_validator("issuers", mode="before")
    @classmethod
    def _issuers_from_text(cls, value: Any) -> Any:
        """Accept a JSON array or, friendlier in a shell, a comma-separated list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _auth_needs_keys(self) -> MimSettings:
        """Refuse to start with token checks on but nothing to check them against."""
        if self.auth == "required" and not (self.jwks_url and self.issuers):
            raise ValueError("auth=required needs jwks_url and at least one issuer")
        if self.trust_list_file is not None and self.trust_list_url is not None:
            raise ValueError("give trust_list_file or trust_list_url, not both")
        if self.introspection_url and not (self.introspection_client_id and self.introspection_client_secret):
            raise ValueError("introspection_url needs introspection_client_id and introspection_client_secret")
        return self


def env_prefix(mim: str) -> str:
    """``OUP_<MIM>_`` with the MIM name upper-cased and dashes made underscores."""
    return f"OUP_{mim.upper().replace('-', '_')}_"


def settings_for(mim: str, settings_cls: type[S] = MimSettings, /, **overrides: Any) -> S:  # type: ignore[assignment]
    """Settings of ``mim``: overrides > ``OUP_<MIM>_*`` > ``OUP_*`` > defaults.

    The MIM-specific variables are passed as init values, which pydantic-settings
    ranks above its own (``OUP_``-prefixed) environment source.
    """
    specific = EnvSettingsSource(settings_cls, env_prefix=env_prefix(mim))()
    return settings_cls(**{**specific, **overrides})
