"""The gateway's settings: where the MIMs are, how it routes, and how hard it protects them.

Read like every MIM's (``OUP_GATEWAY_<FIELD>``, then ``OUP_<FIELD>``). Token checks are always
on: the gateway is the policy enforcement point, so without explicit ``jwks_url``/``issuers`` it
trusts the identity MIM at ``identity_url``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import limits
from pydantic import Field, SecretStr, field_validator, model_validator

from mims.kit.settings import MimSettings


class GatewaySettings(MimSettings):
    """What the front door of a city's platform is configured with."""

    port: int = Field(8000, ge=1, le=65535)
    auth: Literal["off", "required"] = Field(
        "required", description="Always 'required': the gateway is the policy enforcement point."
    )
    identity_url: str = Field("http://127.0.0.1:8001", description="Base URL of the identity MIM.")
    context_url: str = Field("http://127.0.0.1:8002", description="Base URL of the context MIM.")
    marketplace_url: str | None = Field(None, description="Base URL of the marketplace MIM; None: not routed.")
    permit_check_url: str | None = Field(None, description="Base URL of the permit check MIM; None: not routed.")
    routes_file: Path | None = Field(None, description="Route table (JSON); None: the one shipped with the gateway.")
    upstream_timeout: float = Field(30.0, gt=0, description="Seconds an upstream may take to answer (504 after).")
    connect_timeout: float = Field(2.0, gt=0, description="Seconds to connect to an upstream (502 after).")
    max_connections: int = Field(512, ge=1, description="Upstream connections kept by the one HTTP client.")
    rate_limit: str | None = Field(
        "600/minute", description="Limit per client and subject on data routes ('600/minute', '10 per second'); 'off': unlimited."
    )
    forward_authorization: bool = Field(
        False, description="Pass the client's Authorization header on to MIMs (off: they get X-OUP-* headers)."
    )
    grants_cache_ttl: float = Field(30.0, ge=0, description="Seconds a client's grants are reused.")
    usage_flush_interval: float = Field(
        5.0, gt=0, description="Seconds between reports of usage on grants to the marketplace (usage records)."
    )
    discovery_cache_ttl: float = Field(30.0, ge=0, description="Seconds /ppi and /openapi.json are reused.")
    audit_retention_days: int = Field(365, ge=1, description="Days audit records are kept; older ones are purged.")
    audit_queue_size: int = Field(
        10_000, ge=1, description="Audit records waiting to be stored; beyond it new ones are dropped and counted."
    )
    city: str = Field(
        "local", pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", description="This city's name in region answers."
    )
    peers_file: Path | None = Field(None, description="JSON array of PPI federation-peer documents (read-only peers).")
    peer_client_secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="This gateway's client secret at each peer's identity MIM, by peer name."
    )
    peer_failure_threshold: int = Field(3, ge=1, description="Consecutive failures that open a peer's circuit.")
    peer_cooldown: float = Field(30.0, gt=0, description="Seconds an open circuit waits before one trial request.")
    region_max_window: int = Field(1000, ge=1, description="Largest offset + limit of a region entity query.")
    portal_client_id: str = Field("demo-portal", description="The portal's public client at the identity MIM.")
    portal_scopes: str = Field(
        "openid profile context:read marketplace:consume permit:submit permit:review",
        description="Scopes the portal asks for when a person signs in (each gets what the role allows).",
    )
    portal_conformance_dir: Path | None = Field(
        None, description="Folder of conformance runs (reports, certificates) the portal shows; None: <data_dir>/conformance."
    )
    portal_redirect_uri: str | None = Field(
        None, description="The portal's registered redirect URI; None: <the request's base URL>/auth/callback."
    )

    @field_validator("rate_limit")
    @classmethod
    def _parsable_rate(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "off", "none"):
            return None
        try:
            limits.parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate; write e.g. '600/minute' or '10 per second', or 'off'") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _trust_identity_by_default(cls, data: Any) -> Any:
        """Tokens are always checked (a platform-wide ``OUP_AUTH=off`` is for the MIMs behind the
        gateway); without an explicit issuer, trust the identity MIM this gateway routes to."""
        if isinstance(data, dict):
            identity = str(data.get("identity_url") or cls.model_fields["identity_url"].default).rstrip("/")
            data = {**data, "auth": "required"}
            if not data.get("issuers"):
                data["issuers"] = [identity]
            if not data.get("jwks_url"):
                data["jwks_url"] = f"{identity}/jwks"
        return data

    def upstreams(self) -> dict[str, str]:
        """The configured upstream base URLs by name (unconfigured ones left out)."""
        named = {
            "identity": self.identity_url,
            "context": self.context_url,
            "marketplace": self.marketplace_url,
            "permit-check": self.permit_check_url,
        }
        return {name: url.rstrip("/") for name, url in named.items() if url}
