"""The platform a portal test runs against, as ``oup up`` presents it to its user."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How identity's first start prints a demo user: ``  user citizen (citizen), password XXXX``.
_DEMO_USER = re.compile(r"^\s*user (?P<username>\S+) \([^)]*\), password (?P<password>\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Platform:
    """A running platform as its user sees it: the addresses and what ``oup up`` printed."""

    gateway: str
    identity: str
    #: Everything ``oup up`` printed until all services were ready.
    printed: str
    #: The demo users' passwords by username, shown once on first start.
    passwords: dict[str, str]

    @property
    def redirect_uri(self) -> str:
        """Where the identity sends a person back to the demo portal (served by the gateway)."""
        return f"{self.gateway}/auth/callback"


def demo_passwords(printed: str) -> dict[str, str]:
    """The demo users' passwords from identity's first-start output."""
    return {match["username"]: match["password"] for match in _DEMO_USER.finditer(printed)}
