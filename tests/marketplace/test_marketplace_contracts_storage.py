"""Contracts on both engines: the whole negotiation path through the SQL store, concurrent moves
decided once, and uses taken atomically (never below zero however many gateways take at once)."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime

import pytest

import ppi_schemas
from mims.kit.problems import ProblemError
from mims.marketplace.catalogue_storage import SqlDatasetStore
from mims.marketplace.contracts import Contracts, Party
from mims.marketplace.contracts_storage import SqlContractStore
from mims.marketplace.dcat import Catalogue
from mims.marketplace.dsp import IllegalTransition, State
from mims.marketplace.rdf import Site
from tests.marketplace.test_marketplace_contracts_api import (
    COUNT_3,
    FOR_RESEARCH,
    RESEARCH,
    offer_document,
)

SITE = Site("https://data.rotterdam.example/marketplace", "https://api.rotterdam.example")
PROVIDER = Party("rotterdam-portal", provider=True)
BOUWAPP = Party("bouwapp")
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


async def contracts_with_offer(engine, *constraints) -> tuple[Contracts, SqlContractStore, str]:
    """Contracts on ``engine``, and the uid of an offer with ``constraints`` on a buildings dataset."""
    catalogue = Catalogue(SqlDatasetStore(engine))
    example = {e.name: e.payload for e in ppi_schemas.get("dcat-dataset@1").examples_valid}
    dataset = await catalogue.publish(copy.deepcopy(example["rotterdam-buildings-digital-twin"]))
    store = SqlContractStore(engine)
    contracts = Contracts(store, catalogue, SITE.dataset_iri, lambda: NOW)
    document = offer_document(SITE.dataset_iri(dataset.id), *constraints)
    await contracts.publish_offer(dataset.id, document)
    return contracts, store, document["uid"]


async def test_full_negotiation_path_is_stored(engine):
    contracts, store, offer = await contracts_with_offer(engine, FOR_RESEARCH, COUNT_3)
    negotiation = await contracts.request(BOUWAPP, {"offer": offer, "purpose": RESEARCH})
    pid = negotiation.provider_pid
    await contracts.agree(PROVIDER, pid)
    await contracts.verify(BOUWAPP, pid)
    done = await contracts.event(PROVIDER, pid, {"eventType": "FINALIZED"})
    stored = await store.negotiation(pid)
    assert stored == done and stored.state is State.FINALIZED
    assert [event.state for event in stored.history] == [State.REQUESTED, State.AGREED, State.VERIFIED, State.FINALIZED]
    agreement = await store.agreement(done.agreement)
    assert agreement.consumer == "bouwapp" and agreement.created == NOW and agreement.terminated is None
    grant = await store.grant(done.grant)
    assert grant.remaining == 3 and grant.uses == 0 and grant.agreement == agreement.uid
    assert ppi_schemas.validate(grant.to_ppi(), "access-grant@1.0.0") == []
    assert [g.grant_id for g in await contracts.active_grants("bouwapp")] == [grant.grant_id]
    assert await store.negotiations("luchtmeter") == [] and len(await store.negotiations(None)) == 1


async def test_concurrent_moves_are_decided_once(engine):
    contracts, store, offer = await contracts_with_offer(engine, FOR_RESEARCH)
    pid = (await contracts.request(BOUWAPP, {"offer": offer, "purpose": RESEARCH})).provider_pid
    results = await asyncio.gather(*(contracts.agree(PROVIDER, pid) for _ in range(4)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, IllegalTransition) and r.current is State.AGREED for r in results if r not in winners)
    assert len(await store.agreements(None)) == 1
    assert (await store.negotiation(pid)).agreement == winners[0].agreement


async def test_concurrent_takes_never_go_below_zero(engine):
    contracts, store, offer = await contracts_with_offer(engine, constraint_count(5))
    negotiation = await contracts.request(BOUWAPP, {"offer": offer})
    pid = negotiation.provider_pid
    await contracts.agree(PROVIDER, pid)
    await contracts.verify(BOUWAPP, pid)
    grant_id = (await contracts.event(PROVIDER, pid, {"eventType": "FINALIZED"})).grant

    async def take() -> int | None:
        try:
            return (await contracts.take_uses({"grant_id": grant_id, "uses": 1}))[1]
        except ProblemError as refused:
            assert refused.status == 403 and refused.extensions["reason"] == "exhausted"
            return None

    results = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(r for r in results if r is not None) == [0, 1, 2, 3, 4]
    grant = await store.grant(grant_id)
    assert grant.remaining == 0 and grant.uses == 5


async def test_withdrawn_grant_gives_no_uses(engine):
    contracts, store, offer = await contracts_with_offer(engine)
    negotiation = await contracts.request(BOUWAPP, {"offer": offer})
    assert negotiation.state is State.FINALIZED
    assert await store.terminate_agreement(negotiation.agreement, NOW, "ended")
    assert not await store.terminate_agreement(negotiation.agreement, NOW, "again")
    assert await store.take_uses(negotiation.grant, 1) == (False, None)
    assert await store.grants("bouwapp") == []
    with pytest.raises(ProblemError) as refused:
        await contracts.take_uses({"grant_id": negotiation.grant})
    assert refused.value.extensions["reason"] == "withdrawn"


def constraint_count(n: int) -> dict:
    return {"leftOperand": "count", "operator": "lteq", "rightOperand": n}
