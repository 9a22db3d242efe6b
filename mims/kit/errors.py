"""Every error a MIM answers is RFC 9457 problem details (``application/problem+json``).

The handlers here turn what FastAPI and Starlette raise (unknown route, wrong method,
request validation, malformed JSON) and the domain's :class:`ProblemError` into one
shape, always with ``instance`` (the request path) and ``requestId`` so a client can
quote the failing request to an operator. Statuses without a more precise type use
``about:blank`` with the HTTP reason phrase as title, as RFC 9457 section 4.2.1 asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from mims.kit.logging import current_request_id
from mims.kit.problems import PROBLEM_JSON, ProblemError, ProblemItem
from ppi_schemas import json_pointer

PROBLEM_TYPES = "https://w3id.org/oup/problems/"
MALFORMED_JSON = PROBLEM_TYPES + "malformed-json"
REQUEST_VALIDATION = PROBLEM_TYPES + "request-validation"

JSON_MEDIA_TYPES = ("application/json", "application/ld+json", "application/*+json")

# RFC 9457 locations we report; a cookie travels in a header.
_LOCATIONS = {"body": "body", "query": "query", "path": "path", "header": "header", "cookie": "header"}


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson: several times faster than the standard library."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ProblemResponse(OrjsonResponse):
    media_type = PROBLEM_JSON


def problem_response(problem: ProblemError, instance: str) -> Response:
    """Render ``problem`` for the request at path ``instance``."""
    body = problem.to_dict(instance)
    request_id = current_request_id()
    if request_id:
        body["requestId"] = request_id
    return ProblemResponse(body, status_code=problem.status, headers=problem.headers)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a code outside the IANA registry
        return "Error" if status >= 400 else "Status"


def status_problem(status: int, detail: str | None = None, **kwargs: Any) -> ProblemError:
    """A problem of type ``about:blank`` titled with the status's reason phrase."""
    return ProblemError(status, reason_phrase(status), detail, **kwargs)


def malformed_json(reason: str, line: int, column: int) -> ProblemError:
    return ProblemError(
        400,
        "Malformed JSON",
        f"The request body is not valid JSON: {reason} at line {line}, column {column}.",
        type=MALFORMED_JSON,
        errors=[ProblemItem("", f"{reason} (line {line}, column {column})")],
        extensions={"line": line, "column": column},
    )


def unsupported_media_type(content_type: str | None) -> ProblemError:
    sent = f"Content-Type {content_type!r}" if content_type else "A body without Content-Type"
    return status_problem(
        415,
        f"{sent} is not accepted here; send {', '.join(JSON_MEDIA_TYPES)}.",
        extensions={"accept": list(JSON_MEDIA_TYPES)},
    )


def _line_column(document: str, position: int) -> tuple[int, int]:
    line = document.count("\n", 0, position) + 1
    return line, position - (document.rfind("\n", 0, position) + 1) + 1


def _validation_problem(request: Request, errors: list[Mapping[str, Any]], body: Any) -> ProblemError:
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "invalid JSON")
            document = body if isinstance(body, str) else ""
            return malformed_json(reason, *_line_column(document, int(error["loc"][-1])))
    if any(error["loc"][:1] == ("body",) and isinstance(error.get("input"), bytes) for error in errors):
        # FastAPI leaves the body as bytes only when its media type is not JSON.
        return unsupported_media_type(request.headers.get("content-type"))
    items = [
        ProblemItem(json_pointer(error["loc"][1:]), error["msg"], _LOCATIONS.get(str(error["loc"][0]), "body"))
        for error in errors
    ]
    return ProblemError(
        400,
        "Request validation failed",
        f"{len(items)} problem(s) with the request; see errors.",
        type=REQUEST_VALIDATION,
        errors=items,
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(exc, request.url.path)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = None if exc.detail == reason_phrase(exc.status_code) else str(exc.detail)
    if exc.status_code == 404 and detail is None:
        detail = f"No resource at {request.url.path}."
    elif exc.status_code == 405 and detail is None:
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}."
    problem = status_problem(exc.status_code, detail, headers=dict(exc.headers or {}))
    return problem_response(problem, request.url.path)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_validation_problem(request, list(exc.errors()), exc.body), request.url.path)


def internal_error() -> ProblemError:
    """The one thing a client learns about a bug: that it happened, and the request id."""
    return status_problem(500, "The service failed to handle this request; quote the requestId when reporting it.")


def install_exception_handlers(app: FastAPI) -> None:
    """Render ProblemError, HTTP errors and request validation errors as problem+json."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
