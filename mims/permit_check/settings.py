"""The permit check's settings (``OUP_PERMIT_CHECK_<FIELD>``, then ``OUP_<FIELD>``)."""

from __future__ import annotations

from pydantic import Field

from mims.kit.settings import MimSettings


class PermitCheckSettings(MimSettings):
    """Where the permit check listens and where it finds the digital twin's zoning and parcels."""

    port: int = Field(8004, ge=1, le=65535)
    context_url: str = Field(
        "http://127.0.0.1:8002",
        description="The context MIM (NGSI-LD broker) holding zoning plans and parcels, without /ngsi-ld/v1.",
    )
    context_timeout: float = Field(30.0, gt=0, description="Seconds a request to the context MIM may take.")
    municipality: str = Field("default", description="Rule set used when a check names no municipality.")
