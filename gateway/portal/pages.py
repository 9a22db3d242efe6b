"""Rendering a portal page: the person's language and session, the platform's APIs, one layout.

A handler makes a :class:`Page` from its request, asks the platform through ``page.platform()``
and answers ``page.render(template, ...)``. Pages that need a signed-in person call
``page.require_person()``; without one the browser is sent to sign in and brought back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.portal.i18n import LANGUAGES, Words, request_language, words
from gateway.portal.oauth import Portal, fresh_access_token
from gateway.portal.sessions import Person, Session, https, remember
from gateway.portal.upstream import Platform
from mims.kit import languages

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates are part of the release: no stat per render
)

#: The portal's pages load only their own files: no inline script or style, no framing (clickjacking);
#: forms go to the portal, and on to the identity MIM only by redirect (a form sent after the
#: session ended leads to sign-in), which ``form-action`` also governs.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "frame-ancestors 'none'; form-action 'self'")
#: A report served as a document of its own (a run's HTML report, a check's printable report): inline
#: CSS only, no scripts, no outside requests, sandboxed.
SANDBOXED_DOCUMENT = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
#: The sections in the navigation: path and the key of its name.
SECTIONS = (("/", "nav.home"), ("/data", "nav.data"), ("/permits", "nav.permits"), ("/cities", "nav.region"),
            ("/certificates", "nav.conformance"))


class SignInRequired(Exception):
    """The page needs a signed-in person (or one whose sign-in is still valid)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def return_path(request: Request) -> str:
    """Where to come back after signing in: this page, or for a form sent (which cannot be
    repeated by a redirect) the page the form was on."""
    if request.method in ("GET", "HEAD"):
        return here(request)
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc == request.headers.get("host")
    return local_path(referer.path + (f"?{referer.query}" if referer.query else "")) if same_site else "/"


class Page:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.portal: Portal = request.app.state.portal
        self.lang = request_language(request)
        self.t: Words = words(self.lang)
        self.session: Session | None = self.portal.sessions.of(request)

    @property
    def person(self) -> Person | None:
        return self.session.person if self.session else None

    def require_person(self) -> Person:
        if self.person is None:
            raise SignInRequired(return_path(self.request))
        return self.person

    async def platform(self) -> Platform:
        """The platform's APIs as this person (anonymous when nobody is signed in)."""
        token = await fresh_access_token(self.portal, self.session) if self.session else None
        if self.session is not None and self.session.person is not None and token is None:
            raise SignInRequired(return_path(self.request))
        return Platform(self.portal.platform_client, self.request, token)

    def csrf_valid(self, form: Any) -> bool:
        return self.session is not None and self.session.csrf_valid(form.get("csrf"))

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        other_lang = next(lang for lang in LANGUAGES if lang != self.lang)
        html = _TEMPLATES.get_template(template).render(
            t=self.t, lang=self.lang, other_lang=other_lang, other_words=words(other_lang),
            person=self.person, csrf=self.session.csrf if self.session else "", path=self.request.url.path,
            here=return_path(self.request), sections=SECTIONS, section=_section(self.request.url.path), query=urlencode,
            **context,
        )
        csp = " ".join((CONTENT_SECURITY_POLICY, *self.portal.sign_in_origins()))
        response = HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, "content-security-policy": csp})
        response.headers["content-language"] = self.lang
        response.headers["cache-control"] = "no-store" if self.person else "no-cache"
        if self.session is not None:
            remember(response, self.session, self.request)
        return response

    def redirect(self, target: str, *, status: int = 303) -> Response:
        response = RedirectResponse(target, status_code=status)
        if self.session is not None:
            remember(response, self.session, self.request)
        return response


def remember_language(response: Response, lang: str, request: Request) -> None:
    languages.remember_language(response, lang, secure=https(request))


def _section(path: str) -> str:
    for prefix, _ in reversed(SECTIONS):
        if prefix != "/" and (path == prefix or path.startswith(prefix + "/")):
            return prefix
    return "/"
