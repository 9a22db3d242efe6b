"""Render a q (clause 4.9) or scopeQ (clause 4.19) AST back to query text.

`parse_q(to_text(node)) == node` for every q tree with operands of two or more (and likewise
for scope trees with `parse_scope_q`): nested logical nodes are always parenthesised, strings
and patterns are written as JSON strings, numbers and dates in a form the parser reads back.
Useful to forward a query to a Context Source (clause 5.7.6 distributed operations) after its
names were expanded or rewritten, and for logging.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

from mims.context.query.ast import And, AttrPath, Comparison, Exists, Node, Or, ScopeTerm
from mims.context.query.values import (
    Boolean,
    DateTimeValue,
    DateValue,
    Literal,
    Number,
    Pattern,
    QueryValue,
    Range,
    Term,
    Text,
    TimeValue,
    Uri,
    ValueList,
)


def to_text(node: Node) -> str:
    """The query text of `node`."""
    if isinstance(node, And | Or):
        separator = ";" if isinstance(node, And) else "|"
        return separator.join(_operand(operand) for operand in node.operands)
    if isinstance(node, Exists):
        return _path(node.path)
    if isinstance(node, Comparison):
        return f"{_path(node.path)}{node.op.value}{_value(node.value)}"
    if isinstance(node, ScopeTerm):
        return "/" + "/".join(node.levels)
    raise TypeError(f"{type(node).__name__} is not a query node")


def _operand(node: Node) -> str:
    text = to_text(node)
    return f"({text})" if isinstance(node, And | Or) else text


def _path(path: AttrPath) -> str:
    text = ".".join(path.names + ((path.meta,) if path.meta else ()))
    if path.compound is not None:
        text += "[" + ".".join(path.compound) + "]"
    return text


def _value(value: QueryValue) -> str:
    if isinstance(value, Range):
        return f"{_literal(value.low)}..{_literal(value.high)}"
    if isinstance(value, ValueList):
        return ",".join(_literal(item) for item in value.values)
    if isinstance(value, Pattern):
        return json.dumps(value.source, ensure_ascii=False)
    return _literal(value)


def _literal(value: Literal) -> str:
    if isinstance(value, Text):
        return json.dumps(value.value, ensure_ascii=False)
    if isinstance(value, Boolean):
        return "true" if value.value else "false"
    if isinstance(value, Number):
        return repr(value.value)
    if isinstance(value, DateTimeValue):
        moment = value.value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return _utc(moment.astimezone(UTC).isoformat())
    if isinstance(value, DateValue):
        return value.value.isoformat()
    if isinstance(value, TimeValue):
        return _utc(_as_utc(value.value).isoformat())
    if isinstance(value, Uri | Term):
        return value.value
    raise TypeError(f"{type(value).__name__} is not a query literal")


def _as_utc(moment: time) -> time:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return datetime.combine(date(2000, 1, 1), moment).astimezone(UTC).timetz()


def _utc(text: str) -> str:
    return text.removesuffix("+00:00") + "Z"
