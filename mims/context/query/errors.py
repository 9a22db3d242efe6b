"""Errors raised while reading an NGSI-LD query (CIM 009 V1.8.1 clauses 4.9 and 4.19).

They are plain exceptions, independent of HTTP: the API layer maps `QuerySyntaxError` to a 400
(BadRequestData / InvalidRequest) and `QueryTooComplex` to 403 TooComplexQuery (clause 5.5.2).
Both carry the 0-based character offset where reading stopped, so the answer can say where.
"""

from __future__ import annotations

_EXCERPT_RADIUS = 30


def excerpt(text: str, position: int) -> str:
    """Two lines: a window of `text` around `position` and a caret under that character."""
    start = max(0, position - _EXCERPT_RADIUS)
    end = min(len(text), position + _EXCERPT_RADIUS)
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(text) else ""
    window = prefix + text[start:end] + suffix
    caret = " " * (len(prefix) + position - start) + "^"
    return f"{window}\n{caret}"


class QueryError(ValueError):
    """Base class: a query string that cannot be evaluated, with where it failed."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        self.message = message
        self.position = position
        self.text = text
        detail = f"{message} at position {position}"
        if text:
            detail = f"{detail}\n{excerpt(text, position)}"
        super().__init__(detail)


class QuerySyntaxError(QueryError):
    """The text does not follow the grammar (clause 4.9 ABNF, or clause 4.19 for scopeQ)."""


class QueryTooComplex(QueryError):
    """The query exceeds a length, nesting, size or regular-expression safety bound."""
