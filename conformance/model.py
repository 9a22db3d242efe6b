"""What the suite is made of: checks, their outcomes and the evidence behind them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from conformance.session import Session

MIMS = ("identity", "context", "marketplace", "permit-check", "gateway")
PROFILES = ("standard", "mim")
"""``standard``: what any implementation of the MIM's standards must do (any OpenID provider,
any NGSI-LD broker); ``mim``: that and the OUP contract besides (``/.well-known/mim``, the PPIs)."""

Severity = Literal["must", "should"]
Status = Literal["passed", "failed", "skipped", "not-run", "error"]


class Failed(Exception):
    """The target does not do what the check requires; the message says what it did instead."""


class Skipped(Exception):
    """The check does not apply to this target (the message says why), e.g. a feature it does not
    advertise. A skipped must-check does not block a certificate."""


class NotRun(Exception):
    """The check could not run: it needs input the operator did not give; the message says which
    option to give. A must-check not run blocks a certificate."""


@dataclass(frozen=True)
class Check:
    id: str
    """Dotted and stable, e.g. ``identity.discovery.issuer``; reports and certificates cite it."""
    title: str
    mim: str
    profile: str
    severity: Severity
    source: str
    """The clause or PPI the requirement comes from, e.g. ``RFC 8414 §3.3``."""
    run: Callable[[Session], Awaitable[None]] = field(repr=False, compare=False)

    def in_profile(self, profile: str) -> bool:
        """``mim`` includes ``standard``."""
        return self.profile == profile or (profile == "mim" and self.profile == "standard")


@dataclass
class Exchange:
    """One HTTP request the check made and the answer, excerpted, credentials masked."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None
    response_headers: dict[str, str]
    response_body: str
    milliseconds: float


@dataclass
class Result:
    check: Check
    status: Status
    message: str = ""
    notes: list[str] = field(default_factory=list)
    """What the target does that the standard allows but that is worth knowing (not a failure)."""
    evidence: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0
