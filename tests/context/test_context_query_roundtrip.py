"""Property tests: any q AST renders to text that parses back to the same AST, and arbitrary
text either parses or fails with a positioned QueryError (never another exception)."""

from datetime import UTC

from hypothesis import given, settings
from hypothesis import strategies as st

from mims.context.query import (
    MEMBER_NAMES,
    And,
    AttrPath,
    Boolean,
    Comparison,
    DateTimeValue,
    DateValue,
    Exists,
    Number,
    Op,
    Or,
    Pattern,
    QueryError,
    Range,
    Term,
    Text,
    TimeValue,
    Uri,
    ValueList,
    matches,
    parse_q,
    parse_scope_q,
    to_text,
)
from mims.context.query.ast import ORDERING_OPS, PATTERN_OPS
from mims.context.query.regex import PatternError, check_pattern

LETTERS = st.characters(categories=("L",))
TERM_CHARS = st.characters(categories=("L", "N")) | st.just("_")

word = st.builds(lambda head, tail: head + tail, LETTERS, st.text(TERM_CHARS, max_size=6))
name = word.filter(lambda text: text not in MEMBER_NAMES and text not in ("true", "false"))
segment = st.text(TERM_CHARS | st.just("-"), min_size=1, max_size=6) | st.just("*")

path = st.builds(
    AttrPath,
    st.lists(name, min_size=1, max_size=3).map(tuple),
    st.none() | st.lists(segment, min_size=1, max_size=3).map(tuple),
) | st.builds(
    lambda names, meta: AttrPath(tuple(names), None, meta),
    st.lists(name, max_size=3),
    st.sampled_from(sorted(MEMBER_NAMES)),
)

numbers = st.integers(-(10**30), 10**30) | st.floats(allow_nan=False, allow_infinity=False)
comparable = st.one_of(
    st.builds(Text, st.text(st.characters(exclude_categories=("Cs",)), max_size=12)),
    st.builds(Number, numbers),
    st.builds(DateTimeValue, st.datetimes(timezones=st.just(UTC))),
    st.builds(DateValue, st.dates()),
    st.builds(TimeValue, st.times().map(lambda t: t.replace(tzinfo=UTC))),
)
uri = st.builds(
    lambda scheme, rest: Uri(f"{scheme}:{rest}"),
    st.sampled_from(["urn", "http", "https", "ex"]),
    st.text(st.sampled_from("abcXYZ019:/#?-._~@!$&'*+="), min_size=1, max_size=15),
)
literal = comparable | st.builds(Boolean, st.booleans()) | uri | st.builds(Term, name)


def _same_type_range(low):
    same = comparable.filter(lambda high: type(high) is type(low))
    return same.map(lambda high: Range(low, high))


equality_value = st.one_of(
    literal,
    st.lists(literal, min_size=2, max_size=4).map(lambda values: ValueList(tuple(values))),
    comparable.flatmap(_same_type_range),
)
pattern = st.builds(Pattern, st.text(st.sampled_from("abc.^$|;)(?i"), min_size=1, max_size=10)).filter(
    lambda p: _acceptable(p.source)
)


def _acceptable(source):
    try:
        check_pattern(source)
    except PatternError:
        return False
    return True


comparison = st.one_of(
    st.builds(Comparison, path, st.sampled_from([Op.EQ, Op.NE]), equality_value),
    st.builds(Comparison, path, st.sampled_from(sorted(ORDERING_OPS)), comparable),
    st.builds(Comparison, path, st.sampled_from(sorted(PATTERN_OPS)), pattern),
)
leaf = st.builds(Exists, path) | comparison
tree = st.recursive(
    leaf,
    lambda children: st.builds(And, st.lists(children, min_size=2, max_size=3).map(tuple))
    | st.builds(Or, st.lists(children, min_size=2, max_size=3).map(tuple)),
    max_leaves=8,
)


@settings(max_examples=400)
@given(tree)
def test_to_text_round_trips(node):
    assert parse_q(to_text(node)) == node


@settings(max_examples=200)
@given(tree)
def test_map_attributes_round_trips_and_evaluation_is_total(node):
    mapped = node.map_attributes(lambda term: "ex:" + term)
    assert parse_q(to_text(mapped)) == mapped
    assert isinstance(matches(mapped, {"attributes": {}}), bool)


QUERY_ALPHABET = st.sampled_from(list('abz.[]()"\\;|,=!<>~*+-:/#0129TZ eé_'))


@settings(max_examples=600)
@given(st.text(QUERY_ALPHABET, max_size=40))
def test_arbitrary_text_parses_or_fails_with_a_position(text):
    for parse in (parse_q, parse_scope_q):
        try:
            parse(text)
        except QueryError as error:
            assert 0 <= error.position <= len(text)
