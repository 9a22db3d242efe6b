"""What the city's platform offers, gathered from its MIMs: ``/ppi`` and an aggregated ``/openapi.json``.

Each upstream describes itself (``/.well-known/mim``, PPI ``mim-description``) and its API
(``/openapi.json``); the gateway asks all of them concurrently, keeps the answers for
``discovery_cache_ttl`` seconds, and reports an upstream that did not answer instead of failing.
OpenAPI paths appear as clients reach them through the gateway; paths no route leads to are left out.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request

from gateway.proxy import Gateway

router = APIRouter(tags=["operations"])


class Discovery:
    """Cached documents of every configured upstream, fetched together."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._cached: dict[str, tuple[float, dict[str, dict[str, Any] | str]]] = {}
        self._lock = asyncio.Lock()

    async def documents(self, path: str) -> dict[str, dict[str, Any] | str]:
        """Upstream name -> its JSON document at ``path``, or why it could not be had."""
        async with self._lock:  # one fetch per expiry, however many callers wait
            cached = self._cached.get(path)
            if cached and time.monotonic() - cached[0] < self.gateway.settings.discovery_cache_ttl:
                return cached[1]
            names = list(self.gateway.upstreams)
            answers = await asyncio.gather(*(self._fetch(self.gateway.upstreams[n] + path) for n in names))
            result = dict(zip(names, answers, strict=True))
            self._cached[path] = (time.monotonic(), result)
            return result

    async def produced(self, upstream: str) -> list[str]:
        """The PPI versions ``upstream`` says it produces (none known if it did not answer)."""
        document = (await self.documents("/.well-known/mim")).get(upstream)
        if not isinstance(document, dict):
            return []
        return [f"{e['ppi']}@{e['version']}" for e in document.get("produces") or []
                if isinstance(e, dict) and "ppi" in e and "version" in e]

    async def _fetch(self, url: str) -> dict[str, Any] | str:
        timeout = httpx.Timeout(self.gateway.settings.connect_timeout * 2, connect=self.gateway.settings.connect_timeout)
        try:
            response = await self.gateway.client.get(url, timeout=timeout)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            return f"{type(error).__name__}: {error}"
        return document if isinstance(document, dict) else "not a JSON object"


@router.get("/ppi", summary="Every PPI (with versions) the city's MIMs consume or produce")
async def ppis(request: Request) -> dict[str, Any]:
    described = await request.app.state.discovery.documents("/.well-known/mim")
    found: dict[str, dict[str, Any]] = {}
    mims: dict[str, dict[str, Any]] = {}
    for upstream, document in sorted(described.items()):
        if isinstance(document, str):
            mims[upstream] = {"available": False, "error": document}
            continue
        mims[upstream] = {"available": True, "name": document.get("name"), "version": document.get("version")}
        for role in ("consumes", "produces"):
            for entry in document.get(role) or []:
                if not isinstance(entry, dict) or "ppi" not in entry or "version" not in entry:
                    continue
                item = found.setdefault(entry["ppi"], {"ppi": entry["ppi"], "versions": {}})
                version = item["versions"].setdefault(entry["version"], {"consumedBy": [], "producedBy": []})
                version["consumedBy" if role == "consumes" else "producedBy"].append(upstream)
    listed = [
        {"ppi": name, "versions": [{"version": v, **roles} for v, roles in sorted(item["versions"].items())]}
        for name, item in sorted(found.items())
    ]
    return {"ppis": listed, "mims": mims}


async def openapi(request: Request) -> dict[str, Any]:
    """The gateway's own OpenAPI document with every routed MIM path added, as reached here."""
    app: FastAPI = request.app
    gateway: Gateway = app.state.gateway
    document = dict(app.openapi())
    paths: dict[str, Any] = dict(document.get("paths", {}))
    components: dict[str, dict[str, Any]] = {k: dict(v) for k, v in document.get("components", {}).items()}
    unavailable: dict[str, str] = {}
    for upstream, upstream_doc in sorted((await app.state.discovery.documents("/openapi.json")).items()):
        if isinstance(upstream_doc, str):
            unavailable[upstream] = upstream_doc
            continue
        for path, operations in (upstream_doc.get("paths") or {}).items():
            routed = _gateway_path(gateway, upstream, path)
            if routed is not None and routed not in paths:
                paths[routed] = operations
        for kind, members in (upstream_doc.get("components") or {}).items():
            for name, member in members.items():
                components.setdefault(kind, {}).setdefault(name, member)
    document["paths"] = paths
    document["components"] = components
    if unavailable:
        document["x-unavailable-upstreams"] = unavailable
    return document


def _gateway_path(gateway: Gateway, upstream: str, path: str) -> str | None:
    for route in gateway.routes.routes:
        if route.upstream == upstream and (routed := route.gateway_path(path)) is not None:
            return routed
    return None
