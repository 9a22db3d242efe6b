"""RFC 7517 JSON Web Key Sets: the issuer's published verification keys, fetched and cached.

Issuers rotate keys: they publish a new key, then start signing with it. A token whose ``kid``
the cache does not know yet therefore triggers one refetch, but no more often than
``min_refetch`` seconds, so a flood of tokens with made-up ``kid`` values cannot turn this
service into a load generator against the issuer. A failed fetch keeps the last good key set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any

import httpx
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import Key, KeySet

__all__ = ["JWKSCache", "KeySetUnavailable"]

#: Upper bound on a JWK Set document; real ones hold a handful of keys (a few KiB).
MAX_JWKS_BYTES = 256 * 1024
JWK_SET_MEDIA_TYPES = "application/jwk-set+json, application/json"

log = logging.getLogger(__name__)


class KeySetUnavailable(Exception):
    """The JWK Set could not be fetched and no earlier copy is cached: tokens cannot be checked."""


class JWKSCache:
    """Signing keys from a static JWK Set, or from ``url`` (re-read every ``ttl`` seconds)."""

    def __init__(
        self,
        *,
        url: str | None = None,
        jwks: dict[str, Any] | None = None,
        ttl: float = 300,
        min_refetch: float = 10,
        timeout: float = 5,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if (url is None) == (jwks is None):
            raise ValueError("give exactly one of a JWKS URL or a static JWK Set")
        self._url = url
        self._keys: KeySet | None = _key_set(jwks) if jwks is not None else None
        self._ttl = ttl
        self._min_refetch = min_refetch
        self._timeout = timeout
        self._owns_http = http is None and url is not None
        self._http = http or (httpx.AsyncClient(timeout=timeout) if url is not None else None)
        self._lock = asyncio.Lock()
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._last_error = ""

    @property
    def url(self) -> str | None:
        """Where the keys are fetched from; None for a static set."""
        return self._url

    async def key(self, kid: str | None, alg: str) -> Key | None:
        """The signature key for ``kid`` usable with ``alg``; None if the issuer has no such key."""
        if self._url is None:
            return self._find(kid, alg)
        stale = time.monotonic() - self._fetched_at >= self._ttl
        if stale:
            await self._refresh()
        found = self._find(kid, alg)
        if found is None and not stale:
            # The issuer may have rotated to a key published after our last fetch.
            await self._refresh()
            found = self._find(kid, alg)
        if self._keys is None:
            raise KeySetUnavailable(f"JWK Set at {self._url} unavailable: {self._last_error}")
        return found

    async def aclose(self) -> None:
        """Close the HTTP client if this cache created it."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()

    def _find(self, kid: str | None, alg: str) -> Key | None:
        if self._keys is None:
            return None
        try:
            return self._keys.get_by_kid(kid, {"alg": alg, "use": "sig"})
        except InvalidKeyIdError:
            return None

    def _may_refetch(self) -> bool:
        return time.monotonic() - self._attempted_at >= self._min_refetch

    async def _refresh(self) -> None:
        """Fetch, unless a fetch was attempted less than ``min_refetch`` seconds ago.

        Callers queue on the lock, so concurrent requests join the fetch in flight
        and then find it recent, instead of each fetching.
        """
        async with self._lock:
            if not self._may_refetch():
                return
            self._attempted_at = time.monotonic()
            try:
                self._keys = await self._fetch()
            except (httpx.HTTPError, ValueError, JoseError) as exc:
                self._last_error = str(exc) or type(exc).__name__
                log.warning("JWK Set fetch from %s failed: %s", self._url, self._last_error)
            else:
                self._fetched_at = self._attempted_at

    async def _fetch(self) -> KeySet:
        assert self._http is not None and self._url is not None
        body = bytearray()
        async with self._http.stream(
            "GET", self._url, headers={"Accept": JWK_SET_MEDIA_TYPES}, timeout=self._timeout
        ) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"JWK Set larger than {MAX_JWKS_BYTES} bytes")
        return _key_set(json.loads(body))


def _key_set(document: object) -> KeySet:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('not a JWK Set: expected an object with a "keys" array')
    return KeySet.import_key_set(document)
