"""Parser of the NGSI-LD query language (CIM 009 V1.8.1 clause 4.9)."""

from datetime import UTC, date, datetime, time

import pytest

from mims.context.query import (
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
    QuerySyntaxError,
    QueryTooComplex,
    Range,
    Term,
    Text,
    TimeValue,
    Uri,
    ValueList,
    parse_q,
)
from mims.context.query.limits import (
    MAX_DEPTH,
    MAX_LIST_VALUES,
    MAX_PATH_SEGMENTS,
    MAX_PATTERN_LENGTH,
    MAX_QUERY_LENGTH,
    MAX_TERMS,
)


def path(*names, compound=None, meta=None):
    return AttrPath(tuple(names), None if compound is None else tuple(compound), meta)


def cmp(name, op, value):
    return Comparison(path(name), Op(op), value)


# The examples of clause 4.9 and the other shapes of its grammar.
VALID = {
    "temperature": Exists(path("temperature")),
    "temperature==20": cmp("temperature", "==", Number(20)),
    'brandName!="Mercedes"': cmp("brandName", "!=", Text("Mercedes")),
    'isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"': cmp(
        "isParked", "==", Text("urn:ngsi-ld:OffStreetParking:Downtown1")
    ),
    "isParked==urn:ngsi-ld:OffStreetParking:Downtown1": cmp(
        "isParked", "==", Uri("urn:ngsi-ld:OffStreetParking:Downtown1")
    ),
    "color==http://example.com/red": cmp("color", "==", Uri("http://example.com/red")),
    'speed>50;brandName!="Mercedes"': And(
        (cmp("speed", ">", Number(50)), cmp("brandName", "!=", Text("Mercedes")))
    ),
    "temperature.observedAt>=2017-12-24T12:00:00Z": Comparison(
        path("temperature", meta="observedAt"),
        Op.GE,
        DateTimeValue(datetime(2017, 12, 24, 12, tzinfo=UTC)),
    ),
    'address[city]=="Berlin"': Comparison(path("address", compound=["city"]), Op.EQ, Text("Berlin")),
    "sensor.rawdata[airquality.particulate]==40": Comparison(
        path("sensor", "rawdata", compound=["airquality", "particulate"]), Op.EQ, Number(40)
    ),
    'color[en]=="red"': Comparison(path("color", compound=["en"]), Op.EQ, Text("red")),
    'color[*]!="red"': Comparison(path("color", compound=["*"]), Op.NE, Text("red")),
    'title[nl-BE]=="x"': Comparison(path("title", compound=["nl-BE"]), Op.EQ, Text("x")),
    "gender==Male": cmp("gender", "==", Term("Male")),
    "temperature==10..20": cmp("temperature", "==", Range(Number(10), Number(20))),
    "temperature!=-5.5..1e2": cmp("temperature", "!=", Range(Number(-5.5), Number(100.0))),
    'color=="black","red"': cmp("color", "==", ValueList((Text("black"), Text("red")))),
    "level==1,2,3": cmp("level", "==", ValueList((Number(1), Number(2), Number(3)))),
    "flag==true": cmp("flag", "==", Boolean(True)),
    "flag!=false": cmp("flag", "!=", Boolean(False)),
    "flag==true,false": cmp("flag", "==", ValueList((Boolean(True), Boolean(False)))),
    "day==2020-02-29": cmp("day", "==", DateValue(date(2020, 2, 29))),
    "day==2020-01-01..2020-12-31": cmp(
        "day", "==", Range(DateValue(date(2020, 1, 1)), DateValue(date(2020, 12, 31)))
    ),
    "opens<08:30:00Z": cmp("opens", "<", TimeValue(time(8, 30, tzinfo=UTC))),
    "opens<08:30:00+02:00": cmp("opens", "<", TimeValue(time(6, 30, tzinfo=UTC))),
    "at>2020-01-01T01:00:00+01:00": cmp(
        "at", ">", DateTimeValue(datetime(2020, 1, 1, tzinfo=UTC))
    ),
    "at>2020-01-01T00:00:00.250Z": cmp(
        "at", ">", DateTimeValue(datetime(2020, 1, 1, 0, 0, 0, 250000, tzinfo=UTC))
    ),
    "at>2020-01-01T00:00:00": cmp("at", ">", DateTimeValue(datetime(2020, 1, 1, tzinfo=UTC))),
    "name~=(?i)mercedes.*": cmp("name", "~=", Pattern("(?i)mercedes.*")),
    'name!~="^a|b$"': cmp("name", "!~=", Pattern("^a|b$")),
    "name~=^(ab|cd)$;x": And((cmp("name", "~=", Pattern("^(ab|cd)$")), Exists(path("x")))),
    "name~=[;|)]x|y": Or((cmp("name", "~=", Pattern("[;|)]x")), Exists(path("y")))),
    "createdAt>2020-01-01T00:00:00Z": Comparison(
        path(meta="createdAt"), Op.GT, DateTimeValue(datetime(2020, 1, 1, tzinfo=UTC))
    ),
    "speed.unitCode==\"KMH\"": Comparison(path("speed", meta="unitCode"), Op.EQ, Text("KMH")),
    "speed.accuracy.observedAt": Exists(path("speed", "accuracy", meta="observedAt")),
    "schema:name==\"x\"": cmp("schema:name", "==", Text("x")),
    "température>20": cmp("température", ">", Number(20)),
    "a2_b==0": cmp("a2_b", "==", Number(0)),
    'text=="caf\\u00e9 \\"quoted\\" \\\\ ;|()"': cmp("text", "==", Text('café "quoted" \\ ;|()')),
    " a == 1 ; ( b | c ) ": And((cmp("a", "==", Number(1)), Or((Exists(path("b")), Exists(path("c")))))),
}


@pytest.mark.parametrize("text", VALID)
def test_valid_queries_parse_to_their_ast(text):
    assert parse_q(text) == VALID[text]


def test_and_binds_tighter_than_or():
    a, b, c, d = (Exists(path(name)) for name in "abcd")
    assert parse_q("a|b;c|d") == Or((a, And((b, c)), d))
    assert parse_q("a;b|c;d") == Or((And((a, b)), And((c, d))))
    assert parse_q("a;(b|c);d") == And((a, Or((b, c)), d))


def test_associations_nest_and_keep_their_grouping():
    a, b, c = (Exists(path(name)) for name in "abc")
    assert parse_q("((a))") == a
    assert parse_q("(a;b);c") == And((And((a, b)), c))
    assert parse_q("((speed>50|rpm>3000);brandName==\"Mercedes\")") == And(
        (
            Or((cmp("speed", ">", Number(50)), cmp("rpm", ">", Number(3000)))),
            cmp("brandName", "==", Text("Mercedes")),
        )
    )


@pytest.mark.parametrize(
    "text",
    [
        "name==\"x' OR 1=1 --\"",
        "name==\"'; DROP TABLE entities; --\"",
        "name==\"\\\" OR \\\"1\\\"=\\\"1\"",
    ],
)
def test_injection_attempts_are_plain_string_data(text):
    node = parse_q(text)
    assert isinstance(node, Comparison)
    assert isinstance(node.value, Text)
    assert node.path == path("name")


def test_quoted_sql_breakout_with_an_unquoted_tail_is_a_syntax_error():
    with pytest.raises(QuerySyntaxError) as info:
        parse_q("name==\"x\" OR 1=1 --")
    assert info.value.position == 10


# (query, 0-based offset where reading must stop, words the message must contain)
ERRORS = [
    ("", 0, "empty query"),
    ("   ", 3, "empty query"),
    ("temperature=20", 11, "'=' is not an operator"),
    ("temperature>>20", 12, "expected a value"),
    ("temperature>", 12, "end of query"),
    ("temp erature", 5, "expected an operator"),
    ("a==1;", 5, "expected an attribute name"),
    ("a==1||b", 5, "expected an attribute name"),
    (";a", 0, "expected an attribute name"),
    ("1a==2", 0, "expected an attribute name"),
    ("a.==1", 2, "expected an attribute name"),
    ("a..b", 2, "expected an attribute name"),
    ("(a==1", 5, "')' closing the '(' at position 0"),
    ("a==1)", 4, "without a matching '('"),
    ("(a==1))", 6, "without a matching '('"),
    ("a==\"unterminated", 3, "unterminated string"),
    ("a==\"bad \\q escape\"", 8, "invalid string"),
    ("a==Berlin Centre", 10, "expected ';', '|', ')' or end"),
    ("a==01", 4, "malformed value starting at position 3"),
    ("a==1x", 4, "malformed value starting at position 3"),
    ("a==2020-13-01", 3, "invalid date or time"),
    ("a==2020-02-30T00:00:00Z", 3, "invalid date or time"),
    ("a==25:00:00Z", 3, "invalid date or time"),
    ("a==1e999", 3, "number out of range"),
    ("a>true", 2, "needs a number, string, date, time or date-time"),
    ("a<urn:x:y", 2, "needs a number"),
    ("a>1..5", 3, "only allowed after '==' and '!='"),
    ("a>=1,2", 4, "only allowed after '==' and '!='"),
    ("a==1..\"x\"", 6, "range bounds"),
    ("a==true..false", 9, "range bounds"),
    ("a==1..5,6", 7, "expected ';', '|', ')' or end"),
    ("a==urn:", 7, "rest of the URI"),
    ("a==x.y", 3, "put text in double quotes"),
    ("a[b", 3, "expected ']'"),
    ("a[]==1", 2, "expected a member name"),
    ("a[b]c==1", 4, "expected an operator"),
    ("a.observedAt.b==1", 2, "can only end an attribute path"),
    ("a.observedAt[x]==1", 0, "no compound value"),
    ("a~=", 3, "expected a regular expression"),
    ("a~=(b", 3, "invalid regular expression"),
    ("a~=\"[z-a]\"", 4, "invalid regular expression"),
    ("a==1 b==2", 5, "expected ';', '|', ')' or end"),
    ("a==\"x\"\"y\"", 6, "malformed value starting at position 3"),
]


@pytest.mark.parametrize(("text", "position", "words"), ERRORS)
def test_syntax_errors_name_where_they_failed(text, position, words):
    with pytest.raises(QuerySyntaxError) as info:
        parse_q(text)
    error = info.value
    assert error.position == position, str(error)
    assert words in error.message
    assert f"at position {position}" in str(error)


def test_error_message_carries_a_caret_excerpt():
    with pytest.raises(QuerySyntaxError) as info:
        parse_q("speed>50;brandName=\"Mercedes\"")
    lines = str(info.value).splitlines()
    assert lines[1] == "speed>50;brandName=\"Mercedes\""
    assert lines[2] == " " * 18 + "^"


def test_long_queries_excerpt_a_window_around_the_error():
    text = "a==1;" * 40 + "b=2"
    with pytest.raises(QuerySyntaxError) as info:
        parse_q(text)
    window, caret = str(info.value).splitlines()[1:]
    assert window.startswith("...")
    assert window[caret.index("^")] == "="


def test_bounds_raise_too_complex_not_recursion_errors():
    with pytest.raises(QueryTooComplex):
        parse_q("a" * (MAX_QUERY_LENGTH + 1))
    with pytest.raises(QueryTooComplex) as info:
        parse_q("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert info.value.position == MAX_DEPTH
    assert parse_q("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == Exists(path("a"))
    with pytest.raises(QueryTooComplex):
        parse_q(";".join(["a"] * (MAX_TERMS + 1)))
    assert len(parse_q(";".join(["a"] * MAX_TERMS)).operands) == MAX_TERMS
    with pytest.raises(QueryTooComplex):
        parse_q("a==" + ",".join(["1"] * (MAX_LIST_VALUES + 1)))
    assert len(parse_q("a==" + ",".join(["1"] * MAX_LIST_VALUES)).value.values) == MAX_LIST_VALUES
    with pytest.raises(QueryTooComplex):
        parse_q(".".join(["a"] * (MAX_PATH_SEGMENTS + 1)))
    with pytest.raises(QueryTooComplex):
        parse_q("a~=\"" + "x" * (MAX_PATTERN_LENGTH + 1) + "\"")


def test_deeply_nested_hostile_input_is_refused_quickly():
    with pytest.raises(QueryTooComplex):
        parse_q("(" * 100_000)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a*)*b", "(?:x|y+)*z", "((ab)+)+"])
def test_catastrophic_backtracking_shapes_are_refused(pattern):
    with pytest.raises(QueryTooComplex) as info:
        parse_q(f"name~={pattern}")
    assert "repeats a group" in info.value.message


@pytest.mark.parametrize("pattern", ["(\\d+)?x", "(foo|bar)+", "[(a+)]+", "a{2,3}b*", "(?i)^abc$"])
def test_ordinary_patterns_are_accepted(pattern):
    assert parse_q(f"name~={pattern}") == cmp("name", "~=", Pattern(pattern))
