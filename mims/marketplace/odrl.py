"""ODRL 2.2 usage policies of marketplace offers: parse an offer, evaluate a use, build the Agreement.

An offer (PPI ``odrl-offer``) says which actions a consumer may perform on a dataset, under which
constraints, with which duties, and which actions are prohibited. The marketplace checks each use
of the data against it, so the evaluation has to be exact and say why a use is refused: the
reason names the constraint that failed.

Semantics, after the W3C ODRL Information Model 2.2 (§2.5 Constraint, §2.6 Permission, §2.7
Prohibition, §2.8 Duty) and the ODRL Vocabulary 2.2:

* An action is covered by a rule whose action is the same or *includes* it: ``use`` includes every
  action except ``transfer``, which includes ``give`` and ``sell`` (ODRL Vocabulary §4.4).
* A rule applies when all its constraints are satisfied (logical AND).
* A request is permitted when some applicable permission covers its action and no applicable
  prohibition covers it: a prohibition wins over a permission (the ``prohibit`` conflict
  strategy, the safe one for a marketplace).
* ``count`` is the number of uses including the one asked for: with ``count lteq 100`` the 100th
  use is permitted and the 101st refused; with ``lt 100`` the 99th is the last.
* ``spatial isPartOf`` an area holds when the requested point or bounding box lies inside the
  area or on its border. Areas are in WGS 84, longitude first, like GeoJSON and NGSI-LD.
* Duties of the permission used, and the policy's obligations, are returned with a permitting
  decision for the caller to discharge: evaluation cannot see whether a consumer attributed.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.errors import GEOSException
from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry

import ppi_schemas
from mims.kit.problems import ProblemError, ProblemItem

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
OFFER_PPI = "odrl-offer@1"

_INCLUDED_IN: dict[str, str] = {"give": "transfer", "sell": "transfer"}
_TOP_ACTIONS = frozenset({"use", "transfer"})
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lteq": operator.le,
    "gt": operator.gt,
    "gteq": operator.ge,
}


class PolicyError(ProblemError):
    """An offer that is not a usable ODRL policy: 400, with every problem at its pointer."""

    def __init__(self, problems: list[ProblemItem]) -> None:
        details = "; ".join(f"{item.pointer or '/'}: {item.detail}" for item in problems)
        super().__init__(status=400, title="Invalid ODRL offer", detail=details, errors=problems)


def includes(broader: str, action: str) -> bool:
    """Whether ``broader`` is ``action`` or includes it in the ODRL action hierarchy."""
    current: str | None = action
    while current is not None:
        if current == broader:
            return True
        current = _INCLUDED_IN.get(current, "use" if current not in _TOP_ACTIONS else None)
    return False


@dataclass(frozen=True, slots=True)
class Constraint:
    """``left_operand operator right_operand``; ``area`` is the parsed spatial right operand."""

    left_operand: str
    operator: str
    right_operand: Any
    pointer: str
    area: BaseGeometry | None = None
    instant: datetime | None = None

    def __str__(self) -> str:
        right = "<GeoJSON area>" if isinstance(self.right_operand, Mapping) else self.right_operand
        return f"{self.left_operand} {self.operator} {right}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A permission, prohibition or duty: an action, the constraints that make it apply, duties."""

    action: str
    constraints: tuple[Constraint, ...] = ()
    duties: tuple[Rule, ...] = ()
    pointer: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed offer; ``document`` is the offer as received, kept for the Agreement."""

    uid: str
    assigner: str
    target: str
    permissions: tuple[Rule, ...]
    prohibitions: tuple[Rule, ...]
    obligations: tuple[Rule, ...]
    document: Mapping[str, Any] = field(repr=False)

    @property
    def is_open(self) -> bool:
        """No constraint anywhere: anyone may use the data at any time (open data).

        Duties without constraints (e.g. attribute) keep an offer open.
        """
        rules = self.permissions + self.prohibitions + self.obligations
        rules += tuple(duty for rule in self.permissions for duty in rule.duties)
        return not any(rule.constraints for rule in rules)


@dataclass(frozen=True, slots=True)
class UseRequest:
    """One use of the data to decide on.

    ``at`` must carry a time zone. ``uses`` counts the uses already made under the agreement.
    ``location`` is a point ``(lon, lat)`` or a bounding box ``(min lon, min lat, max lon,
    max lat)``.
    """

    at: datetime
    action: str = "use"
    purpose: str | None = None
    uses: int = 0
    location: tuple[float, float] | tuple[float, float, float, float] | None = None
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Permitted or not and why; the constraint that failed, or the permission used and its duties."""

    permitted: bool
    reason: str
    constraint: Constraint | None = None
    permission: Rule | None = None
    duties: tuple[Rule, ...] = ()


def parse_offer(document: Mapping[str, Any]) -> Policy:
    """The policy of an ``odrl-offer`` document; :class:`PolicyError` if it is not one."""
    problems = [ProblemItem(p.pointer, p.message) for p in ppi_schemas.validate(document, OFFER_PPI)]
    if problems:
        raise PolicyError(problems)
    errors: list[ProblemItem] = []
    policy = Policy(
        uid=document["uid"],
        assigner=document["assigner"],
        target=document["target"],
        permissions=_rules(document, "permission", errors),
        prohibitions=_rules(document, "prohibition", errors),
        obligations=_rules(document, "obligation", errors),
        document=copy.deepcopy(dict(document)),
    )
    if errors:
        raise PolicyError(errors)
    return policy


def _rules(document: Mapping[str, Any], member: str, errors: list[ProblemItem], base: str = "") -> tuple[Rule, ...]:
    rules = []
    for index, item in enumerate(document.get(member, [])):
        pointer = f"{base}/{member}/{index}"
        constraints = tuple(
            _constraint(raw, f"{pointer}/constraint/{position}", errors)
            for position, raw in enumerate(item.get("constraint", []))
        )
        duties = _rules(item, "duty", errors, pointer)
        rules.append(Rule(action=item["action"], constraints=constraints, duties=duties, pointer=pointer))
    return tuple(rules)


def _constraint(raw: Mapping[str, Any], pointer: str, errors: list[ProblemItem]) -> Constraint:
    left, right = raw["leftOperand"], raw["rightOperand"]
    area = instant = None
    if left == "spatial":
        area = _area(right, f"{pointer}/rightOperand", errors)
    elif left == "dateTime":
        try:
            instant = datetime.fromisoformat(right)
        except ValueError as error:
            errors.append(ProblemItem(f"{pointer}/rightOperand", f"not a date-time: {error}"))
    return Constraint(left, raw["operator"], right, pointer, area=area, instant=instant)


def _area(value: Any, pointer: str, errors: list[ProblemItem]) -> BaseGeometry | None:
    try:
        area = shapely.from_wkt(value) if isinstance(value, str) else shape(value)
    except (GEOSException, ValueError, TypeError, AttributeError) as error:
        errors.append(ProblemItem(pointer, f"not a readable WKT or GeoJSON area: {error}"))
        return None
    if area.is_empty or not area.is_valid:
        errors.append(ProblemItem(pointer, f"not a valid area: {shapely.is_valid_reason(area)}"))
        return None
    return area


def evaluate(policy: Policy, request: UseRequest, *, purposes: Mapping[str, str] | None = None) -> Decision:
    """Whether ``policy`` permits ``request``, with the reason.

    ``purposes`` maps a purpose to its broader purpose, for ``isA``: a request for
    ``AcademicResearch`` is a ``ResearchAndDevelopment`` if the map says so.
    """
    if request.at.tzinfo is None:
        raise ValueError("the time of a use must carry a time zone")
    broader = purposes or {}
    for rule in policy.prohibitions:
        if includes(rule.action, request.action) and _first_failure(rule, request, broader) is None:
            conditions = " and ".join(str(c) for c in rule.constraints)
            when = f" when {conditions}" if conditions else ""
            return Decision(False, f"{request.action} is prohibited by {rule.pointer}{when}")
    candidates = [rule for rule in policy.permissions if includes(rule.action, request.action)]
    if not candidates:
        return Decision(False, f"the offer permits no {request.action}")
    failures = [(rule, _first_failure(rule, request, broader)) for rule in candidates]
    for rule, failure in failures:
        if failure is None:
            reason = f"{request.action} is permitted by {rule.pointer}"
            return Decision(True, reason, permission=rule, duties=rule.duties + policy.obligations)
    constraint, why = failures[0][1]  # every candidate failed: name the first one's constraint
    return Decision(False, f"constraint {constraint} at {constraint.pointer} is not met: {why}", constraint)


def _first_failure(rule: Rule, request: UseRequest, purposes: Mapping[str, str]) -> tuple[Constraint, str] | None:
    for constraint in rule.constraints:
        why = _unmet(constraint, request, purposes)
        if why is not None:
            return constraint, why
    return None


def _unmet(constraint: Constraint, request: UseRequest, purposes: Mapping[str, str]) -> str | None:
    """Why ``constraint`` does not hold for ``request``, or None when it holds."""
    left, op, right = constraint.left_operand, constraint.operator, constraint.right_operand
    if left == "count":
        use = request.uses + 1
        return None if _COMPARISONS[op](use, right) else f"this would be use {use}"
    if left == "dateTime":
        holds = _COMPARISONS[op](request.at, constraint.instant)
        return None if holds else f"the use is at {request.at.isoformat()}"
    if left == "spatial":
        if request.location is None:
            return "the request states no location"
        where = Point(*request.location) if len(request.location) == 2 else box(*request.location)
        return None if constraint.area is not None and constraint.area.covers(where) else "the location is outside"
    value = request.purpose if left == "purpose" else request.recipient
    if value is None:
        return f"the request states no {left}"
    if op == "isA":
        lineage = [value]
        while lineage[-1] in purposes and purposes[lineage[-1]] not in lineage:
            lineage.append(purposes[lineage[-1]])
        holds = right in lineage
    elif op == "isAnyOf":
        holds = value in right
    elif op == "isNoneOf":
        holds = value not in right
    else:
        holds = _COMPARISONS[op](value, right)
    return None if holds else f"the {left} is {value}"


def remaining_uses(decision: Decision, uses: int) -> int | None:
    """Uses left, ``uses`` having been made, under the permission that gave ``decision``.

    The ``count`` constraints of that permission bound it (``lteq n``: n uses, ``lt n``: n - 1);
    None when it has none (unlimited), 0 when the decision refused.
    """
    if decision.permission is None:
        return 0
    bounds = [
        c.right_operand - (1 if c.operator == "lt" else 0)
        for c in decision.permission.constraints
        if c.left_operand == "count"
    ]
    return max(0, min(bounds) - uses) if bounds else None


def agreement(policy: Policy, *, uid: str, assignee: str, at: datetime) -> dict[str, Any]:
    """The ODRL Agreement of ``policy`` with ``assignee`` (the consumer), concluded ``at``.

    The rules are copied from the offer unchanged: what was offered is what is agreed (DSP
    requires the Agreement's target to be the dataset).
    """
    if at.tzinfo is None:
        raise ValueError("the time of an agreement must carry a time zone")
    document: dict[str, Any] = {
        "@context": ODRL_CONTEXT,
        "@type": "Agreement",
        "uid": uid,
        "assigner": policy.assigner,
        "assignee": assignee,
        "target": policy.target,
        "dateTime": at.isoformat(),
    }
    for member in ("permission", "prohibition", "obligation"):
        if member in policy.document:
            document[member] = copy.deepcopy(policy.document[member])
    return document
