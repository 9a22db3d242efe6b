"""Abstract syntax of the NGSI-LD query language (CIM 009 V1.8.1 clause 4.9) and of the scope
query language (clause 4.19).

Nodes are small frozen dataclasses. Attribute names are kept as written (short terms) by the
parser; `map_attributes` returns a copy with every attribute name mapped (typically expanded to
its IRI with the request's @context, clause 5.5.7) without touching compound-value member names,
language tags or NGSI-LD member names (observedAt, unitCode, ...), which are not terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from mims.context.query.values import QueryValue

MEMBER_NAMES = frozenset(
    {"observedAt", "createdAt", "modifiedAt", "deletedAt", "unitCode", "datasetId"}
)
"""NGSI-LD members that may end an attribute path (clause 4.9 example 8), e.g.
`temperature.observedAt`; alone (`createdAt>...`) they address the Entity's own member."""


class Op(StrEnum):
    """Query Term operators (production rules Operator, patternOp, notPatternOp)."""

    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    MATCH = "~="
    NOT_MATCH = "!~="


ORDERING_OPS = frozenset({Op.GT, Op.GE, Op.LT, Op.LE})
PATTERN_OPS = frozenset({Op.MATCH, Op.NOT_MATCH})


@dataclass(frozen=True, slots=True)
class AttrPath:
    """Production rule Attribute: `names` is the dotted path (top-level attribute, then
    sub-attributes); `compound` the trailing `[a.b]` path into a compound value (or, on a
    LanguageProperty, the language tag / `*`); `meta` an NGSI-LD member ending the path."""

    names: tuple[str, ...]
    compound: tuple[str, ...] | None = None
    meta: str | None = None

    def map_attributes(self, fn: Callable[[str], str]) -> AttrPath:
        return replace(self, names=tuple(fn(name) for name in self.names))


@dataclass(frozen=True, slots=True)
class Exists:
    """A Query Term with only an attribute path: the target element must exist."""

    path: AttrPath

    def map_attributes(self, fn: Callable[[str], str]) -> Exists:
        return Exists(self.path.map_attributes(fn))

    def attribute_names(self) -> tuple[str, ...]:
        return self.path.names


@dataclass(frozen=True, slots=True)
class Comparison:
    """A Query Term `path op value`."""

    path: AttrPath
    op: Op
    value: QueryValue

    def map_attributes(self, fn: Callable[[str], str]) -> Comparison:
        return replace(self, path=self.path.map_attributes(fn))

    def attribute_names(self) -> tuple[str, ...]:
        return self.path.names


@dataclass(frozen=True, slots=True)
class ScopeTerm:
    """A scope pattern of clause 4.19: levels, where `+` stands for exactly one level and a
    final `#` for any number of further levels (`("#",)` alone: any scope at all)."""

    levels: tuple[str, ...]

    def map_attributes(self, fn: Callable[[str], str]) -> ScopeTerm:
        """Scopes name no attributes: the term is returned unchanged."""
        return self

    def attribute_names(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class And:
    """Logical AND (`;`) of two or more operands."""

    operands: tuple[Node, ...]

    def map_attributes(self, fn: Callable[[str], str]) -> And:
        return And(tuple(operand.map_attributes(fn) for operand in self.operands))

    def attribute_names(self) -> tuple[str, ...]:
        return _unique(self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    """Logical OR (`|`) of two or more operands."""

    operands: tuple[Node, ...]

    def map_attributes(self, fn: Callable[[str], str]) -> Or:
        return Or(tuple(operand.map_attributes(fn) for operand in self.operands))

    def attribute_names(self) -> tuple[str, ...]:
        return _unique(self.operands)


Node = And | Or | Exists | Comparison | ScopeTerm


def _unique(operands: tuple[Node, ...]) -> tuple[str, ...]:
    """Attribute names of all operands, each once, in order of first appearance."""
    return tuple(dict.fromkeys(name for operand in operands for name in operand.attribute_names()))

