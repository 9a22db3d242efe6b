"""The app factory every MIM is built with.

A MIM states what it is in a :class:`MimSpec` (name, version, the PPIs it consumes and
produces, its routers and migrations); :func:`create_app` adds what every OUP service
must do the same way: problem+json errors, request ids, JSON logs, a body size limit,
``/.well-known/mim``, ``/health`` and ``/ready``, storage migrated at start-up and
optional bearer-token checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from mims.kit import storage
from mims.kit.auth import Introspector, TokenVerifier, TrustListFile, TrustListUrl
from mims.kit.auth.trust import TrustSource
from mims.kit.errors import OrjsonResponse, install_exception_handlers
from mims.kit.logging import configure_logging
from mims.kit.middleware import BodyLimitMiddleware, RequestContextMiddleware
from mims.kit.settings import MimSettings, settings_for
from mims.kit.wellknown import check_spec, well_known_router

# draft-inadarei-api-health-check: the media type load balancers and monitors expect.
HEALTH_JSON = "application/health+json"
READY_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, kw_only=True)
class MimSpec:
    """What a MIM is: its identity, contracts, HTTP surface and schema history.

    ``consumes`` and ``produces`` are exact PPI references (``"name@1.0.0"``); the kit
    adds ``mim-description`` and ``problem-details`` to ``produces`` itself.
    ``build`` is for wiring routers cannot express (extra middleware, app state).
    ``migrations`` is the MIM's Alembic versions folder, applied on start-up.
    ``background`` are async context managers entered once storage is ready and left before it
    closes (workers such as notification dispatchers); each gets the app.
    ``body_too_large`` may answer a request over the body limit otherwise than with the 413
    problem (a page for people, say); given the request and the limit, None leaves it the problem.
    """

    name: str
    title: str
    description: str
    version: str
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    routers: Sequence[APIRouter] = ()
    build: Callable[[FastAPI, MimSettings], None] | None = None
    migrations: Path | None = None
    background: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = ()
    settings_cls: type[MimSettings] = MimSettings
    body_too_large: Callable[[Request, int], Response | None] | None = None

    def settings(self, **overrides: Any) -> MimSettings:
        """This MIM's settings from the environment, with ``overrides`` on top."""
        return settings_for(self.name, self.settings_cls, **overrides)


def create_app(spec: MimSpec, settings: MimSettings | None = None) -> FastAPI:
    """A ready-to-serve FastAPI app for ``spec``; raises at once if the spec is inconsistent."""
    settings = settings if settings is not None else spec.settings()
    check_spec(spec, settings)
    configure_logging(settings.log_level, spec.name)
    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        default_response_class=OrjsonResponse,
        lifespan=_lifespan(spec, settings),
    )
    app.state.spec = spec
    app.state.settings = settings
    app.state.engine = None
    app.state.token_verifier = token_verifier(settings) if settings.auth == "required" else None
    install_exception_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes, answer=spec.body_too_large)
    app.add_middleware(RequestContextMiddleware)  # added last: outermost
    app.include_router(well_known_router(spec, settings))
    app.include_router(_health_router(spec))
    for router in spec.routers:
        app.include_router(router)
    if spec.build is not None:
        spec.build(app, settings)
    return app


def token_verifier(settings: MimSettings, http: httpx.AsyncClient | None = None) -> TokenVerifier:
    """The verifier ``auth = "required"`` uses: our issuers' JWKS, the trust list if one is set,
    and the introspection endpoint if one is set. A trust list file that is invalid fails now.
    ``http`` fetches the key sets (default: a client of the verifier's own)."""
    trust: TrustSource | None = None
    if settings.trust_list_file is not None:
        trust = TrustListFile(settings.trust_list_file)
    elif settings.trust_list_url is not None:
        trust = TrustListUrl(settings.trust_list_url)
    introspection = None
    if settings.introspection_url and settings.introspection_client_id and settings.introspection_client_secret:
        introspection = Introspector(
            url=settings.introspection_url,
            client_id=settings.introspection_client_id,
            client_secret=settings.introspection_client_secret.get_secret_value(),
            cache_ttl=settings.introspection_cache_ttl,
        )
    return TokenVerifier(
        jwks_url=settings.jwks_url,
        issuers=settings.issuers,
        audience=settings.audience,
        trust=trust,
        introspection=introspection,
        cache_size=settings.token_cache_size,
        http=http,
    )


def _lifespan(spec: MimSpec, settings: MimSettings) -> Callable[[FastAPI], Any]:
    """Start-up: storage migrated to the newest revision. Shutdown: pools and clients closed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        try:
            if spec.migrations is not None:
                url = settings.database_url or storage.default_database_url(spec.name, settings.data_dir)
                engine = storage.create_engine(url)
                await storage.migrate(engine, spec.name, spec.migrations)
                app.state.engine = engine
            async with AsyncExitStack() as workers:
                if engine is not None:
                    await workers.enter_async_context(storage.maintained(engine))
                for worker in spec.background:
                    await workers.enter_async_context(worker(app))
                yield
        finally:
            app.state.engine = None
            if engine is not None:
                await engine.dispose()
            if app.state.token_verifier is not None:
                await app.state.token_verifier.aclose()

    return lifespan


def _health_router(spec: MimSpec) -> APIRouter:
    router = APIRouter(tags=["operations"])
    identity = {
        "version": spec.version.split(".", 1)[0],
        "releaseId": spec.version,
        "serviceId": spec.name,
        "description": spec.title,
    }

    @router.get("/health", summary="Liveness (draft-inadarei-api-health-check)")
    async def health() -> OrjsonResponse:
        return OrjsonResponse({"status": "pass", **identity}, media_type=HEALTH_JSON)

    @router.get("/ready", summary="Readiness: storage migrated and reachable")
    async def ready(request: Request) -> OrjsonResponse:
        if spec.migrations is None:
            return OrjsonResponse({"status": "pass", **identity}, media_type=HEALTH_JSON)
        check = {"componentType": "datastore", "status": "pass"}
        engine = request.app.state.engine
        try:
            if engine is None:
                raise RuntimeError("storage is not started")
            await asyncio.wait_for(storage.check(engine), READY_TIMEOUT_SECONDS)
        except Exception as error:  # any failure means "not ready", never a 500
            # The class name only: driver messages can carry host names or credentials.
            check = {**check, "status": "fail", "output": type(error).__name__}
        body = {"status": check["status"], **identity, "checks": {"database:connection": [check]}}
        status_code = 200 if check["status"] == "pass" else 503
        return OrjsonResponse(body, status_code=status_code, media_type=HEALTH_JSON)

    return router
