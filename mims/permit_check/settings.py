"""The permit check's settings (``OUP_PERMIT_CHECK_<FIELD>``, then ``OUP_<FIELD>``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from mims.kit.settings import MimSettings

CREDENTIALS = ("client_id", "client_secret", "token_url")
"""The settings of the client the permit check is at the identity MIM, all or none."""


class PermitCheckSettings(MimSettings):
    """Where the permit check listens and where it finds the digital twin's zoning and parcels."""

    port: int = Field(8004, ge=1, le=65535)
    context_url: str = Field(
        "http://127.0.0.1:8002",
        description="The context MIM (NGSI-LD broker) holding zoning plans and parcels, without /ngsi-ld/v1.",
    )
    context_timeout: float = Field(30.0, gt=0, description="Seconds a request to the context MIM may take.")
    municipality: str = Field("default", description="Rule set used when a check names no municipality.")
    client_id: str | None = Field(None, description="The permit check's client at the identity MIM, for "
                                                    "tokens towards a context MIM that checks them itself.")
    client_secret: SecretStr | None = None
    token_url: str | None = Field(None, description="The identity MIM's token endpoint (OAuth 2.0 client credentials).")

    @model_validator(mode="after")
    def _credentials_complete(self) -> PermitCheckSettings:
        given = [name for name in CREDENTIALS if getattr(self, name)]
        if given and len(given) < len(CREDENTIALS):
            missing = ", ".join(f"OUP_PERMIT_CHECK_{n.upper()}" for n in CREDENTIALS if n not in given)
            raise ValueError(f"client credentials need client_id, client_secret and token_url; not set: {missing}")
        return self

    @property
    def has_credentials(self) -> bool:
        return self.client_id is not None
