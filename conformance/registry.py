"""Every check of the suite, registered by the ``check`` decorator in ``conformance.checks``."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from conformance.model import MIMS, PROFILES, Check, Severity

if TYPE_CHECKING:
    from conformance.session import Session

_CHECKS: dict[str, Check] = {}


def check(id: str, title: str, *, mim: str, source: str, profile: str = "standard",
          severity: Severity = "must") -> Callable[[Callable[[Session], Awaitable[None]]], Callable[[Session], Awaitable[None]]]:
    """Register the decorated ``async def (session) -> None`` as a check."""
    if mim not in MIMS or profile not in PROFILES or severity not in ("must", "should"):
        raise ValueError(f"check {id}: mim {mim!r}, profile {profile!r} or severity {severity!r} unknown")
    if not id.startswith(f"{mim}."):
        raise ValueError(f"check {id}: its id must start with {mim}.")

    def register(run: Callable[[Session], Awaitable[None]]) -> Callable[[Session], Awaitable[None]]:
        if id in _CHECKS:
            raise ValueError(f"check {id} is registered twice")
        _CHECKS[id] = Check(id, title, mim, profile, severity, source, run)
        return run

    return register


def all_checks() -> list[Check]:
    import conformance.checks  # noqa: F401  (registers them)

    return sorted(_CHECKS.values(), key=lambda c: c.id)


def select(mim: str | None = None, profile: str | None = None, only: str | None = None) -> list[Check]:
    """Checks of ``mim`` in ``profile`` whose id matches ``only`` (a glob such as ``*.jwks.*``, or
    a plain part of the id)."""
    chosen = []
    for one in all_checks():
        if mim is not None and one.mim != mim:
            continue
        if profile is not None and not one.in_profile(profile):
            continue
        if only is not None and not (fnmatch.fnmatchcase(one.id, only) or only in one.id):
            continue
        chosen.append(one)
    return chosen
