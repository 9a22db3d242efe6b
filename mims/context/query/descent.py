"""The recursive descent shared by the q (clause 4.9) and scopeQ (clause 4.19) parsers.

Both languages combine their terms the same way: `;` (and) binds tighter than the or
separators, and parentheses group up to MAX_DEPTH levels. A subclass names its or separators,
its messages, and reads one term in :meth:`Descent._term`.
"""

from __future__ import annotations

from mims.context.query.ast import And, Node, Or
from mims.context.query.errors import QueryTooComplex
from mims.context.query.limits import MAX_DEPTH, MAX_TERMS
from mims.context.query.scanner import Scanner


class Descent:
    """OrExpr / AndExpr / Primary over a :class:`Scanner`, counting the terms read."""

    OR_SEPARATORS: tuple[str, ...] = ("|",)
    EMPTY: str = "empty query"
    TRAILING: str = "expected end of query"
    TERMS: str = "terms"

    def __init__(self, text: str) -> None:
        self.s = Scanner(text)
        self.terms = 0

    def parse(self) -> Node:
        self.s.skip_spaces()
        if self.s.at_end():
            raise self.s.error(self.EMPTY)
        node = self._or(0)
        self.s.skip_spaces()
        if not self.s.at_end():
            if self.s.peek() == ")":
                raise self.s.error("unexpected ')' without a matching '('")
            raise self.s.error(self.TRAILING)
        return node

    def _or(self, depth: int) -> Node:
        operands = [self._and(depth)]
        while any(self.s.accept(separator) for separator in self.OR_SEPARATORS):
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
            raise QueryTooComplex(f"more than {MAX_TERMS} {self.TERMS}", start, self.s.text)
        return self._term()

    def _term(self) -> Node:
        raise NotImplementedError
