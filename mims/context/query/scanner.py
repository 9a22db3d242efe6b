"""Character-level reading shared by the q (clause 4.9) and scopeQ (clause 4.19) parsers.

A `Scanner` walks the query text once, left to right; every error it raises names the offset
where reading stopped.
"""

from __future__ import annotations

import json
import unicodedata

from mims.context.query.errors import QuerySyntaxError

LOGICAL_OPS = frozenset(";|")
"""andOp and orOp."""


def is_letter(char: str) -> bool:
    """unicodeLetter: any character of Unicode category L."""
    return unicodedata.category(char).startswith("L")


def is_term_char(char: str) -> bool:
    """TermChar: unicodeNumber / unicodeLetter / `_`."""
    return char == "_" or unicodedata.category(char)[0] in "LN"


class Scanner:
    """A cursor over the query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, offset: int = 0) -> str:
        """The character `offset` ahead of the cursor, or "" past the end."""
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def startswith(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def accept(self, token: str) -> bool:
        """Consume `token` (after optional spaces) if it comes next."""
        self.skip_spaces()
        if self.startswith(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str, what: str) -> None:
        if not self.accept(token):
            raise self.error(f"expected {what}")

    def skip_spaces(self) -> None:
        """Spaces between tokens are tolerated, never inside a name or value."""
        while self.peek() == " ":
            self.pos += 1

    def error(self, message: str, position: int | None = None) -> QuerySyntaxError:
        where = self.pos if position is None else position
        found = self.text[where] if where < len(self.text) else None
        if found is not None and not message.startswith("unexpected"):
            message = f"{message}, found {found!r}"
        elif found is None:
            message = f"{message}, found end of query"
        return QuerySyntaxError(message, where, self.text)

    def name(self, what: str = "an attribute name") -> str:
        """AttrName (`unicodeLetter *TermChar`), optionally prefixed (`prefix:name`,
        clause 4.6.2) so that compact IRIs can be used as attribute names."""
        start = self.pos
        self._word(what)
        if self.peek() == ":" and self.peek(1) and is_letter(self.peek(1)):
            self.pos += 1
            self._word(what)
        return self.text[start : self.pos]

    def _word(self, what: str) -> None:
        if not self.peek() or not is_letter(self.peek()):
            raise self.error(f"expected {what}")
        self.pos += 1
        while self.peek() and is_term_char(self.peek()):
            self.pos += 1

    def quoted(self) -> str:
        """A JSON string (RFC 8259 section 7) starting at the cursor, decoded."""
        start = self.pos
        index = start + 1
        while index < len(self.text):
            char = self.text[index]
            if char == "\\":
                index += 2
                continue
            if char == '"':
                break
            index += 1
        else:
            raise QuerySyntaxError("unterminated string", start, self.text)
        token = self.text[start : index + 1]
        try:
            value = json.loads(token)
        except json.JSONDecodeError as exc:
            position = start + exc.pos
            raise QuerySyntaxError(f"invalid string: {exc.msg}", position, self.text) from None
        self.pos = index + 1
        return value
