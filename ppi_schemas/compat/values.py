"""JSON value equality as JSON Schema defines it, and RFC 6901 pointer building.

JSON Schema compares instances by JSON value, so ``1 == 1.0`` but ``true != 1`` and key order of
objects does not matter; Python's own ``==`` gets the booleans wrong, hence ``canonical``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


def canonical(value: Any) -> Hashable:
    """A hashable form of a JSON value; two values are JSON-equal iff their forms are equal."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", int(value) if float(value).is_integer() else value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, canonical(item)) for key, item in value.items()))
    raise TypeError(f"not a JSON value: {value!r}")


def json_type(value: Any) -> str:
    """The JSON Schema type name of a value ("integer" for integral numbers, as 2020-12 does)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "integer" if float(value).is_integer() else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def escape(token: str | int) -> str:
    """Escape one reference token for an RFC 6901 JSON pointer."""
    return str(token).replace("~", "~0").replace("/", "~1")


def join(pointer: str, *tokens: str | int) -> str:
    """Append reference tokens to a JSON pointer."""
    return pointer + "".join("/" + escape(token) for token in tokens)


def unescape(token: str) -> str:
    """Undo ``escape``; ``~1`` goes first because doing ``~0`` first turns ``~01`` into ``/``."""
    return token.replace("~1", "/").replace("~0", "~")
