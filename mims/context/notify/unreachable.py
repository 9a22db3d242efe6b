"""Endpoints that could not be reached lately: their deliveries wait instead of trying again.

A connection refused (or timed out) by an HTTP endpoint makes it *unreachable* for a pause (the
first retry delay). Deliveries claimed for it meanwhile are not sent: they are put back to be
due when the pause ends, their attempts and the subscription's counters untouched, so a dead
endpoint costs one connection attempt per pause instead of one per notification, and the
notifications reach it once it is back. Endpoints that answer, even with an error status, are
never paused. Per broker process.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit


def endpoint_key(uri: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port of an HTTP endpoint; ``None`` for other bindings (MQTT)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or parts.hostname is None:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.scheme, parts.hostname, port


class UnreachableEndpoints:
    """Which endpoints are paused, and for how long (monotonic clock)."""

    def __init__(self, pause: float) -> None:
        self._pause = pause
        self._until: dict[tuple[str, str, int | None], float] = {}

    def failed_to_connect(self, uri: str) -> None:
        key = endpoint_key(uri)
        if key is not None:
            self._until[key] = time.monotonic() + self._pause

    def reached(self, uri: str) -> None:
        key = endpoint_key(uri)
        if key is not None:
            self._until.pop(key, None)

    def paused_for(self, uri: str) -> float:
        """Seconds left of the endpoint's pause; 0 when it may be tried."""
        key = endpoint_key(uri)
        if key is None or key not in self._until:
            return 0.0
        left = self._until[key] - time.monotonic()
        if left <= 0:
            del self._until[key]
            return 0.0
        return left
