"""The permit check as a service: its spec and app factory (``oup serve permit-check``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mims.kit import service
from mims.permit_check import checks_api, zoning_api
from mims.permit_check.rules import BUILDING_PLAN
from mims.permit_check.settings import PermitCheckSettings

__version__ = "0.1.0"

SPEC = service.MimSpec(
    name="permit-check",
    title="Permit check MIM",
    description="A building plan (JSON, CityJSON or IFC) checked against the zoning plan in the digital twin, "
                "rule by rule, with reasons in Dutch and English.",
    version=__version__,
    consumes=(BUILDING_PLAN, zoning_api.ZONING_PPI),
    produces=(checks_api.DECISION_PPI,),
    routers=(checks_api.router, zoning_api.router),
    migrations=Path(__file__).parent / "migrations" / "versions",
    background=(checks_api.http_client, zoning_api.twin_writer),
    settings_cls=PermitCheckSettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The permit check app; ``overrides`` are settings fields (``port=``, ``context_url=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
