"""Who is signed in to the portal: sessions kept in this gateway's memory, named by a random id
in an HttpOnly cookie.

The tokens never reach the browser. A session ends on sign-out, after ``IDLE_SECONDS`` without a
request, or when the gateway restarts (people then sign in again; the identity MIM remembers
their sign-in, so that is one click). Forms that change something carry the session's CSRF token.

A sign-in under way is not a session: it waits in a small store of its own for at most
``PENDING_SECONDS``, named by its RFC 6749 ``state`` and bound to the browser that started it by
a short-lived cookie. Only a completed sign-in gets a session, always a new one (no fixation).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from cachetools import TTLCache
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "oup_portal_session"  # not the identity MIM's ``oup_session``: cookies ignore ports
IDLE_SECONDS = 8 * 3600
MAX_SESSIONS = 100_000
#: The browser's sign-ins under way: their cookie, how long one may take, how many are kept.
SIGNIN_COOKIE = "oup_portal_signin"
#: Set on sign-out: the next sign-in from this browser asks for the password again (``prompt=login``),
#: although the identity MIM still knows the person (a shared computer).
SIGNED_OUT_COOKIE = "oup_portal_signed_out"
SIGNIN_PATH = "/auth"
PENDING_SECONDS = 600
MAX_PENDING = 10_000
_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


@dataclass
class PendingSignIn:
    """What the callback checks and needs: the browser that started it, the PKCE verifier
    (RFC 7636), the OpenID Connect ``nonce``, the ``redirect_uri`` sent and the page to return to."""

    browser: str
    verifier: str
    nonce: str
    redirect_uri: str
    next: str


@dataclass
class Person:
    sub: str
    username: str
    name: str
    roles: tuple[str, ...]
    scopes: frozenset[str]


@dataclass
class Session:
    id: str
    csrf: str
    person: Person | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float = 0.0  # time.time() at which the access token expires

    def signed_out(self) -> None:
        self.person, self.access_token, self.refresh_token, self.expires_at = None, None, None, 0.0

    def csrf_valid(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf)


class SessionStore:
    def __init__(self, idle_seconds: float = IDLE_SECONDS, size: int = MAX_SESSIONS) -> None:
        self._sessions: TTLCache[str, Session] = TTLCache(maxsize=size, ttl=idle_seconds)

    def get(self, session_id: str | None) -> Session | None:
        """The session ``session_id`` names, kept alive for another idle period; None without one."""
        session = self._sessions.get(session_id) if session_id else None
        if session is not None:
            self._sessions[session.id] = session  # sliding expiry
        return session

    def of(self, request: Request) -> Session | None:
        return self.get(request.cookies.get(SESSION_COOKIE))

    def new(self) -> Session:
        """A new session with its own random id and CSRF token (its cookie set by :func:`remember`)."""
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32))
        self._sessions[session.id] = session
        return session

    def close(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def __len__(self) -> int:
        return len(self._sessions)


class PendingStore:
    """Sign-ins under way by ``state``; each is taken at most once, and only by its own browser."""

    def __init__(self, seconds: float = PENDING_SECONDS, size: int = MAX_PENDING) -> None:
        self._pending: TTLCache[str, PendingSignIn] = TTLCache(maxsize=size, ttl=seconds)

    def put(self, state: str, pending: PendingSignIn) -> None:
        self._pending[state] = pending

    def take(self, state: str, browser: str | None) -> PendingSignIn | None:
        """The sign-in ``state`` names if ``browser`` started it (then it is gone), else None."""
        pending = self._pending.get(state)
        if pending is None or browser is None or not hmac.compare_digest(pending.browser, browser):
            return None
        del self._pending[state]
        return pending

    def __len__(self) -> int:
        return len(self._pending)


def browser_id(request: Request) -> str:
    """The id binding this browser's sign-ins: the one in its cookie, or a new one."""
    known = request.cookies.get(SIGNIN_COOKIE, "")
    return known if _BROWSER_ID.fullmatch(known) else secrets.token_urlsafe(32)


def https(request: Request) -> bool:
    """Whether browsers reach the portal over HTTPS: the configured public URL says, else the request."""
    public_url = request.app.state.settings.public_url
    return (public_url.scheme if public_url is not None else request.url.scheme) == "https"


def remember(response: Response, session: Session, request: Request) -> None:
    response.set_cookie(SESSION_COOKIE, session.id, max_age=IDLE_SECONDS, httponly=True, samesite="lax",
                        secure=https(request), path="/")


def remember_browser(response: Response, browser: str, request: Request) -> None:
    response.set_cookie(SIGNIN_COOKIE, browser, max_age=PENDING_SECONDS, httponly=True, samesite="lax",
                        secure=https(request), path=SIGNIN_PATH)


def forget(response: Response, request: Request) -> None:
    """The session's cookie gone, and the next sign-in here one with the password (SIGNED_OUT_COOKIE)."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.set_cookie(SIGNED_OUT_COOKIE, "1", max_age=IDLE_SECONDS, httponly=True, samesite="lax",
                        secure=https(request), path=SIGNIN_PATH)
