"""Routing on the undecoded request path, so that ids may contain '/' (clauses 4.6.2 and 6.3.1).

NGSI-LD ids are URIs (``urn:ngsi-ld:Building:a/b``, ``http://example.org/b/1``) and so are
expanded type and attribute names; clients put them into one path segment percent-encoded
(``%2F`` for '/'). The ASGI server decodes the path before routing, after which
``/entities/a%2Fattrs%2Fb`` would be indistinguishable from ``/entities/a/attrs/b``.
:class:`RawPathRoute` therefore matches each request on its raw path with every segment in one
canonical percent-encoding, and decodes the path parameters it captures. A '/' inside a
segment thus never separates segments, and ``%3A`` or ``:`` are the same to a route.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes

from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope


def path_segment(value: str) -> str:
    """``value`` (an id or name) as one path segment of a URL the broker answers with, e.g. Location."""
    return quote(value, safe=":")


@lru_cache(maxsize=4096)
def canonical_path(raw_path: bytes) -> str:
    """``raw_path`` with every segment decoded, then percent-encoded except unreserved characters."""
    return "/".join(quote(unquote_to_bytes(segment), safe="") for segment in raw_path.split(b"/"))


def routing_path(scope: Scope) -> str:
    """The canonical path a request is routed on: its raw path (its ``path`` when there is none).

    The router retries a path with its trailing slash changed, to redirect there, by changing
    ``path`` alone; the raw path follows suit unless it holds percent-encoded characters, which
    the redirect (built from the decoded path) would lose.
    """
    path: str = scope["path"]
    raw = scope.get("raw_path")
    if raw is None:
        return "/".join(quote(segment, safe="") for segment in path.split("/"))
    raw = raw.split(b"?", 1)[0]
    if path.endswith("/") != raw.endswith(b"/") and b"%" not in raw:
        raw = raw + b"/" if path.endswith("/") else raw.rstrip(b"/")
    return canonical_path(raw)


class RawPathRoute(APIRoute):
    """An API route that matches the raw path and hands its handler decoded path parameters."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return super().matches(scope)
        root_path = scope.get("root_path", "")
        routed: dict[str, Any] = {
            **scope,
            "path": routing_path(scope),
            "root_path": canonical_path(root_path.encode()) if root_path else "",
        }
        match, child_scope = super().matches(routed)
        if match is not Match.NONE:
            params = dict(child_scope["path_params"])
            for name in self.param_convertors:
                if isinstance(params.get(name), str):
                    params[name] = unquote(params[name])
            child_scope["path_params"] = params
        return match, child_scope
