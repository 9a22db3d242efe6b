"""The identity MIM's settings (``OUP_IDENTITY_<FIELD>`` or ``OUP_<FIELD>``)."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Annotated, Any
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from pydantic import Field, field_validator, model_validator
from limits import parse as parse_rate
from pydantic_settings import NoDecode

from mims.identity.clients import SCOPE_TOKEN
from mims.identity.keys import DEFAULT_ALG, SIGNING_ALGORITHMS
from mims.identity.users import DEFAULT_ROLE_SCOPES, ROLES
from mims.kit.settings import MimSettings

PLATFORM_SCOPES = (
    "context:read",
    "context:write",
    "marketplace:publish",
    "marketplace:consume",
    "permit:submit",
    "permit:review",
    "permit:zoning",
    "admin",
)


class IdentitySettings(MimSettings):
    """``issuer`` is the URL clients and verifiers know this server by (the ``iss`` of every
    token); ``default_audience`` is the ``aud`` of tokens requested without an RFC 8707
    ``resource``; ``scopes`` are the platform scopes clients may be granted (space- or
    comma-separated in the environment); ``key_overlap`` is how many seconds a signing key
    replaced by ``oup identity rotate-keys`` stays published, so the tokens it signed verify."""

    port: int = Field(8001, ge=1, le=65535)
    #: Unset: ``public_url``, else ``http://<host>:<port>`` (see ``_issuer_where_served``).
    issuer: str
    default_audience: str = Field("urn:oup:platform", min_length=1)
    access_token_lifetime: int = Field(300, ge=1, le=86_400)
    scopes: Annotated[tuple[str, ...], NoDecode] = PLATFORM_SCOPES
    key_overlap: int = Field(86_400, ge=0)
    #: JWS algorithm of the first signing key and of ``oup identity rotate-keys`` (keys.py).
    signing_alg: str = DEFAULT_ALG
    #: Failed client authentications at /token, /introspect and /revoke (bruteforce.py).
    token_failures_per_client: str = "10/minute"
    token_failures_per_ip: str = "30/minute"
    #: Proxies (addresses or networks) whose X-Forwarded-For names the client's address.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    #: Seconds and entries of the in-memory cache of verified client secrets (secret_cache.py).
    secret_cache_ttl: int = Field(300, ge=0, le=3600)
    secret_cache_size: int = Field(10_000, ge=1)
    #: Seconds a client record read from storage is reused in this process, 0 for never
    #: (client_cache.py): how long a client deleted by another replica may still be served.
    client_cache_ttl: int = Field(10, ge=0, le=300)
    #: Platform scopes each user role may receive (a JSON object in the environment); ``admin``
    #: receives every platform scope (users.py).
    role_scopes: dict[str, tuple[str, ...]] = Field(default_factory=lambda: dict(DEFAULT_ROLE_SCOPES))
    #: Seconds an authorization code, an ID token and a refresh token live.
    authorization_code_lifetime: int = Field(60, ge=1, le=600)
    id_token_lifetime: int = Field(300, ge=1, le=86_400)
    refresh_token_lifetime: int = Field(30 * 86_400, ge=60)
    #: Seconds a sign-in at /authorize is remembered in the browser (0: ask the password every time).
    login_session_lifetime: int = Field(8 * 3600, ge=0, le=30 * 86_400)
    #: Failed sign-ins at /authorize, per username and per address (authorize.py).
    login_failures_per_username: str = "5/minute"
    login_failures_per_ip: str = "20/minute"

    @model_validator(mode="before")
    @classmethod
    def _issuer_where_served(cls, data: Any) -> Any:
        """An unset issuer is where the service is reached: ``public_url``, else the host and port
        it listens on (a wildcard host by loopback), so tokens and metadata follow ``--port``."""
        if not isinstance(data, dict) or data.get("issuer"):
            return data
        if data.get("public_url"):
            return {**data, "issuer": str(data["public_url"]).rstrip("/")}
        host = str(data.get("host") or cls.model_fields["host"].default)
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        host = f"[{host}]" if ":" in host else host
        return {**data, "issuer": f"http://{host}:{data.get('port') or cls.model_fields['port'].default}"}

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        """RFC 8414 section 2: https (loopback http for local use), no query, no fragment."""
        parts = urlsplit(value)
        if not is_secure_transport(value) or parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError("issuer must be an https URL (or http on a loopback address) without query or fragment")
        return value

    @field_validator("signing_alg")
    @classmethod
    def _signing_alg(cls, value: str) -> str:
        if value not in SIGNING_ALGORITHMS:
            raise ValueError(f"signing_alg must be one of {sorted(SIGNING_ALGORITHMS)}")
        return value

    @field_validator("role_scopes")
    @classmethod
    def _known_roles(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        unknown = sorted(set(value) - set(ROLES))
        if unknown:
            raise ValueError(f"role_scopes names unknown roles {unknown}; roles are {list(ROLES)}")
        return value

    @field_validator("token_failures_per_client", "token_failures_per_ip", "login_failures_per_username", "login_failures_per_ip")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as '10/minute' or '100 per hour'") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in value:
            try:
                ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"trusted proxy {proxy!r} is not an IP address or network") from None
        return value

    @field_validator("scopes", "trusted_proxies", mode="before")
    @classmethod
    def _words_from_text(cls, value: Any) -> Any:
        """Space- or comma-separated in the environment."""
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
