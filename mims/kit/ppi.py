"""Request bodies checked against a PPI: the contract, not a private model, says what is valid.

A MIM declares the PPI a route consumes (``ppi_body("ngsi-ld-entity@1.0.0")``) and gets
the parsed body only if it conforms; otherwise the client gets one 400 listing every
problem with its JSON pointer, so a vendor can fix them all in one go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request

import ppi_schemas
from mims.kit.errors import PROBLEM_TYPES, malformed_json, unsupported_media_type
from mims.kit.problems import ProblemError, ProblemItem

PPI_VALIDATION = PROBLEM_TYPES + "ppi-validation"


def validate_body(payload: Any, ppi_ref: str) -> None:
    """Raise a 400 :class:`ProblemError` naming every way ``payload`` breaks the PPI.

    The compiled validator decides; the slower, exhaustive one only runs to explain
    a failure, so valid traffic pays for one fast check.
    """
    ppi = ppi_schemas.get(ppi_ref)
    if ppi_schemas.is_valid(payload, ppi):
        return
    problems = ppi_schemas.validate(payload, ppi)
    raise ProblemError(
        400,
        f"Request body does not match PPI {ppi.ref}",
        f"{len(problems)} problem(s); each error points at the offending member.",
        type=PPI_VALIDATION,
        errors=[ProblemItem(p.pointer, p.message) for p in problems],
        extensions={"ppi": ppi.ref},
    )


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json``, ``application/ld+json`` or any ``application/*+json``."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def parse_json(body: bytes) -> Any:
    """Parse a request body, or raise a 400 saying where it stopped being JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise malformed_json(error.msg, error.lineno, error.colno) from None


def ppi_body(ppi_ref: str) -> Callable[[Request], Awaitable[Any]]:
    """FastAPI dependency returning the request's JSON body, validated against ``ppi_ref``.

    The reference is resolved now, so a route naming an unknown PPI fails at import,
    not on its first request.
    """
    ref = ppi_schemas.get(ppi_ref).ref

    async def body_conforming_to_ppi(request: Request) -> Any:
        content_type = request.headers.get("content-type")
        if not is_json_media_type(content_type):
            raise unsupported_media_type(content_type)
        payload = parse_json(await request.body())
        validate_body(payload, ref)
        return payload

    return body_conforming_to_ppi


def openapi_request_body(ppi_ref: str) -> dict[str, Any]:
    """``openapi_extra`` documenting a ``ppi_body`` route's body with the PPI's schema.

    OpenAPI 3.1 schemas are JSON Schema 2020-12, so the PPI schema goes in as is.
    """
    ppi = ppi_schemas.get(ppi_ref)
    content = {"schema": ppi.schema}
    return {
        "requestBody": {
            "required": True,
            "description": f"{ppi.title} (PPI {ppi.ref})",
            "content": {"application/json": content, ppi.media_type: content},
        }
    }
