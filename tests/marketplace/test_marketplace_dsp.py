"""The Dataspace Protocol contract negotiation state machine: every move allowed, every other refused."""

from __future__ import annotations

from typing import Any

import pytest

from mims.marketplace import odrl
from mims.marketplace.dsp import (
    FINAL_STATES,
    STEPS,
    IllegalTransition,
    Role,
    State,
    Step,
    allowed,
    automatic_steps,
    transition,
)

C, P = Role.CONSUMER, Role.PROVIDER
# The protocol's moves, written out independently of the module's table (DSP 2024-1, CN §1.2, §2).
PROTOCOL = {
    (None, State.REQUESTED, C),
    (None, State.OFFERED, P),
    (State.REQUESTED, State.OFFERED, P),
    (State.REQUESTED, State.AGREED, P),
    (State.OFFERED, State.REQUESTED, C),
    (State.OFFERED, State.ACCEPTED, C),
    (State.ACCEPTED, State.AGREED, P),
    (State.AGREED, State.VERIFIED, C),
    (State.VERIFIED, State.FINALIZED, P),
} | {
    (state, State.TERMINATED, role)
    for state in (State.REQUESTED, State.OFFERED, State.ACCEPTED, State.AGREED, State.VERIFIED)
    for role in Role
}
EVERY_MOVE = [(source, target, role) for source in (None, *State) for target in State for role in Role]
ILLEGAL = [move for move in EVERY_MOVE if move not in PROTOCOL]


def move_id(move: Any) -> str:
    source, target, role = move
    return f"{source or 'start'}->{target}:{role}"


def test_the_table_is_exactly_the_protocol() -> None:
    assert {(step.source, step.target, step.by) for step in STEPS} == PROTOCOL
    assert len(STEPS) == len(PROTOCOL)
    assert FINAL_STATES == {State.FINALIZED, State.TERMINATED}


@pytest.mark.parametrize("move", sorted(PROTOCOL, key=move_id), ids=move_id)
def test_every_legal_transition_is_allowed_to_its_party(move: tuple[State | None, State, Role]) -> None:
    source, target, role = move
    step = transition(source, target, role)
    assert (step.source, step.target, step.by) == move
    assert target in allowed(source, role)


@pytest.mark.parametrize("move", ILLEGAL, ids=move_id)
def test_every_illegal_transition_is_refused_naming_the_states(move: tuple[State | None, State, Role]) -> None:
    source, target, role = move
    with pytest.raises(IllegalTransition) as caught:
        transition(source, target, role)
    error = caught.value
    assert error.status == 400
    assert (error.current, error.attempted, error.by) == (source, target, role)
    assert (f"in state {source}" if source else "not yet started") in str(error)
    assert f"cannot move to {target}" in str(error)
    assert error.to_dict()["attempted"] == target.value
    assert error.to_dict()["state"] == (source.value if source else None)
    assert target not in allowed(source, role)


@pytest.mark.parametrize(
    ("source", "target", "role", "message"),
    [
        (State.REQUESTED, State.AGREED, C, "; only the provider can make that move"),
        (State.AGREED, State.VERIFIED, P, "; only the consumer can make that move"),
        (State.FINALIZED, State.TERMINATED, C, ": FINALIZED is final"),
        (State.TERMINATED, State.REQUESTED, C, ": TERMINATED is final"),
    ],
)
def test_the_refusal_says_who_could_or_that_the_state_is_final(
    source: State, target: State, role: Role, message: str
) -> None:
    with pytest.raises(IllegalTransition, match=message):
        transition(source, target, role)


@pytest.mark.parametrize("state", sorted(set(State) - FINAL_STATES))
@pytest.mark.parametrize("role", list(Role))
def test_either_party_terminates_any_non_final_state(state: State, role: Role) -> None:
    step = transition(state, State.TERMINATED, role)
    assert step.message == "ContractNegotiationTerminationMessage"


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
@pytest.mark.parametrize("role", list(Role))
def test_final_states_have_no_way_out(state: State, role: Role) -> None:
    assert allowed(state, role) == ()


def test_messages_follow_the_protocol() -> None:
    assert transition(State.OFFERED, State.ACCEPTED, C).message == "ContractNegotiationEventMessage:ACCEPTED"
    assert transition(State.AGREED, State.VERIFIED, C).message == "ContractAgreementVerificationMessage"
    assert transition(State.VERIFIED, State.FINALIZED, P).message == "ContractNegotiationEventMessage:FINALIZED"
    assert transition(None, State.REQUESTED, C).message == "ContractRequestMessage"


def test_a_full_negotiation_with_counter_offers() -> None:
    moves = [
        (State.REQUESTED, C),
        (State.OFFERED, P),
        (State.REQUESTED, C),
        (State.OFFERED, P),
        (State.ACCEPTED, C),
        (State.AGREED, P),
        (State.VERIFIED, C),
        (State.FINALIZED, P),
    ]
    state: State | None = None
    for target, role in moves:
        state = transition(state, target, role).target
    assert state is State.FINALIZED


def offer(**extra: Any) -> odrl.Policy:
    return odrl.parse_offer(
        {
            "@context": odrl.ODRL_CONTEXT,
            "@type": "Offer",
            "uid": "urn:uuid:offer",
            "assigner": "https://rotterdam.nl",
            "target": "https://data.rotterdam.nl/dataset/buildings",
            "permission": [{"action": "use", "duty": [{"action": "attribute"}]}],
            **extra,
        }
    )


def constraint(left: str, op: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right}


def moves(steps: tuple[Step, ...]) -> list[tuple[State | None, State, Role]]:
    return [(step.source, step.target, step.by) for step in steps]


def test_open_data_is_agreed_verified_and_finalized_without_a_human() -> None:
    assert moves(automatic_steps(State.REQUESTED, offer())) == [
        (State.REQUESTED, State.AGREED, P),
        (State.AGREED, State.VERIFIED, C),
        (State.VERIFIED, State.FINALIZED, P),
    ]
    assert moves(automatic_steps(State.ACCEPTED, offer()))[0] == (State.ACCEPTED, State.AGREED, P)
    assert moves(automatic_steps(State.AGREED, offer())) == [
        (State.AGREED, State.VERIFIED, C),
        (State.VERIFIED, State.FINALIZED, P),
    ]
    assert moves(automatic_steps(State.VERIFIED, offer())) == [(State.VERIFIED, State.FINALIZED, P)]


@pytest.mark.parametrize("state", [State.OFFERED, State.FINALIZED, State.TERMINATED])
def test_no_automatic_step_where_the_consumer_must_answer_or_it_is_over(state: State) -> None:
    assert automatic_steps(state, offer()) == ()


@pytest.mark.parametrize(
    "extra",
    [
        {"permission": [{"action": "use", "constraint": [constraint("count", "lteq", 5)]}]},
        {"prohibition": [{"action": "use", "constraint": [constraint("purpose", "eq", "urn:p:ads")]}]},
        {"obligation": [{"action": "inform", "constraint": [constraint("dateTime", "lt", "2030-01-01T00:00:00Z")]}]},
        {
            "permission": [
                {
                    "action": "use",
                    "duty": [{"action": "compensate", "constraint": [constraint("recipient", "eq", "urn:x")]}],
                }
            ]
        },
    ],
    ids=["permission", "prohibition", "obligation", "duty"],
)
def test_a_constraint_anywhere_leaves_the_negotiation_to_the_parties(extra: dict[str, Any]) -> None:
    policy = offer(**extra)
    assert not policy.is_open
    assert automatic_steps(State.REQUESTED, policy) == ()
