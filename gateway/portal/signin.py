"""Signing in and out of the portal (the routes; the OAuth 2.0 client is ``oauth.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.portal import oauth
from gateway.portal.pages import Page, local_path
from gateway.portal.sessions import forget

router = APIRouter(prefix="/auth", include_in_schema=False)


def redirect_uri(request: Request) -> str:
    configured = request.app.state.portal.redirect_uri
    return configured or str(request.base_url).rstrip("/") + "/auth/callback"


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:
    page = Page(request)
    page.session = page.portal.sessions.open(request)
    try:
        target = await oauth.authorization_url(page.portal, page.session, redirect_uri=redirect_uri(request),
                                               next_path=local_path(next), lang=page.lang)
    except oauth.SignInFailed as exc:
        return page.render("error.html", status=503, heading=page.t("signin.unavailable"), detail=exc.reason)
    return page.redirect(target)


@router.get("/callback")
async def callback(request: Request, state: str | None = None, code: str | None = None,
                   error: str | None = None, error_description: str | None = None) -> Response:
    page = Page(request)
    if page.session is None or state is None:
        return page.render("error.html", status=400, heading=page.t("signin.failed"),
                           detail=page.t("signin.expired"))
    if error is not None:
        page.session.pending.pop(state, None)
        key = "signin.denied" if error == "access_denied" else "signin.failed"
        return page.render("error.html", status=400 if error != "access_denied" else 403, heading=page.t(key),
                           detail=error_description or error)
    if code is None:
        return page.render("error.html", status=400, heading=page.t("signin.failed"), detail="no code")
    try:
        next_path = await oauth.complete(page.portal, page.session, state=state, code=code,
                                         redirect_uri=redirect_uri(request))
    except oauth.SignInFailed as exc:
        return page.render("error.html", status=400, heading=page.t("signin.failed"), detail=exc.reason)
    return page.redirect(next_path)


@router.post("/logout")
async def logout(request: Request) -> Response:
    page = Page(request)
    form = await request.form()
    if page.session is not None:
        if not page.csrf_valid(form):
            return page.render("error.html", status=400, heading=page.t("form.expired"),
                               detail=page.t("form.expired_detail"))
        await oauth.sign_out(page.portal, page.session)
        page.portal.sessions.close(page.session)
    response = page.redirect("/")
    forget(response)
    return response
