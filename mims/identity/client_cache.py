"""Recently read client records, so a busy client does not cost a storage read per request.

Every request at ``/token``, ``/introspect`` and ``/revoke`` authenticates a client, and reading
its record from SQL (through the event loop, from the worker thread authlib runs in) is about
half the cost of issuing a token. This cache keeps, per app and for ``ttl`` seconds, the clients
that were *found*.

Why this is safe:

- "Not found" is never remembered, so a client registered a moment ago is usable at once.
- Client records do not change in place; a client is only added or deleted. Deleting one through
  this process (:meth:`ClientCache.forget`, called by the admin API) takes effect here at once,
  including over a read that was under way at that moment. A deletion this process did not see
  (another replica, or the database edited directly) stops the client being served within ``ttl``
  seconds.
- The record holds the secret's argon2id hash, never the secret: the secret is still checked on
  every request (see :mod:`mims.identity.secret_cache`).
- At most ``size`` clients are kept (least recently used go first), whatever ids clients send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from mims.identity.clients import Client

__all__ = ["ClientCache"]


class ClientCache:
    """Clients found in storage, remembered for ``ttl`` seconds (0: not at all).

    Thread-safe: clients are looked up from authlib's worker threads, and a ``TTLCache`` is not,
    so every access holds the lock.
    """

    def __init__(self, *, ttl: float, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl < 0 or size < 1:
            raise ValueError("ttl must be >= 0 and size >= 1")
        self._clients: TTLCache[str, Client] | None = TTLCache(size, ttl, timer=clock) if ttl > 0 else None
        self._lock = threading.Lock()
        # Counts forget() calls: a read that started before one must not store what it read.
        self._forgotten = 0

    def get(self, client_id: str, load: Callable[[str], Client | None]) -> Client | None:
        """The client ``client_id``, remembered or else ``load(client_id)`` from storage."""
        if self._clients is None:
            return load(client_id)
        with self._lock:
            client = self._clients.get(client_id)
            forgotten = self._forgotten
        if client is not None:
            return client
        client = load(client_id)
        if client is not None:
            with self._lock:
                if self._forgotten == forgotten:
                    self._clients[client_id] = client
        return client

    def forget(self, client_id: str) -> None:
        """Stop serving ``client_id`` from memory: it was deleted."""
        if self._clients is None:
            return
        with self._lock:
            self._clients.pop(client_id, None)
            self._forgotten += 1
