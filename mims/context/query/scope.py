"""The NGSI-LD scope query language (`scopeQ`), CIM 009 V1.8.1 clause 4.19.

Grammar read (Scope itself: `[/] ScopeLevel *(/ ScopeLevel)`, ScopeLevel = 1*(unicodeNumber /
unicodeLetter / `_`)):

    ScopeQuery = OrExpr
    OrExpr     = AndExpr *(("|" / ",") AndExpr)     ; `,` is a list of alternatives, like `|`
    AndExpr    = Primary *(";" Primary)
    Primary    = "(" OrExpr ")" / ScopeTerm
    ScopeTerm  = "/#" / ["/"] Level *("/" Level) ["/#"]
    Level      = ScopeLevel / "+"

`+` stands for exactly one level, a final `#` for the scope itself and every scope below it,
and `/#` alone for any scope. An Entity matches a term when any of its scopes does; Entities
without a scope match no term.
"""

from __future__ import annotations

from collections.abc import Iterable

from mims.context.query.ast import And, Node, Or, ScopeTerm
from mims.context.query.descent import Descent
from mims.context.query.errors import QueryTooComplex
from mims.context.query.limits import MAX_QUERY_LENGTH
from mims.context.query.scanner import is_term_char


def parse_scope_q(text: str) -> Node:
    """Parse a scopeQ expression; raise QuerySyntaxError or QueryTooComplex."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryTooComplex(
            f"scope query longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH, text
        )
    return _ScopeParser(text).parse()


def scope_matches(node: Node, scopes: str | Iterable[str] | None) -> bool:
    """Whether an Entity with these scopes satisfies the scopeQ expression `node`."""
    if scopes is None:
        held: list[tuple[str, ...]] = []
    else:
        held = [_levels(scope) for scope in ([scopes] if isinstance(scopes, str) else scopes)]
    return _evaluate(node, held)


def _evaluate(node: Node, held: list[tuple[str, ...]]) -> bool:
    if isinstance(node, And):
        return all(_evaluate(operand, held) for operand in node.operands)
    if isinstance(node, Or):
        return any(_evaluate(operand, held) for operand in node.operands)
    if isinstance(node, ScopeTerm):
        return any(_term_matches(node.levels, levels) for levels in held)
    raise TypeError(f"{type(node).__name__} is not a scope query node")


def _levels(scope: str) -> tuple[str, ...]:
    return tuple(scope.removeprefix("/").split("/"))


def _term_matches(pattern: tuple[str, ...], levels: tuple[str, ...]) -> bool:
    for index, wanted in enumerate(pattern):
        if wanted == "#":
            return len(levels) >= index
        if index >= len(levels) or (wanted != "+" and wanted != levels[index]):
            return False
    return len(levels) == len(pattern)


class _ScopeParser(Descent):
    OR_SEPARATORS = ("|", ",")
    EMPTY = "empty scope query: expected a scope such as /a/b"
    TRAILING = "expected ';', '|', ',', ')' or end of scope query"
    TERMS = "scope terms"

    def _term(self) -> ScopeTerm:
        if self.s.peek() == "/":
            self.s.pos += 1
        levels = [self._level()]
        while self.s.peek() == "/" and levels[-1] != "#":
            self.s.pos += 1
            levels.append(self._level())
        if levels[-1] == "#" and self.s.peek() == "/":
            raise self.s.error("'#' can only be the last level")
        return ScopeTerm(tuple(levels))

    def _level(self) -> str:
        start = self.s.pos
        if self.s.peek() in ("+", "#"):
            self.s.pos += 1
            return self.s.text[start]
        while self.s.peek() and is_term_char(self.s.peek()):
            self.s.pos += 1
        if self.s.pos == start:
            raise self.s.error("expected a scope level (letters, digits, '_'), '+' or '#'")
        return self.s.text[start : self.s.pos]
