"""The portal as an OAuth 2.0 client of the identity MIM: a public client (no secret) using the
authorization code grant with PKCE (RFC 6749 4.1, RFC 7636 S256) and OpenID Connect for who the
person is (``nonce``, ``/userinfo``). Endpoints come from the identity MIM's RFC 8414 metadata.

Access tokens live minutes; a request finding its session's token about to expire refreshes it
(RFC 6749 6) first. Sign-out revokes the refresh token (RFC 7009).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from gateway.portal.sessions import MAX_PENDING, PendingSignIn, Person, Session, SessionStore

#: Seconds before expiry at which a token is refreshed rather than used.
REFRESH_LEEWAY = 30
METADATA_PATH = "/.well-known/oauth-authorization-server"


class SignInFailed(Exception):
    """The identity MIM did not complete a sign-in; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Portal:
    """What the portal keeps while the gateway runs (``app.state.portal``)."""

    identity_url: str
    client_id: str
    scopes: str
    sessions: SessionStore
    platform_client: httpx.AsyncClient
    identity_client: httpx.AsyncClient
    redirect_uri: str | None = None  # None: the request's own <base>/auth/callback
    metadata: dict[str, Any] = field(default_factory=dict)  # RFC 8414, read once
    _refreshing: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def endpoint(self, name: str) -> str:
        if not self.metadata:
            try:
                response = await self.identity_client.get(self.identity_url.rstrip("/") + METADATA_PATH)
                response.raise_for_status()
                self.metadata.update(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                raise SignInFailed(f"the identity service at {self.identity_url} does not answer ({exc})") from exc
        url = self.metadata.get(name)
        if not isinstance(url, str):
            raise SignInFailed(f"the identity service names no {name}")
        return url


def pkce_pair() -> tuple[str, str]:
    """An RFC 7636 code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def authorization_url(portal: Portal, session: Session, *, redirect_uri: str, next_path: str, lang: str) -> str:
    """Where the browser signs in; the session remembers the request's state, verifier and nonce."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    if len(session.pending) >= MAX_PENDING:
        oldest = min(session.pending, key=lambda key: session.pending[key].started)
        del session.pending[oldest]
    session.pending[state] = PendingSignIn(verifier=verifier, nonce=nonce, next=next_path)
    query = {"response_type": "code", "client_id": portal.client_id, "redirect_uri": redirect_uri,
             "scope": portal.scopes, "state": state, "nonce": nonce, "code_challenge": challenge,
             "code_challenge_method": "S256", "ui_locales": lang}
    return f"{await portal.endpoint('authorization_endpoint')}?{urlencode(query)}"


async def complete(portal: Portal, session: Session, *, state: str, code: str, redirect_uri: str) -> str:
    """Exchange the code for tokens, learn who signed in; the page to return to."""
    pending = session.pending.pop(state, None)
    if pending is None:
        raise SignInFailed("this sign-in was not started here or has already been used")
    tokens = await _token_request(portal, {"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": redirect_uri, "code_verifier": pending.verifier})
    try:
        response = await portal.identity_client.get(
            await portal.endpoint("userinfo_endpoint"), headers={"authorization": f"Bearer {tokens['access_token']}"})
        response.raise_for_status()
        claims = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInFailed(f"the identity service did not say who signed in ({exc})") from exc
    session.person = Person(
        sub=str(claims["sub"]),
        username=str(claims.get("preferred_username") or claims["sub"]),
        name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
        roles=tuple(claims.get("roles") or ()),
        scopes=frozenset(str(tokens.get("scope") or portal.scopes).split()),
    )
    _keep(session, tokens)
    session.pending.clear()
    return pending.next


async def fresh_access_token(portal: Portal, session: Session) -> str | None:
    """The session's access token, refreshed first when it is about to expire; None when there
    is none or it cannot be refreshed (the person is then signed out)."""
    if session.access_token is None:
        return None
    if session.expires_at - REFRESH_LEEWAY > time.time():
        return session.access_token
    lock = portal._refreshing.setdefault(session.id, asyncio.Lock())
    async with lock:
        if session.expires_at - REFRESH_LEEWAY > time.time():  # refreshed while this one waited
            return session.access_token
        try:
            if session.refresh_token is None:
                raise SignInFailed("no refresh token")
            _keep(session, await _token_request(
                portal, {"grant_type": "refresh_token", "refresh_token": session.refresh_token}))
        except SignInFailed:
            session.signed_out()
            return None
        finally:
            portal._refreshing.pop(session.id, None)
    return session.access_token


async def sign_out(portal: Portal, session: Session) -> None:
    """Revoke the refresh token (best effort: the session ends here whatever the answer)."""
    token = session.refresh_token
    session.signed_out()
    if token:
        try:
            await portal.identity_client.post(await portal.endpoint("revocation_endpoint"), data={
                "token": token, "token_type_hint": "refresh_token", "client_id": portal.client_id})
        except (httpx.HTTPError, SignInFailed):
            pass


async def _token_request(portal: Portal, form: dict[str, str]) -> dict[str, Any]:
    try:
        response = await portal.identity_client.post(await portal.endpoint("token_endpoint"),
                                                     data={**form, "client_id": portal.client_id})
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInFailed(f"the identity service did not answer the token request ({exc})") from exc
    if response.status_code != 200 or "access_token" not in body:
        raise SignInFailed(str(body.get("error_description") or body.get("error") or response.status_code))
    return body


def _keep(session: Session, tokens: dict[str, Any]) -> None:
    session.access_token = tokens["access_token"]
    session.refresh_token = tokens.get("refresh_token") or session.refresh_token
    session.expires_at = time.time() + float(tokens.get("expires_in") or 300)
