"""Typed literal values of the NGSI-LD query language (CIM 009 V1.8.1 clause 4.9).

Every value in a parsed query keeps its grammar type (quotedStr, Number, true/false, dateTime,
date, time, URI) so that evaluation can apply the clause's data-type rules and a SQL compiler can
bind it as a typed parameter; nothing is ever kept as query text to be pasted elsewhere.
Dates and times follow clause 4.6.3 (ISO 8601); they are normalised to UTC so that they compare
as instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Text:
    """A quoted JSON string (production rule quotedStr)."""

    value: str


@dataclass(frozen=True, slots=True)
class Number:
    """A JSON number (RFC 8259 section 6): `int` when written without fraction or exponent."""

    value: int | float


@dataclass(frozen=True, slots=True)
class Boolean:
    """`true` or `false` (production rule OtherValue)."""

    value: bool


@dataclass(frozen=True, slots=True)
class DateTimeValue:
    """A DateTime (clause 4.6.3), held as an aware UTC `datetime`."""

    value: datetime


@dataclass(frozen=True, slots=True)
class DateValue:
    """A Date (clause 4.6.3)."""

    value: date


@dataclass(frozen=True, slots=True)
class TimeValue:
    """A Time (clause 4.6.3), held as an aware UTC `time`."""

    value: time


@dataclass(frozen=True, slots=True)
class Uri:
    """An unquoted URI / IRI (RFC 3986 / RFC 3987), allowed after `==` and `!=`."""

    value: str


@dataclass(frozen=True, slots=True)
class Term:
    """An unquoted name, e.g. `gender==Male`: a vocabulary term the caller may expand
    (clause 4.9 example 12, `expandValues`); otherwise it compares as a string."""

    value: str


Literal = Text | Number | Boolean | DateTimeValue | DateValue | TimeValue | Uri | Term
COMPARABLE = (Text, Number, DateTimeValue, DateValue, TimeValue)
"""Literal types allowed by production rule ComparableValue (ordering operators, ranges)."""


@dataclass(frozen=True, slots=True)
class Range:
    """`low..high`, both bounds included (production rule Range)."""

    low: Literal
    high: Literal


@dataclass(frozen=True, slots=True)
class ValueList:
    """`v1,v2,...` (production rule ValueList): matches when any value does."""

    values: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    """The regular expression of `~=` / `!~=` (production rule RegExp), as written."""

    source: str


QueryValue = Literal | Range | ValueList | Pattern


@lru_cache(maxsize=4096)
def parse_datetime(text: str) -> datetime | None:
    """ISO 8601 date-time to an aware UTC `datetime` (naive means UTC); None if not one."""
    if "T" not in text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@lru_cache(maxsize=4096)
def parse_date(text: str) -> date | None:
    """ISO 8601 calendar date `YYYY-MM-DD`; None if not one."""
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def parse_time(text: str) -> time | None:
    """ISO 8601 time of day to an aware UTC `time` (naive means UTC); None if not one."""
    if len(text) < 5 or not text[:2].isdigit() or text[2] != ":":
        return None
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    moment = datetime.combine(date(2000, 1, 1), parsed).astimezone(UTC)
    return moment.timetz()
