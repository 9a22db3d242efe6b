"""The route table: which upstream MIM serves a request, and what the caller must hold to get there.

A JSON file (``routes_file``, default the packaged ``routes.json``) lists entries, first match wins.
Each entry matches methods and either an exact ``path`` or a path ``prefix``; it names the
``upstream`` (identity, context, marketplace, permit-check), the ``upstream_prefix`` that replaces
the matched prefix, the ``scopes`` a token must hold and ``any_scopes`` of which it must hold one
(two roles reaching one resource; ``public`` entries need no token), extra
scopes per NGSI-LD entity ``types``, and the ``ppi`` (``name@version``) a request body must
conform to. The file is checked at start-up: an error names the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import ppi_schemas

DEFAULT_ROUTES_FILE = Path(__file__).with_name("routes.json")
UPSTREAMS = ("identity", "context", "marketplace", "permit-check")
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class InvalidRouteTable(ValueError):
    """The route table cannot be used; the message names the file and the entry."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    methods: tuple[str, ...] = ALL_METHODS
    path: str | None = Field(None, pattern=r"^/")
    prefix: str | None = Field(None, pattern=r"^/.*/$")
    upstream: str
    upstream_prefix: str | None = Field(None, pattern=r"^/")
    scopes: tuple[str, ...] = ()
    any_scopes: tuple[str, ...] = ()
    types: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    public: bool = False
    ppi: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _Entry:
        if (self.path is None) == (self.prefix is None):
            raise ValueError("give exactly one of 'path' and 'prefix'")
        if self.upstream not in UPSTREAMS:
            raise ValueError(f"unknown upstream {self.upstream!r}; known: {', '.join(UPSTREAMS)}")
        unknown = [m for m in self.methods if m not in ALL_METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}")
        if self.public and (self.scopes or self.any_scopes or self.types):
            raise ValueError("a public entry cannot require scopes")
        if self.ppi is not None:
            try:
                found = ppi_schemas.get(self.ppi)
            except ppi_schemas.PPINotFound as error:
                raise ValueError(str(error)) from None
            if found.ref != self.ppi:
                raise ValueError(f"ppi must name an exact version, e.g. {found.ref!r}")
        return self


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of the route table, ready to match requests."""

    name: str
    methods: frozenset[str]
    path: str | None
    prefix: str | None
    upstream: str
    upstream_prefix: str
    scopes: tuple[str, ...]
    any_scopes: tuple[str, ...]
    types: dict[str, tuple[str, ...]]
    public: bool
    ppi: str | None

    def matches(self, method: str, path: str) -> bool:
        if method not in self.methods:
            return False
        if self.path is not None:
            return path == self.path
        assert self.prefix is not None
        return path.startswith(self.prefix) or path == self.prefix[:-1]

    def upstream_path(self, path: str) -> str:
        """The path on the upstream for the gateway path ``path``."""
        if self.path is not None:
            return self.upstream_prefix
        assert self.prefix is not None
        return self.upstream_prefix + path[len(self.prefix):]

    def gateway_path(self, upstream_path: str) -> str | None:
        """The gateway path for an upstream path (a Location, an OpenAPI path), if this entry covers it."""
        if self.path is not None:
            return self.path if upstream_path == self.upstream_prefix else None
        assert self.prefix is not None
        if upstream_path.startswith(self.upstream_prefix):
            return self.prefix + upstream_path[len(self.upstream_prefix):]
        return None


class RouteTable:
    """The entries in order; the first one matching method and path serves the request."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> Route | None:
        for route in self.routes:
            if route.matches(method, path):
                return route
        return None


def load_routes(path: Path | None = None) -> RouteTable:
    """The route table in ``path`` (default: the packaged one); raises :class:`InvalidRouteTable`."""
    path = path or DEFAULT_ROUTES_FILE
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise InvalidRouteTable(f"route table {path}: cannot be read as JSON: {error}") from None
    entries = document.get("routes") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidRouteTable(f"route table {path}: expected {{\"routes\": [...]}} with at least one entry")
    routes: list[Route] = []
    for index, raw in enumerate(entries):
        label = f"entry {index}" + (f" ({raw['name']!r})" if isinstance(raw, dict) and "name" in raw else "")
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as error:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in error.errors()
            )
            raise InvalidRouteTable(f"route table {path}, {label}: {details}") from None
        if any(r.name == entry.name for r in routes):
            raise InvalidRouteTable(f"route table {path}, {label}: name used twice")
        upstream_prefix = entry.upstream_prefix or entry.path or entry.prefix
        assert upstream_prefix is not None
        routes.append(
            Route(
                name=entry.name,
                methods=frozenset(entry.methods),
                path=entry.path,
                prefix=entry.prefix,
                upstream=entry.upstream,
                upstream_prefix=upstream_prefix,
                scopes=entry.scopes,
                any_scopes=entry.any_scopes,
                types=dict(entry.types),
                public=entry.public,
                ppi=entry.ppi,
            )
        )
    return RouteTable(routes)
