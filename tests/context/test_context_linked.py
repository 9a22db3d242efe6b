"""Linked Entity Retrieval (clause 4.5.23) on the stored form: which entities a join reaches,
inlining without cycles, and the parameters' validation."""

from __future__ import annotations

import asyncio

import pytest

from mims.context.ngsild.errors import BadRequestData
from mims.context.ngsild.linked import FLAT, INLINE, Join, inlined, linked_entities, linked_ids, parse_join

EX = "https://example.org/"


def entity(number: int, *links: int, listed: tuple[int, ...] = ()) -> dict:
    attributes = {f"{EX}link{n}": [{"type": "Relationship", "object": f"urn:x:{n}"}] for n in links}
    attributes[f"{EX}name"] = [{"type": "Property", "value": f"entity {number}"}]
    if listed:
        attributes[f"{EX}many"] = [{"type": "ListRelationship",
                                    "objectList": [{"object": f"urn:x:{n}"} for n in listed]}]
    return {"id": f"urn:x:{number}", "type": [EX + "Thing"], "attributes": attributes}


# 1 -> 2 -> 3 -> 1 (a cycle), 1 -> 4 (missing), 2 lists 5 and 6, 6 -> 7
GRAPH = {item["id"]: item for item in (entity(1, 2, 4), entity(2, 3, listed=(5, 6)), entity(3, 1), entity(5),
                                       entity(6, 7), entity(7))}


def fetcher(calls: list[list[str]]):
    async def fetch(ids: list[str]) -> dict:
        calls.append(ids)
        return {item: GRAPH[item] for item in ids if item in GRAPH}

    return fetch


@pytest.mark.parametrize(("level", "reached"), [
    (1, ["urn:x:2"]),
    (2, ["urn:x:2", "urn:x:3", "urn:x:5", "urn:x:6"]),
    (3, ["urn:x:2", "urn:x:3", "urn:x:5", "urn:x:6", "urn:x:7"]),
    (8, ["urn:x:2", "urn:x:3", "urn:x:5", "urn:x:6", "urn:x:7"]),
])
def test_a_join_reaches_linked_entities_hop_by_hop_each_once(level: int, reached: list[str]) -> None:
    calls: list[list[str]] = []
    found = asyncio.run(linked_entities([GRAPH["urn:x:1"]], Join(FLAT, level), fetcher(calls)))
    assert list(found) == reached
    fetched = [item for call in calls for item in call]
    assert len(fetched) == len(set(fetched)) and "urn:x:1" not in fetched  # nothing asked twice, no cycle


def test_contained_by_entities_are_never_fetched() -> None:
    calls: list[list[str]] = []
    found = asyncio.run(linked_entities([GRAPH["urn:x:1"]], Join(FLAT, 3, frozenset({"urn:x:2"})), fetcher(calls)))
    assert found == {} and calls == [["urn:x:4"]]


def test_inlining_nests_linked_entities_and_stops_at_cycles_and_depth() -> None:
    linked = asyncio.run(linked_entities([GRAPH["urn:x:1"]], Join(INLINE, 3), fetcher([])))
    nested = inlined(GRAPH["urn:x:1"], linked, Join(INLINE, 3))
    two = nested["attributes"][EX + "link2"][0]["entity"]
    three = two["attributes"][EX + "link3"][0]["entity"]
    assert three["id"] == "urn:x:3"
    assert "entity" not in three["attributes"][EX + "link1"][0]  # back to the start: not again
    assert "entity" not in nested["attributes"][EX + "link4"][0]  # not found: the id alone
    shallow = inlined(GRAPH["urn:x:1"], linked, Join(INLINE, 1))
    assert "entity" not in shallow["attributes"][EX + "link2"][0]["entity"]["attributes"][EX + "link3"][0]
    assert GRAPH["urn:x:1"]["attributes"][EX + "link2"][0] == {"type": "Relationship", "object": "urn:x:2"}


def test_linked_ids_follow_relationships_and_list_relationships() -> None:
    assert linked_ids(GRAPH["urn:x:2"]) == ["urn:x:3", "urn:x:5", "urn:x:6"]
    assert linked_ids(entity(9)) == []


@pytest.mark.parametrize(("join", "level", "contained", "expected"), [
    (None, None, None, None),
    ("@none", "3", None, None),
    ("flat", None, None, Join(FLAT, 1)),
    ("inline", "2", "urn:x:1, urn:x:2", Join(INLINE, 2, frozenset({"urn:x:1", "urn:x:2"}))),
])
def test_join_parameters(join, level, contained, expected) -> None:
    assert parse_join(join, level, contained) == expected


@pytest.mark.parametrize(("join", "level", "contained", "pointer"), [
    ("deep", None, None, "/join"),
    ("flat", "0", None, "/joinLevel"),
    ("flat", "99", None, "/joinLevel"),
    ("flat", "two", None, "/joinLevel"),
    ("inline", None, "not a uri", "/containedBy"),
])
def test_invalid_join_parameters_are_400(join, level, contained, pointer: str) -> None:
    with pytest.raises(BadRequestData) as raised:
        parse_join(join, level, contained)
    assert [item.pointer for item in raised.value.errors] == [pointer]
