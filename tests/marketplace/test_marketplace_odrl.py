"""ODRL offers: parsing, each constraint kind permitting and refusing at its edges, and Agreements."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import ppi_schemas
from mims.marketplace import odrl
from mims.marketplace.odrl import (
    Decision,
    PolicyError,
    UseRequest,
    evaluate,
    parse_offer,
    remaining_uses,
)
from ppi_schemas.jsonld import unmapped_terms

DATASET = "https://data.rotterdam.nl/dataset/parking-occupancy"
CENTRE = "POLYGON ((4.46 51.90, 4.50 51.90, 4.50 51.93, 4.46 51.93, 4.46 51.90))"
RESEARCH = "https://w3id.org/dpv#AcademicResearch"
R_AND_D = "https://w3id.org/dpv#ResearchAndDevelopment"
MARKETING = "https://w3id.org/dpv#Marketing"
TU_DELFT = "https://tudelft.nl"


def document(*constraints: dict[str, Any], action: str = "use", **extra: Any) -> dict[str, Any]:
    permission: dict[str, Any] = {"action": action}
    if constraints:
        permission["constraint"] = list(constraints)
    return {
        "@context": odrl.ODRL_CONTEXT,
        "@type": "Offer",
        "uid": "urn:uuid:offer-1",
        "assigner": "https://rotterdam.nl",
        "target": DATASET,
        "permission": [permission],
        **extra,
    }


def policy(*constraints: dict[str, Any], **extra: Any) -> odrl.Policy:
    return parse_offer(document(*constraints, **extra))


def c(left: str, op: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def now() -> datetime:
    return datetime.now(UTC)


def use(**fields: Any) -> UseRequest:
    return UseRequest(**{"at": now(), **fields})


def refused_by(decision: Decision, left: str) -> bool:
    return not decision.permitted and decision.constraint is not None and decision.constraint.left_operand == left


# -- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ppi_schemas.get("odrl-offer@1").examples_valid, ids=lambda e: e.name)
def test_every_valid_example_parses(example: Any) -> None:
    parsed = parse_offer(example.payload)
    assert parsed.target == example.payload["target"]
    assert len(parsed.permissions) == len(example.payload["permission"])


@pytest.mark.parametrize("example", ppi_schemas.get("odrl-offer@1").examples_invalid, ids=lambda e: e.name)
def test_every_invalid_example_is_refused_at_its_pointer(example: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_offer(example.payload)
    assert caught.value.status == 400
    assert example.pointer in {item.pointer for item in caught.value.errors}


@pytest.mark.parametrize(
    ("area", "why"),
    [
        ("POLYGON ((4.46 51.90, 4.50 51.90, 4.50", "not a readable WKT"),
        ("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))", "not a valid area: Self-intersection"),
        ({"type": "Polygon", "coordinates": [[1, 2]]}, "not a readable"),
    ],
    ids=["truncated-wkt", "bow-tie", "bad-geojson"],
)
def test_an_unreadable_area_is_refused_at_its_pointer(area: Any, why: str) -> None:
    with pytest.raises(PolicyError, match=why) as caught:
        policy(c("spatial", "isPartOf", area))
    assert [item.pointer for item in caught.value.errors] == ["/permission/0/constraint/0/rightOperand"]


@pytest.mark.parametrize("instant", ["2027-02-30T00:00:00Z", "2027-01-01T25:00:00Z"])
def test_an_impossible_date_time_is_refused_at_its_pointer(instant: str) -> None:
    with pytest.raises(PolicyError, match="not a date-time") as caught:
        policy(c("count", "lteq", 1), c("dateTime", "lt", instant))
    assert [item.pointer for item in caught.value.errors] == ["/permission/0/constraint/1/rightOperand"]


def test_parsing_keeps_pointers_constraints_and_duties() -> None:
    parsed = policy(
        c("count", "lteq", 3),
        prohibition=[{"action": "sell"}],
        obligation=[{"action": "inform"}],
    )
    [permission] = parsed.permissions
    assert permission.pointer == "/permission/0"
    assert [str(constraint) for constraint in permission.constraints] == ["count lteq 3"]
    assert permission.constraints[0].pointer == "/permission/0/constraint/0"
    assert [rule.action for rule in parsed.prohibitions] == ["sell"]
    assert [rule.action for rule in parsed.obligations] == ["inform"]


# -- actions, permissions and prohibitions -----------------------------------------------------


@pytest.mark.parametrize(
    ("broader", "action", "expected"),
    [
        ("use", "use", True),
        ("use", "read", True),
        ("use", "distribute", True),
        ("use", "sell", False),
        ("transfer", "sell", True),
        ("transfer", "give", True),
        ("transfer", "read", False),
        ("read", "use", False),
        ("read", "distribute", False),
    ],
)
def test_the_odrl_action_hierarchy(broader: str, action: str, expected: bool) -> None:
    assert odrl.includes(broader, action) is expected


def test_a_permission_covers_the_actions_its_action_includes() -> None:
    reading = policy(action="read")
    assert evaluate(reading, use(action="read")).permitted
    refused = evaluate(reading, use(action="distribute"))
    assert not refused.permitted
    assert refused.reason == "the offer permits no distribute"
    assert evaluate(policy(), use(action="distribute")).permitted


def test_a_prohibition_wins_over_a_permission() -> None:
    offer = policy(prohibition=[{"action": "distribute"}])
    assert evaluate(offer, use(action="read")).permitted
    decision = evaluate(offer, use(action="distribute"))
    assert not decision.permitted
    assert decision.reason == "distribute is prohibited by /prohibition/0"


def test_a_constrained_prohibition_applies_only_when_its_constraints_hold() -> None:
    offer = policy(prohibition=[{"action": "use", "constraint": [c("purpose", "eq", MARKETING)]}])
    assert evaluate(offer, use(purpose=RESEARCH)).permitted
    decision = evaluate(offer, use(purpose=MARKETING))
    assert not decision.permitted
    assert f"when purpose eq {MARKETING}" in decision.reason


def test_any_permission_that_holds_permits_and_its_duties_come_back() -> None:
    offer = parse_offer(
        document(
            permission=[
                {"action": "use", "constraint": [c("recipient", "eq", TU_DELFT)], "duty": [{"action": "attribute"}]},
                {"action": "read", "constraint": [c("purpose", "eq", RESEARCH)]},
            ],
            obligation=[{"action": "inform"}],
        )
    )
    first = evaluate(offer, use(recipient=TU_DELFT))
    assert first.permitted and first.reason == "use is permitted by /permission/0"
    assert [duty.action for duty in first.duties] == ["attribute", "inform"]
    second = evaluate(offer, use(action="read", purpose=RESEARCH, recipient="https://other.example"))
    assert second.permitted and second.permission is offer.permissions[1]
    assert [duty.action for duty in second.duties] == ["inform"]
    neither = evaluate(offer, use(recipient="https://other.example"))
    assert refused_by(neither, "recipient")
    assert neither.reason == (
        f"constraint recipient eq {TU_DELFT} at /permission/0/constraint/0 is not met: "
        "the recipient is https://other.example"
    )


def test_a_use_without_a_time_zone_is_an_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        evaluate(policy(), UseRequest(at=datetime(2027, 1, 1)))


# -- purpose -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "right", "purpose", "permitted"),
    [
        ("eq", RESEARCH, RESEARCH, True),
        ("eq", RESEARCH, MARKETING, False),
        ("neq", MARKETING, RESEARCH, True),
        ("neq", MARKETING, MARKETING, False),
        ("isAnyOf", [RESEARCH, R_AND_D], R_AND_D, True),
        ("isAnyOf", [RESEARCH, R_AND_D], MARKETING, False),
        ("isNoneOf", [MARKETING], RESEARCH, True),
        ("isNoneOf", [MARKETING], MARKETING, False),
        ("isA", R_AND_D, RESEARCH, True),
        ("isA", R_AND_D, R_AND_D, True),
        ("isA", RESEARCH, R_AND_D, False),
        ("isA", R_AND_D, MARKETING, False),
    ],
)
def test_purpose(op: str, right: Any, purpose: str, permitted: bool) -> None:
    decision = evaluate(policy(c("purpose", op, right)), use(purpose=purpose), purposes={RESEARCH: R_AND_D})
    assert decision.permitted is permitted
    if not permitted:
        assert refused_by(decision, "purpose")
        assert f"the purpose is {purpose}" in decision.reason


def test_is_a_follows_the_purpose_hierarchy_and_survives_a_cycle() -> None:
    offer = policy(c("purpose", "isA", "urn:p:top"))
    chain = {"urn:p:leaf": "urn:p:mid", "urn:p:mid": "urn:p:top"}
    assert evaluate(offer, use(purpose="urn:p:leaf"), purposes=chain).permitted
    assert not evaluate(offer, use(purpose="urn:p:leaf")).permitted
    cycle = {"urn:p:a": "urn:p:b", "urn:p:b": "urn:p:a"}
    assert not evaluate(offer, use(purpose="urn:p:a"), purposes=cycle).permitted


def test_a_purpose_constraint_refuses_a_use_stating_none() -> None:
    decision = evaluate(policy(c("purpose", "eq", RESEARCH)), use())
    assert refused_by(decision, "purpose")
    assert decision.reason.endswith("the request states no purpose")


# -- date-time window --------------------------------------------------------------------------


def window() -> odrl.Policy:
    return policy(c("dateTime", "gteq", "2027-01-01T00:00:00Z"), c("dateTime", "lt", "2028-01-01T00:00:00+01:00"))


@pytest.mark.parametrize(
    ("at", "permitted"),
    [
        (datetime(2027, 1, 1, tzinfo=UTC), True),
        (datetime(2027, 1, 1, tzinfo=UTC) - timedelta(microseconds=1), False),
        (datetime(2027, 6, 1, 12, tzinfo=timezone(timedelta(hours=2))), True),
        (datetime(2027, 12, 31, 23, tzinfo=UTC) - timedelta(microseconds=1), True),
        (datetime(2027, 12, 31, 23, tzinfo=UTC), False),
        (datetime(2028, 1, 1, tzinfo=timezone(timedelta(hours=1))), False),
    ],
    ids=["start", "just-before-start", "inside-other-zone", "just-before-end", "end-in-utc", "end-as-written"],
)
def test_window_edges(at: datetime, permitted: bool) -> None:
    decision = evaluate(window(), UseRequest(at=at))
    assert decision.permitted is permitted
    if not permitted:
        assert refused_by(decision, "dateTime")
        assert f"the use is at {at.isoformat()}" in decision.reason


@pytest.mark.parametrize(
    ("op", "at_edge", "permitted"),
    [("lteq", True, True), ("lt", True, False), ("gt", True, False), ("gteq", True, True), ("eq", True, True),
     ("neq", True, False), ("eq", False, False), ("neq", False, True)],
)
def test_date_time_operators(op: str, at_edge: bool, permitted: bool) -> None:
    edge = datetime(2027, 7, 1, 8, tzinfo=UTC)
    at = edge if at_edge else edge + timedelta(seconds=1)
    assert evaluate(policy(c("dateTime", op, "2027-07-01T10:00:00+02:00")), UseRequest(at=at)).permitted is permitted


# -- count -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "limit", "uses", "permitted", "remaining"),
    [
        ("lteq", 3, 0, True, 3),
        ("lteq", 3, 2, True, 1),
        ("lteq", 3, 3, False, 0),
        ("lteq", 3, 7, False, 0),
        ("lt", 3, 1, True, 1),
        ("lt", 3, 2, False, 0),
        ("lteq", 0, 0, False, 0),
    ],
    ids=["fresh", "last-use", "limit-reached", "beyond", "lt-last-use", "lt-reached", "zero"],
)
def test_count_of_uses(op: str, limit: int, uses: int, permitted: bool, remaining: int) -> None:
    decision = evaluate(policy(c("count", op, limit)), use(uses=uses))
    assert decision.permitted is permitted
    assert remaining_uses(decision, uses) == remaining
    if not permitted:
        assert refused_by(decision, "count")
        assert decision.reason == (
            f"constraint count {op} {limit} at /permission/0/constraint/0 is not met: this would be use {uses + 1}"
        )


def test_the_tightest_count_bounds_the_remaining_uses_and_none_is_unlimited() -> None:
    offer = policy(c("count", "lteq", 10), c("count", "lt", 5))
    assert remaining_uses(evaluate(offer, use(uses=1)), 1) == 3
    assert remaining_uses(evaluate(policy(), use(uses=10_000)), 10_000) is None


# -- spatial -----------------------------------------------------------------------------------

GEOJSON_CENTRE = {
    "type": "Polygon",
    "coordinates": [[[4.46, 51.90], [4.50, 51.90], [4.50, 51.93], [4.46, 51.93], [4.46, 51.90]]],
}


@pytest.mark.parametrize("area", [CENTRE, GEOJSON_CENTRE], ids=["wkt", "geojson"])
@pytest.mark.parametrize(
    ("location", "permitted"),
    [
        ((4.48, 51.92), True),
        ((4.46, 51.91), True),
        ((4.40, 51.92), False),
        ((4.47, 51.905, 4.49, 51.925), True),
        ((4.46, 51.90, 4.50, 51.93), True),
        ((4.47, 51.905, 4.55, 51.925), False),
        ((51.92, 4.48), False),
    ],
    ids=["inside", "on-border", "outside", "bbox-inside", "bbox-is-area", "bbox-crosses", "lat-lon-swapped"],
)
def test_spatial_is_part_of(area: Any, location: tuple[float, ...], permitted: bool) -> None:
    decision = evaluate(policy(c("spatial", "isPartOf", area)), use(location=location))
    assert decision.permitted is permitted
    if not permitted:
        assert refused_by(decision, "spatial")
        assert decision.reason.endswith("the location is outside")


def test_a_spatial_constraint_refuses_a_use_stating_no_location() -> None:
    decision = evaluate(policy(c("spatial", "isPartOf", CENTRE)), use())
    assert refused_by(decision, "spatial")
    assert f"spatial isPartOf {CENTRE}" in decision.reason
    assert decision.reason.endswith("the request states no location")


# -- recipient ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "right", "recipient", "permitted"),
    [
        ("eq", TU_DELFT, TU_DELFT, True),
        ("eq", TU_DELFT, "https://rivm.nl", False),
        ("neq", TU_DELFT, "https://rivm.nl", True),
        ("neq", TU_DELFT, TU_DELFT, False),
        ("isAnyOf", [TU_DELFT, "https://rivm.nl"], "https://rivm.nl", True),
        ("isAnyOf", [TU_DELFT], "https://rivm.nl", False),
        ("isNoneOf", [TU_DELFT], "https://rivm.nl", True),
        ("isNoneOf", [TU_DELFT], TU_DELFT, False),
        ("eq", TU_DELFT, None, False),
    ],
)
def test_recipient(op: str, right: Any, recipient: str | None, permitted: bool) -> None:
    decision = evaluate(policy(c("recipient", op, right)), use(recipient=recipient))
    assert decision.permitted is permitted
    if not permitted:
        assert refused_by(decision, "recipient")


def test_all_constraints_of_the_restricted_example_together() -> None:
    examples = ppi_schemas.get("odrl-offer@1").examples_valid
    [example] = [e for e in examples if e.name == "restricted-research-in-the-centre"]
    offer = parse_offer(example.payload)
    at = datetime(2027, 3, 1, tzinfo=UTC)
    ok = UseRequest(at=at, action="read", purpose=RESEARCH, uses=999, location=(4.48, 51.92))
    assert evaluate(offer, ok).permitted
    assert [duty.action for duty in evaluate(offer, ok).duties] == ["attribute"]
    assert refused_by(evaluate(offer, replace(ok, uses=1000)), "count")
    assert refused_by(evaluate(offer, replace(ok, purpose=MARKETING)), "purpose")
    assert refused_by(evaluate(offer, replace(ok, location=(4.0, 52.0))), "spatial")
    late = datetime(2028, 1, 1, tzinfo=UTC)
    assert refused_by(evaluate(offer, replace(ok, at=late)), "dateTime")
    assert evaluate(offer, replace(ok, action="sell")).reason == "sell is prohibited by /prohibition/0"


# -- agreement ---------------------------------------------------------------------------------


def test_an_agreement_copies_the_offer_for_the_consumer() -> None:
    offer = policy(c("count", "lteq", 5), prohibition=[{"action": "sell"}], obligation=[{"action": "inform"}])
    at = now()
    agreement = odrl.agreement(offer, uid="urn:uuid:agreement-1", assignee="https://bouwapp.example", at=at)
    assert agreement == {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Agreement",
        "uid": "urn:uuid:agreement-1",
        "assigner": "https://rotterdam.nl",
        "assignee": "https://bouwapp.example",
        "target": DATASET,
        "dateTime": at.isoformat(),
        "permission": [{"action": "use", "constraint": [c("count", "lteq", 5)]}],
        "prohibition": [{"action": "sell"}],
        "obligation": [{"action": "inform"}],
    }
    agreement["permission"][0]["constraint"][0]["rightOperand"] = 500
    assert offer.document["permission"][0]["constraint"][0]["rightOperand"] == 5
    assert unmapped_terms(agreement) == []


def test_an_agreement_leaves_out_rules_the_offer_does_not_have_and_needs_a_time_zone() -> None:
    agreement = odrl.agreement(policy(), uid="urn:uuid:a", assignee="urn:client:app", at=now())
    assert "prohibition" not in agreement and "obligation" not in agreement
    with pytest.raises(ValueError, match="time zone"):
        odrl.agreement(policy(), uid="urn:uuid:a", assignee="urn:client:app", at=datetime(2027, 1, 1))
