"""The services `oup` knows how to run, on fixed and documented ports.

Each entry names the app factory by import path, so the CLI never imports a MIM
until it is asked to serve it (and MIMs stay independent of each other).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    factory: str  # "package.module:callable" returning a FastAPI app
    port: int
    summary: str


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("identity", "mims.identity.service:create_app", 8001, "OAuth 2.0 authorization server: clients, keys, access tokens"),
        Service("context", "mims.context.service:create_app", 8002, "NGSI-LD context broker: the city's digital twin"),
        Service("echo", "mims.echo.service:create_app", 8009, "reference MIM showing the kit"),
    )
}


def get_service(name: str) -> Service:
    try:
        return SERVICES[name]
    except KeyError:
        known = ", ".join(sorted(SERVICES))
        raise LookupError(f"unknown service {name!r}; known services: {known}") from None
