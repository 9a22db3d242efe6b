"""RFC 7662 token introspection, asked by revocation-sensitive routes.

A signature only proves a token was issued; whether it was revoked since (RFC 7009) only the
issuer knows. Routes that must not act on a revoked token ask the issuer's introspection
endpoint, authenticating as this resource server (HTTP Basic, RFC 7662 section 2.1). Answers
are cached for a few seconds per token, so a burst of requests with one token costs one call;
a revocation therefore takes effect within ``cache_ttl`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
from cachetools import TTLCache

__all__ = ["IntrospectionUnavailable", "Introspector"]

log = logging.getLogger(__name__)


class IntrospectionUnavailable(Exception):
    """The introspection endpoint could not answer: whether the token is active is unknown."""


class Introspector:
    """Asks ``url`` whether tokens are active, as client ``client_id``."""

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        client_secret: str,
        cache_ttl: float = 10,
        cache_size: int = 4096,
        timeout: float = 5,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._timeout = timeout
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        # token -> active, for cache_ttl seconds; None when caching is off. Only the event loop
        # touches it, so it needs no lock.
        self._answers: TTLCache[str, bool] | None = None
        if cache_ttl > 0 and cache_size > 0:
            self._answers = TTLCache(cache_size, cache_ttl, timer=clock)

    async def active(self, token: str) -> bool:
        """Whether the issuer says ``token`` is active; raises :class:`IntrospectionUnavailable`."""
        cached = None if self._answers is None else self._answers.get(token)
        if cached is not None:
            return cached
        answer = await self._ask(token)
        if self._answers is not None:
            self._answers[token] = answer
        return answer

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _ask(self, token: str) -> bool:
        try:
            response = await self._http.post(
                self._url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            log.warning("token introspection at %s failed: %s", self._url, reason)
            raise IntrospectionUnavailable(f"introspection endpoint {self._url} unreachable: {reason}") from None
        if response.status_code != 200:
            # 401 means this resource server's own credentials are wrong: a configuration error.
            log.warning("token introspection at %s answered HTTP %s", self._url, response.status_code)
            raise IntrospectionUnavailable(f"introspection endpoint {self._url} answered HTTP {response.status_code}")
        try:
            active = response.json().get("active")
        except (ValueError, AttributeError):
            active = None
        if not isinstance(active, bool):
            raise IntrospectionUnavailable(f"introspection endpoint {self._url} sent no boolean 'active'")
        return active
