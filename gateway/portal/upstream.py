"""The platform's APIs as the portal calls them: through this very gateway, in process.

Each call is an ASGI request to the gateway app (no socket), carrying the signed-in person's
access token, so the gateway's routing, token and scope checks, grants, PPI validation, audit and
metering treat the portal as the client it is; and the page request's id (``X-Request-ID``), so
their log lines and audit records name the page they were made for. An answer the page cannot
use becomes :class:`UpstreamError`, which the portal shows as an error page in the person's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from starlette.requests import Request

from mims.kit.logging import current_request_id
from mims.kit.middleware import REQUEST_ID_HEADER

#: Seconds an API call made for a page may take.
TIMEOUT = 30.0


@dataclass(eq=False)
class UpstreamError(Exception):
    """The platform answered ``status`` (0: not at all) to ``what``; ``detail`` says why;
    ``authorized``: the call carried the person's access token."""

    status: int
    what: str
    detail: str
    authorized: bool = False

    def __str__(self) -> str:
        return f"{self.what}: {self.status} {self.detail}"


def self_client(app: Any) -> httpx.AsyncClient:
    """A client whose requests go to ``app`` itself (the gateway), in process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 0)),
                             base_url="http://gateway.internal", timeout=TIMEOUT)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body.get("error_description") or body)[:500]
    return str(body)[:300]


class Platform:
    """The APIs for one page request: the request's host (so links and IRIs name what the person
    sees) and the person's token, if signed in."""

    def __init__(self, client: httpx.AsyncClient, request: Request, token: str | None) -> None:
        self._client = client
        self._headers = {"host": request.headers.get("host", "127.0.0.1"), "accept": "application/json"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"

    async def call(self, method: str, path: str, *, params: Any = None, json: Any = None,
                   content: bytes | None = None, headers: dict[str, str] | None = None,
                   ok: tuple[int, ...] = (200, 201, 202, 204)) -> httpx.Response:
        """The response to ``method path``; :class:`UpstreamError` unless its status is in ``ok``."""
        sent = {**self._headers, **(headers or {})}
        if json is not None:
            content, sent["content-type"] = orjson.dumps(json), sent.get("content-type", "application/json")
        request_id = current_request_id()
        if request_id:
            sent[REQUEST_ID_HEADER.lower()] = request_id
        authorized = "authorization" in sent
        try:
            response = await self._client.request(method, path, params=params, content=content, headers=sent)
        except httpx.HTTPError as exc:
            raise UpstreamError(0, f"{method} {path}", str(exc) or type(exc).__name__, authorized) from exc
        if response.status_code not in ok:
            raise UpstreamError(response.status_code, f"{method} {path}", _detail(response), authorized)
        return response

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        return (await self.call("GET", path, **kwargs)).json()

    async def post_json(self, path: str, body: Any, **kwargs: Any) -> Any:
        response = await self.call("POST", path, json=body, **kwargs)
        return response.json() if response.content else None
