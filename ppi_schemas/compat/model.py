"""The vocabulary of a compatibility report: verdicts, changes and how they combine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Breaks = Literal["backward", "forward", "both"]

_FLIPPED: dict[str, Breaks] = {"backward": "forward", "forward": "backward", "both": "both"}


class Compatibility(StrEnum):
    """How a new version of a contract relates to the old one (see the package docstring)."""

    FULL = "full"
    BACKWARD = "backward"
    FORWARD = "forward"
    BREAKING = "breaking"


@dataclass(frozen=True)
class Change:
    """One difference between two versions that breaks at least one direction.

    ``pointer`` is an RFC 6901 JSON pointer into the schema (or ``@context`` document) where the
    difference lives; ``breaks`` names the direction(s) it breaks.
    """

    rule: str
    pointer: str
    message: str
    breaks: Breaks

    def flipped(self) -> Change:
        """The same change seen through a negation (``not``): narrowing becomes widening."""
        return Change(self.rule, self.pointer, self.message, _FLIPPED[self.breaks])


@dataclass(frozen=True)
class CompatReport:
    """The outcome of comparing two versions of one PPI."""

    old: str
    new: str
    verdict: Compatibility
    changes: list[Change]
    example_failures: list[str]

    @property
    def backward(self) -> bool:
        """Consumers of the new version can read every payload valid under the old one."""
        return self.verdict in (Compatibility.FULL, Compatibility.BACKWARD)

    @property
    def forward(self) -> bool:
        """Consumers of the old version can read every payload valid under the new one."""
        return self.verdict in (Compatibility.FULL, Compatibility.FORWARD)


def verdict(changes: Iterable[Change]) -> Compatibility:
    """Derive the verdict from the directions the changes break."""
    broken: set[str] = set()
    for change in changes:
        broken.update(("backward", "forward") if change.breaks == "both" else (change.breaks,))
    if not broken:
        return Compatibility.FULL
    if broken == {"forward"}:
        return Compatibility.BACKWARD
    if broken == {"backward"}:
        return Compatibility.FORWARD
    return Compatibility.BREAKING
