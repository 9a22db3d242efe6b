"""Signing in and out of the portal (the routes; the OAuth 2.0 client is ``oauth.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.portal import oauth
from gateway.portal.pages import Page, local_path
from gateway.portal.replies import form_expired
from gateway.portal.sessions import SIGNED_OUT_COOKIE, SIGNIN_COOKIE, SIGNIN_PATH, browser_id, forget, remember_browser

router = APIRouter(prefix="/auth", include_in_schema=False)

#: What the page says for an error the identity MIM sends back (RFC 6749 4.1.2.1): heading, text,
#: status. Its ``error_description`` is not shown: anyone can put text in a link to the callback.
AUTHORIZATION_ERRORS = {
    "access_denied": ("signin.denied", "signin.denied_detail", 403),
    "temporarily_unavailable": ("signin.unavailable", "signin.try_later", 503),
    "server_error": ("signin.unavailable", "signin.try_later", 503),
}
REFUSED = ("signin.failed", "signin.refused", 400)


def redirect_uri(request: Request) -> str:
    """Where the identity MIM sends the person back: the configured URI, else the callback at the
    gateway's public URL (what `oup up` registers), else at the address the request came to."""
    configured = request.app.state.portal.redirect_uri
    public_url = request.app.state.settings.public_url
    base = str(public_url) if public_url is not None else str(request.base_url)
    return configured or base.rstrip("/") + "/auth/callback"


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:
    page = Page(request)
    browser = browser_id(request)
    try:
        target = await oauth.authorization_url(page.portal, browser, redirect_uri=redirect_uri(request),
                                               next_path=local_path(next), lang=page.lang,
                                               fresh=SIGNED_OUT_COOKIE in request.cookies)
    except oauth.IdentityUnavailable as exc:
        return page.render("error.html", status=503, heading=page.t("signin.unavailable"), detail=exc.reason)
    response = page.redirect(target)
    remember_browser(response, browser, request)
    return response


@router.get("/callback")
async def callback(request: Request, state: str | None = None, code: str | None = None,
                   error: str | None = None) -> Response:
    page = Page(request)
    pending = page.portal.pending.take(state, request.cookies.get(SIGNIN_COOKIE)) if state else None
    if pending is None:
        return page.render("error.html", status=400, heading=page.t("signin.failed"),
                           detail=page.t("signin.expired"))
    if error is not None:
        heading, detail, status = AUTHORIZATION_ERRORS.get(error, REFUSED)
        return page.render("error.html", status=status, heading=page.t(heading), detail=page.t(detail))
    if code is None:
        return page.render("error.html", status=400, heading=page.t("signin.failed"), detail=page.t("signin.refused"))
    try:
        session = await oauth.complete(page.portal, pending, code=code)
    except oauth.IdentityUnavailable as exc:
        return page.render("error.html", status=503, heading=page.t("signin.unavailable"), detail=exc.reason)
    except oauth.SignInFailed as exc:
        return page.render("error.html", status=400, heading=page.t("signin.failed"), detail=exc.reason)
    if page.session is not None:
        page.portal.sessions.close(page.session)
    page.session = session
    response = page.redirect(pending.next)
    response.delete_cookie(SIGNED_OUT_COOKIE, path=SIGNIN_PATH)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    page = Page(request)
    form = await request.form()
    if page.session is not None:
        if not page.csrf_valid(form):
            return form_expired(page)
        await oauth.sign_out(page.portal, page.session)
        page.portal.sessions.close(page.session)
    response = page.redirect("/")
    forget(response, request)
    return response
