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
from mims.context.query.errors import QueryTooComplex
from mims.context.query.limits import MAX_DEPTH, MAX_QUERY_LENGTH, MAX_TERMS
from mims.context.query.scanner import Scanner, is_term_char


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


class _ScopeParser:
    def __init__(self, text: str) -> None:
        self.s = Scanner(text)
        self.terms = 0

    def parse(self) -> Node:
        self.s.skip_spaces()
        if self.s.at_end():
            raise self.s.error("empty scope query: expected a scope such as /a/b")
        node = self._or(0)
        self.s.skip_spaces()
        if not self.s.at_end():
            if self.s.peek() == ")":
                raise self.s.error("unexpected ')' without a matching '('")
            raise self.s.error("expected ';', '|', ',', ')' or end of scope query")
        return node

    def _or(self, depth: int) -> Node:
        operands = [self._and(depth)]
        while self.s.accept("|") or self.s.accept(","):
            operands.append(self._and(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _and(self, depth: int) -> Node:
        operands = [self._primary(depth)]
        while self.s.accept(";"):
            operands.append(self._primary(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _primary(self, depth: int) -> Node:
        self.s.skip_spaces()
        start = self.s.pos
        if self.s.accept("("):
            if depth + 1 > MAX_DEPTH:
                raise QueryTooComplex(
                    f"parentheses nested deeper than {MAX_DEPTH}", start, self.s.text
                )
            node = self._or(depth + 1)
            self.s.expect(")", f"')' closing the '(' at position {start}")
            return node
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryTooComplex(f"more than {MAX_TERMS} scope terms", start, self.s.text)
        return self._term()

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
