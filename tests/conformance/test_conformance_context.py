"""The context checks against our NGSI-LD broker served by uvicorn in its own process, as it runs
in production: all pass, the sampler says it is not the ETSI suite, and reruns against the same
broker pass. (Broken brokers: ``test_conformance_mutants``.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bench.serving import uvicorn_served
from conformance.registry import select
from conformance.runner import Report, run
from conformance.session import Target
from tests.serving import free_port

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
