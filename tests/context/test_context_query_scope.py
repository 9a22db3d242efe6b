"""The scope query language, scopeQ (CIM 009 V1.8.1 clause 4.19)."""

import pytest

from mims.context.query import And, Or, QuerySyntaxError, QueryTooComplex, ScopeTerm
from mims.context.query import parse_q, parse_scope_q, scope_matches, to_text
from mims.context.query.limits import MAX_DEPTH, MAX_QUERY_LENGTH, MAX_TERMS


def term(*levels):
    return ScopeTerm(tuple(levels))


PARSED = {
    "/Madrid/Gardens/ParqueNorte": term("Madrid", "Gardens", "ParqueNorte"),
    "Madrid/Gardens": term("Madrid", "Gardens"),
    "/Madrid/Gardens/#": term("Madrid", "Gardens", "#"),
    "/Madrid/+/ParqueNorte": term("Madrid", "+", "ParqueNorte"),
    "/#": term("#"),
    "/+": term("+"),
    "/Rotterdam_2/Centre": term("Rotterdam_2", "Centre"),
    "/A;/B": And((term("A"), term("B"))),
    "/A|/B": Or((term("A"), term("B"))),
    "/A,/B": Or((term("A"), term("B"))),
    "/A;/B|/C": Or((And((term("A"), term("B"))), term("C"))),
    "/A;(/B|/C)": And((term("A"), Or((term("B"), term("C"))))),
    " ( /A ) ": term("A"),
}


@pytest.mark.parametrize("text", PARSED)
def test_parse(text):
    assert parse_scope_q(text) == PARSED[text]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", 0),
        ("/", 1),
        ("//A", 1),
        ("/A/", 3),
        ("/A/#/B", 4),
        ("/A#", 2),
        ("/A-B", 2),
        ("(/A", 3),
        ("/A)", 2),
        ("/A;", 3),
        ("/A||/B", 3),
    ],
)
def test_syntax_errors_name_their_position(text, position):
    with pytest.raises(QuerySyntaxError) as info:
        parse_scope_q(text)
    assert info.value.position == position, str(info.value)


def test_bounds():
    with pytest.raises(QueryTooComplex):
        parse_scope_q("/a" * (MAX_QUERY_LENGTH // 2 + 1))
    with pytest.raises(QueryTooComplex):
        parse_scope_q("(" * (MAX_DEPTH + 1) + "/a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(QueryTooComplex):
        parse_scope_q(";".join(["/a"] * (MAX_TERMS + 1)))


SCOPES = ["/Madrid/Gardens/ParqueNorte", "/Madrid/District/Latina"]

TRUTH = [
    ("/Madrid/Gardens/ParqueNorte", True),
    ("Madrid/Gardens/ParqueNorte", True),
    ("/Madrid/Gardens", False),
    ("/Madrid/Gardens/ParqueNorte/Parterre1", False),
    ("/Madrid/Gardens/#", True),
    ("/Madrid/Gardens/ParqueNorte/#", True),
    ("/Madrid/#", True),
    ("/Barcelona/#", False),
    ("/#", True),
    ("/+", False),
    ("/+/+", False),
    ("/+/+/+", True),
    ("/Madrid/+/Latina", True),
    ("/Madrid/+/ParqueSur", False),
    ("/+/District/#", True),
    ("/Madrid/Gardens/ParqueNorte;/Madrid/District/Latina", True),
    ("/Madrid/Gardens/ParqueNorte;/Madrid/District/Fuencarral", False),
    ("/Madrid/District/Fuencarral|/Madrid/District/Latina", True),
    ("/Madrid/District/Fuencarral,/Madrid/District/Latina", True),
    ("/X|/Y", False),
    ("(/X|/Madrid/#);/Madrid/District/Latina", True),
]


@pytest.mark.parametrize(("text", "expected"), TRUTH)
def test_truth_table(text, expected):
    assert scope_matches(parse_scope_q(text), SCOPES) is expected


def test_single_scope_string_and_missing_scope():
    assert scope_matches(parse_scope_q("/Madrid/#"), "/Madrid") is True
    assert scope_matches(parse_scope_q("/Madrid"), "/Madrid/Gardens") is False
    assert scope_matches(parse_scope_q("/#"), None) is False
    assert scope_matches(parse_scope_q("/#"), []) is False


@pytest.mark.parametrize("text", PARSED)
def test_round_trip(text):
    node = parse_scope_q(text)
    assert parse_scope_q(to_text(node)) == node


def test_q_trees_are_refused_by_the_scope_evaluator():
    with pytest.raises(TypeError):
        scope_matches(parse_q("a==1"), SCOPES)
