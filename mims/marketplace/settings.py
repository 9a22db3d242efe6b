"""The marketplace's settings (``OUP_MARKETPLACE_<FIELD>``, then ``OUP_<FIELD>``)."""

from __future__ import annotations

from pydantic import Field

from mims.kit.settings import MimSettings


class MarketplaceSettings(MimSettings):
    """Where the marketplace listens and where the data it catalogues is reached."""

    port: int = Field(8003, ge=1, le=65535)
    gateway_url: str = Field(
        "http://127.0.0.1:8000", description="The city's gateway: dataset distributions are reached through it."
    )
    catalogue_title: str = Field("Open Urban Platform data catalogue", description="dct:title of the dcat:Catalog.")
    catalogue_description: str = Field(
        "Datasets of the city's Open Urban Platform, open for finding and re-use.",
        description="dct:description of the dcat:Catalog.",
    )
    catalogue_publisher: str = Field("Open Urban Platform", description="foaf:name of the catalogue's publisher.")
