"""NGSI-LD error types for what the framework itself rejects under ``/ngsi-ld/v1`` (clause 6.3.2).

An unknown path there is an NGSI-LD ResourceNotFound and a request the framework cannot bind is
BadRequestData; other paths (``/health``, ``/.well-known/mim``) keep the kit's problem types.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mims.context.api.common import PREFIX
from mims.context.ngsild.errors import BadRequestData, ResourceNotFound
from mims.kit.errors import problem_response
from mims.kit.problems import ProblemItem


def install_ngsi_ld_errors(app: FastAPI) -> None:
    """Wrap the kit's handlers: NGSI-LD types under the API prefix, the kit's elsewhere."""
    kit_http = app.exception_handlers[HTTPException]
    kit_validation = app.exception_handlers[RequestValidationError]

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404 and _in_api(request):
            return problem_response(ResourceNotFound(f"No NGSI-LD resource at {request.url.path}."), request.url.path)
        return await kit_http(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not _in_api(request):
            return await kit_validation(request, exc)
        items = [
            ProblemItem("/" + "/".join(str(part) for part in error["loc"][1:]), error["msg"], str(error["loc"][0]))
            for error in exc.errors()
        ]
        return problem_response(BadRequestData("The request does not fit the operation; see errors.", errors=items), request.url.path)

    app.add_exception_handler(HTTPException, on_http_exception)
    app.add_exception_handler(RequestValidationError, on_validation_error)


def _in_api(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")
