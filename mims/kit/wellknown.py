"""``GET /.well-known/mim``: the MIM describes itself (PPI ``mim-description``).

Clients, the gateway and the conformance suite learn from this document which PPI
versions a MIM consumes and produces and where its OpenAPI and health endpoints are.
It is built from the :class:`~mims.kit.service.MimSpec`, and checked against its own
PPI when the app is created, so a MIM with a wrong self-description never starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

import ppi_schemas
from mims.kit.errors import OrjsonResponse
from mims.kit.settings import MimSettings

if TYPE_CHECKING:
    from mims.kit.service import MimSpec

DESCRIPTION_PPI = "mim-description@1.0.0"
PROBLEM_PPI = "problem-details@1.0.0"
# Every kit-built MIM serves its description and answers errors as problem details.
KIT_PRODUCES = (DESCRIPTION_PPI, PROBLEM_PPI)
WELL_KNOWN_PATH = "/.well-known/mim"


class InvalidMimSpec(ValueError):
    """The MIM's spec cannot be described truthfully (unknown PPI, bad name or version)."""


def _ppi_entries(refs: Iterable[str]) -> list[dict[str, str]]:
    entries = []
    for ref in dict.fromkeys(refs):
        try:
            ppi = ppi_schemas.get(ref)
        except ppi_schemas.PPINotFound as error:
            raise InvalidMimSpec(str(error)) from None
        if ppi.ref != ref:
            raise InvalidMimSpec(f"PPI reference {ref!r} must name an exact version, e.g. {ppi.ref!r}")
        entries.append({"ppi": ppi.name, "version": ppi.version})
    return entries


def describe(spec: MimSpec, base_url: str, openapi_path: str = "/openapi.json") -> dict[str, Any]:
    """The ``mim-description`` document of ``spec`` served at ``base_url``."""
    base = base_url.rstrip("/")
    return {
        "@context": ppi_schemas.get(DESCRIPTION_PPI).context_url,
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "version": spec.version,
        "consumes": _ppi_entries(spec.consumes),
        "produces": _ppi_entries((*spec.produces, *KIT_PRODUCES)),
        "openapi": base + openapi_path,
        "health": base + "/health",
        "ready": base + "/ready",
    }


def check_spec(spec: MimSpec, settings: MimSettings) -> None:
    """Fail fast, with every problem listed, if the description would not match its PPI."""
    document = describe(spec, _configured_base_url(settings))
    problems = ppi_schemas.validate(document, DESCRIPTION_PPI)
    if problems:
        listed = "; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems)
        raise InvalidMimSpec(f"MIM {spec.name!r} does not describe itself validly: {listed}")


def _configured_base_url(settings: MimSettings) -> str:
    return str(settings.public_url) if settings.public_url else f"http://{settings.host}:{settings.port}"


def well_known_router(spec: MimSpec, settings: MimSettings) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(WELL_KNOWN_PATH, summary="Self-description (PPI mim-description)")
    async def mim_description(request: Request) -> OrjsonResponse:
        base_url = str(settings.public_url) if settings.public_url else str(request.base_url)
        return OrjsonResponse(
            describe(spec, base_url, request.app.openapi_url or "/openapi.json"),
            media_type=ppi_schemas.get(DESCRIPTION_PPI).media_type,
        )

    return router
