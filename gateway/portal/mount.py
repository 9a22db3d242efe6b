"""The portal in the gateway app: its routes (before the proxy's catch-all), its static files at
``/assets`` (the portal's own and the map library vendored from npm, ``package.json``), its error
pages, and the clients and sessions it keeps while the gateway runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from gateway.portal import (
    conformance_pages,
    home,
    marketplace_pages,
    permit_pages,
    region_pages,
    signin,
)
from gateway.portal.oauth import IdentityUnavailable, Portal
from gateway.portal.pages import Page, SignInRequired, return_path
from gateway.portal.sessions import SessionStore
from gateway.portal.upstream import UpstreamError, self_client

ROUTERS = (home.router, signin.router, marketplace_pages.router, permit_pages.router, region_pages.router,
           conformance_pages.router)
STATIC = Path(__file__).with_name("static")


def install(app: FastAPI) -> None:
    app.mount("/assets", StaticFiles(directory=STATIC), name="portal-assets")
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(UpstreamError, _upstream_error)
    app.add_exception_handler(IdentityUnavailable, _identity_unavailable)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    async with self_client(app) as platform, httpx.AsyncClient(timeout=10.0) as identity:
        app.state.portal = Portal(
            identity_url=settings.identity_url, client_id=settings.portal_client_id, scopes=settings.portal_scopes,
            sessions=SessionStore(), platform_client=platform, identity_client=identity,
            redirect_uri=settings.portal_redirect_uri,
        )
        yield


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return Page(request).redirect("/auth/login?" + urlencode({"next": exc.next_path}))


async def _upstream_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UpstreamError)
    page = Page(request)
    if exc.status == 401:
        if not exc.authorized:
            return page.redirect("/auth/login?" + urlencode({"next": return_path(request)}))
        # Refused although just checked or refreshed: signing in again could end here again, in a loop.
        if page.session is not None:
            page.session.expires_at = 0.0  # the next page asks for a new token first
        return page.render("error.html", status=401, heading=page.t("error.unauthorized"),
                           detail=page.t("error.unauthorized_detail"))
    if exc.status == 403:
        return page.render("error.html", status=403, heading=page.t("error.forbidden"), detail=exc.detail)
    if exc.status == 404:
        return page.render("error.html", status=404, heading=page.t("error.not_found"), detail=exc.detail)
    if 400 <= exc.status < 500:
        return page.render("error.html", status=exc.status, heading=page.t("error.refused"), detail=exc.detail)
    return page.render("error.html", status=502, heading=page.t("error.unavailable"),
                       detail=f"{exc.what}: {exc.detail}")


async def _identity_unavailable(request: Request, exc: Exception) -> Response:
    """A token could not be refreshed because the identity MIM does not answer: nobody is signed out."""
    assert isinstance(exc, IdentityUnavailable)
    page = Page(request)
    return page.render("error.html", status=503, heading=page.t("signin.unavailable"), detail=exc.reason)


def too_large(request: Request, limit: int) -> Response | None:
    """A browser's form over the gateway's body limit gets a page saying the limit, not the 413
    problem+json an API client gets (the gateway's ``body_too_large``)."""
    if "text/html" not in request.headers.get("accept", "") or not hasattr(request.app.state, "portal"):
        return None
    page = Page(request)
    return page.render("error.html", status=413, heading=page.t("error.too_large"),
                       detail=page.t("error.too_large_detail", size=f"{limit / 1024 / 1024:g}"))
