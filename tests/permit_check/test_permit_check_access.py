"""Who reads which checks, over HTTP: a submitter its own (list, decision, report, site), a reviewer
(permit:review) every check, and another's check is 404 as if it did not exist. Both ways a caller
is known: the permit check verifying tokens itself, and behind the gateway (auth off, the caller in
``X-OUP-*`` headers). And in storage, on SQLite and PostgreSQL: checks stored before submitters
were kept are for reviewers only."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from joserfc import jwt
from joserfc.jwk import KeySet

from mims.context.service import create_app as create_context
from mims.kit import storage
from mims.kit.auth import TokenVerifier
from mims.kit.storage import _alembic_config
from mims.permit_check.checks_storage import (
    EVERYONE,
    SqlCheckStore,
    Submitter,
    decisions,
)
from mims.permit_check.service import SPEC
from mims.permit_check.service import create_app as create_permit_check
from tests.permit_check.test_permit_check_api import ISSUER, KEY, plan, problem, publish
from tests.serving import free_port, served

READS = ("", ".html", "/site")


def bearer(sub: str, scope: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "permit-check", "sub": sub, "client_id": "demo-portal", "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    token = jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])
    return {"Authorization": f"Bearer {token}"}


def behind_gateway(sub: str, scope: str) -> dict[str, str]:
    return {"X-OUP-Client-Id": "demo-portal", "X-OUP-Subject": sub, "X-OUP-Issuer": ISSUER, "X-OUP-Scope": scope}


@pytest.fixture(scope="module")
def context_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(create_context(data_dir=tmp_path_factory.mktemp("context")), free_port()) as url:
        asyncio.run(publish(url))
        yield url


def submit(base: str, headers: dict[str, str]) -> str:
    answer = httpx.post(f"{base}/v1/checks", json=plan(), headers=headers, timeout=60)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def listed(base: str, headers: dict[str, str]) -> tuple[int, set[str]]:
    answer = httpx.get(f"{base}/v1/checks", params={"limit": 100}, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["total"], {item["id"] for item in answer.json()["items"]}


def readable(base: str, check_id: str, headers: dict[str, str]) -> bool:
    """Whether decision, report and site all answer 200; all 404 (problem+json) otherwise."""
    statuses = [httpx.get(f"{base}/v1/checks/{check_id}{read}", headers=headers, timeout=10).status_code
                for read in READS]
    assert len(set(statuses)) == 1, statuses
    if statuses[0] == 404:
        refused = problem(httpx.get(f"{base}/v1/checks/{check_id}", headers=headers, timeout=10), 404)
        assert refused["detail"] == f"There is no check {check_id!r}."  # the same as for no check at all
    return statuses[0] == 200


def test_with_tokens_each_submitter_reads_only_their_own_checks_and_a_reviewer_all(
        tmp_path: Path, context_url: str) -> None:
    app = create_permit_check(data_dir=tmp_path, context_url=context_url, auth="required", issuers=[ISSUER],
                              jwks_url=ISSUER + "/jwks")
    app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=None)
    alice, bob = bearer("alice", "permit:submit"), bearer("bob", "permit:submit")
    officer = bearer("officer", "context:read permit:review")
    with served(app, free_port()) as url:
        mine, theirs = submit(url, alice), submit(url, bob)
        batch = httpx.post(f"{url}/v1/checks/batch", json={"plans": [plan(), plan(height=20.0)]}, headers=bob,
                           timeout=60)
        assert batch.status_code == 201, batch.text
        bobs = {theirs, *(d["id"] for d in batch.json()["decisions"])}
        assert listed(url, alice) == (1, {mine}) and listed(url, bob) == (3, bobs)
        assert readable(url, mine, alice) and not readable(url, mine, bob)
        assert all(readable(url, check, bob) and not readable(url, check, alice) for check in bobs)
        assert listed(url, officer) == (4, {mine, *bobs})
        assert readable(url, mine, officer) and readable(url, theirs, officer)
        assert httpx.post(f"{url}/v1/checks", json=plan(), headers=officer, timeout=10).status_code == 403
        refused = problem(httpx.get(f"{url}/v1/checks", headers=bearer("alice", "context:read"), timeout=10), 403)
        assert "permit:review" in refused["detail"]
        problem(httpx.get(f"{url}/v1/checks/{mine}/site", headers=bearer("alice", "context:read"), timeout=10), 403)
        problem(httpx.get(f"{url}/v1/checks/{mine}", timeout=10), 401)
        problem(httpx.get(f"{url}/v1/checks", timeout=10), 401)


def test_behind_the_gateway_the_caller_it_names_reads_only_their_own_checks(
        tmp_path: Path, context_url: str) -> None:
    with served(create_permit_check(data_dir=tmp_path, context_url=context_url), free_port()) as url:
        mine = submit(url, behind_gateway("alice", "permit:submit"))
        theirs = submit(url, behind_gateway("bob", "permit:submit"))
        assert listed(url, behind_gateway("alice", "permit:submit")) == (1, {mine})
        assert not readable(url, theirs, behind_gateway("alice", "permit:submit"))
        # the same subject at another issuer is someone else
        assert not readable(url, mine, {**behind_gateway("alice", "permit:submit"), "X-OUP-Issuer": "https://other"})
        assert listed(url, behind_gateway("officer", "permit:review")) == (2, {mine, theirs})
        # nobody named: a MIM run on its own (auth off, not behind the gateway) answers everything
        assert listed(url, {}) == (2, {mine, theirs}) and readable(url, theirs, {})


async def test_checks_stored_before_submitters_were_kept_are_for_reviewers_only(database_url: str) -> None:
    engine = storage.create_engine(database_url)
    decision = {"verdict": "compliant", "ruleSet": {"municipality": "default", "version": "1"}}
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)

        def to_0001(connection: sa.Connection) -> None:
            config = _alembic_config(SPEC.name, SPEC.migrations)
            config.attributes["connection"] = connection
            command.downgrade(config, "permit_check_0001")

        async with engine.connect() as connection:
            await connection.run_sync(to_0001)
            await connection.execute(sa.insert(decisions).values(  # the columns of permit_check_0001 only
                id="0" * 32, municipality="default", verdict="compliant", checked_at=datetime.now(UTC),
                decision={**decision, "id": "0" * 32}, site={}))
            await connection.commit()
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        store = SqlCheckStore(engine)
        alice = Submitter("alice", ISSUER)
        await store.add("a" * 32, datetime.now(UTC), {**decision, "id": "a" * 32}, {}, alice)
        await store.add_many([("b" * 32, datetime.now(UTC), {**decision, "id": "b" * 32}, {})],
                             Submitter("alice", "https://other"))
        assert await store.get("0" * 32, alice) is None and await store.get("0" * 32, EVERYONE) is not None
        assert await store.get("b" * 32, alice) is None and await store.get("a" * 32, alice) is not None
        total, page = await store.page(10, 0, alice)
        assert total == 1 and [c.id for c in page] == ["a" * 32]
        total, page = await store.page(10, 0, EVERYONE)
        assert total == 3 and [c.id for c in page] == ["b" * 32, "a" * 32, "0" * 32]
    finally:
        await engine.dispose()
