"""The marketplace MIM as a service: its spec and app factory (``oup serve marketplace``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mims.kit import service
from mims.marketplace import catalogue_api, contracts_api, fair_api, harvest_api, metering_api
from mims.marketplace.contracts import GRANT_PPI, OFFER_PPI
from mims.marketplace.metering import USAGE_PPI
from mims.marketplace.settings import MarketplaceSettings

__version__ = "0.1.0"

SPEC = service.MimSpec(
    name="marketplace",
    title="Data marketplace MIM",
    description="The city's data catalogue (DCAT-AP 3), offers, contracts, access grants and metering.",
    version=__version__,
    consumes=(catalogue_api.DATASET_PPI, OFFER_PPI, USAGE_PPI),
    produces=(OFFER_PPI, GRANT_PPI),
    routers=(catalogue_api.router, harvest_api.router, fair_api.router, contracts_api.router, metering_api.router),
    migrations=Path(__file__).parent / "migrations" / "versions",
    settings_cls=MarketplaceSettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The marketplace app; ``overrides`` are settings fields (``port=``, ``data_dir=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
