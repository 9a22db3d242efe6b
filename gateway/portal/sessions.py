"""Who is signed in to the portal: sessions kept in this gateway's memory, named by a random id
in an HttpOnly cookie.

The tokens never reach the browser. A session ends on sign-out, after ``IDLE_SECONDS`` without a
request, or when the gateway restarts (people then sign in again; the identity MIM remembers
their sign-in, so that is one click). Forms that change something carry the session's CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from cachetools import TTLCache
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "oup_portal_session"  # not the identity MIM's ``oup_session``: cookies ignore ports
IDLE_SECONDS = 8 * 3600
MAX_SESSIONS = 100_000
#: Sign-ins started but not finished in a session (each a tab that went to the sign-in page).
MAX_PENDING = 8


@dataclass
class PendingSignIn:
    """What the callback checks and needs: RFC 6749 ``state``, the PKCE verifier (RFC 7636), the
    OpenID Connect ``nonce`` and the page to return to."""

    verifier: str
    nonce: str
    next: str
    started: float = field(default_factory=time.monotonic)


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
    pending: dict[str, PendingSignIn] = field(default_factory=dict)

    def signed_out(self) -> None:
        self.person, self.access_token, self.refresh_token, self.expires_at = None, None, None, 0.0

    def csrf_valid(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf)


class SessionStore:
    def __init__(self, idle_seconds: float = IDLE_SECONDS, size: int = MAX_SESSIONS) -> None:
        self._sessions: TTLCache[str, Session] = TTLCache(maxsize=size, ttl=idle_seconds)

    def of(self, request: Request) -> Session | None:
        """The request's session, kept alive for another idle period; None without one."""
        session_id = request.cookies.get(SESSION_COOKIE)
        session = self._sessions.get(session_id) if session_id else None
        if session is not None:
            self._sessions[session.id] = session  # sliding expiry
        return session

    def open(self, request: Request) -> Session:
        """The request's session, or a new one (its cookie set by :func:`remember`)."""
        session = self.of(request)
        if session is None:
            session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32))
            self._sessions[session.id] = session
        return session

    def close(self, session: Session) -> None:
        self._sessions.pop(session.id, None)


def remember(response: Response, session: Session, request: Request) -> None:
    response.set_cookie(SESSION_COOKIE, session.id, max_age=IDLE_SECONDS, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def forget(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
