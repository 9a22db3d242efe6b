"""The identity MIM's settings (``OUP_IDENTITY_<FIELD>`` or ``OUP_<FIELD>``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from mims.identity.clients import SCOPE_TOKEN
from mims.kit.settings import MimSettings

PLATFORM_SCOPES = (
    "context:read",
    "context:write",
    "marketplace:publish",
    "marketplace:consume",
    "permit:submit",
    "permit:review",
    "admin",
)


class IdentitySettings(MimSettings):
    """``issuer`` is the URL clients and verifiers know this server by (the ``iss`` of every
    token); ``default_audience`` is the ``aud`` of tokens requested without an RFC 8707
    ``resource``; ``scopes`` are the platform scopes clients may be granted (space- or
    comma-separated in the environment); ``key_overlap`` is how many seconds a signing key
    replaced by ``oup identity rotate-keys`` stays published, so the tokens it signed verify."""

    port: int = Field(8001, ge=1, le=65535)
    issuer: str = "http://127.0.0.1:8001"
    default_audience: str = Field("urn:oup:platform", min_length=1)
    access_token_lifetime: int = Field(300, ge=1, le=86_400)
    scopes: Annotated[tuple[str, ...], NoDecode] = PLATFORM_SCOPES
    key_overlap: int = Field(86_400, ge=0)

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        """RFC 8414 section 2: https (loopback http for local use), no query, no fragment."""
        parts = urlsplit(value)
        if not is_secure_transport(value) or parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError("issuer must be an https URL (or http on a loopback address) without query or fragment")
        return value

    @field_validator("scopes", mode="before")
    @classmethod
    def _scopes_from_text(cls, value: Any) -> Any:
        return value.replace(",", " ").split() if isinstance(value, str) else value

    @field_validator("scopes")
    @classmethod
    def _scope_tokens(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        invalid = [scope for scope in value if not SCOPE_TOKEN.fullmatch(scope)]
        if invalid or not value:
            raise ValueError(f"scopes must be RFC 6749 scope tokens, at least one; invalid: {invalid}")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _overlap_outlives_tokens(self) -> IdentitySettings:
        """A replaced key must stay published at least as long as the tokens it signed live."""
        if self.key_overlap < self.access_token_lifetime:
            raise ValueError("key_overlap must be at least access_token_lifetime")
        return self
