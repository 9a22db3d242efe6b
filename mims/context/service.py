"""The context MIM as a service: an NGSI-LD broker (``oup serve context``, port 8002)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import Field

from mims.context import notify
from mims.context.api import attributes, batch, csources, discovery, jsonld_contexts, subscriptions, temporal
from mims.context.api.entities import ENTITY_PPI, router as entities_router
from mims.context.api.errors import install_ngsi_ld_errors
from mims.context.api.openapi import install_openapi
from mims.context.ngsild.context import ContextResolver
from mims.context.storage.indexing import index_entity
from mims.context.storage.temporal import record_history
from mims.context.ngsild.jsonld_contexts import ContextRegistry
from mims.kit import service
from mims.kit.settings import MimSettings
from ppi_schemas.jsonld import DocumentLoader


class ContextSettings(MimSettings):
    """The broker's own settings (``OUP_CONTEXT_<FIELD>`` or ``OUP_<FIELD>``).

    ``jsonld_preload_dir`` holds ``contexts.json`` mapping @context URLs to local files, so known
    contexts resolve offline; ``jsonld_remote`` allows fetching the others, once each, within
    ``jsonld_timeout`` seconds. Hits on stored @contexts are added to the store every
    ``jsonld_usage_interval`` seconds. Query pages hold ``default_limit`` entities unless ``limit`` asks
    for more, up to ``max_limit`` (clause 6.3.10).
    """

    port: int = Field(8002, ge=1, le=65535)
    jsonld_preload_dir: Path | None = None
    jsonld_remote: bool = True
    jsonld_timeout: float = Field(3.0, gt=0, le=60)
    default_limit: int = Field(20, ge=1)
    max_limit: int = Field(1000, ge=1)
    jsonld_usage_interval: float = Field(5.0, gt=0, le=3600)
    # Notifications (clause 5.8.6): seconds between outbox polls, per-delivery timeout, attempts
    # per notification and the first retry delay (doubled on every further attempt).
    notification_poll_interval: float = Field(0.5, gt=0, le=60)
    notification_timeout: float = Field(5.0, gt=0, le=300)
    notification_max_attempts: int = Field(5, ge=1, le=100)
    notification_retry_delay: float = Field(1.0, gt=0, le=3600)
    notification_concurrency: int = Field(64, ge=1, le=10000)
    # Distributed operations (clause 4.3): this broker's name in Via headers (loop prevention;
    # None picks a fresh one per process), seconds a context source may take to answer, and
    # how many requests to context sources run at once.
    broker_id: str | None = Field(None, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~:-]+$")
    csource_timeout: float = Field(5.0, gt=0, le=300)
    csource_concurrency: int = Field(32, ge=1, le=10000)
    # Temporal API (clause 6.3.10): at most this many instances per attribute history in one
    # response; longer histories answer 206 with a Content-Range to continue from.
    temporal_max_instances: int = Field(1000, ge=1, le=100_000)


def _build(app: FastAPI, settings: MimSettings) -> None:
    assert isinstance(settings, ContextSettings)

    def platform_loader() -> DocumentLoader:
        return DocumentLoader(
            preload_dir=settings.jsonld_preload_dir,
            allow_remote=settings.jsonld_remote,
            timeout=settings.jsonld_timeout,
        )

    public_url = str(settings.public_url) if settings.public_url is not None else None
    contexts = ContextRegistry(platform_loader, lambda: app.state.engine, public_url)
    app.state.context_resolver = ContextResolver(contexts.loader, contexts)
    # Derived data (indexes, notification outbox, history) kept in step with every entity write.
    app.state.entity_listeners = [index_entity, record_history]
    notify.install(app)
    install_ngsi_ld_errors(app)
    install_openapi(app)


SPEC = service.MimSpec(
    name="context",
    title="Context broker (NGSI-LD)",
    description="The city's digital twin behind the NGSI-LD API of ETSI GS CIM 009 V1.8.1.",
    version="0.1.0",
    consumes=(ENTITY_PPI, "ngsi-ld-subscription@1.0.0", "ngsi-ld-csource-registration@1.0.0"),
    produces=(
        ENTITY_PPI,
        "ngsi-ld-subscription@1.0.0",
        "ngsi-ld-notification@1.0.0",
        "ngsi-ld-csource-registration@1.0.0",
    ),
    routers=(
        entities_router,
        attributes.router,
        batch.router,
        discovery.router,
        subscriptions.router,
        csources.router,
        temporal.router,
        jsonld_contexts.router,
    ),
    build=_build,
    background=(jsonld_contexts.usage_reporter, notify.dispatcher, csources.federation_worker),
    migrations=Path(__file__).parent / "storage" / "migrations" / "versions",
    settings_cls=ContextSettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The context broker app; ``overrides`` are settings fields (``port=``, ``data_dir=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
