"""OAuth 2.0 client credentials (RFC 6749 section 4.4) for a MIM that calls another MIM checking
tokens itself: an ``httpx.AsyncClient`` whose requests carry a bearer access token (RFC 6750).

The token request is authlib's (``AsyncOAuth2Client.fetch_token``: client authentication with
HTTP Basic, the error answers, ``expires_at``). A token is reused until ``leeway`` seconds before
it expires; the next request then fetches a new one first. authlib's client itself is not the
caller's client: it runs on httpx2 where that is installed, and callers here speak httpx.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc6749 import OAuth2Token

__all__ = ["ClientCredentialsAuth", "TokenRequestFailed", "client_credentials_client"]

# authlib's OAuth client is built on httpx2 (a dependency), on httpx in older authlib versions.
try:
    import httpx2

    _HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:
    _HTTP_ERRORS = (httpx.HTTPError,)


class TokenRequestFailed(Exception):
    """The token endpoint refused the client (``error``, e.g. ``invalid_client``) or could not be
    asked (``error`` None)."""

    def __init__(self, token_url: str, client_id: str, reason: str, error: str | None = None) -> None:
        super().__init__(f"{token_url} gave client {client_id!r} no token: {reason}")
        self.token_url = token_url
        self.client_id = client_id
        self.reason = reason
        self.error = error


class ClientCredentialsAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <token>`` to each request, the token obtained from
    ``token_url`` as ``client_id`` for ``scope`` (space-separated; None: all the client may have)."""

    def __init__(self, *, token_url: str, client_id: str, client_secret: str, scope: str | None = None,
                 leeway: float = 60, timeout: float = 10) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._leeway = leeway
        self._timeout = timeout
        self._token: OAuth2Token | None = None
        self._lock = asyncio.Lock()  # one token request at a time, whatever the concurrent requests

    async def access_token(self) -> str:
        """The current access token, fetched when there is none or it expires within ``leeway``."""
        async with self._lock:
            if self._token is None or self._token.is_expired(leeway=self._leeway):
                self._token = await self._fetch()
            return str(self._token["access_token"])

    async def _fetch(self) -> OAuth2Token:
        try:
            async with AsyncOAuth2Client(self.client_id, self._secret, scope=self._scope, timeout=self._timeout) as oauth:
                return await oauth.fetch_token(self.token_url, grant_type="client_credentials")
        except OAuthError as error:
            reason = f"{error.error}: {error.description}" if error.description else str(error.error)
            raise TokenRequestFailed(self.token_url, self.client_id, reason, error.error) from None
        except (*_HTTP_ERRORS, ValueError, KeyError) as error:
            raise TokenRequestFailed(self.token_url, self.client_id, f"{type(error).__name__} {error}".strip()) from None

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.access_token()}"
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ClientCredentialsAuth works with httpx.AsyncClient only")


def client_credentials_client(*, token_url: str, client_id: str, client_secret: str, scope: str | None = None,
                              **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` (``options`` are its own, e.g. ``timeout``) whose requests carry
    client-credentials access tokens; a refused token request raises :class:`TokenRequestFailed`."""
    timeout = options.get("timeout")
    auth = ClientCredentialsAuth(token_url=token_url, client_id=client_id, client_secret=client_secret, scope=scope,
                                 timeout=timeout if isinstance(timeout, (int, float)) else 10)
    return httpx.AsyncClient(auth=auth, **options)
