"""Recently verified client secrets, so a busy client does not pay argon2 on every request.

argon2id is slow on purpose (tens of milliseconds), which caps a process at a few dozen client
authentications per second. Storage keeps the argon2id hash; this cache remembers, for a short
time and in this process only, that a presented secret matched a stored hash.

Why this is safe:

- An entry is keyed by ``(client_id, secret_hash, HMAC-SHA256(process key, secret))``. The
  process key is random and never leaves memory, so the cache holds nothing from which the secret
  can be recovered or checked offline, and nothing secret is ever written anywhere.
- Only successes are stored: a wrong secret always misses and pays the full argon2 verification,
  so guessing costs exactly what it did, and response times tell a guesser nothing new (a hit
  needs the right secret in the first place).
- The stored hash is part of the key: a new secret (a new hash) misses, so an old secret stops
  working at once. A deleted client is not found (once :mod:`mims.identity.client_cache` has let
  it go) and never reaches this cache.
- Entries expire after ``ttl`` seconds and the cache holds at most ``size`` entries (least
  recently used go first), so memory is bounded whatever clients send.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

__all__ = ["VerifiedSecrets", "verified_secrets"]


class VerifiedSecrets:
    """A bounded, expiring set of (client, stored hash, presented secret) that verified.

    Thread-safe: client authentication runs in worker threads, and a ``TTLCache`` is not, so
    every access holds the lock.
    """

    def __init__(self, *, ttl: float = 300, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(ttl=ttl, size=size)

    def configure(self, *, ttl: float, size: int) -> None:
        """Set the lifetime and bound of entries (the service's settings); ``ttl=0`` caches nothing.

        What was remembered is forgotten, so a shorter lifetime applies to every entry at once.
        """
        if ttl < 0 or size < 1:
            raise ValueError("ttl must be >= 0 and size >= 1")
        with self._lock:
            self._ttl = ttl
            self._entries: TTLCache[tuple[str, str, bytes], bool] = TTLCache(size, ttl, timer=self._clock)

    def __contains__(self, entry: tuple[str, str, str]) -> bool:
        """Whether ``(client_id, secret_hash, secret)`` verified less than ``ttl`` seconds ago."""
        key = self._entry(*entry)
        with self._lock:
            return self._entries.get(key, False)  # a hit counts as a use for least-recently-used

    def add(self, client_id: str, secret_hash: str, secret: str) -> None:
        """Remember that ``secret`` verified against ``secret_hash`` (call only on success)."""
        if self._ttl == 0:
            return
        key = self._entry(client_id, secret_hash, secret)
        with self._lock:
            self._entries[key] = True

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _entry(self, client_id: str, secret_hash: str, secret: str) -> tuple[str, str, bytes]:
        digest = hmac.new(self._key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return client_id, secret_hash, digest


#: The process's cache, used by :meth:`mims.identity.clients.Client.check_secret`; the service
#: sets its ``ttl`` and ``size`` from the settings ``secret_cache_ttl`` and ``secret_cache_size``.
verified_secrets = VerifiedSecrets()
