"""The echo MIM as a service: its spec and app factory (``oup serve echo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import Field

from mims.echo.api import ENTITY_PPI, router
from mims.kit import service
from mims.kit.settings import MimSettings


class EchoSettings(MimSettings):
    """Echo has no settings of its own, only its fixed port."""

    port: int = Field(8009, ge=1, le=65535)


SPEC = service.MimSpec(
    name="echo",
    title="Echo reference MIM",
    description="Stores NGSI-LD entities as messages and reads them back: the reference of how a MIM is built.",
    version="0.1.0",
    consumes=(ENTITY_PPI,),
    routers=(router,),
    migrations=Path(__file__).parent / "migrations" / "versions",
    settings_cls=EchoSettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The echo app; ``overrides`` are settings fields (``port=``, ``data_dir=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
