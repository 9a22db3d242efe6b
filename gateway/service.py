"""The gateway app: a city's front door, built with the kit like every MIM.

Its own routes (``/.well-known/mim``, ``/health``, ``/ready``, ``/ppi``, ``/openapi.json``,
``/metrics``, the audit API) come first; every other path goes to :func:`gateway.proxy.handle`,
which routes it by the route table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route

from gateway import audit, discovery, grants, metering, metrics, peers, region, region_catalogue
from gateway.discovery import Discovery
from gateway.portal import mount as portal
from gateway.proxy import Gateway, handle
from gateway.routes import ALL_METHODS, load_routes
from gateway.settings import GatewaySettings
from mims.kit.service import MimSpec
from mims.kit.service import create_app as create_mim_app
from mims.kit.settings import MimSettings

__version__ = "0.1.0"


def _build(app: FastAPI, settings: MimSettings) -> None:
    """Route table checked now (a bad file stops the start), proxy and aggregated OpenAPI installed."""
    assert isinstance(settings, GatewaySettings)
    gateway = Gateway.build(settings, load_routes(settings.routes_file))
    app.state.gateway = gateway
    app.state.metrics = gateway.metrics
    app.state.discovery = Discovery(gateway)
    peers.install(app)
    portal.install(app)
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != app.openapi_url]
    app.add_api_route(app.openapi_url or "/openapi.json", discovery.openapi, include_in_schema=False)
    app.router.routes.append(Route("/{path:path}", handle, methods=list(ALL_METHODS), include_in_schema=False))


@asynccontextmanager
async def _upstream_client(app: FastAPI) -> AsyncIterator[None]:
    """Close the upstream connection pools on shutdown."""
    try:
        yield
    finally:
        await app.state.gateway.close()


SPEC = MimSpec(
    name="gateway",
    title="OUP gateway",
    description="A city's front door: routes to its MIMs, enforces access policy, validates PPIs, audits data use.",
    version=__version__,
    consumes=("ngsi-ld-entity@1.0.0", "ngsi-ld-subscription@1.0.0", peers.PPI, grants.PPI),
    produces=(metering.PPI,),
    routers=(discovery.router, metrics.router, audit.router, peers.router, region.router, region.data_router,
             region_catalogue.router, *portal.ROUTERS),
    build=_build,
    migrations=Path(__file__).parent / "migrations" / "versions",
    background=(_upstream_client, audit.running, region.running, metering.running, portal.running),
    settings_cls=GatewaySettings,
    body_too_large=portal.too_large,
)


def create_app(settings: GatewaySettings | None = None, **overrides: Any) -> FastAPI:
    """The gateway app for ``settings``, or the environment's with ``overrides`` (``port=``, ...) on top."""
    return create_mim_app(SPEC, settings if settings is not None else SPEC.settings(**overrides))
