"""The portal as an OAuth 2.0 client of the identity MIM: a public client (no secret) using the
authorization code grant with PKCE (RFC 6749 4.1, RFC 7636 S256) and OpenID Connect for who the
person is: the ID token (Core 3.1.3.7: signature, ``iss``, ``aud``, ``exp``, ``nonce``) and
``/userinfo`` about the same ``sub``. Endpoints, issuer and keys come from the identity MIM's
RFC 8414 metadata.

Access tokens live minutes; a request finding its session's token about to expire refreshes it
(RFC 6749 6) first. Sign-out revokes the refresh token (RFC 7009). An identity MIM that does not
answer (:class:`IdentityUnavailable`) is not a refusal (:class:`SignInFailed`): it signs nobody out.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from gateway.portal.sessions import (
    PendingSignIn,
    PendingStore,
    Person,
    Session,
    SessionStore,
)
from mims.kit.auth.rfc7517 import JWKSCache, KeySetUnavailable
from mims.kit.auth.rfc9068 import DEFAULT_ALGORITHMS

#: Seconds before expiry at which a token is refreshed rather than used.
REFRESH_LEEWAY = 30
#: Seconds of clock difference with the identity MIM an ID token's ``exp`` tolerates.
CLOCK_LEEWAY = 30
#: Seconds at least between two reads of the identity MIM's keys for ID tokens with an unknown ``kid``.
KEYS_MIN_REFETCH = 10
METADATA_PATH = "/.well-known/oauth-authorization-server"
_ID_TOKENS = jws.JWSRegistry(algorithms=list(DEFAULT_ALGORITHMS), strict_check_header=False)


class SignInFailed(Exception):
    """The identity MIM refused a sign-in or a refresh, or its answer was wrong; ``reason`` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdentityUnavailable(Exception):
    """The identity MIM did not answer, or answered with a server error; ``reason`` is safe to show."""

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
    pending: PendingStore = field(default_factory=PendingStore)
    metadata: dict[str, Any] = field(default_factory=dict)  # RFC 8414, read once
    _keys: JWKSCache | None = None
    _refreshing: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def endpoint(self, name: str) -> str:
        if not self.metadata:
            try:
                response = await self.identity_client.get(self.identity_url.rstrip("/") + METADATA_PATH)
                response.raise_for_status()
                metadata = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise IdentityUnavailable(f"the identity service at {self.identity_url} does not answer ({exc})") from exc
            if not isinstance(metadata, dict):
                raise IdentityUnavailable(f"the identity service at {self.identity_url} has no metadata")
            self.metadata.update(metadata)
        url = self.metadata.get(name)
        if not isinstance(url, str):
            raise IdentityUnavailable(f"the identity service names no {name}")
        return url

    async def keys(self) -> JWKSCache:
        """The identity MIM's signing keys, read once and again for a key not seen yet."""
        if self._keys is None:
            self._keys = JWKSCache(url=await self.endpoint("jwks_uri"), http=self.identity_client,
                                   min_refetch=KEYS_MIN_REFETCH)
        return self._keys

    def sign_in_origins(self) -> tuple[str, ...]:
        """Where signing in sends a browser: the identity MIM's origin(s)."""
        urls = (self.identity_url, self.metadata.get("authorization_endpoint"))
        return tuple(dict.fromkeys(f"{parts.scheme}://{parts.netloc}" for url in urls if isinstance(url, str)
                                   if (parts := urlsplit(url)).scheme in ("http", "https") and parts.netloc))


def pkce_pair() -> tuple[str, str]:
    """An RFC 7636 code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def authorization_url(portal: Portal, browser: str, *, redirect_uri: str, next_path: str, lang: str,
                            fresh: bool = False) -> str:
    """Where ``browser`` signs in (``fresh``: with the password, whatever the identity MIM remembers,
    OpenID Connect ``prompt=login``); the portal keeps the request's state, verifier, nonce and redirect URI."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    query = {"response_type": "code", "client_id": portal.client_id, "redirect_uri": redirect_uri,
             "scope": portal.scopes, "state": state, "nonce": nonce, "code_challenge": challenge,
             "code_challenge_method": "S256", "ui_locales": lang}
    if fresh:
        query["prompt"] = "login"
    target = f"{await portal.endpoint('authorization_endpoint')}?{urlencode(query)}"
    portal.pending.put(state, PendingSignIn(browser=browser, verifier=verifier, nonce=nonce,
                                            redirect_uri=redirect_uri, next=next_path))
    return target


async def complete(portal: Portal, pending: PendingSignIn, *, code: str) -> Session:
    """Exchange the code for tokens and learn who signed in: a new session for them."""
    tokens = await _token_request(portal, {"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": pending.redirect_uri, "code_verifier": pending.verifier})
    id_claims = await _id_token_claims(portal, tokens.get("id_token"), pending.nonce)
    claims = await _userinfo(portal, tokens["access_token"])
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise SignInFailed("the identity service did not say who signed in")
    if sub != id_claims["sub"]:
        raise SignInFailed("the identity service named two different people")
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise SignInFailed("the identity service sent roles that are not a list of names")
    username = _text(claims.get("preferred_username")) or sub
    person = Person(sub=sub, username=username, name=_text(claims.get("name")) or username, roles=tuple(roles),
                    scopes=frozenset((_text(tokens.get("scope")) or portal.scopes).split()))
    session = portal.sessions.new()
    session.person = person
    _keep(session, tokens)
    return session


async def fresh_access_token(portal: Portal, session: Session) -> str | None:
    """The session's access token, refreshed first when it is about to expire; None when there
    is none or the identity MIM refuses to refresh it (the person is then signed out).
    :class:`IdentityUnavailable` when it cannot be asked: the session stays as it is."""
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
        except (httpx.HTTPError, IdentityUnavailable):
            pass


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _unavailable(response: httpx.Response) -> bool:
    return response.status_code >= 500 or response.status_code == 429


async def _token_request(portal: Portal, form: dict[str, str]) -> dict[str, Any]:
    try:
        response = await portal.identity_client.post(await portal.endpoint("token_endpoint"),
                                                     data={**form, "client_id": portal.client_id})
    except httpx.HTTPError as exc:
        raise IdentityUnavailable(f"the identity service did not answer the token request ({exc})") from exc
    if _unavailable(response):
        raise IdentityUnavailable(f"the identity service answered the token request with {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SignInFailed(f"the identity service answered the token request with {response.status_code}")
    if response.status_code != 200:
        raise SignInFailed(str(body.get("error_description") or body.get("error") or response.status_code))
    expires_in = body.get("expires_in", 300)
    if (not _text(body.get("access_token")) or not isinstance(expires_in, int | float)
            or not isinstance(body.get("refresh_token", ""), str)):
        raise SignInFailed("the identity service's token answer is not a valid one")
    return body


async def _id_token_claims(portal: Portal, id_token: Any, nonce: str) -> dict[str, Any]:
    """The claims of ``id_token`` if the identity MIM signed it for this sign-in (Core 3.1.3.7)."""
    if not isinstance(id_token, str):
        raise SignInFailed("the identity service sent no ID token")
    try:
        header = jws.extract_compact(id_token.encode("ascii"), registry=_ID_TOKENS).headers()
        kid = header.get("kid")
        key = await (await portal.keys()).key(kid if isinstance(kid, str) else None, header["alg"])
    except KeySetUnavailable as exc:
        raise IdentityUnavailable(f"the identity service's keys cannot be read ({exc})") from exc
    except (JoseError, ValueError, KeyError) as exc:
        raise SignInFailed(f"the ID token is not a signed token ({exc})") from exc
    if key is None:
        raise SignInFailed("the ID token is signed with a key the identity service does not publish")
    issuer = await portal.endpoint("issuer")
    registry = JWTClaimsRegistry(leeway=CLOCK_LEEWAY, iss={"essential": True, "value": issuer},
                                 aud={"essential": True, "values": [portal.client_id]},
                                 exp={"essential": True}, sub={"essential": True},
                                 nonce={"essential": True, "value": nonce})
    try:
        claims = jwt.decode(id_token, key, algorithms=[header["alg"]], registry=_ID_TOKENS).claims
        registry.validate(claims)
    except (JoseError, ValueError) as exc:
        raise SignInFailed(f"the ID token is not valid for this sign-in ({exc})") from exc
    return claims


async def _userinfo(portal: Portal, access_token: str) -> dict[str, Any]:
    try:
        response = await portal.identity_client.get(
            await portal.endpoint("userinfo_endpoint"), headers={"authorization": f"Bearer {access_token}"})
    except httpx.HTTPError as exc:
        raise IdentityUnavailable(f"the identity service did not say who signed in ({exc})") from exc
    if _unavailable(response):
        raise IdentityUnavailable(f"the identity service answered /userinfo with {response.status_code}")
    try:
        claims = response.json() if response.status_code == 200 else None
    except ValueError:
        claims = None
    if not isinstance(claims, dict):
        raise SignInFailed(f"the identity service did not say who signed in ({response.status_code})")
    return claims


def _keep(session: Session, tokens: dict[str, Any]) -> None:
    session.access_token = tokens["access_token"]
    session.refresh_token = tokens.get("refresh_token") or session.refresh_token
    session.expires_at = time.time() + float(tokens.get("expires_in") or 300)
