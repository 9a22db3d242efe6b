"""Offers, contract negotiation, agreements and access grants over HTTP, on SQLite and PostgreSQL:
who may make which move, what an agreement and a grant hold, uses until exhausted, termination
and expiry."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

import ppi_schemas
from mims.marketplace import contracts_api
from mims.marketplace.dsp import State
from mims.marketplace.odrl import ODRL_CONTEXT
from mims.marketplace.service import create_app
from tests.marketplace.conftest import GATEWAY_URL, PUBLIC_URL

PROVIDER = {"X-OUP-Client-Id": "rotterdam-portal", "X-OUP-Scope": "marketplace:publish"}
RESEARCH = "https://w3id.org/dpv#AcademicResearch"
MARKETING = "https://w3id.org/dpv#Marketing"
START = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def consumer(client: str = "bouwapp") -> dict[str, str]:
    return {"X-OUP-Client-Id": client, "X-OUP-Scope": "context:read"}


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def market(tmp_path: Any, database_url: str, clock: Clock) -> Iterator[TestClient]:
    """The marketplace without token checks, its contracts on the test's clock."""
    app = create_app(data_dir=tmp_path, database_url=database_url, public_url=PUBLIC_URL, gateway_url=GATEWAY_URL)
    app.dependency_overrides[contracts_api.clock] = lambda: clock
    with TestClient(app) as client:
        yield client


def dataset_example(name: str = "rotterdam-buildings-digital-twin") -> dict[str, Any]:
    examples = {e.name: e.payload for e in ppi_schemas.get("dcat-dataset@1").examples_valid}
    return copy.deepcopy(examples[name])


def publish_dataset(http: TestClient, name: str = "rotterdam-buildings-digital-twin") -> tuple[str, str]:
    """A published dataset's id and IRI."""
    created = http.post("/datasets", json=dataset_example(name), headers=PROVIDER)
    assert created.status_code == 201, created.text
    iri = created.headers["location"]
    return iri.rsplit("/", 1)[1], iri


def offer_document(target: str, *constraints: dict[str, Any], uid: str | None = None, **extra: Any) -> dict[str, Any]:
    permission: dict[str, Any] = {"action": "use"}
    if constraints:
        permission["constraint"] = list(constraints)
    return {
        "@context": ODRL_CONTEXT, "@type": "Offer", "uid": uid or f"urn:uuid:{uuid.uuid4()}",
        "assigner": "https://rotterdam.nl", "target": target, "permission": [permission], **extra,
    }


def put_offer(http: TestClient, dataset_id: str, document: dict[str, Any]) -> str:
    """The offer's id, from its Location."""
    created = http.post(f"/datasets/{dataset_id}/offers", json=document, headers=PROVIDER)
    assert created.status_code == 201, created.text
    return created.headers["location"].rsplit("/", 1)[1]


def constraint(left: str, operator: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


COUNT_3 = constraint("count", "lteq", 3)
FOR_RESEARCH = constraint("purpose", "eq", RESEARCH)


def offered(http: TestClient, *constraints: dict[str, Any], name: str = "rotterdam-buildings-digital-twin") -> str:
    """The uid of a new offer with ``constraints`` on a new dataset."""
    dataset_id, iri = publish_dataset(http, name)
    document = offer_document(iri, *constraints)
    put_offer(http, dataset_id, document)
    return document["uid"]


def start(http: TestClient, offer: str, who: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    answer = http.post("/negotiations/request", json={"offer": offer, **body}, headers=who or consumer())
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"{PUBLIC_URL}/negotiations/{answer.json()['providerPid']}"
    return answer.json()


def move(http: TestClient, pid: str, path: str, who: dict[str, str], body: Any = None, status: int = 200) -> dict[str, Any]:
    answer = http.post(f"/negotiations/{pid}{path}", json=body, headers=who)
    assert answer.status_code == status, answer.text
    return answer.json()


def finalized(http: TestClient, offer: str, who: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    """A negotiation on ``offer`` walked to FINALIZED by its parties."""
    who = who or consumer()
    negotiation = start(http, offer, who, **body)
    if negotiation["state"] == "FINALIZED":
        return negotiation
    pid = negotiation["providerPid"]
    move(http, pid, "/agreement", PROVIDER)
    move(http, pid, "/agreement/verification", who)
    return move(http, pid, "/events", PROVIDER, {"eventType": "FINALIZED"})


def grants_of(http: TestClient, client: str) -> list[dict[str, Any]]:
    answer = http.get("/grants", params={"client_id": client})
    assert answer.status_code == 200
    return answer.json()["grants"]


def take(http: TestClient, grant_id: str, uses: int = 1) -> Any:
    return http.post("/grants/uses", json={"grant_id": grant_id, "uses": uses})


def assert_valid_grant(grant: dict[str, Any]) -> None:
    assert ppi_schemas.validate(grant, "access-grant@1.0.0") == []


# Offers


def test_offer_is_published_on_its_dataset_and_read_back(market):
    dataset_id, iri = publish_dataset(market)
    document = offer_document(iri)
    created = market.post(f"/datasets/{dataset_id}/offers", json=document, headers=PROVIDER)
    assert created.status_code == 201 and created.json() == document
    offer_id = created.headers["location"].removeprefix(f"{PUBLIC_URL}/offers/")
    assert all(c in "0123456789abcdef" for c in offer_id)
    assert market.get(f"/offers/{offer_id}").json() == document
    assert market.get(f"/datasets/{dataset_id}/offers").json() == {"offers": [document]}
    assert start(market, offer_id)["offer"] == document["uid"]  # requested by the marketplace's id


def test_offer_must_target_its_dataset_have_a_new_uid_and_be_odrl(market):
    dataset_id, iri = publish_dataset(market)
    wrong = market.post(f"/datasets/{dataset_id}/offers", json=offer_document(iri + "x"), headers=PROVIDER)
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["pointer"] == "/target"
    document = offer_document(iri)
    put_offer(market, dataset_id, document)
    again = market.post(f"/datasets/{dataset_id}/offers", json=document, headers=PROVIDER)
    assert again.status_code == 409 and document["uid"] in again.json()["detail"]
    broken = offer_document(iri, constraint("count", "gteq", 3))
    refused = market.post(f"/datasets/{dataset_id}/offers", json=broken, headers=PROVIDER)
    assert refused.status_code == 400
    assert any(e["pointer"].startswith("/permission/0/constraint/0") for e in refused.json()["errors"])
    assert market.post("/datasets/nope/offers", json=document, headers=PROVIDER).status_code == 404
    assert market.get("/offers/nope").status_code == 404


# Negotiation


def test_open_offer_is_finalized_at_once_with_agreement_and_grant(market):
    offer = offered(market)
    negotiation = start(market, offer, consumerPid="urn:uuid:mine")
    assert negotiation["state"] == "FINALIZED" and negotiation["consumerPid"] == "urn:uuid:mine"
    assert negotiation["@type"] == "dspace:ContractNegotiation" and negotiation["consumer"] == "bouwapp"
    assert [(h["state"], h["by"]) for h in negotiation["history"]] == [
        ("REQUESTED", "consumer"), ("AGREED", "provider"), ("VERIFIED", "consumer"), ("FINALIZED", "provider")]
    [grant] = grants_of(market, "bouwapp")
    assert_valid_grant(grant)
    assert grant["grant_id"] == negotiation["grant"] and grant["agreement_id"] == negotiation["agreement"]
    assert grant["dataset"] == negotiation["dataset"] and grant["dataset"].startswith(PUBLIC_URL + "/datasets/")
    assert grant["query"] == {"entity_types": ["Building"], "q": 'category=="residential"'}
    assert grant["remaining"] is None and grant["not_after"] is None and grant["status"] == "active"
    assert grant["not_before"] == START.isoformat() and grant["scopes"] == ["context:read"]
    assert grants_of(market, "someone-else") == []


def test_grant_carries_the_datasets_geo_query(market):
    negotiation = finalized(market, offered(market, name="air-quality-geo-filtered"))
    [grant] = grants_of(market, "bouwapp")
    assert_valid_grant(grant)
    twin = dataset_example("air-quality-geo-filtered")["digitalTwin"]
    assert grant["query"]["entity_types"] == twin["entityTypes"]
    assert grant["query"]["geo"] == {k: twin[k] for k in ("georel", "geometry", "coordinates")}
    assert negotiation["grant"] == grant["grant_id"]


def test_dataset_without_digital_twin_data_gets_an_agreement_but_no_grant(market):
    negotiation = finalized(market, offered(market, name="parking-csv-download"))
    assert negotiation["state"] == "FINALIZED" and negotiation["agreement"] and negotiation["grant"] is None
    assert grants_of(market, "bouwapp") == []


def test_restricted_offer_walks_every_state_by_the_right_party(market, clock):
    window = (constraint("dateTime", "gteq", "2027-04-01T00:00:00+02:00"),
              constraint("dateTime", "lt", "2028-01-01T00:00:00Z"))
    offer = offered(market, FOR_RESEARCH, COUNT_3, *window)
    negotiation = start(market, offer, purpose=RESEARCH)
    pid = negotiation["providerPid"]
    assert negotiation["state"] == "REQUESTED" and negotiation["agreement"] is None
    assert market.get(f"/negotiations/{pid}", headers=consumer()).json() == negotiation

    move(market, pid, "/agreement", consumer(), status=403)
    clock.now += timedelta(minutes=1)
    agreed = move(market, pid, "/agreement", PROVIDER)
    assert agreed["state"] == "AGREED" and agreed["agreement"] and agreed["grant"] is None
    move(market, pid, "/agreement/verification", PROVIDER, status=403)
    assert move(market, pid, "/agreement/verification", consumer())["state"] == "VERIFIED"
    move(market, pid, "/events", consumer(), {"eventType": "FINALIZED"}, status=403)
    done = move(market, pid, "/events", PROVIDER, {"eventType": "FINALIZED"})
    assert done["state"] == "FINALIZED" and done["grant"]
    assert [h["state"] for h in done["history"]] == ["REQUESTED", "AGREED", "VERIFIED", "FINALIZED"]

    [grant] = grants_of(market, "bouwapp")
    assert_valid_grant(grant)
    assert grant["remaining"] == 3
    assert grant["not_before"] == "2027-03-31T22:00:00+00:00" and grant["not_after"] == "2028-01-01T00:00:00+00:00"

    agreement = market.get(f"/agreements/{agreed['agreement']}", headers=consumer()).json()
    assert agreement["@type"] == "Agreement" and agreement["uid"] == agreed["agreement"]
    assert agreement["assignee"] == "bouwapp" and agreement["assigner"] == "https://rotterdam.nl"
    assert agreement["target"] == done["dataset"] and agreement["permission"][0]["constraint"][0] == FOR_RESEARCH
    assert agreement["prov:wasGeneratedBy"] == {"@id": pid}
    assert agreement["prov:generatedAtTime"]["@value"] == (START + timedelta(minutes=1)).isoformat()
    assert agreement["prov:wasAttributedTo"] == ["https://rotterdam.nl", "bouwapp"]
    assert agreement["status"] == "active"


def test_offered_then_accepted_path_with_counter_offer_and_counter_request(market):
    dataset_id, iri = publish_dataset(market)
    first = offer_document(iri, FOR_RESEARCH)
    put_offer(market, dataset_id, first)
    pid = start(market, first["uid"], purpose=RESEARCH)["providerPid"]

    counter = offer_document(iri, FOR_RESEARCH, COUNT_3)
    move(market, pid, "/offers", consumer(), {"offer": counter}, status=403)
    offered_back = move(market, pid, "/offers", PROVIDER, {"offer": counter})
    assert offered_back["state"] == "OFFERED" and offered_back["offer"] == counter["uid"]
    asked = offer_document(iri, FOR_RESEARCH, constraint("count", "lteq", 10))
    requested = move(market, pid, "/request", consumer(), {"offer": asked})
    assert requested["state"] == "REQUESTED" and requested["offer"] == asked["uid"]
    move(market, pid, "/offers", PROVIDER, {"offer": counter})

    accepted = move(market, pid, "/events", consumer(), {"eventType": "ACCEPTED"})
    assert accepted["state"] == "ACCEPTED"
    move(market, pid, "/agreement", PROVIDER)
    move(market, pid, "/agreement/verification", consumer())
    done = move(market, pid, "/events", PROVIDER, {"eventType": "FINALIZED"})
    assert [h["state"] for h in done["history"]] == [
        "REQUESTED", "OFFERED", "REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED"]
    [grant] = grants_of(market, "bouwapp")
    assert grant["remaining"] == 3  # the terms accepted, not the ones first offered or asked for


def test_counter_offer_must_stay_on_the_dataset_and_be_odrl(market):
    _, iri = publish_dataset(market)
    pid = start(market, offered(market, FOR_RESEARCH), purpose=RESEARCH)["providerPid"]
    elsewhere = move(market, pid, "/offers", PROVIDER, {"offer": offer_document(iri)}, status=400)
    assert elsewhere["errors"][0]["pointer"] == "/offer/target"
    broken = move(market, pid, "/offers", PROVIDER, {"offer": {"uid": "x"}}, status=400)
    assert all(e["pointer"].startswith("/offer") for e in broken["errors"])
    assert market.get(f"/negotiations/{pid}", headers=PROVIDER).json()["state"] == "REQUESTED"


@pytest.mark.parametrize(
    ("constraints", "body", "named"),
    [
        ((FOR_RESEARCH,), {}, "purpose"),
        ((FOR_RESEARCH,), {"purpose": MARKETING}, "purpose"),
        ((constraint("recipient", "isAnyOf", ["https://tudelft.nl", "https://rivm.nl"]),), {}, "recipient"),
        ((constraint("spatial", "isPartOf", "POLYGON ((4.4 51.8, 4.5 51.8, 4.5 51.95, 4.4 51.95, 4.4 51.8))"),),
         {"location": [5.1, 52.1]}, "spatial"),
        ((constraint("dateTime", "lt", "2027-02-01T00:00:00Z"),), {}, "dateTime"),
    ],
)
def test_request_the_offer_does_not_permit_is_refused_naming_the_constraint(market, constraints, body, named):
    offer = offered(market, *constraints)
    refused = market.post("/negotiations/request", json={"offer": offer, **body}, headers=consumer())
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert named in refused.json()["detail"]
    assert market.get("/negotiations", headers=PROVIDER).json() == {"negotiations": []}


def test_request_meeting_recipient_and_spatial_constraints_is_accepted(market):
    area = "POLYGON ((4.4 51.8, 4.5 51.8, 4.5 51.95, 4.4 51.95, 4.4 51.8))"
    offer = offered(market, constraint("recipient", "isAnyOf", ["https://tudelft.nl", "https://rivm.nl"]),
                    constraint("spatial", "isPartOf", area))
    tu_delft = consumer("https://tudelft.nl")  # the recipient is the calling client
    assert start(market, offer, tu_delft, location=[4.45, 51.9])["state"] == "REQUESTED"


def test_prohibition_refuses_the_purpose_it_names(market):
    dataset_id, iri = publish_dataset(market)
    document = offer_document(iri, prohibition=[{"action": "use", "constraint": [constraint("purpose", "eq", MARKETING)]}])
    put_offer(market, dataset_id, document)
    refused = market.post("/negotiations/request", json={"offer": document["uid"], "purpose": MARKETING},
                          headers=consumer())
    assert refused.status_code == 403 and "prohibited" in refused.json()["detail"]


def test_request_body_problems_point_at_the_member(market):
    assert market.post("/negotiations/request", json={}, headers=consumer()).json()["errors"][0]["pointer"] == "/offer"
    unknown = market.post("/negotiations/request", json={"offer": "nope"}, headers=consumer())
    assert unknown.status_code == 404
    offer = offered(market)
    bad = market.post("/negotiations/request", json={"offer": offer, "purpose": "not an iri"}, headers=consumer())
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "/purpose"
    assert market.post("/negotiations/request", json={"offer": offer}).status_code == 401
    text = market.post("/negotiations/request", content="{", headers={**consumer(), "content-type": "application/json"})
    assert text.status_code == 400


def to_state(http: TestClient, offer: str, state: State) -> str:
    """The pid of a negotiation walked to ``state`` by its parties."""
    pid = start(http, offer, purpose=RESEARCH)["providerPid"]
    counter = {"offer": offer_document(http.get(f"/negotiations/{pid}", headers=PROVIDER).json()["dataset"], FOR_RESEARCH)}
    paths = {
        State.REQUESTED: [],
        State.OFFERED: [("/offers", PROVIDER, counter)],
        State.ACCEPTED: [("/offers", PROVIDER, counter), ("/events", consumer(), {"eventType": "ACCEPTED"})],
        State.AGREED: [("/agreement", PROVIDER, None)],
        State.VERIFIED: [("/agreement", PROVIDER, None), ("/agreement/verification", consumer(), None)],
        State.FINALIZED: [("/agreement", PROVIDER, None), ("/agreement/verification", consumer(), None),
                          ("/events", PROVIDER, {"eventType": "FINALIZED"})],
        State.TERMINATED: [("/termination", consumer(), {"reason": "changed my mind"})],
    }
    for path, who, body in paths[state]:
        move(http, pid, path, who, body)
    return pid


MOVES = {  # target state: (path, sender, body)
    State.OFFERED: ("/offers", PROVIDER, "counter"),
    State.REQUESTED: ("/request", consumer(), "counter"),
    State.ACCEPTED: ("/events", consumer(), {"eventType": "ACCEPTED"}),
    State.AGREED: ("/agreement", PROVIDER, None),
    State.VERIFIED: ("/agreement/verification", consumer(), None),
    State.FINALIZED: ("/events", PROVIDER, {"eventType": "FINALIZED"}),
    State.TERMINATED: ("/termination", PROVIDER, None),
}
LEGAL = {
    State.REQUESTED: {State.OFFERED, State.AGREED, State.TERMINATED},
    State.OFFERED: {State.REQUESTED, State.ACCEPTED, State.TERMINATED},
    State.ACCEPTED: {State.AGREED, State.TERMINATED},
    State.AGREED: {State.VERIFIED, State.TERMINATED},
    State.VERIFIED: {State.FINALIZED, State.TERMINATED},
    State.FINALIZED: set(),
    State.TERMINATED: set(),
}


@pytest.mark.parametrize("current", list(State))
def test_every_illegal_move_is_400_naming_the_current_state(market, current):
    offer = offered(market, FOR_RESEARCH)
    pid = to_state(market, offer, current)
    dataset = market.get(f"/negotiations/{pid}", headers=PROVIDER).json()["dataset"]
    for target, (path, who, body) in MOVES.items():
        if target in LEGAL[current]:
            continue
        if body == "counter":
            body = {"offer": offer_document(dataset, FOR_RESEARCH)}
        refused = move(market, pid, path, who, body, status=400)
        assert refused["state"] == current.value and current.value in refused["detail"], (target, refused)
    assert market.get(f"/negotiations/{pid}", headers=PROVIDER).json()["state"] == current.value


def test_unknown_event_type_is_400(market):
    pid = start(market, offered(market, FOR_RESEARCH), purpose=RESEARCH)["providerPid"]
    refused = move(market, pid, "/events", PROVIDER, {"eventType": "DONE"}, status=400)
    assert refused["errors"][0]["pointer"] == "/eventType"


def test_consumers_see_and_move_only_their_own_negotiations(market):
    offer = offered(market, FOR_RESEARCH)
    mine = start(market, offer, purpose=RESEARCH)
    theirs = start(market, offer, consumer("luchtmeter"), purpose=RESEARCH)
    listed = market.get("/negotiations", headers=consumer()).json()["negotiations"]
    assert [n["providerPid"] for n in listed] == [mine["providerPid"]]
    everything = market.get("/negotiations", headers=PROVIDER).json()["negotiations"]
    assert {n["providerPid"] for n in everything} == {mine["providerPid"], theirs["providerPid"]}
    assert market.get(f"/negotiations/{theirs['providerPid']}", headers=consumer()).status_code == 404
    assert market.get("/negotiations/urn:uuid:nothing", headers=PROVIDER).status_code == 404
    move(market, theirs["providerPid"], "/termination", consumer(), status=403)
    move(market, theirs["providerPid"], "/agreement/verification", consumer(), status=403)
    assert market.get("/negotiations").status_code == 401


# Grants and agreements


def test_uses_are_taken_until_exhausted_then_refused(market):
    negotiation = finalized(market, offered(market, FOR_RESEARCH, COUNT_3), purpose=RESEARCH)
    grant_id = negotiation["grant"]
    assert [take(market, grant_id).json()["remaining"] for _ in range(2)] == [2, 1]
    too_many = take(market, grant_id, 2)
    assert too_many.status_code == 403 and too_many.json()["reason"] == "exhausted"
    assert take(market, grant_id).json() == {"grant_id": grant_id, "remaining": 0}
    refused = take(market, grant_id)
    assert refused.status_code == 403 and refused.json()["reason"] == "exhausted"
    assert "exhausted" in refused.json()["detail"]
    [grant] = grants_of(market, "bouwapp")
    assert grant["remaining"] == 0
    assert_valid_grant(grant)


def test_unlimited_grant_keeps_remaining_null_and_bad_takes_are_refused(market):
    grant_id = finalized(market, offered(market))["grant"]
    assert take(market, grant_id, 5).json() == {"grant_id": grant_id, "remaining": None}
    assert take(market, "urn:uuid:nothing").status_code == 404
    zero = take(market, grant_id, 0)
    assert zero.status_code == 400 and zero.json()["errors"][0]["pointer"] == "/uses"
    assert market.post("/grants/uses", json={"uses": 1}).json()["errors"][0]["pointer"] == "/grant_id"


def test_terminating_the_agreement_withdraws_its_grant(market):
    negotiation = finalized(market, offered(market))
    agreement_id = negotiation["agreement"]
    other = market.post(f"/agreements/{agreement_id}/termination", json={}, headers=consumer("luchtmeter"))
    assert other.status_code == 403
    assert market.get(f"/agreements/{agreement_id}", headers=consumer("luchtmeter")).status_code == 404
    ended = market.post(f"/agreements/{agreement_id}/termination", json={"reason": "project over"}, headers=consumer())
    assert ended.status_code == 200 and ended.json()["status"] == "terminated"
    assert grants_of(market, "bouwapp") == []
    refused = take(market, negotiation["grant"])
    assert refused.status_code == 403 and refused.json()["reason"] == "withdrawn"
    assert market.get("/agreements", headers=consumer()).json()["agreements"][0]["status"] == "terminated"


def test_terminating_a_negotiation_before_finalized_withdraws_nothing_but_ends_its_agreement(market):
    kept = finalized(market, offered(market))
    pid = start(market, offered(market, FOR_RESEARCH), purpose=RESEARCH)["providerPid"]
    agreed = move(market, pid, "/agreement", PROVIDER)
    ended = move(market, pid, "/termination", consumer(), {"reason": "too expensive"})
    assert ended["state"] == "TERMINATED" and ended["grant"] is None
    assert ended["history"][-1]["reason"] == "too expensive"
    assert market.get(f"/agreements/{agreed['agreement']}", headers=consumer()).json()["status"] == "terminated"
    assert [g["grant_id"] for g in grants_of(market, "bouwapp")] == [kept["grant"]]


def test_consumers_see_only_their_own_agreements(market):
    offer = offered(market)
    mine = finalized(market, offer)
    theirs = finalized(market, offer, consumer("luchtmeter"))
    assert [a["uid"] for a in market.get("/agreements", headers=consumer()).json()["agreements"]] == [mine["agreement"]]
    everything = market.get("/agreements", headers=PROVIDER).json()["agreements"]
    assert [a["uid"] for a in everything] == [mine["agreement"], theirs["agreement"]]
    assert market.get(f"/agreements/{theirs['agreement']}", headers=PROVIDER).status_code == 200


def test_grant_is_valid_only_within_the_offers_window(market, clock):
    window = (constraint("dateTime", "gteq", "2027-04-01T00:00:00Z"), constraint("dateTime", "lteq", "2027-05-01T00:00:00Z"))
    negotiation = finalized(market, offered(market, *window))
    grant_id = negotiation["grant"]
    early = take(market, grant_id)
    assert early.status_code == 403 and early.json()["reason"] == "not_yet_valid"
    [grant] = grants_of(market, "bouwapp")
    assert grant["not_after"] == "2027-05-01T00:00:00.000001+00:00"  # lteq: the last instant is in
    clock.now = datetime(2027, 5, 1, tzinfo=UTC)
    assert take(market, grant_id).status_code == 200
    clock.now += timedelta(seconds=1)
    expired = take(market, grant_id)
    assert expired.status_code == 403 and expired.json()["reason"] == "expired"
    assert grants_of(market, "bouwapp") == []
    agreement = market.get(f"/agreements/{negotiation['agreement']}", headers=consumer()).json()
    assert agreement["status"] == "expired"


def test_with_tokens_the_gateways_scope_guards_grants_and_the_token_names_the_consumer(secured, token):
    dataset_id, iri = publish_dataset_with(secured, token("marketplace:publish"))
    document = offer_document(iri)
    assert secured.post(f"/datasets/{dataset_id}/offers", json=document, headers=token("context:read")).status_code == 403
    assert secured.post(f"/datasets/{dataset_id}/offers", json=document,
                        headers=token("marketplace:publish")).status_code == 201
    assert secured.post("/negotiations/request", json={"offer": document["uid"]}).status_code == 401
    negotiation = secured.post("/negotiations/request", json={"offer": document["uid"]}, headers=token("context:read"))
    assert negotiation.status_code == 201 and negotiation.json()["consumer"] == "tests"
    assert secured.get("/grants", params={"client_id": "tests"}, headers=token("context:read")).status_code == 403
    assert secured.get("/grants", params={"client_id": "tests"}).status_code == 401
    grants = secured.get("/grants", params={"client_id": "tests"}, headers=token("marketplace:grants")).json()["grants"]
    assert [g["grant_id"] for g in grants] == [negotiation.json()["grant"]]
    taken = secured.post("/grants/uses", json={"grant_id": grants[0]["grant_id"]}, headers=token("context:read"))
    assert taken.status_code == 403


def publish_dataset_with(http: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    created = http.post("/datasets", json=dataset_example(), headers=headers)
    assert created.status_code == 201, created.text
    return created.headers["location"].rsplit("/", 1)[1], created.headers["location"]


def test_what_no_store_can_keep_is_refused_with_400_not_a_server_error(market):
    dataset_id, iri = publish_dataset(market)
    for path in ("/negotiations/%00", "/agreements/%00", "/offers/%00", "/grants?client_id=%00", "/usage?dataset=%00"):
        refused = market.get(path, headers=PROVIDER)
        assert refused.status_code == 400 and "NUL" in refused.json()["detail"], path
    nul = market.post(f"/datasets/{dataset_id}/offers", json=offer_document(iri, uid="urn:a\u0000"), headers=PROVIDER)
    assert nul.status_code == 400 and nul.json()["errors"][0]["pointer"] == "/uid"
    huge = offer_document(iri, constraint("count", "lteq", 2**40))
    refused = market.post(f"/datasets/{dataset_id}/offers", json=huge, headers=PROVIDER)
    assert refused.status_code == 400 and refused.json()["errors"][0]["pointer"] == "/permission/0/constraint/0/rightOperand"
    assert take(market, "urn:uuid:x", 2**40).status_code == 400
    offer = offered(market)
    long_client = market.post("/negotiations/request", json={"offer": offer}, headers=consumer("c" * 129))
    assert long_client.status_code == 403
