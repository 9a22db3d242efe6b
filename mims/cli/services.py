"""The services `oup` knows how to run, on fixed and documented ports.

Each entry names the app factory (and a MIM's own admin commands and first-start step) by
import path, so the CLI never imports a MIM until it is asked to run it (and MIMs stay
independent of each other).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from mims.kit.settings import env_prefix


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    factory: str  # "package.module:callable" returning a FastAPI app
    port: int
    summary: str
    admin: str | None = None  # "package.module:app": a typer app run as `oup <name> ...`
    first_start: str | None = None  # "package.module:callable(settings=...)" run before serving
    upstreams: tuple[str, ...] = ()  # services whose URLs it is given as OUP_<NAME>_<UPSTREAM>_URL
    gateway_path: str | None = None  # reached by users at <gateway><path>: its PUBLIC_URL when both run
    command: str | None = None  # the `oup <command>` of its admin app, when not its name

    @property
    def admin_command(self) -> str:
        return self.command or self.name


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("identity", "mims.identity.service:create_app", 8001,
                "OAuth 2.0 authorization server: clients, keys, access tokens",
                admin="mims.identity.admin:app", first_start="mims.identity.admin:first_start"),
        Service("context", "mims.context.service:create_app", 8002, "NGSI-LD context broker: the city's digital twin"),
        Service("marketplace", "mims.marketplace.service:create_app", 8003,
                "data marketplace: DCAT-AP catalogue of the city's data", upstreams=("gateway",),
                gateway_path="/marketplace"),
        Service("permit-check", "mims.permit_check.service:create_app", 8004,
                "permit check: a building plan checked against the zoning plan, rule by rule",
                admin="mims.permit_check.admin:app", upstreams=("context",), gateway_path="/permit-check",
                command="permit"),
        Service("echo", "mims.echo.service:create_app", 8009, "reference MIM showing the kit"),
        Service("gateway", "gateway.service:create_app", 8000,
                "the city's front door: routing, access policy, PPI checks, audit",
                upstreams=("identity", "context", "marketplace", "permit-check")),
    )
}


def get_service(name: str) -> Service:
    try:
        return SERVICES[name]
    except KeyError:
        known = ", ".join(sorted(SERVICES))
        raise LookupError(f"unknown service {name!r}; known services: {known}") from None


def load(path: str) -> Any:
    """The object a ``package.module:attribute`` path names, imported now."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


#: Hosts meaning every interface: a service listening there is reached at the loopback.
_EVERY_INTERFACE = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def service_url(name: str, host: str, port_offset: int = 0) -> str:
    """Where callers on this machine reach service ``name`` listening on ``host`` at its fixed
    port plus ``port_offset``."""
    host = _EVERY_INTERFACE.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{get_service(name).port + port_offset}"


def _gateway_setting(name: str) -> str | None:
    """A gateway setting as the gateway reads it from the environment: ``OUP_GATEWAY_<NAME>``, then ``OUP_<NAME>``."""
    return os.environ.get(env_prefix("gateway") + name) or os.environ.get(f"OUP_{name}") or None


def gateway_public_url(host: str, port_offset: int = 0) -> str:
    """The address users reach the gateway at: its public-URL setting, else where it listens."""
    public = _gateway_setting("PUBLIC_URL")
    return public.rstrip("/") if public else service_url("gateway", host, port_offset)


def portal_redirect_uri(host: str, port_offset: int = 0) -> str:
    """The portal's sign-in callback: the gateway's portal-redirect-URI setting, else
    ``<its public URL>/auth/callback``."""
    return _gateway_setting("PORTAL_REDIRECT_URI") or f"{gateway_public_url(host, port_offset)}/auth/callback"
