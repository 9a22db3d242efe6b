"""Which registrations an entity read reaches (clause 4.3.6.1) and the rules around them."""

from __future__ import annotations

import httpx
import pytest

from mims.context.ngsild.csource_subscriptions import trigger_reason
from mims.context.ngsild.csources import (
    Target,
    check_conflicts,
    is_current,
    registration_matches,
    supports,
)
from mims.context.ngsild.distributed import Federation
from mims.context.ngsild.errors import Conflict

PARKING = "https://example.org/OffStreetParking"
FREE = "https://example.org/availableSpotNumber"
TOTAL = "https://example.org/totalSpotNumber"


def registration(
    information: list[dict], mode: str = "inclusive", **members: object
) -> dict:
    return {
        "id": "urn:r:1",
        "mode": mode,
        "operations": ["federationOps"],
        "information": information,
        **members,
    }


@pytest.mark.parametrize(
    ("information", "target", "expected"),
    [
        ([{"entities": [{"type": PARKING}]}], Target(types=frozenset([PARKING])), True),
        (
            [{"entities": [{"type": PARKING}]}],
            Target(types=frozenset(["https://example.org/Other"])),
            False,
        ),
        (
            [{"entities": [{"type": PARKING, "id": "urn:p:1"}]}],
            Target(ids=frozenset(["urn:p:2"])),
            False,
        ),
        (
            [{"entities": [{"type": PARKING, "id": "urn:p:1"}]}],
            Target(id_pattern="urn:p:.*"),
            True,
        ),
        (
            [{"entities": [{"type": PARKING, "idPattern": "urn:p:[0-9]+"}]}],
            Target(ids=frozenset(["urn:p:7"])),
            True,
        ),
        (
            [{"entities": [{"type": PARKING, "idPattern": "urn:p:[0-9]+"}]}],
            Target(ids=frozenset(["urn:q:7"])),
            False,
        ),
        ([{"propertyNames": [FREE]}], Target(attrs=frozenset([TOTAL])), False),
        (
            [{"propertyNames": [FREE]}],
            Target(attrs=frozenset([FREE, TOTAL]), types=frozenset([PARKING])),
            True,
        ),
        (
            [{"propertyNames": [FREE]}, {"entities": [{"type": PARKING}]}],
            Target(attrs=frozenset([TOTAL])),
            True,
        ),
    ],
)
def test_registration_matches(
    information: list[dict], target: Target, expected: bool
) -> None:
    assert registration_matches(registration(information), target) is expected


def test_operations_by_name_and_group() -> None:
    assert supports(registration([], operations=["retrieveOps"]), "queryEntity")
    assert supports(registration([], operations=["queryEntity"]), "queryEntity")
    assert not supports(registration([], operations=["retrieveEntity"]), "queryEntity")
    assert not supports(registration([], operations=["updateOps"]), "retrieveEntity")


def test_expired_registrations_are_not_current() -> None:
    assert is_current(registration([]), "2026-01-01T00:00:00Z")
    assert is_current(
        registration([], expiresAt="2026-06-01T00:00:00Z"), "2026-01-01T00:00:00Z"
    )
    assert not is_current(
        registration([], expiresAt="2025-06-01T00:00:00Z"), "2026-01-01T00:00:00Z"
    )


def test_exclusive_conflicts() -> None:
    info = [{"entities": [{"type": PARKING, "id": "urn:p:1"}], "propertyNames": [FREE]}]
    held = registration(info, "exclusive")
    same = {**registration(info, "exclusive"), "id": "urn:r:2"}
    with pytest.raises(Conflict):
        check_conflicts(same, [held])
    check_conflicts(same, [{**held, "id": "urn:r:2"}])  # an update of itself
    other_attr = {**same, "information": [{**info[0], "propertyNames": [TOTAL]}]}
    check_conflicts(other_attr, [held])
    check_conflicts({**same, "mode": "inclusive"}, [held])
    with pytest.raises(Conflict):
        check_conflicts(
            {
                **same,
                "mode": "redirect",
                "information": [{"entities": info[0]["entities"]}],
            },
            [held],
        )


def test_trigger_reasons() -> None:
    assert trigger_reason(False, True) == "newlyMatching"
    assert trigger_reason(True, True) == "updated"
    assert trigger_reason(True, False) == "noLongerMatching"
    assert trigger_reason(False, False) is None


async def test_via_names_this_broker() -> None:
    async with httpx.AsyncClient() as client:
        federation = Federation("broker-a", client, 1.0, 2)
        assert federation.via(None) == "1.1 broker-a"
        assert federation.via("1.1 edge (proxy)") == "1.1 edge (proxy), 1.1 broker-a"
        assert federation.loops_back("1.0 x, 1.1 broker-a")
        assert not federation.loops_back("1.1 broker-ab, 1.1 broker")
        assert not federation.loops_back(None)
