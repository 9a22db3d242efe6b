"""A permit-decision@1.0.0 document shaped for reading: its rule table in one language, with
measured values and limits written as people write them (``≤ 70 m``, ``12,5 m²`` in Dutch).

Plain functions, tested without HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

UNITS = {"m2": "m²", "m3": "m³"}
COMPARATORS = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "==": "="}
#: CSS class of each verdict (the words always say it too: colour is never the only sign).
VERDICT_CLASS = {"pass": "verdict-pass", "compliant": "verdict-pass", "fail": "verdict-fail",
                 "non-compliant": "verdict-fail"}


@dataclass(frozen=True)
class RuleRow:
    rule: str
    title: str
    measured: str
    limit: str
    verdict: str
    explanation: str
    reference: str


def quantity(value: Mapping[str, Any] | None, lang: str) -> str:
    """``12,5 m²`` (nl) or ``12.5 m²`` (en); a list of categories joined; empty when unknown."""
    if not value:
        return ""
    amount, unit = value.get("value"), value.get("unit")
    if isinstance(amount, list):
        text = ", ".join(str(item) for item in amount)
    elif isinstance(amount, bool):
        text = str(amount).lower()
    elif isinstance(amount, (int, float)):
        text = f"{amount:,.2f}".rstrip("0").rstrip(".") if isinstance(amount, float) else f"{amount:,}"
        if lang == "nl":
            text = text.replace(",", "\u2009").replace(".", ",")
        else:
            text = text.replace(",", "\u2009")
    else:
        text = str(amount)
    return f"{text} {UNITS.get(unit, unit)}" if unit else text


def limit_text(result: Mapping[str, Any], lang: str) -> str:
    text = quantity(result.get("limit"), lang)
    symbol = COMPARATORS.get(result.get("comparator", ""))
    return f"{symbol} {text}" if text and symbol else text


def reference_text(reference: Mapping[str, Any] | None) -> str:
    if not reference:
        return ""
    article = reference.get("article")
    return f"{reference['plan']}, art. {article}" if article else str(reference["plan"])


def rule_rows(decision: Mapping[str, Any], lang: str) -> list[RuleRow]:
    """The decision's results in order, each as the rule table shows it in ``lang``."""
    return [RuleRow(rule=r["rule"], title=r["title"][lang], measured=quantity(r.get("measured"), lang),
                    limit=limit_text(r, lang), verdict=r["verdict"], explanation=r["explanation"][lang],
                    reference=reference_text(r.get("legalReference")))
            for r in decision.get("results", [])]


def when(timestamp: str) -> str:
    """``2026-11-22 10:15 UTC`` of an RFC 3339 instant in UTC (as the permit check writes them)."""
    day, _, clock = timestamp.partition("T")
    return f"{day} {clock[:5]} UTC" if clock else timestamp
