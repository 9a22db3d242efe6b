"""Recursive-descent parser of the NGSI-LD query language, CIM 009 V1.8.1 clause 4.9.

Grammar read (ABNF of the clause, with the precedence its prose gives):

    Query          = OrExpr
    OrExpr         = AndExpr *(orOp AndExpr)                 ; `|`
    AndExpr        = Primary *(andOp Primary)               ; `;` binds tighter than `|`
    Primary        = "(" OrExpr ")" / QueryTerm              ; associations may nest
    QueryTerm      = Attribute [Operator Value]
    Attribute      = DottedPath ["[" DottedPath "]"]         ; trailing compound path
    Value          = ComparableValue                         ; after > >= < <=
                   / Range / ValueList / Literal             ; after == !=
                   / RegExp                                  ; after ~= !~=

Literals are quotedStr, Number, true/false, dateTime, date, time and (after == and !=) URI or an
unquoted term. Spaces between tokens are tolerated. Every error names its character offset.
"""

from __future__ import annotations

import math
import re

from mims.context.query.ast import (
    MEMBER_NAMES,
    ORDERING_OPS,
    PATTERN_OPS,
    AttrPath,
    Comparison,
    Exists,
    Node,
    Op,
)
from mims.context.query.descent import Descent
from mims.context.query.errors import QuerySyntaxError, QueryTooComplex
from mims.context.query.limits import (
    MAX_LIST_VALUES,
    MAX_PATH_SEGMENTS,
    MAX_QUERY_LENGTH,
)
from mims.context.query.regex import PatternError, check_pattern
from mims.context.query.scanner import LOGICAL_OPS, is_letter, is_term_char
from mims.context.query.values import (
    COMPARABLE,
    Boolean,
    DateTimeValue,
    DateValue,
    Literal,
    Number,
    Pattern,
    QueryValue,
    Range,
    Text,
    Term,
    TimeValue,
    Uri,
    ValueList,
    parse_date,
    parse_datetime,
    parse_time,
)

# Token shapes, tried in this order at a value starting with a digit or "-".
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")

# Operators, longest first so that `!~=` is not read as `!=`.
_OPERATORS = sorted(Op, key=lambda op: -len(op.value))
_URI_END = frozenset(";|), \t")
_LITERAL_END = frozenset(";|),")


def parse_q(text: str) -> Node:
    """Parse a q expression into its AST; raise QuerySyntaxError or QueryTooComplex."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryTooComplex(
            f"query longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH, text
        )
    return _QParser(text).parse()


class _QParser(Descent):
    EMPTY = "empty query: expected a Query Term"
    TRAILING = "expected ';', '|', ')' or end of query"
    TERMS = "Query Terms"

    def _term(self) -> Node:
        path = self._attribute()
        op = self._operator()
        if op is None:
            return Exists(path)
        return Comparison(path, op, self._value(op))

    def _attribute(self) -> AttrPath:
        start = self.s.pos
        names = self._dotted("an attribute name")
        compound = None
        if self.s.peek() == "[":
            self.s.pos += 1
            compound = self._dotted("a member name, language tag or '*'", compound=True)
            if self.s.peek() != "]":
                raise self.s.error("expected ']' closing the trailing path")
            self.s.pos += 1
        if len(names) + len(compound or ()) > MAX_PATH_SEGMENTS:
            raise QueryTooComplex(
                f"attribute path longer than {MAX_PATH_SEGMENTS} names", start, self.s.text
            )
        meta = names[-1] if names[-1] in MEMBER_NAMES else None
        for index, name in enumerate(names[:-1] if meta else names):
            if name in MEMBER_NAMES:
                raise QuerySyntaxError(
                    f"{name!r} is an NGSI-LD member and can only end an attribute path",
                    start + sum(len(n) + 1 for n in names[:index]),
                    self.s.text,
                )
        if meta and compound is not None:
            raise QuerySyntaxError(
                f"{meta!r} has no compound value to address with '[...]'", start, self.s.text
            )
        return AttrPath(names[:-1] if meta else names, compound, meta)

    def _dotted(self, what: str, *, compound: bool = False) -> tuple[str, ...]:
        parts = [self._segment(what) if compound else self.s.name(what)]
        while self.s.peek() == ".":
            self.s.pos += 1
            parts.append(self._segment(what) if compound else self.s.name(what))
        return tuple(parts)

    def _segment(self, what: str) -> str:
        """A member name of a compound value, a language tag (BCP 47, with `-`; or the JSON-LD
        `@none` key) or `*` for any language."""
        start = self.s.pos
        if self.s.peek() == "*":
            self.s.pos += 1
            return "*"
        while self.s.peek() and (is_term_char(self.s.peek()) or self.s.peek() in "-@"):
            self.s.pos += 1
        if self.s.pos == start:
            raise self.s.error(f"expected {what}")
        return self.s.text[start : self.s.pos]

    def _operator(self) -> Op | None:
        self.s.skip_spaces()
        for op in _OPERATORS:
            if self.s.startswith(op.value):
                self.s.pos += len(op.value)
                return op
        char = self.s.peek()
        if char in ("", ")") or char in LOGICAL_OPS:
            return None
        if char == "=":
            raise self.s.error("'=' is not an operator (use '==')")
        raise self.s.error("expected an operator (== != > >= < <= ~= !~=), ';', '|' or ')'")

    def _value(self, op: Op) -> QueryValue:
        self.s.skip_spaces()
        if op in PATTERN_OPS:
            return self._pattern()
        start = self.s.pos
        first = self._literal()
        if op in ORDERING_OPS:
            if not isinstance(first, COMPARABLE):
                raise self.s.error(
                    f"'{op.value}' needs a number, string, date, time or date-time", start
                )
            if self.s.startswith("..") or self.s.peek() == ",":
                raise self.s.error("ranges and value lists are only allowed after '==' and '!='")
            return first
        if self.s.startswith(".."):
            self.s.pos += 2
            high_start = self.s.pos
            high = self._literal()
            if not isinstance(first, COMPARABLE) or type(high) is not type(first):
                raise self.s.error(
                    "range bounds must be two numbers, strings, dates, times or date-times",
                    high_start,
                )
            return Range(first, high)
        if self.s.accept(","):
            values = [first, self._literal()]
            while self.s.accept(","):
                if len(values) >= MAX_LIST_VALUES:
                    raise QueryTooComplex(
                        f"more than {MAX_LIST_VALUES} values in a list", self.s.pos, self.s.text
                    )
                values.append(self._literal())
            return ValueList(tuple(values))
        return first

    def _literal(self) -> Literal:
        self.s.skip_spaces()
        start = self.s.pos
        char = self.s.peek()
        if char == '"':
            value: Literal = Text(self.s.quoted())
        elif char.isdigit() or char == "-":
            value = self._number_or_temporal()
        elif char and is_letter(char):
            value = self._word_value()
        else:
            raise self.s.error("expected a value")
        nxt = self.s.peek()
        if nxt and nxt not in _LITERAL_END and nxt != " " and not self.s.startswith(".."):
            raise self.s.error(f"malformed value starting at position {start}")
        return value

    def _number_or_temporal(self) -> Literal:
        text, start = self.s.text, self.s.pos
        for shape, parse, kind in (
            (_DATETIME, parse_datetime, DateTimeValue),
            (_DATE, parse_date, DateValue),
            (_TIME, parse_time, TimeValue),
        ):
            found = shape.match(text, start)
            if found:
                parsed = parse(found.group().replace(",", "."))
                if parsed is None:
                    raise self.s.error("invalid date or time", start)
                self.s.pos = found.end()
                return kind(parsed)
        found = _NUMBER.match(text, start)
        if not found:
            raise self.s.error("expected a number, date, time or date-time")
        token = found.group()
        number = int(token) if token.lstrip("-").isdigit() else float(token)
        if isinstance(number, float) and not math.isfinite(number):
            raise self.s.error("number out of range", start)
        self.s.pos = found.end()
        return Number(number)

    def _word_value(self) -> Literal:
        """`true` / `false`, a URI (`scheme:...`) or an unquoted term."""
        start = self.s.pos
        while self.s.peek() and (is_term_char(self.s.peek()) or self.s.peek() in "+-."):
            if self.s.startswith(".."):
                break
            self.s.pos += 1
        word = self.s.text[start : self.s.pos]
        if self.s.peek() == ":" and _is_scheme(word):
            while self.s.peek() and self.s.peek() not in _URI_END and self.s.peek() != ",":
                self.s.pos += 1
            if self.s.pos == start + len(word) + 1:
                raise self.s.error("expected the rest of the URI after ':'")
            return Uri(self.s.text[start : self.s.pos])
        if word in ("true", "false"):
            return Boolean(word == "true")
        if not all(is_term_char(char) for char in word):
            raise self.s.error("unquoted strings must be names; put text in double quotes", start)
        return Term(word)

    def _pattern(self) -> Pattern:
        start = self.s.pos
        if self.s.peek() == '"':
            source = self.s.quoted()
        else:
            source = self._raw_pattern()
        if not source:
            raise self.s.error("expected a regular expression", start)
        try:
            check_pattern(source)
        except PatternError as exc:
            error = QueryTooComplex if exc.too_complex else QuerySyntaxError
            raise error(exc.message, start + exc.offset, self.s.text) from None
        return Pattern(source)

    def _raw_pattern(self) -> str:
        """An unquoted RegExp runs to the next `;`, `|` or `)` outside its own groups and
        character classes; quote the pattern to use those characters at its top level."""
        text, start = self.s.text, self.s.pos
        index, depth = start, 0
        while index < len(text):
            char = text[index]
            if char == "\\":
                index += 2
                continue
            if char == "[":
                close = text.find("]", index + 2)
                index = len(text) if close == -1 else close + 1
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char in LOGICAL_OPS and depth == 0:
                break
            index += 1
        self.s.pos = min(index, len(text))
        return text[start : self.s.pos]


def _is_scheme(word: str) -> bool:
    """RFC 3986 scheme: ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")."""
    return (
        bool(word)
        and word[0].isascii()
        and word[0].isalpha()
        and all(char.isascii() and (char.isalnum() or char in "+-.") for char in word)
    )
