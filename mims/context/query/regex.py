"""Regular expressions of the pattern operators `~=` / `!~=` (CIM 009 V1.8.1 clause 4.9).

Patterns are evaluated with Python `re` in search mode, as POSIX regexec (IEEE 1003.2, which
the clause cites) does: anchor with `^...$` to match a whole value. Because user-supplied
patterns run inside the broker, they are bounded before use: a maximum length, and no nested
quantifier (a quantified group that itself contains a quantifier, e.g. `(a+)+`), the shape
behind catastrophic backtracking (`?` outside such a group is allowed: it repeats at most once).
"""

from __future__ import annotations

import re
from functools import lru_cache

from mims.context.query.limits import MAX_PATTERN_LENGTH

_QUANTIFIER_START = frozenset("*+?{")
_UNBOUNDED_START = frozenset("*+{")  # `?` repeats at most once, so it cannot nest badly


class PatternError(ValueError):
    """A pattern that is invalid (`too_complex` False) or unsafe to run (`too_complex` True)."""

    def __init__(self, message: str, offset: int, *, too_complex: bool) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.too_complex = too_complex


def check_pattern(source: str) -> None:
    """Raise `PatternError` unless `source` compiles and respects the safety bounds."""
    if len(source) > MAX_PATTERN_LENGTH:
        raise PatternError(
            f"regular expression longer than {MAX_PATTERN_LENGTH} characters",
            MAX_PATTERN_LENGTH,
            too_complex=True,
        )
    try:
        re.compile(source)
    except re.error as exc:
        raise PatternError(
            f"invalid regular expression: {exc.msg}", exc.pos or 0, too_complex=False
        ) from None
    nested = _nested_quantifier(source)
    if nested is not None:
        raise PatternError(
            "regular expression repeats a group that already contains a repetition",
            nested,
            too_complex=True,
        )


@lru_cache(maxsize=1024)
def compile_pattern(source: str) -> re.Pattern[str]:
    """The compiled form of a pattern already accepted by `check_pattern`."""
    return re.compile(source)


def _nested_quantifier(source: str) -> int | None:
    """Offset of a quantifier applied to a group that contains a quantifier, if any."""
    stack: list[bool] = [False]  # per open group: does it contain a quantifier?
    closed_group_quantified = False  # the atom just before the cursor is such a group
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\":
            index += 2
            closed_group_quantified = False
            continue
        if char == "[":
            index = _skip_class(source, index)
            closed_group_quantified = False
            continue
        if char == "(":
            stack.append(False)
            if source.startswith("?", index + 1):
                index += 1  # group extension syntax, not a quantifier
        elif char == ")" and len(stack) > 1:
            inner = stack.pop()
            stack[-1] = stack[-1] or inner
            closed_group_quantified = inner
            index += 1
            continue
        elif char in _QUANTIFIER_START and _is_quantifier(source, index):
            if closed_group_quantified and char in _UNBOUNDED_START:
                return index
            stack[-1] = True
        closed_group_quantified = False
        index += 1
    return None


def _is_quantifier(source: str, index: int) -> bool:
    """`{` only quantifies as `{n}`, `{n,}` or `{n,m}`; the other characters always do."""
    if source[index] != "{":
        return True
    close = source.find("}", index)
    if close == -1:
        return False
    low, _, high = source[index + 1 : close].partition(",")
    return (low.isdigit() or (low == "" and high.isdigit())) and (high == "" or high.isdigit())


def _skip_class(source: str, index: int) -> int:
    """Index just past the character class starting at `index` (`[...]`)."""
    index += 1
    if source.startswith("^", index):
        index += 1
    if source.startswith("]", index):
        index += 1
    while index < len(source) and source[index] != "]":
        index += 2 if source[index] == "\\" else 1
    return index + 1
