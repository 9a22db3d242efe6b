"""Marketplace contracts: Dataspace Protocol negotiation (legal and illegal transitions), ODRL
offer validity and the withdrawal of an access grant once its agreement is terminated.

The negotiation routes are the provider side of the DSP 2024-1 HTTPS binding as the marketplace
serves both parties' messages: ``POST /negotiations/request`` starts one, then
``/negotiations/{providerPid}/{offers|request|agreement|agreement/verification|events|termination}``.
Every check works on its own dataset and offer (unique per run) and withdraws the dataset after.
"""

from __future__ import annotations

from typing import Any

from conformance.checks.common import body, conforms, problem
from conformance.checks.marketplace_parties import (
    GRANT_PPI,
    OFFER_PPI,
    RESEARCH,
    consumer,
    grants_party,
    offer_document,
    provider_pid,
    publish_dataset,
    publish_offer,
    publisher,
    state,
    unique_urn,
    withdraw_dataset,
)
from conformance.registry import check
from conformance.session import Session

DSP = "Dataspace Protocol 2024-1, Contract Negotiation Protocol §1.2 (state machine) and §2 (messages)"


async def _start(session: Session, dataset_id: str, dataset_iri: str) -> str:
    """A consumer's Contract Request Message on a fresh constrained offer: REQUESTED; its providerPid."""
    offer = offer_document(dataset_iri)
    await publish_offer(session, dataset_id, offer)
    answer = await session.http.post("/negotiations/request", headers=await consumer(session),
                                     json={"offer": offer["uid"], "consumerPid": unique_urn(), "purpose": RESEARCH})
    session.expect(answer.status_code == 201, f"the consumer's Contract Request Message (POST /negotiations/request) "
                   f"answered {answer.status_code}, expected 201: {answer.text[:300]!r}")
    document = body(answer)
    session.expect(state(document) == "REQUESTED", f"a new negotiation on an offer with constraints should be "
                   f"REQUESTED, it is {state(document) or 'without a state'}")
    pid = provider_pid(document)
    session.expect(pid, "the new negotiation has no providerPid")
    return pid


async def _move(session: Session, pid: str, path: str, headers: dict[str, str], expected: str,
                message: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = await session.http.post(f"/negotiations/{pid}/{path}", json=message or {}, headers=headers)
    what = f"POST /negotiations/{{pid}}/{path} {message or ''}".strip()
    session.expect(answer.status_code in (200, 201), f"{what} should move the negotiation to {expected}; it answered "
                   f"{answer.status_code}: {answer.text[:300]!r}")
    document = body(answer)
    session.expect(state(document) == expected, f"{what} should move the negotiation to {expected}; it is "
                   f"{state(document) or 'without a state'}")
    return document


async def _refused(session: Session, pid: str, path: str, headers: dict[str, str], still: str, why: str,
                   message: dict[str, Any] | None = None) -> None:
    """The move is refused with a 4xx problem and the negotiation stays in ``still``."""
    answer = await session.http.post(f"/negotiations/{pid}/{path}", json=message or {}, headers=headers)
    problem(session, answer, range(400, 500), f"{why} (POST /negotiations/{{pid}}/{path} {message or ''})")
    now = await session.http.get(f"/negotiations/{pid}", headers=headers)
    session.expect(now.status_code == 200 and state(body(now)) == still, f"after the refused move ({why}) the "
                   f"negotiation should still be {still}; GET answered {now.status_code} {now.text[:200]!r}")


async def finalized_negotiation(session: Session, dataset_id: str, dataset_iri: str) -> dict[str, Any]:
    """REQUESTED -> AGREED (provider) -> VERIFIED (consumer) -> FINALIZED (provider)."""
    pid = await _start(session, dataset_id, dataset_iri)
    provider, buyer = await publisher(session), await consumer(session)
    await _move(session, pid, "agreement", provider, "AGREED")
    await _move(session, pid, "agreement/verification", buyer, "VERIFIED")
    return await _move(session, pid, "events", provider, "FINALIZED", {"eventType": "FINALIZED"})


async def granted_agreement(session: Session, reader: dict[str, str], dataset_id: str, dataset_iri: str
                            ) -> tuple[str, str, str]:
    """A finalized negotiation's agreement and access grant, and the client the grant is for."""
    finalized = await finalized_negotiation(session, dataset_id, dataset_iri)
    agreement, grant_id = finalized.get("agreement"), finalized.get("grant")
    session.expect(agreement and grant_id, "a finalized negotiation on a dataset with digital-twin data should "
                   f"name its agreement and access grant; got agreement {agreement!r}, grant {grant_id!r}")
    return str(agreement), str(grant_id), await active_grant_client(session, reader, str(grant_id))


@check("marketplace.dsp.legal_transitions", "A contract negotiation moves REQUESTED -> AGREED -> VERIFIED -> FINALIZED "
       "on the parties' messages", mim="marketplace", source=DSP)
async def legal_transitions(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)
    try:
        finalized = await finalized_negotiation(session, dataset_id, iri)
        session.expect(finalized.get("agreement"), "a FINALIZED negotiation names no agreement")
        seen = await session.http.get(f"/negotiations/{provider_pid(finalized)}", headers=await consumer(session))
        session.expect(seen.status_code == 200 and state(body(seen)) == "FINALIZED", "the consumer reading its "
                       f"finalized negotiation got {seen.status_code} {seen.text[:200]!r}")
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.dsp.counter_offer", "Counter-offers move a negotiation REQUESTED -> OFFERED -> REQUESTED -> "
       "OFFERED -> ACCEPTED -> AGREED", mim="marketplace", source=DSP)
async def counter_offer(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)
    try:
        pid = await _start(session, dataset_id, iri)
        provider, buyer = await publisher(session), await consumer(session)
        counter = offer_document(iri)
        counter["uid"] = unique_urn()
        await _move(session, pid, "offers", provider, "OFFERED", {"offer": counter})
        await _move(session, pid, "request", buyer, "REQUESTED", {"offer": counter})
        await _move(session, pid, "offers", provider, "OFFERED", {"offer": counter})
        await _move(session, pid, "events", buyer, "ACCEPTED", {"eventType": "ACCEPTED"})
        agreed = await _move(session, pid, "agreement", provider, "AGREED")
        session.expect(agreed.get("agreement"), "an AGREED negotiation names no agreement")
        await _move(session, pid, "termination", buyer, "TERMINATED", {"reason": "conformance test done"})
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.dsp.illegal_transitions", "Moves the state machine does not allow are refused with 4xx: "
       "REQUESTED -> FINALIZED, a party sending the other's message, anything after TERMINATED",
       mim="marketplace", source=DSP)
async def illegal_transitions(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)
    try:
        pid = await _start(session, dataset_id, iri)
        provider, buyer = await publisher(session), await consumer(session)
        await _refused(session, pid, "events", provider, "REQUESTED", "REQUESTED -> FINALIZED skips the agreement",
                       {"eventType": "FINALIZED"})
        await _refused(session, pid, "agreement/verification", buyer, "REQUESTED",
                       "REQUESTED -> VERIFIED: nothing is agreed yet")
        await _refused(session, pid, "agreement", buyer, "REQUESTED",
                       "the consumer sent the provider's Contract Agreement Message")
        await _move(session, pid, "termination", buyer, "TERMINATED", {"reason": "conformance test"})
        for path, headers, message in (("agreement", provider, None), ("events", provider, {"eventType": "FINALIZED"}),
                                       ("termination", provider, None)):
            await _refused(session, pid, path, headers, "TERMINATED", "TERMINATED is final", message)
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.odrl.offer_validity", "Published ODRL offers are served valid and unchanged; an invalid ODRL "
       "offer is refused with 4xx", mim="marketplace", source=f"ODRL 2.2 Information Model; PPI {OFFER_PPI}")
async def offer_validity(session: Session) -> None:
    iri, dataset_id = await publish_dataset(session)
    try:
        offer = offer_document(iri)
        location, echoed = await publish_offer(session, dataset_id, offer)
        conforms(session, echoed, OFFER_PPI, "the answer to POST /datasets/{id}/offers")
        listed = await session.http.get(f"/datasets/{dataset_id}/offers")
        session.expect(listed.status_code == 200, f"GET /datasets/{{id}}/offers answered {listed.status_code}")
        offers = body(listed).get("offers", []) if isinstance(body(listed), dict) else []
        mine = [one for one in offers if isinstance(one, dict) and one.get("uid") == offer["uid"]]
        session.expect(mine, f"the published offer {offer['uid']} is not listed at GET /datasets/{{id}}/offers")
        conforms(session, mine[0], OFFER_PPI, "the listed offer")
        session.expect(mine[0].get("target") == iri and mine[0].get("permission") == offer["permission"],
                       f"the listed offer is not the one published: {str(mine[0])[:300]}")
        if location:
            single = await session.http.get(location)
            session.expect(single.status_code == 200, f"GET {location} (the offer's Location) answered "
                           f"{single.status_code}")
            conforms(session, body(single), OFFER_PPI, f"GET {location}")
        broken = offer_document(iri)
        broken["permission"][0]["constraint"][0]["operator"] = "approximately"
        refused = await session.http.post(f"/datasets/{dataset_id}/offers", json=broken,
                                          headers=await publisher(session))
        problem(session, refused, range(400, 500), "an offer with the unknown ODRL operator 'approximately'")
    finally:
        await withdraw_dataset(session, dataset_id)


@check("marketplace.grants.withdrawn_after_termination", "Terminating an agreement withdraws its access grant: "
       "no longer active, no use taken from it", mim="marketplace", profile="mim",
       source=f"PPI {GRANT_PPI}; OUP marketplace (agreement termination)")
async def grant_withdrawn(session: Session) -> None:
    reader = await grants_party(session)
    iri, dataset_id = await publish_dataset(session)
    try:
        agreement, grant_id, client = await granted_agreement(session, reader, dataset_id, iri)
        ended = await session.http.post(f"/agreements/{agreement}/termination", headers=await consumer(session),
                                        json={"reason": "conformance test"})
        session.expect(ended.status_code == 200, f"the consumer terminating its agreement answered "
                       f"{ended.status_code}: {ended.text[:300]!r}")
        session.expect(body(ended).get("status") == "terminated", "the terminated agreement's status is "
                       f"{body(ended).get('status')!r}, expected 'terminated'")
        after = await session.http.get("/grants", params={"client_id": client}, headers=reader)
        session.expect(after.status_code == 200, f"GET /grants answered {after.status_code} after termination")
        for grant in body(after).get("grants", []):
            if grant.get("grant_id") == grant_id:
                conforms(session, grant, GRANT_PPI, "the terminated agreement's grant")
                session.expect(grant.get("status") == "withdrawn", "after the agreement was terminated its grant is "
                               f"still listed with status {grant.get('status')!r}, expected withdrawn or not listed")
        use = await session.http.post("/grants/uses", json={"grant_id": grant_id, "uses": 1}, headers=reader)
        session.expect(use.status_code == 403, f"taking a use from the withdrawn grant answered {use.status_code}, "
                       f"expected 403: {use.text[:300]!r}")
    finally:
        await withdraw_dataset(session, dataset_id)


async def active_grant_client(session: Session, reader: dict[str, str], grant_id: str) -> str:
    """The active grant as listed before termination (valid against its PPI); its client id."""
    listed = await session.http.get("/grants", headers=reader)
    if listed.status_code in (401, 403):
        session.needs(f"GET /grants answered {listed.status_code} with the credentials given for marketplace:grants: "
                      "give --option grants_token=... or a client that may request that scope")
    session.expect(listed.status_code == 200, f"GET /grants answered {listed.status_code}: {listed.text[:200]!r}")
    grants = [g for g in body(listed).get("grants", []) if isinstance(g, dict) and g.get("grant_id") == grant_id]
    session.expect(grants, f"the finalized negotiation's grant {grant_id} is not listed at GET /grants")
    conforms(session, grants[0], GRANT_PPI, "the new grant")
    session.expect(grants[0].get("status") == "active", f"the new grant's status is {grants[0].get('status')!r}")
    return str(grants[0].get("client_id"))
