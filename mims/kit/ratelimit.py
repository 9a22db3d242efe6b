"""Rate limits (brute-force protection, fair use): a moving window per key, by the `limits` library.

Counts live in this process by default (``memory://``); give a ``redis://`` storage URI to share
them between the replicas of a service.
"""

from __future__ import annotations

import math
import time

from limits import parse, storage, strategies

from mims.kit.problems import ProblemError

__all__ = ["RateLimit", "too_many_requests"]


class RateLimit:
    """At most ``rate`` hits (``"10/minute"``, ``"100 per 10 seconds"``) per key in a moving window."""

    def __init__(self, rate: str, *, storage_uri: str = "memory://") -> None:
        self.rate = rate
        self._item = parse(rate)
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def hit(self, *key: str) -> int | None:
        """Count one hit for ``key``: None if within the limit, else the seconds until a retry can pass."""
        if self._limiter.hit(self._item, *key):
            return None
        reset = self._limiter.get_window_stats(self._item, *key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def clear(self, *key: str) -> None:
        """Forget ``key``'s hits (after a successful sign-in, say)."""
        self._limiter.clear(self._item, *key)


def too_many_requests(retry_after: int, detail: str) -> ProblemError:
    """The RFC 9457 problem for a request over its limit, with RFC 9110 ``Retry-After``."""
    return ProblemError(429, "Too Many Requests", detail, headers={"Retry-After": str(retry_after)})
