"""ASGI middleware every MIM runs behind: request context and request body limit.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so the request id context variable
reaches the endpoint and request bodies stream through without being buffered.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mims.kit.errors import internal_error, problem_response, status_problem
from mims.kit.logging import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
# Ids we accept from a client or an upstream gateway: short, and nothing that could
# smuggle a header break, whitespace or markup into logs and responses.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._~+/=:-]{1,128}")

access_log = logging.getLogger("mims.kit.access")
error_log = logging.getLogger("mims.kit.errors")


def _request_id(scope: Scope) -> str:
    incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Request id in and out, one access log line per request, and the last-resort 500.

    Outermost layer: an exception nothing else handled is logged here with its stack
    and request id, and the client gets a problem document with the request id only.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            error_log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            await problem_response(internal_error(), scope["path"])(scope, receive, send_with_request_id)
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
            request_id_var.reset(token)


class _BodyTooLarge(Exception):
    """Raised into the app when the streamed body passes the limit."""


class BodyLimitMiddleware:
    """Answer 413 for request bodies over ``max_body_bytes``.

    A declared ``Content-Length`` over the limit is refused before reading anything.
    Otherwise bytes are counted as they stream in, so a missing or understated length
    and chunked uploads are caught too: the app's reading fails, whatever response
    it makes of that is dropped, and the client gets the 413.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 answer: Callable[[Request, int], Response | None] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.answer = answer  # another answer than the problem, for some requests (see MimSpec)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded and not response_started:
                return
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or response_started:
                raise
        if exceeded and not response_started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = self.answer(Request(scope), self.max_body_bytes) if self.answer is not None else None
        if answer is not None:
            await answer(scope, receive, send)
            return
        problem = status_problem(
            413,
            f"The request body is larger than the {self.max_body_bytes} bytes this service accepts.",
            extensions={"maxBodyBytes": self.max_body_bytes},
        )
        await problem_response(problem, scope["path"])(scope, receive, send)
