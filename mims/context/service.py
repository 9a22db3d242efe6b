"""The context MIM as a service: an NGSI-LD broker (``oup serve context``, port 8002)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import Field

from mims.context.api.entities import ENTITY_PPI, router as entities_router
from mims.context.api.errors import install_ngsi_ld_errors
from mims.context.ngsild.context import ContextResolver
from mims.kit import service
from mims.kit.settings import MimSettings
from ppi_schemas.jsonld import DocumentLoader


class ContextSettings(MimSettings):
    """The broker's own settings (``OUP_CONTEXT_<FIELD>`` or ``OUP_<FIELD>``).

    ``jsonld_preload_dir`` holds ``contexts.json`` mapping @context URLs to local files, so known
    contexts resolve offline; ``jsonld_remote`` allows fetching the others, once each, within
    ``jsonld_timeout`` seconds. Query pages hold ``default_limit`` entities unless ``limit`` asks
    for more, up to ``max_limit`` (clause 6.3.10).
    """

    port: int = Field(8002, ge=1, le=65535)
    jsonld_preload_dir: Path | None = None
    jsonld_remote: bool = True
    jsonld_timeout: float = Field(3.0, gt=0, le=60)
    default_limit: int = Field(20, ge=1)
    max_limit: int = Field(1000, ge=1)


def _build(app: FastAPI, settings: MimSettings) -> None:
    assert isinstance(settings, ContextSettings)
    loader = DocumentLoader(
        preload_dir=settings.jsonld_preload_dir,
        allow_remote=settings.jsonld_remote,
        timeout=settings.jsonld_timeout,
    )
    app.state.context_resolver = ContextResolver(loader)
    # Derived data (indexes, notification outbox, history) kept in step with every entity write.
    app.state.entity_listeners = []
    install_ngsi_ld_errors(app)


SPEC = service.MimSpec(
    name="context",
    title="Context broker (NGSI-LD)",
    description="The city's digital twin behind the NGSI-LD API of ETSI GS CIM 009 V1.8.1.",
    version="0.1.0",
    consumes=(ENTITY_PPI,),
    produces=(ENTITY_PPI,),
    routers=(entities_router,),
    build=_build,
    migrations=Path(__file__).parent / "storage" / "migrations" / "versions",
    settings_cls=ContextSettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The context broker app; ``overrides`` are settings fields (``port=``, ``data_dir=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
