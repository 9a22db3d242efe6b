"""Bounds that keep hostile query strings from exhausting the stack, CPU or memory.

Exceeding one raises `QueryTooComplex` (NGSI-LD TooComplexQuery, clause 5.5.2). The figures
are far above what real queries and subscriptions need.
"""

MAX_QUERY_LENGTH = 4096
"""Characters in one q or scopeQ string."""

MAX_DEPTH = 32
"""Nesting of parenthesised Query Term associations."""

MAX_TERMS = 256
"""Query Terms (or scope terms) in one query."""

MAX_LIST_VALUES = 256
"""Values in one ValueList (`a==1,2,3`)."""

MAX_PATH_SEGMENTS = 16
"""Names in one attribute path, dotted part and trailing compound part together."""

MAX_PATTERN_LENGTH = 256
"""Characters in one regular expression of `~=` / `!~=`."""
