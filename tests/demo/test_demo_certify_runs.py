"""How `oup demo certify` keeps its runs, without a platform: a stop or a MIM that never answered
keeps nothing and leaves the earlier runs as they were, and a run is replaced whole or not at all."""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conformance.model import Check, Exchange, Result
from conformance.runner import Report
from conformance.session import Target

# By module: `mims.cli` names its `demo` command group after the package.
certify = importlib.import_module("mims.cli.demo.certify")

CHECK = Check("identity.demo.answers", "The MIM answers", "identity", "mim", "must", "none", run=None)  # type: ignore[arg-type]
ANSWER = Exchange("GET", "http://x/", {}, "", 200, {}, "{}", 1.0)


def report(target: Target, *, answered: bool = True) -> Report:
    now = datetime.now(UTC)
    result = Result(CHECK, "passed" if answered else "failed", "" if answered else "the target did not answer",
                    evidence=[ANSWER] if answered else [])
    return Report(target, now, now, [result])


@pytest.fixture
def earlier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A platform's data folder whose earlier identity run is there; the platform itself stood in for."""
    monkeypatch.setattr(certify, "_identity", lambda gateway: (f"{gateway}/token", "http://127.0.0.1:8001"))
    monkeypatch.setattr(certify, "seeder_secret", lambda data_dir: "seeder secret")
    monkeypatch.setattr(certify, "demo_client_secret", lambda *args: "certifier secret")
    run = tmp_path / certify.FOLDER / certify.RUNS / "rotterdam-identity"
    run.mkdir(parents=True)
    (run / "report.json").write_text('{"earlier": true}')
    return tmp_path


def _unchanged(data_dir: Path) -> bool:
    runs = data_dir / certify.FOLDER / certify.RUNS
    return [p.name for p in runs.iterdir()] == ["rotterdam-identity"] and \
        (runs / "rotterdam-identity" / "report.json").read_text() == '{"earlier": true}'


def test_a_stop_ends_the_runs_at_once_and_keeps_nothing(earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def slow(target: Target, checks: object) -> Report:
        await asyncio.sleep(60)
        return report(target)

    monkeypatch.setattr(certify, "run_checks", slow)
    stop, outcome = threading.Event(), []

    def certifying() -> None:
        try:
            certify.certify("rotterdam", "http://127.0.0.1:8000", earlier, stop=stop)
        except certify.CertifyError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=certifying)
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert outcome and "stopped" in outcome[0]
    assert _unchanged(earlier)


def test_runs_of_a_mim_that_never_answered_are_not_kept(earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def unanswered(target: Target, checks: object) -> Report:
        return report(target, answered=target.mim != "permit-check")

    monkeypatch.setattr(certify, "run_checks", unanswered)
    with pytest.raises(certify.CertifyError, match="no answer from permit-check at http://127.0.0.1:8000/permit-check"):
        certify.certify("rotterdam", "http://127.0.0.1:8000", earlier)
    assert _unchanged(earlier)


def test_answered_runs_replace_the_earlier_ones(earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def answered(target: Target, checks: object) -> Report:
        return report(target)

    monkeypatch.setattr(certify, "run_checks", answered)
    done = certify.certify("rotterdam", "http://127.0.0.1:8000", earlier)
    assert [outcome.certified for outcome in done.outcomes] == [True] * 3
    runs = earlier / certify.FOLDER / certify.RUNS
    assert sorted(p.name for p in runs.iterdir()) == ["rotterdam-context", "rotterdam-identity", "rotterdam-permit-check"]
    assert "earlier" not in (runs / "rotterdam-identity" / "report.json").read_text()
    assert (runs / "rotterdam-identity" / "certificate.jws").exists()


def test_a_run_interrupted_while_written_leaves_the_earlier_one(earlier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(kept: Report, out: Path) -> dict[str, Path]:
        out.mkdir(parents=True)
        (out / "report.json").write_text("{")
        raise KeyboardInterrupt

    monkeypatch.setattr(certify.reports, "write_reports", broken)
    out = earlier / certify.FOLDER / certify.RUNS / "rotterdam-identity"
    with pytest.raises(KeyboardInterrupt):
        certify._keep(report(Target("identity", "http://x")), out, certify.authority(earlier))
    assert _unchanged(earlier)


def test_what_an_interrupted_call_left_beside_a_run_is_cleared(earlier: Path) -> None:
    out = earlier / certify.FOLDER / certify.RUNS / "rotterdam-identity"
    (out.parent / ".rotterdam-identity.new-0123abcd").mkdir()
    certify._keep(report(Target("identity", "http://x")), out, certify.authority(earlier))
    assert [p.name for p in out.parent.iterdir()] == ["rotterdam-identity"]
