"""The gateway checks of the conformance suite against real services: identity, context and
gateway MIMs over HTTP, with a peer city that answers and one that is down. Every must-check
passes against our gateway; a proxy that forwards without looking at tokens fails them by name."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from joserfc import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conformance.checks.gateway_support import claims_of
from conformance.registry import select
from conformance.runner import Report, run
from conformance.session import Target
from gateway.service import create_app as create_gateway
from mims.context.service import create_app as create_context
from mims.identity.clients import register_client
from mims.identity.keys import SigningKey, generate_signing_key
from mims.identity.service import SPEC as IDENTITY
from mims.identity.service import create_app as create_identity
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore
from mims.kit import storage
from tests.serving import closed_port, free_port, served

CITY = "conformance-city"
CLIENTS = {"suite": ["context:read", "context:write"], "no-read": ["marketplace:consume"]}


@dataclass
class City:
    gateway: str
    identity: str
    context: str
    secrets: dict[str, str]
    key: SigningKey

    def options(self) -> dict[str, str]:
        return {"wrong_scope_client_id": "no-read", "wrong_scope_client_secret": self.secrets["no-read"],
                "expired_token": self.expired_token(), "down_peer": "down-city"}

    def expired_token(self) -> str:
        """A genuine token of the city's issuer, re-signed with its own key as expired 2 minutes ago
        (beyond any clock-skew leeway)."""
        answer = httpx.post(self.identity + "/token", data={"grant_type": "client_credentials"},
                            auth=("suite", self.secrets["suite"]), timeout=10)
        assert answer.status_code == 200, answer.text
        now = int(time.time())
        claims = {**claims_of(answer.json()["access_token"]), "iat": now - 420, "exp": now - 120,
                  "jti": uuid.uuid4().hex}
        header = {"alg": self.key.alg, "typ": "at+jwt", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key.jwk(), algorithms=[self.key.alg])

    def target(self, url: str | None = None, token_url: str = "/identity/token") -> Target:
        return Target(mim="gateway", url=url or self.gateway, profile="mim", client_id="suite",
                      client_secret=self.secrets["suite"], token_url=token_url, options=self.options())


async def _prepare_identity(database_url: str) -> tuple[dict[str, str], SigningKey]:
    """The clients' secrets and the signing key, stored before the identity MIM starts (it signs
    with the key it finds), so the test can sign an expired token as the real issuer."""
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, IDENTITY.name, IDENTITY.migrations)
        secrets = {}
        for client_id, scopes in CLIENTS.items():
            registration = await register_client(SqlClientStore(engine), name=client_id, scopes=scopes,
                                                 platform_scopes=PLATFORM_SCOPES, client_id=client_id)
            assert registration.client_secret is not None
            secrets[client_id] = registration.client_secret
        key = generate_signing_key()
        await SqlSigningKeyStore(engine).add(key)
        return secrets, key
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    folder: Path = tmp_path_factory.mktemp("conformance-gateway")
    identity_database = storage.default_database_url("identity", folder / "identity")
    secrets, key = asyncio.run(_prepare_identity(identity_database))
    identity_port = free_port()
    identity_url = f"http://127.0.0.1:{identity_port}"
    with ExitStack() as stack:
        stack.enter_context(served(create_identity(
            data_dir=folder / "identity", database_url=identity_database, issuer=identity_url), identity_port))
        context_url = stack.enter_context(served(
            create_context(data_dir=folder / "context", jsonld_remote=False), free_port()))
        peer_url = stack.enter_context(served(
            create_context(data_dir=folder / "peer", jsonld_remote=False), free_port()))
        down_url = f"http://127.0.0.1:{stack.enter_context(closed_port())}"
        peers = [{"name": "up-city", "base_url": peer_url, "issuer": "http://127.0.0.1:9/up", "timeout": 5},
                 {"name": "down-city", "base_url": down_url, "issuer": "http://127.0.0.1:9/down", "timeout": 5}]
        (folder / "peers.json").write_bytes(orjson.dumps(peers))
        gateway_url = stack.enter_context(served(create_gateway(
            data_dir=folder / "gateway", identity_url=identity_url, context_url=context_url, city=CITY,
            peers_file=folder / "peers.json", rate_limit=None, peer_failure_threshold=100), free_port()))
        yield City(gateway_url, identity_url, context_url, secrets, key)


def forwarding_proxy(upstream: str) -> Starlette:
    """A broken gateway: forwards every request to ``upstream`` without looking at the token."""
    client = httpx.AsyncClient(base_url=upstream, timeout=10)

    async def forward(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = await client.request(request.method, request.url.path, params=request.url.query,
                                      content=await request.body(), headers=headers)
        passed = {k: v for k, v in answer.headers.items()
                  if k.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection")}
        return Response(answer.content, status_code=answer.status_code, headers=passed)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


def outcome(report: Report) -> dict[str, str]:
    for result in report.results:
        print(f"{result.status:8} {result.check.severity:6} {result.check.id}: {result.message} {result.notes}")
    return {result.check.id: result.status for result in report.results}


def test_our_gateway_passes_every_gateway_check(city: City) -> None:
    checks = select(mim="gateway", profile="mim")
    report = asyncio.run(run(city.target(), checks))
    statuses = outcome(report)
    failed = {cid: s for cid, s in statuses.items() if s != "passed"}
    assert not failed, failed
    assert report.certifiable
    assert {"gateway.pep.no-token", "gateway.pep.wrong-scope", "gateway.pep.expired-token",
            "gateway.region.partial-failure"} <= set(statuses)


def test_a_gateway_that_forwards_without_checking_tokens_fails_the_refusal_checks(city: City) -> None:
    with served(forwarding_proxy(city.context), free_port()) as proxy:
        target = city.target(proxy, token_url=city.identity + "/token")
        report = asyncio.run(run(replace(target, options={**target.options, "issuer": city.identity}),
                                 select(mim="gateway", only="gateway.pep.*")))
    statuses = outcome(report)
    for check_id in ("gateway.pep.no-token", "gateway.pep.wrong-scope", "gateway.pep.expired-token",
                     "gateway.pep.untrusted-issuer", "gateway.pep.forged-signature", "gateway.pep.alg-none",
                     "gateway.pep.refusals-are-problems"):
        assert statuses[check_id] == "failed", (check_id, statuses[check_id])
    assert statuses["gateway.pep.admits-valid-token"] == "passed"
    assert not report.certifiable


def test_a_gateway_that_skips_ppi_validation_fails_the_ppi_check(city: City) -> None:
    """The context MIM behind a plain proxy refuses some invalid entities itself, but not with the
    PPI's problems (or not at all): the gateway's own validation is what the check asks for."""
    with served(forwarding_proxy(city.context), free_port()) as proxy:
        report = asyncio.run(run(city.target(proxy, token_url=city.identity + "/token"),
                                 select(mim="gateway", only="gateway.ppi.*")))
    statuses = outcome(report)
    assert statuses["gateway.ppi.invalid-refused"] == "failed"
    assert statuses["gateway.ppi.valid-forwarded"] == "passed"


def test_a_region_answer_hiding_the_failed_peer_fails(city: City) -> None:
    """A gateway whose region answer drops OUP-Region-Failed: the down peer goes unreported."""
    upstream = httpx.AsyncClient(base_url=city.gateway, timeout=10)

    async def hiding(request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = await upstream.request(request.method, request.url.path, params=request.url.query,
                                        content=await request.body(), headers=headers)
        passed: dict[str, Any] = {k: v for k, v in answer.headers.items() if k.lower() not in (
            "content-length", "content-encoding", "transfer-encoding", "connection", "oup-region-failed")}
        return Response(answer.content, status_code=answer.status_code, headers=passed)

    app = Starlette(routes=[Route("/{path:path}", hiding, methods=["GET", "POST", "DELETE"])])
    with served(app, free_port()) as proxy:
        told = city.target(proxy)
        untold = replace(told, options={k: v for k, v in told.options.items() if k != "down_peer"})
        for target in (told, untold):  # the peer lost from both headers is found without being named too
            statuses = outcome(asyncio.run(run(target, select(mim="gateway", only="gateway.region.*"))))
            assert statuses["gateway.region.partial-failure"] == "failed"
            assert statuses["gateway.region.status"] == "passed"


def test_checks_needing_a_token_the_operator_did_not_give_are_skipped_saying_what_to_give(city: City) -> None:
    target = replace(city.target(), options={})
    report = asyncio.run(run(target, select(mim="gateway", only="gateway.pep.*")))
    results = {result.check.id: result for result in report.results}
    outcome(report)
    assert results["gateway.pep.expired-token"].status == "skipped"
    assert "--option expired_token=" in results["gateway.pep.expired-token"].message
    assert results["gateway.pep.wrong-scope"].status == "skipped"
    assert "wrong_scope_client_id" in results["gateway.pep.wrong-scope"].message
    assert results["gateway.pep.no-token"].status == "passed"
