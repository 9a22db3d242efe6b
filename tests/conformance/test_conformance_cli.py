"""`oup conformance`: a real run against our context MIM that certifies and verifies, a run
against a broken target that refuses to certify, and the usage errors (exit code 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bench.conformance_mutants import no_wellknown
from bench.conformance_targets import deploy
from conformance import cli
from conformance.model import Check
from conformance.session import Session
from mims.cli import app
from tests.serving import closed_port

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's console as wide as a terminal that fits its tables: without a terminal (a test
    worker's) it would wrap at 80 columns, splitting the words the tests look for."""
    monkeypatch.setattr(cli, "console", Console(highlight=False, width=200))


@pytest.fixture(scope="module")
def context_mim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Our context broker over real HTTP on loopback."""
    with deploy("context", tmp_path_factory.mktemp("context")) as target:
        yield target.url


@pytest.fixture(scope="module")
def undescribed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Our broker without /.well-known/mim: the must-check context.wellknown.mim fails."""
    with deploy("context", tmp_path_factory.mktemp("undescribed"), no_wellknown) as target:
        yield target.url


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    result = runner.invoke(app, ["conformance", "keygen", "--out", str(tmp_path / "keys"), "--authority", "Test CA"])
    assert result.exit_code == 0, result.output
    return tmp_path / "keys" / "authority.private.jwk", tmp_path / "keys" / "authority.public.jwk"


def test_run_against_our_context_mim_certifies_and_the_certificate_verifies(
        context_mim: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["conformance", "run", "--mim", "context", "--target", context_mim, "--only",
                                 "context.wellknown.mim", "--out", str(out), "--sign-key", str(keys[0])])
    assert result.exit_code == 0, result.output
    assert "context.wellknown.mim" in result.output and "Certifiable" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["certificate.jws", "report.html", "report.json",
                                                     "report.junit.xml"]
    report = json.loads((out / "report.json").read_text())
    assert [c["id"] for c in report["checks"]] == ["context.wellknown.mim"]
    assert report["checks"][0]["status"] == "passed" and report["certifiable"] is True
    assert report["checks"][0]["evidence"][0]["url"] == f"{context_mim}/.well-known/mim"
    assert {"ppi": "ngsi-ld-entity", "version": "1.0.0"} in report["declared"]

    verified = runner.invoke(app, ["conformance", "verify", str(out / "certificate.jws"), "--key", str(keys[1]),
                                   "--report", str(out / "report.json")])
    assert verified.exit_code == 0, verified.output
    assert "valid certificate" in verified.output and context_mim in verified.output

    (out / "report.json").write_text((out / "report.json").read_text().replace('"passed"', '"skipped"', 1))
    tampered = runner.invoke(app, ["conformance", "verify", str(out / "certificate.jws"), "--key", str(keys[1]),
                                   "--report", str(out / "report.json")])
    assert tampered.exit_code == 1 and "invalid certificate" in tampered.output


def test_verify_refuses_a_certificate_of_another_authority(
        context_mim: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    other = runner.invoke(app, ["conformance", "keygen", "--out", str(tmp_path / "other")])
    assert other.exit_code == 0
    out = tmp_path / "report"
    signed = runner.invoke(app, ["conformance", "run", "--mim", "context", "--target", context_mim, "--only",
                                 "context.wellknown.mim", "--out", str(out), "--sign-key", str(tmp_path / "other" /
                                                                                     "authority.private.jwk")])
    assert signed.exit_code == 0, signed.output
    result = runner.invoke(app, ["conformance", "verify", str(out / "certificate.jws"), "--key", str(keys[1])])
    assert result.exit_code == 1 and "signed by another key" in result.output


def test_a_failed_must_check_fails_the_run_and_no_certificate_is_issued(
        undescribed: str, keys: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["conformance", "run", "--mim", "context", "--target", undescribed, "--only",
                                 "context.wellknown.mim", "--out", str(out), "--sign-key", str(keys[0])])
    assert result.exit_code == 1, result.output
    assert "Not certifiable" in result.output and "No certificate issued" in result.output
    assert not (out / "certificate.jws").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["certifiable"] is False and report["checks"][0]["status"] == "failed"
    assert "answered 404" in report["checks"][0]["message"]
    assert 'failures="1"' in (out / "report.junit.xml").read_text()


def test_a_must_check_not_run_refuses_to_certify_and_names_the_option_to_give(
        context_mim: str, keys: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def needs_a_token(session: Session) -> None:
        session.needs("needs an expired token: give --option expired_token=...")

    chosen = [Check("context.auth.expired", "An expired token is refused", "context", "standard", "must",
                    "RFC 6750 §3.1", needs_a_token)]
    monkeypatch.setattr(cli, "select", lambda *arguments: chosen)
    out = tmp_path / "report"
    result = runner.invoke(app, ["conformance", "run", "--mim", "context", "--target", context_mim, "--out", str(out),
                                 "--sign-key", str(keys[0])], env={"COLUMNS": "250"})
    assert result.exit_code == 1, result.output
    assert "0 passed, 0 failed, 0 skipped, 1 not-run, 0 error; must-checks failed: 0, not run: 1" in result.output
    assert "must-checks not run for lack of input" in result.output and "must-checks failed or broke" not in result.output
    assert "context.auth.expired: needs an expired token: give --option expired_token=..." in result.output
    assert "No certificate issued" in result.output and not (out / "certificate.jws").exists()
    assert json.loads((out / "report.json").read_text())["checks"][0]["status"] == "not-run"


def test_an_unreachable_target_is_a_usage_error_with_a_clear_message(tmp_path: Path) -> None:
    with closed_port() as port:
        result = runner.invoke(app, ["conformance", "run", "--mim", "context", "--target", f"http://127.0.0.1:{port}",
                                     "--out", str(tmp_path / "report")])
    assert result.exit_code == 2
    assert "unreachable" in result.output and not (tmp_path / "report").exists()


@pytest.mark.parametrize("arguments, message", [
    (["--mim", "weather"], "weather"),
    (["--mim", "context", "--option", "novalue"], "expected key=value"),
    (["--mim", "context", "--client-id", "vendor"], "go together"),
    (["--mim", "context", "--only", "no-such-check-anywhere"], "no check of context"),
    (["--mim", "context", "--target", "ftp://example.org"], "http:// or https://"),
])
def test_usage_errors_exit_2(arguments: list[str], message: str, tmp_path: Path) -> None:
    if "--target" not in arguments:
        arguments = [*arguments, "--target", "http://127.0.0.1:9"]
    result = runner.invoke(app, ["conformance", "run", *arguments, "--out", str(tmp_path / "report")])
    assert result.exit_code == 2
    assert message in result.output


def test_a_public_key_cannot_sign(keys: tuple[Path, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["conformance", "run", "--mim", "context", "--target", "http://127.0.0.1:9",
                                 "--sign-key", str(keys[1]), "--out", str(tmp_path / "report")])
    assert result.exit_code == 2 and "no private key" in result.output


def test_list_shows_every_check_with_its_classification() -> None:
    result = runner.invoke(app, ["conformance", "list", "--mim", "context", "--profile", "mim"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "context.wellknown.mim" in line)
    for cell in ("Describes itself at /.well-known/mim", "context", "mim", "must", "mim-description@1.0.0"):
        assert cell in row
    standard_only = runner.invoke(app, ["conformance", "list", "--mim", "context", "--profile", "standard"])
    assert "context.wellknown.mim" not in standard_only.output
