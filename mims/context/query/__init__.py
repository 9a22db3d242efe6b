"""The NGSI-LD query language (CIM 009 V1.8.1 clause 4.9) and scope query language (clause 4.19):
parsing into a typed AST, rendering back to text, and evaluation against Entities in the
internal (stored) form."""

from mims.context.query.ast import (
    MEMBER_NAMES,
    And,
    AttrPath,
    Comparison,
    Exists,
    Node,
    Op,
    Or,
    ScopeTerm,
)
from mims.context.query.errors import QueryError, QuerySyntaxError, QueryTooComplex
from mims.context.query.evaluate import VocabExpander, matches
from mims.context.query.parser import parse_q
from mims.context.query.render import to_text
from mims.context.query.scope import parse_scope_q, scope_matches
from mims.context.query.values import (
    Boolean,
    DateTimeValue,
    DateValue,
    Number,
    Pattern,
    Range,
    Term,
    Text,
    TimeValue,
    Uri,
    ValueList,
)

__all__ = [
    "MEMBER_NAMES",
    "And",
    "AttrPath",
    "Boolean",
    "Comparison",
    "DateTimeValue",
    "DateValue",
    "Exists",
    "Node",
    "Number",
    "Op",
    "Or",
    "Pattern",
    "QueryError",
    "QuerySyntaxError",
    "QueryTooComplex",
    "Range",
    "ScopeTerm",
    "Term",
    "Text",
    "TimeValue",
    "Uri",
    "ValueList",
    "VocabExpander",
    "matches",
    "parse_q",
    "parse_scope_q",
    "scope_matches",
    "to_text",
]
