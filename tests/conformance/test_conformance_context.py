"""The context checks against our NGSI-LD broker served over real HTTP: all pass; and against
broken variants (a broker that ignores q, one that answers 201 to a duplicate create): the named
check fails."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.serving import uvicorn_served
from conformance.registry import select
from conformance.runner import Report, run
from conformance.session import Target
from mims.context.service import create_app
from tests.serving import free_port, served

ENTITIES = b"/ngsi-ld/v1/entities"


def _run(url: str, only: str | None = None) -> Report:
    return asyncio.run(run(Target("context", url, profile="mim"), select("context", "mim", only)))


def _failures(report: Report) -> list[str]:
    return [f"{r.check.id}: {r.status}: {r.message}" for r in report.results if r.status in ("failed", "error")]


@pytest.fixture(scope="module")
def broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    environment = {"OUP_DATA_DIR": str(tmp_path_factory.mktemp("context")), "OUP_JSONLD_REMOTE": "false",
                   "OUP_CONTEXT_NOTIFICATION_POLL_INTERVAL": "0.1", "OUP_LOG_LEVEL": "WARNING"}
    with uvicorn_served("mims.context.service:create_app", port, environment):
        yield f"http://127.0.0.1:{port}"


def test_reference_broker_passes_every_context_check(broker_url: str) -> None:
    report = _run(broker_url)
    failures = _failures(report)
    print("\n".join(failures))
    assert not failures, failures
    ids = {r.check.id for r in report.results}
    assert {"context.query.q", "context.query.geo", "context.subscriptions.notification",
            "context.ppi.entity_examples_refused", "context.wellknown.mim"} <= ids
    assert all(r.status == "passed" for r in report.results), [(r.check.id, r.status) for r in report.results]
    assert report.certifiable
    sampler = next(r for r in report.results if r.check.id == "context.entities.create")
    assert any("not a replacement for the ETSI" in note for note in sampler.notes)


def test_reruns_against_the_same_broker_pass(broker_url: str) -> None:
    """Checks make unique data and clean up, so a second run (entities created anew) still passes."""
    report = _run(broker_url, "context.ppi.*")
    assert not _failures(report), _failures(report)


def _ignoring_q(app: Any) -> Any:
    """A broker that drops ``q`` from the query string: it answers queries unfiltered."""

    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/ngsi-ld/v1/entities"):
            kept = [part for part in scope["query_string"].split(b"&") if not part.startswith(b"q=")]
            scope = {**scope, "query_string": b"&".join(kept)}
        await app(scope, receive, send)

    return broken


def _duplicate_created(app: Any) -> Any:
    """A broker that answers 201 Created to a create of an entity that already exists."""

    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == ENTITIES.decode()):
            await app(scope, receive, send)
            return
        conflict = False

        async def rewritten(message: dict[str, Any]) -> None:
            nonlocal conflict
            if message["type"] == "http.response.start" and message["status"] == 409:
                conflict = True
                await send({"type": "http.response.start", "status": 201,
                            "headers": [(b"location", ENTITIES + b"/urn:ngsi-ld:Accepted:duplicate")]})
            elif message["type"] == "http.response.body" and conflict:
                await send({"type": "http.response.body", "body": b""})
            else:
                await send(message)

        await app(scope, receive, rewritten)

    return broken


@pytest.mark.parametrize(("mutate", "check_id"), [(_ignoring_q, "context.query.q"),
                                                  (_duplicate_created, "context.entities.duplicate")])
def test_broken_broker_fails_the_named_check(tmp_path: Path, mutate: Any, check_id: str) -> None:
    app = create_app(data_dir=tmp_path, jsonld_remote=False, log_level="WARNING")
    with served(mutate(app), free_port()) as url:
        report = _run(url, check_id)
    [result] = report.results
    print(result.message)
    assert result.check.id == check_id and result.status == "failed", (result.status, result.message)
    assert not report.certifiable
