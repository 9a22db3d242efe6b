"""Compiled Query Entities filters (SQL on the query indexes) give the reference results.

The reference is the Python evaluation of each filter (``mims.context.query.evaluate`` for q);
a random corpus of entities is stored once per backend and random queries run against both.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mims.context import geo
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
    Range,
    ScopeTerm,
    Term,
    Text,
    TimeValue,
    Uri,
    ValueList,
)
from mims.context.query import parse_scope_q
from mims.context.query.regex import PatternError, check_pattern
from mims.context.service import SPEC
from mims.context.storage import EntityQuery, SqlEntityStore
from mims.context.storage.filters import (
    AttrsFilter,
    GeoFilter,
    IdPatternFilter,
    QFilter,
    ScopeFilter,
    TypeFilter,
)
from mims.context.storage.sqlfilters import compile_filter
from mims.context.storage.indexing import index_entity
from mims.kit import storage

EX = "https://example.org/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
NAMES = ("a", "b", "c")
STRINGS = ("abc", "Abc", "b", "", "é", "2026-11-21T10:00:00Z", "2026-11-21T12:00:00+02:00", "2026-11-21",
           "10:30:00", "urn:x:1", "v1")
SCALARS = (0, 1, -1, 2.5, 7, 2**60, 2**60 + 1, True, False, *STRINGS)


def _scalar(rng: random.Random) -> object:
    return rng.choice(SCALARS)


def _value(rng: random.Random) -> object:
    shape = rng.random()
    if shape < 0.6:
        return _scalar(rng)
    if shape < 0.8:
        return [_scalar(rng) for _ in range(rng.randint(0, 3))]
    if shape < 0.9:
        return {"@type": "DateTime", "@value": rng.choice(STRINGS)}
    return {"x": _scalar(rng)}


def _instance(rng: random.Random, depth: int) -> dict:
    kind = rng.choice(["Property"] * 4 + ["Relationship", "ListRelationship", "VocabProperty", "LanguageProperty",
                                          "ListProperty", "JsonProperty"])
    instance: dict = {"type": kind}
    if kind == "Property":
        instance["value"] = _value(rng)
    elif kind == "Relationship":
        instance["object"] = rng.choice(["urn:x:1", "urn:x:2", "abc"])
    elif kind == "ListRelationship":
        instance["objectList"] = [{"object": rng.choice(["urn:x:1", "urn:x:2"])} for _ in range(rng.randint(0, 2))]
    elif kind == "VocabProperty":
        instance["vocab"] = rng.choice([EX + "v1", EX + "v2", "v1"])
    elif kind == "LanguageProperty":
        instance["languageMap"] = {tag: rng.choice(STRINGS) for tag in rng.sample(["nl", "en"], rng.randint(1, 2))}
    elif kind == "ListProperty":
        instance["valueList"] = [_scalar(rng) for _ in range(rng.randint(0, 3))]
    else:
        instance["json"] = _value(rng)
    if depth == 0 and rng.random() < 0.3:
        instance["attributes"] = {EX + "s": [_instance(rng, 1)]}
    if rng.random() < 0.2:
        instance["observedAt"] = "2026-11-21T09:00:00Z"
    return instance


def corpus(size: int = 80, seed: int = 9457) -> list[dict]:
    rng = random.Random(seed)
    entities = []
    for number in range(size):
        attributes: dict = {}
        for name in rng.sample(NAMES, rng.randint(0, 3)):
            instances = [_instance(rng, 0)]
            if rng.random() < 0.25:
                second = _instance(rng, 0)
                second["datasetId"] = "urn:ngsi-ld:Dataset:b"
                instances.append(second)
            attributes[EX + name] = instances
        if rng.random() < 0.7:
            lon, lat = rng.uniform(4.0, 5.0), rng.uniform(51.5, 52.5)
            attributes[LOCATION] = [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}]
        entities.append({
            "id": f"urn:ngsi-ld:{rng.choice(['Building', 'Road'])}:{number}",
            "type": [EX + kind for kind in rng.sample(["Building", "Road", "Thing"], rng.randint(1, 2))],
            "createdAt": "2026-11-21T10:00:00.000000Z",
            "modifiedAt": "2026-11-21T10:00:00.000000Z",
            "attributes": attributes,
        })
    scopes = random.Random(seed + 1)  # a stream of its own: the rest of the corpus stays as it was
    for entity in entities:
        if scopes.random() < 0.7:
            entity["scope"] = list(dict.fromkeys(
                "".join("/" + scopes.choice(SCOPE_LEVELS) for _ in range(scopes.randint(1, 3)))
                for _ in range(scopes.randint(1, 2))))
    return entities


SCOPE_LEVELS = ("Rotterdam", "Rotterdamse", "Centrum", "Noord", "a_b", "Zuid", "é1")  # one the prefix of another
CORPUS = corpus()


class Backend:
    """A migrated database holding CORPUS, driven from its own event loop."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = storage.create_engine(url)
        self.store = SqlEntityStore(self.engine, [index_entity])
        self.run(storage.migrate(self.engine, "context", SPEC.migrations))
        for entity in CORPUS:
            self.run(self.store.create("", entity))

    def run(self, awaitable):
        return self.loop.run_until_complete(awaitable)

    def ids(self, query: EntityQuery, limit: int = 1000, offset: int = 0) -> list[str]:
        page = self.run(self.store.query("", query, limit, offset, False))
        return [entity["id"] for entity in page.entities]

    def close(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'context.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = Backend(url)
    yield engine
    engine.close()


def reference(*filters) -> list[str]:
    return [entity["id"] for entity in CORPUS if all(item.matches(entity) for item in filters)]


def expand(term: str) -> str:
    return EX + term


# Random q expressions over the corpus' attribute names and values.
name = st.sampled_from(NAMES).map(expand)
path = st.one_of(
    st.builds(lambda top: AttrPath((top,)), name),
    st.builds(lambda top: AttrPath((top, EX + "s")), name),
    st.builds(lambda top, key: AttrPath((top,), compound=(key,)), name, st.sampled_from(["x", "nl", "*"])),
    st.builds(lambda top, meta: AttrPath((top,), meta=meta), name, st.sampled_from(["observedAt", "datasetId"])),
    st.just(AttrPath((), meta="createdAt")),
)
number = st.builds(Number, st.sampled_from([0, 1, -1, 2.5, 3, 2**60, 2**60 + 1, 2**53]))
comparable = st.one_of(
    number,
    st.builds(Text, st.sampled_from(STRINGS)),
    st.just(DateTimeValue(datetime(2026, 11, 21, 10, 0, tzinfo=UTC))),
    st.just(DateTimeValue(datetime(2026, 11, 21, 10, 0, 0, 1, tzinfo=UTC))),
    st.just(DateValue(date(2026, 11, 21))),
    st.just(TimeValue(time(10, 30, tzinfo=UTC))),
)
literal = comparable | st.builds(Boolean, st.booleans()) | st.sampled_from(
    [Uri("urn:x:1"), Uri(EX + "v1"), Term("v1"), Term("abc")])
equality = st.one_of(
    literal,
    st.lists(literal, min_size=2, max_size=3).map(lambda values: ValueList(tuple(values))),
    comparable.flatmap(lambda low: comparable.filter(lambda high: type(high) is type(low)).map(
        lambda high: Range(low, high))),  # the grammar's ranges have bounds of one type
)


def _safe(source: str) -> bool:
    try:
        check_pattern(source)
    except PatternError:
        return False
    return True


pattern = st.builds(Pattern, st.text(st.sampled_from("abcé^$.|:0"), min_size=1, max_size=5).filter(_safe))
comparison = st.one_of(
    st.builds(Comparison, path, st.sampled_from([Op.EQ, Op.NE]), equality),
    st.builds(Comparison, path, st.sampled_from([Op.GT, Op.GE, Op.LT, Op.LE]), comparable),
    st.builds(Comparison, path, st.sampled_from([Op.MATCH, Op.NOT_MATCH]), pattern),
)
tree = st.recursive(
    st.builds(Exists, path) | comparison,
    lambda children: st.builds(And, st.lists(children, min_size=2, max_size=3).map(tuple))
    | st.builds(Or, st.lists(children, min_size=2, max_size=3).map(tuple)),
    max_leaves=5,
)
scope_term = st.lists(st.sampled_from((*SCOPE_LEVELS, "+", "_", "Rotterdam_")), min_size=1, max_size=3).flatmap(
    lambda levels: st.sampled_from([(*levels,), (*levels, "#")])).map(ScopeTerm) | st.just(ScopeTerm(("#",)))
scope_tree = st.recursive(
    scope_term,
    lambda children: st.builds(And, st.lists(children, min_size=2, max_size=3).map(tuple))
    | st.builds(Or, st.lists(children, min_size=2, max_size=3).map(tuple)),
    max_leaves=4,
)
HYPOTHESIS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HYPOTHESIS
@given(node=tree)
def test_compiled_q_equals_the_reference(backend: Backend, node) -> None:
    item = QFilter(node, expand)
    assert backend.ids(EntityQuery(filters=(item,))) == reference(item)


@HYPOTHESIS
@given(node=tree, limit=st.integers(1, 5), offset=st.integers(0, 8))
def test_paging_and_count_stay_exact(backend: Backend, node, limit: int, offset: int) -> None:
    item = QFilter(node, expand)
    page = backend.run(backend.store.query("", EntityQuery(filters=(item,)), limit, offset, True))
    expected = reference(item)
    assert [entity["id"] for entity in page.entities] == expected[offset:offset + limit]
    assert page.count == len(expected)


def test_q_values_are_bound_never_pasted(backend: Backend) -> None:
    hostile = "x' OR 1=1; DROP TABLE context_entity; --"
    item = QFilter(Comparison(AttrPath((EX + "a",)), Op.EQ, Text(hostile)), expand)
    assert backend.ids(EntityQuery(filters=(item,))) == []
    assert len(backend.ids(EntityQuery())) == len(CORPUS)


@pytest.mark.parametrize("pattern", [r"urn:ngsi-ld:Building:1\d?", r".*:(2|3)", "Building", r"urn:ngsi-ld:Road:.*"])
def test_id_pattern(backend: Backend, pattern: str) -> None:
    item = IdPatternFilter(pattern, re.compile(pattern))
    assert backend.ids(EntityQuery(filters=(item,))) == reference(item)


@pytest.mark.parametrize("names", [{EX + "a"}, {EX + "b", EX + "c"}, {EX + "s"}, {LOCATION}])
def test_attrs_presence(backend: Backend, names: set[str]) -> None:
    item = AttrsFilter(frozenset(names))
    assert backend.ids(EntityQuery(filters=(item,))) == reference(item)


@pytest.mark.parametrize("expression", [
    ("and", [("name", EX + "Building"), ("name", EX + "Thing")]),
    ("or", [("and", [("name", EX + "Road"), ("name", EX + "Thing")]), ("name", EX + "Building")]),
])
def test_type_expressions(backend: Backend, expression) -> None:
    item = TypeFilter(expression)
    assert backend.ids(EntityQuery(filters=(item,))) == reference(item)


@pytest.mark.parametrize(("georel", "geometry", "coordinates"), [
    ("near;maxDistance==20000", "Point", "[4.5,52.0]"),
    ("near;minDistance==30000", "Point", "[4.5,52.0]"),
    ("within", "Polygon", "[[[4.2,51.7],[4.8,51.7],[4.8,52.3],[4.2,52.3],[4.2,51.7]]]"),
    ("intersects", "Polygon", "[[[4.0,51.5],[4.5,51.5],[4.5,52.0],[4.0,52.0],[4.0,51.5]]]"),
    ("disjoint", "Polygon", "[[[4.0,51.5],[4.5,51.5],[4.5,52.0],[4.0,52.0],[4.0,51.5]]]"),
    ("overlaps", "Polygon", "[[[4.0,51.5],[4.5,51.5],[4.5,52.0],[4.0,52.0],[4.0,51.5]]]"),
    ("contains", "Point", "[4.5,52.0]"),
    ("equals", "Point", "[4.5,52.0]"),
])
def test_geo_queries(backend: Backend, georel: str, geometry: str, coordinates: str) -> None:
    query = geo.parse_geo_query(georel, geometry, coordinates, None)
    item = GeoFilter(query, LOCATION)
    expected = reference(item)
    assert backend.ids(EntityQuery(filters=(item,))) == expected
    if georel.startswith(("near;max", "within", "intersects", "disjoint")):
        assert expected, "the corpus should give this relation something to find"



@HYPOTHESIS
@given(node=scope_tree)
def test_compiled_scope_queries_equal_the_reference(backend: Backend, node) -> None:
    item = ScopeFilter(node)
    assert compile_filter(item, "", backend.engine.dialect.name == "sqlite").exact  # decided in SQL alone
    assert backend.ids(EntityQuery(filters=(item,))) == reference(item)


def test_scope_queries_find_what_the_corpus_holds(backend: Backend) -> None:
    for text in ("/Rotterdam", "/Rotterdam/#", "/+/Noord", "/#", "/Rotterdam,/Zuid/#", "/Zuid/#;/+/+", "/a_b/+/#"):
        item = ScopeFilter(parse_scope_q(text))
        expected = reference(item)
        assert expected, f"{text} should select something in the corpus"
        assert backend.ids(EntityQuery(filters=(item,))) == expected
