"""The services `oup` knows how to run, on fixed and documented ports.

Each entry names the app factory (and a MIM's own admin commands and first-start step) by
import path, so the CLI never imports a MIM until it is asked to run it (and MIMs stay
independent of each other).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


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
