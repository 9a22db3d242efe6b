"""The marketplace checks: our marketplace MIM, served over real HTTP with token checks against
our identity MIM (a publisher and a consumer client), passes every must-check of profile ``mim``;
broken variants (a wrapper that lets a negotiation jump from REQUESTED to FINALIZED, one that drops
the datasets' titles from the catalogue, one whose grants outlive their agreement) fail the named check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib import namespace

from conformance.registry import select
from conformance.runner import Report, run
from conformance.session import Target
from mims.identity.bootstrap import identity_storage
from mims.identity.clients import register_client
from mims.identity.service import SPEC as IDENTITY
from mims.identity.service import create_app as create_identity
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore
from mims.marketplace.service import create_app as create_marketplace
from tests.serving import free_port, served

SCOPES = (*PLATFORM_SCOPES, "marketplace:grants")
"""The identity MIM does not issue ``marketplace:grants`` by default (the gateway calls those routes
with its own identity); here it does, so the grant check can read grants with a real token."""
Clients = dict[str, tuple[str, str]]


async def _register(data_dir: Path, issuer: str) -> Clients:
    settings = IDENTITY.settings(data_dir=data_dir, issuer=issuer, scopes=SCOPES)
    clients = {}
    async with identity_storage(settings) as engine:
        for name, scopes in (("publisher", ["marketplace:publish", "marketplace:grants"]),
                             ("consumer", ["marketplace:consume"])):
            registration = await register_client(SqlClientStore(engine), name=f"conformance {name}", scopes=scopes,
                                                 platform_scopes=settings.scopes)
            assert registration.client_secret is not None
            clients[name] = (registration.client.client_id, registration.client_secret)
    return clients


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Clients]]:
    """Our identity MIM on a loopback port, with a publisher and a consumer client."""
    data_dir = tmp_path_factory.mktemp("identity")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clients = asyncio.run(_register(data_dir, url))
    with served(create_identity(data_dir=data_dir, issuer=url, scopes=SCOPES), port) as base:
        yield base, clients


def _marketplace(data_dir: Path, identity_url: str) -> Any:
    return create_marketplace(data_dir=data_dir, auth="required", jwks_url=f"{identity_url}/jwks",
                              issuers=[identity_url])


@pytest.fixture(scope="module")
def marketplace(identity: tuple[str, Clients], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(_marketplace(tmp_path_factory.mktemp("marketplace"), identity[0]), free_port()) as base:
        yield base


def _target(url: str, identity: tuple[str, Clients], profile: str = "mim") -> Target:
    identity_url, clients = identity
    (publisher_id, publisher_secret), (consumer_id, consumer_secret) = clients["publisher"], clients["consumer"]
    return Target(mim="marketplace", url=url, profile=profile, client_id=publisher_id, client_secret=publisher_secret,
                  token_url=f"{identity_url}/token",
                  options={"consumer_client_id": consumer_id, "consumer_client_secret": consumer_secret})


def _failures(report: Report) -> str:
    return "\n".join(f"{r.check.id} [{r.status}] {r.message}" for r in report.results
                     if r.status in ("failed", "error", "skipped"))


async def test_our_marketplace_passes_every_check(marketplace, identity):
    report = await run(_target(marketplace, identity), select(mim="marketplace", profile="mim"))
    assert report.counts()["must_failed"] == 0 and report.certifiable, _failures(report)
    statuses = {r.check.id: r.status for r in report.results}
    assert all(status == "passed" for status in statuses.values()), _failures(report)
    assert len(statuses) == 12 and "marketplace.grants.withdrawn_after_termination" in statuses


async def test_a_rerun_against_the_same_marketplace_passes_again(marketplace, identity):
    """Test data is unique per run: offer uids and titles do not collide with the previous run's."""
    report = await run(_target(marketplace, identity), select(mim="marketplace", only="marketplace.ppi.*"))
    assert [r.status for r in report.results] == ["passed"] * 4, _failures(report)


async def test_without_a_consumer_the_contract_checks_are_skipped_with_the_reason(marketplace, identity):
    target = _target(marketplace, identity)
    alone = Target(mim=target.mim, url=target.url, client_id=target.client_id, client_secret=target.client_secret,
                   token_url=target.token_url)
    report = await run(alone, select(mim="marketplace", only="marketplace.dsp.legal_transitions"))
    assert report.results[0].status == "skipped"
    assert "consumer_client_id" in report.results[0].message


class _JumpToFinalized:
    """A marketplace that answers 200 FINALIZED to any FINALIZED event, whatever the state, without
    asking the real app: the mutant of a broken DSP state machine."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/events"):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        payload = b"".join(chunks)
        if b"FINALIZED" in payload:
            pid = scope["path"].split("/")[2]
            answer = json.dumps({"@type": "dspace:ContractNegotiation", "providerPid": pid, "state": "FINALIZED"})
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": answer.encode()})
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": payload, "more_body": False}

        await self.app(scope, replay, send)


class _GrantOutlivesTermination:
    """A marketplace that answers an agreement's termination with a terminated agreement but never
    ends it: its grant stays active."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].endswith("/termination") \
                and scope["path"].startswith("/agreements/"):
            answer = json.dumps({"uid": scope["path"].split("/")[2], "status": "terminated"}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": answer})
            return
        await self.app(scope, receive, send)


class _UntitledCatalogue:
    """A marketplace whose Turtle catalogue leaves out every dataset's dct:title (mandatory in DCAT-AP)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/catalog":
            await self.app(scope, receive, send)
            return
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        content = b"".join(chunks)
        if b"@prefix" in content:
            graph = rdflib.Graph().parse(data=content.decode(), format="turtle")
            for dataset in list(graph.subjects(namespace.RDF.type, namespace.DCAT.Dataset)):
                graph.remove((dataset, namespace.DCTERMS.title, None))
            content = graph.serialize(format="turtle").encode()
        headers = [(k, v) for k, v in started["headers"] if k.lower() != b"content-length"]
        await send({**started, "headers": [*headers, (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})


@pytest.mark.parametrize(("mutant", "killed_by"), [
    (_JumpToFinalized, "marketplace.dsp.illegal_transitions"),
    (_UntitledCatalogue, "marketplace.catalogue.dcat_ap_shacl"),
    (_GrantOutlivesTermination, "marketplace.grants.withdrawn_after_termination"),
])
async def test_a_broken_marketplace_fails_the_named_check(mutant, killed_by, identity, tmp_path):
    with served(mutant(_marketplace(tmp_path, identity[0])), free_port()) as url:
        report = await run(_target(url, identity), select(mim="marketplace", only=killed_by))
    assert [r.status for r in report.results] == ["failed"], _failures(report)
    print(f"{killed_by}: {report.results[0].message}")
