"""``/authorize`` (RFC 6749 section 3.1, 4.1): the sign-in and consent page of the code flow.

GET validates the request with authlib's grant and shows one server-rendered form: the
client's name, the scopes in words, username and password, Allow and Deny. Errors found before
the client and its redirect URI are known to match are shown on the page (400), never
redirected (section 4.1.2.1); later ones go back to the client with ``error``, ``state`` and
``iss`` (RFC 9207), as does the code.

The request travels from GET to POST inside the form, signed together with a CSRF value that
also sits in an HttpOnly cookie (a signed double-submit): a POST must come from our own form,
in the same browser, within :data:`FORM_LIFETIME`, with the parameters unchanged. The signing
key is derived from the private signing key, which every replica shares. Failed sign-ins are
counted per username and per address; over the limit the page answers 429 with
``Retry-After`` before any password is checked.

A sign-in is remembered in an HttpOnly cookie (sealed the same way, ``login_session_lifetime``),
so the next request of the same browser asks only for consent: consent is asked every time, so
``prompt=none`` gets ``consent_required`` (``login_required`` without a session). ``prompt=login``
and a passed ``max_age`` ask for the password again; codes carry the session's ``auth_time``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio.to_thread
import orjson
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, OAuth2Request
from authlib.oidc.core.errors import ConsentRequiredError
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from joserfc.jwk import Key
from markupsafe import Markup

from mims.identity.authorization_code import (
    AuthorizationCodeGrant,
    S256CodeChallenge,
    UserFlow,
)
from mims.identity.bruteforce import ClientAuthFailures
from mims.identity.clients import parse_scopes
from mims.identity.locales import TEXT, scope_words
from mims.identity.oidc import IDToken
from mims.identity.refresh_tokens import RefreshTokenGrant
from mims.identity.rfc6749 import FormPayload, TokenServer, form_fields
from mims.identity.users import User, authenticate
from mims.kit.languages import LANGUAGE_COOKIE, choose_language, remember_language

#: Seconds a rendered form may be submitted.
FORM_LIFETIME = 600
CSRF_COOKIE = "oup_authorize_csrf"
SESSION_COOKIE = "oup_session"
#: The page's only style sheet; the CSP allows exactly it, by its hash (so it is not escaped).
STYLE = (
    "body{font:1.0625rem/1.5 system-ui,sans-serif;color:#1b1b1b;background:#fff;margin:0}"
    "header{display:flex;justify-content:flex-end;padding:.75rem 1rem}"
    "main{max-width:32rem;margin:0 auto;padding:0 1rem 2rem}"
    "h1{font-size:1.75rem}a{color:#0b4f9c}"
    ".field{margin:1rem 0}label{display:block;font-weight:600;margin-bottom:.25rem}"
    "input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:2px solid #1b1b1b;border-radius:4px}"
    "input[aria-invalid=true]{border-color:#b00020}"
    ".actions{display:flex;gap:1rem;margin-top:1.5rem}"
    "button{font:inherit;font-weight:600;padding:.6rem 1.5rem;border-radius:4px;border:2px solid #0b4f9c;"
    "background:#0b4f9c;color:#fff;cursor:pointer}"
    "button.secondary{background:#fff;color:#0b4f9c}"
    ".error-summary{border:4px solid #b00020;padding:.5rem 1rem;margin:1rem 0}"
    ".error-summary h2{font-size:1.25rem;margin:.25rem 0}.note{color:#4a4a4a}"
    ":focus-visible{outline:3px solid #1b1b1b;outline-offset:3px}"
)
_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")), autoescape=select_autoescape(["html"])
)

router = APIRouter(tags=["identity"])


class AuthorizationRequest(OAuth2Request):
    """An authorization request as authlib reads it: its parameters, however they arrived."""

    def __init__(self, uri: str, fields: list[tuple[str, str]]) -> None:
        super().__init__("GET", uri)
        self.payload = FormPayload(fields)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return {}


def install(app: FastAPI, flow: UserFlow, server: TokenServer) -> None:
    """Register the user grants on ``server``; the sign-in failure counters on ``app``."""
    code_grant = type("AuthorizationCodeGrant", (AuthorizationCodeGrant,), {"flow": flow})
    refresh_grant = type("RefreshTokenGrant", (RefreshTokenGrant,), {"flow": flow})
    server.register_grant(code_grant, [S256CodeChallenge(required=True), IDToken(flow)])
    server.register_grant(refresh_grant)
    settings = flow.settings
    app.state.user_flow = flow
    # Counted as failed client authentications are (bruteforce.py), usernames in place of client ids.
    app.state.login_failures = ClientAuthFailures(
        per_client=settings.login_failures_per_username,
        per_ip=settings.login_failures_per_ip,
        trusted_proxies=settings.trusted_proxies,
    )


def derived_key(signing_key: Key, purpose: bytes) -> bytes:
    """A MAC key for ``purpose``, derived from the private signing key (shared by all replicas)."""
    private = signing_key.as_dict(private=True)["d"]
    return hmac.new(private.encode(), b"oup /authorize " + purpose, hashlib.sha256).digest()


def seal(key: bytes, content: dict[str, Any]) -> str:
    """``content`` with its MAC: readable by the browser, unalterable by it (unpadded base64url,
    so that it is a cookie value needing no quotes)."""
    body = _b64(orjson.dumps(content))
    return body + "." + _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def unseal(key: bytes, sealed: str) -> dict[str, Any] | None:
    """What :func:`seal` sealed with ``key``, or None for anything else."""
    body, _, mac = sealed.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    return orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_request(key: bytes, fields: list[tuple[str, str]], csrf: str) -> str:
    """The request ``fields``, bound to this browser's ``csrf`` value and the time, with their MAC."""
    return seal(key, {"p": fields, "c": csrf, "t": int(time.time())})


def verify_request(key: bytes, signed: str, csrf: str | None) -> list[tuple[str, str]] | None:
    """The parameters of a form we signed for this browser (``csrf``) and still accept, else None."""
    content = unseal(key, signed) if csrf else None
    if content is None or not hmac.compare_digest(content["c"].encode(), csrf.encode()):
        return None
    if time.time() - content["t"] > FORM_LIFETIME:
        return None
    return [(name, value) for name, value in content["p"]]


def _page(
    lang: str, status: int, *, cookies: dict[str, str], uri: str, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    client = context.get("client")
    title = TEXT[lang]["title"].format(client=client) if context.get("form") else TEXT[lang]["error_title"]
    html = _TEMPLATES.get_template("authorize.html").render(
        lang=lang, t=TEXT[lang], title=title, style=Markup(STYLE), **context
    )
    response = HTMLResponse(html, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})})
    secure, path = uri.startswith("https:"), urlsplit(uri).path
    remember_language(response, lang, secure=secure)
    for name, value in cookies.items():
        response.set_cookie(name, value, path=path, httponly=True, samesite="lax", secure=secure)
    return response


class Authorize:
    """One request to /authorize: its settings, language and cookies."""

    def __init__(self, request: Request, lang: str) -> None:
        self.request = request
        self.app = request.app
        self.settings = request.app.state.settings
        self.server: TokenServer = request.app.state.authorization_server
        # The URL browsers know the endpoint by, whatever proxy the request came through.
        self.uri = self.settings.issuer.rstrip("/") + "/authorize"
        self.lang = lang

    def error_page(self, status: int, message: str, detail: str | None = None) -> HTMLResponse:
        return _page(self.lang, status, cookies={}, uri=self.uri, message=message, detail=detail)

    def redirect(self, location: str, signed_in: tuple[User, int] | None = None) -> RedirectResponse:
        """Back to the client, with RFC 9207 ``iss`` so it can tell which server answered;
        remembering ``signed_in`` (who just gave their password, and when) for the session lifetime."""
        response = RedirectResponse(
            add_params_to_uri(location, [("iss", self.settings.issuer)]),
            status_code=302,
            headers={"Cache-Control": "no-store"},
        )
        lifetime = self.settings.login_session_lifetime
        if signed_in is not None and lifetime:
            user, signed_at = signed_in
            session = seal(self._session_key(), {"u": user.user_id, "t": signed_at, "e": signed_at + lifetime})
            response.set_cookie(
                SESSION_COOKIE,
                session,
                max_age=lifetime,
                path=urlsplit(self.uri).path,
                httponly=True,
                samesite="lax",
                secure=self.uri.startswith("https:"),
            )
        return response

    def _session_key(self) -> bytes:
        return derived_key(self.app.state.signing_key, b"session")

    async def signed_in(self, fields: list[tuple[str, str]]) -> tuple[User, int] | None:
        """The user of this browser's sign-in session and when they signed in, unless the request
        asks for a fresh sign-in (``prompt=login``, or a ``max_age`` that has passed)."""
        cookie = self.request.cookies.get(SESSION_COOKIE)
        session = unseal(self._session_key(), cookie) if cookie else None
        now = int(time.time())
        if session is None or session["e"] <= now:
            return None
        data = dict(fields)
        max_age = data.get("max_age", "")
        if "login" in data.get("prompt", "").split() or (max_age.isdigit() and now - session["t"] >= int(max_age)):
            return None
        user = await self.app.state.user_flow.users().get(session["u"])
        return None if user is None else (user, session["t"])

    def refusal(self, error: OAuth2Error, state: str | None) -> Response:
        if error.redirect_uri:
            error.state = state
            return self.redirect(add_params_to_uri(error.redirect_uri, error.get_body()))
        return self.error_page(400, TEXT[self.lang]["error_heading"] + ".", error.description or error.error)

    async def validate(self, fields: list[tuple[str, str]], user: User | None = None) -> AuthorizationCodeGrant:
        """authlib's grant for the request, validated; raises OAuth2Error."""
        oauth_request = AuthorizationRequest(self.uri, fields)
        try:
            return await anyio.to_thread.run_sync(self.server.get_consent_grant, oauth_request, user)
        except ValueError:
            # authlib refuses to quote characters RFC 6749 forbids in an error description
            # (a redirect_uri with a quote, say): such a request is malformed all the same.
            raise InvalidRequestError("the request has parameters with characters OAuth does not allow") from None

    def login_page(
        self,
        grant: AuthorizationCodeGrant,
        fields: list[tuple[str, str]],
        *,
        status: int = 200,
        errors: Iterable[dict[str, str]] = (),
        username: str = "",
        headers: dict[str, str] | None = None,
        signed_in: User | None = None,
    ) -> HTMLResponse:
        csrf = self.request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        other = TEXT[self.lang]["switch_lang"]
        switch = [(name, value) for name, value in fields if name != "ui_locales"] + [("ui_locales", other)]
        return _page(
            self.lang,
            status,
            cookies={CSRF_COOKIE: csrf},
            uri=self.uri,
            headers=headers,
            form=sign_request(derived_key(self.app.state.signing_key, b"form"), fields, csrf),
            action=self.uri,
            client=grant.request.client.client.name,
            scopes=scope_words(parse_scopes(grant.request.scope), self.lang),
            switch_url=self.uri + "?" + urlencode(switch),
            errors=list(errors),
            username=username,
            signed_in=signed_in,
            other_user_url=self.uri
            + "?"
            + urlencode([*[(n, v) for n, v in fields if n != "prompt"], ("prompt", "login")]),
        )


def _query_fields(request: Request) -> list[tuple[str, str]]:
    # Parameters sent without a value are treated as omitted (RFC 6749 section 3.1).
    return [(name, value) for name, value in request.query_params.multi_items() if value]


@router.get(
    "/authorize",
    summary="Authorization endpoint (RFC 6749 3.1): the sign-in and consent page",
    response_class=HTMLResponse,
)
async def authorize_page(request: Request) -> Response:
    fields = _query_fields(request)
    ui_locales = next((value for name, value in fields if name == "ui_locales"), None)
    endpoint = Authorize(
        request,
        choose_language(ui_locales, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")),
    )
    session = await endpoint.signed_in(fields)
    user = session[0] if session else None
    try:
        grant = await endpoint.validate(fields, user)
        if user is not None and "none" in dict(fields).get("prompt", "").split():
            # Signed in, but consent is asked every time: nothing can be issued without the page.
            raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
    except OAuth2Error as error:
        return endpoint.refusal(error, dict(fields).get("state"))
    return endpoint.login_page(grant, fields, signed_in=user)


_FORM_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["request"],
                "properties": {
                    "request": {"type": "string", "description": "the signed request from the page"},
                    "decision": {"type": "string", "enum": ["allow", "deny"]},
                    "username": {"type": "string"},
                    "password": {"type": "string", "format": "password"},
                    "lang": {"type": "string", "enum": ["nl", "en"]},
                },
            }
        }
    },
}


@router.post(
    "/authorize",
    summary="The sign-in and consent form: Allow or Deny",
    response_class=HTMLResponse,
    openapi_extra={"requestBody": _FORM_BODY},
)
async def authorize_decision(request: Request) -> Response:
    try:
        form = dict(reversed(form_fields(request.headers.get("content-type", ""), await request.body())))
    except OAuth2Error:
        form = {}
    lang = form.get("lang", "")
    endpoint = Authorize(
        request,
        choose_language(None, lang or request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")),
    )
    fields = verify_request(
        derived_key(request.app.state.signing_key, b"form"), form.get("request", ""), request.cookies.get(CSRF_COOKIE)
    )
    if fields is None:
        return endpoint.error_page(400, TEXT[endpoint.lang]["expired"])
    state = dict(fields).get("state")
    username, password = form.get("username", ""), form.get("password", "")
    # A password given wins over a session: it may be someone else signing in.
    session = None if username or password else await endpoint.signed_in(fields)
    try:
        grant = await endpoint.validate(fields, session[0] if session else None)
        if form.get("decision") != "allow":
            return endpoint.redirect(await _respond(grant, None))
        if session is not None:
            grant.auth_time = datetime.fromtimestamp(session[1], UTC)
            return endpoint.redirect(await _respond(grant, session[0]))
    except OAuth2Error as error:
        return endpoint.refusal(error, state)
    text = TEXT[endpoint.lang]
    if not username or not password:
        errors = [{"field": "username" if not username else "password", "text": text["missing_credentials"]}]
        return endpoint.login_page(grant, fields, status=400, errors=errors, username=username)
    failures: ClientAuthFailures = request.app.state.login_failures
    ip = failures.client_ip(request.client.host if request.client else None, request.headers)
    waiting = failures.retry_after(username, ip)
    if waiting is None:
        user = await authenticate(request.app.state.user_flow.users(), username, password)
        if user is not None:
            # One instant for the code's auth_time and the session's: a later sign-in from the
            # session then carries the same auth_time, even across a second's boundary.
            signed_at = int(time.time())
            grant.auth_time = datetime.fromtimestamp(signed_at, UTC)
            try:
                return endpoint.redirect(await _respond(grant, user), signed_in=(user, signed_at))
            except OAuth2Error as error:
                return endpoint.refusal(error, state)
        waiting = failures.failed(username, ip)
        if waiting is None:
            errors = [{"field": "username", "text": text["bad_credentials"]}]
            return endpoint.login_page(grant, fields, status=400, errors=errors, username=username)
    seconds = waiting[0]
    errors = [{"field": "username", "text": text["too_many"].format(seconds=seconds)}]
    return endpoint.login_page(
        grant, fields, status=429, errors=errors, username=username, headers={"Retry-After": str(seconds)}
    )


async def _respond(grant: AuthorizationCodeGrant, user: User | None) -> str:
    """The redirect location with the code for ``user``; raises access_denied for None."""
    _, _, headers = await anyio.to_thread.run_sync(grant.create_authorization_response, grant.redirect_uri, user)
    return dict(headers)["Location"]
