"""A circuit breaker per federation peer, so a region answer stops waiting for a peer that keeps failing.

Closed: every request goes to the peer. After ``threshold`` consecutive failures the circuit
opens: the peer is skipped at once (and reported) for ``cooldown`` seconds. Then it is half-open:
one trial request goes through; success closes the circuit, failure opens it for another
cool-down. The clock is injected so the cool-down can be tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

State = Literal["closed", "open", "half-open"]


@dataclass(slots=True)
class CircuitBreaker:
    """The failure record of one peer; not thread-safe (one event loop owns it)."""

    threshold: int
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial_running: bool = field(default=False)

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        """Whether a request may go to the peer now; in half-open state only one trial at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self.trial_running:
            self.trial_running = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_running = False

    def failed(self) -> None:
        self.failures += 1
        if self.trial_running or self.failures >= self.threshold:
            self.opened_at = self.clock()
        self.trial_running = False

    def abandoned(self) -> None:
        """A request given up without an outcome (the caller went away): free the trial slot."""
        self.trial_running = False

    def retry_in(self) -> float:
        """Seconds until the next trial request (0 when requests go through)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self.clock() - self.opened_at))


@dataclass(slots=True)
class Circuits:
    """The breakers of all peers, made on first use with the same threshold, cool-down and clock."""

    threshold: int
    cooldown: float
    clock: Callable[[], float] = time.monotonic
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    def __getitem__(self, peer: str) -> CircuitBreaker:
        breaker = self.breakers.get(peer)
        if breaker is None:
            breaker = self.breakers[peer] = CircuitBreaker(self.threshold, self.cooldown, self.clock)
        return breaker
