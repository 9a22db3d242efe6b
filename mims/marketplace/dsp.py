"""Dataspace Protocol contract negotiation: its states, and which party may move it where.

A contract negotiation (CN) between a consumer and a provider follows the state machine of the
Dataspace Protocol 2024-1, Contract Negotiation Protocol: §1.1 States, §1.2 State Machine and the
"Sent by" / "Resulting state" of each message in §2 Message Types. A transition happens when a
party sends a message and the other acknowledges it:

* consumer, Contract Request Message: start -> REQUESTED, or OFFERED -> REQUESTED (counter-offer);
* provider, Contract Offer Message: start -> OFFERED, or REQUESTED -> OFFERED (counter-offer);
* consumer, Contract Negotiation Event Message ``ACCEPTED``: OFFERED -> ACCEPTED;
* provider, Contract Agreement Message: REQUESTED -> AGREED, or ACCEPTED -> AGREED;
* consumer, Contract Agreement Verification Message: AGREED -> VERIFIED;
* provider, Contract Negotiation Event Message ``FINALIZED``: VERIFIED -> FINALIZED;
* either party, Contract Negotiation Termination Message: any non-final state -> TERMINATED.

FINALIZED and TERMINATED are final: nothing leaves them. Anything else is refused with
:class:`IllegalTransition`, a 400 problem naming the current and the attempted state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mims.kit.problems import ProblemError
from mims.marketplace.odrl import Policy


class State(StrEnum):
    """The CN states (DSP 2024-1, Contract Negotiation Protocol §1.1)."""

    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class Role(StrEnum):
    """The party sending the message that causes a transition."""

    CONSUMER = "consumer"
    PROVIDER = "provider"


FINAL_STATES = frozenset({State.FINALIZED, State.TERMINATED})


@dataclass(frozen=True, slots=True)
class Step:
    """``source`` -> ``target`` caused by ``message`` from ``by``; ``source`` None starts a CN."""

    source: State | None
    target: State
    by: Role
    message: str


_TERMINATION = "ContractNegotiationTerminationMessage"
STEPS: tuple[Step, ...] = (
    Step(None, State.REQUESTED, Role.CONSUMER, "ContractRequestMessage"),
    Step(None, State.OFFERED, Role.PROVIDER, "ContractOfferMessage"),
    Step(State.REQUESTED, State.OFFERED, Role.PROVIDER, "ContractOfferMessage"),
    Step(State.REQUESTED, State.AGREED, Role.PROVIDER, "ContractAgreementMessage"),
    Step(State.OFFERED, State.REQUESTED, Role.CONSUMER, "ContractRequestMessage"),
    Step(State.OFFERED, State.ACCEPTED, Role.CONSUMER, "ContractNegotiationEventMessage:ACCEPTED"),
    Step(State.ACCEPTED, State.AGREED, Role.PROVIDER, "ContractAgreementMessage"),
    Step(State.AGREED, State.VERIFIED, Role.CONSUMER, "ContractAgreementVerificationMessage"),
    Step(State.VERIFIED, State.FINALIZED, Role.PROVIDER, "ContractNegotiationEventMessage:FINALIZED"),
) + tuple(
    Step(state, State.TERMINATED, role, _TERMINATION)
    for state in State
    if state not in FINAL_STATES
    for role in Role
)
_BY_MOVE: dict[tuple[State | None, State, Role], Step] = {(s.source, s.target, s.by): s for s in STEPS}


class IllegalTransition(ProblemError):
    """A move the protocol does not allow: 400, naming the current and the attempted state."""

    def __init__(self, current: State | None, attempted: State, by: Role) -> None:
        where = f"in state {current}" if current is not None else "not yet started"
        detail = f"a contract negotiation {where} cannot move to {attempted} on a message from the {by}"
        others = [step.by for step in STEPS if step.source == current and step.target == attempted]
        if current in FINAL_STATES:
            detail += f": {current} is final"
        elif others:
            detail += f"; only the {others[0]} can make that move"
        super().__init__(
            status=400,
            title="Contract negotiation transition not allowed",
            detail=detail,
            extensions={"state": current.value if current else None, "attempted": attempted.value, "by": by.value},
        )
        self.current = current
        self.attempted = attempted
        self.by = by


def transition(current: State | None, target: State, by: Role) -> Step:
    """The step from ``current`` (None: a new CN) to ``target`` sent by ``by``, if the protocol allows it."""
    step = _BY_MOVE.get((current, target, by))
    if step is None:
        raise IllegalTransition(current, target, by)
    return step


def allowed(current: State | None, by: Role) -> tuple[State, ...]:
    """The states ``by`` may move a CN in ``current`` to."""
    return tuple(step.target for step in STEPS if step.source == current and step.by == by)


_AUTOMATIC: dict[State, tuple[tuple[State, Role], ...]] = {
    State.REQUESTED: ((State.AGREED, Role.PROVIDER), (State.VERIFIED, Role.CONSUMER), (State.FINALIZED, Role.PROVIDER)),
    State.ACCEPTED: ((State.AGREED, Role.PROVIDER), (State.VERIFIED, Role.CONSUMER), (State.FINALIZED, Role.PROVIDER)),
    State.AGREED: ((State.VERIFIED, Role.CONSUMER), (State.FINALIZED, Role.PROVIDER)),
    State.VERIFIED: ((State.FINALIZED, Role.PROVIDER),),
}


def automatic_steps(current: State, policy: Policy) -> tuple[Step, ...]:
    """The steps taken without a human for an open-data offer, from ``current`` to FINALIZED.

    An offer without constraints has nothing to negotiate: the provider agrees to a request, the
    consumer's verification and the provider's finalization follow. Any constraint leaves the
    negotiation to the parties (no steps). Each step is checked against the state machine.
    """
    if not policy.is_open:
        return ()
    steps = []
    state = current
    for target, by in _AUTOMATIC.get(current, ()):
        steps.append(transition(state, target, by))
        state = target
    return tuple(steps)
