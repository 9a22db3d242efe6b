"""The portal's conformance pages: the runs kept in the conformance folder (a real run of the suite
against our context MIM, certified by `oup conformance run --sign-key`), their checks, the saved
HTML report served in a sandbox, and the verification of an uploaded certificate: valid, tampered,
signed by another authority. The pages also pass a WCAG 2.2 AA audit in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from audit import audit
from joserfc import jwt
from playwright.sync_api import Page
from serving import closed_port, free_port, served
from starlette.testclient import TestClient
from typer.testing import CliRunner

from bench.conformance_targets import deploy
from conformance import certificate
from gateway.portal.conformance_runs import list_runs, read_run, verify
from gateway.service import create_app
from mims.cli import app as cli

CHECK = "context.wellknown.mim"
runner = CliRunner()


def _oup(*args: str) -> None:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conformance folder as the README lays it out: the authority's public key and four runs:
    ``context`` (certified), ``tampered`` (its report changed after certification), ``stranger``
    (certified by another authority) and ``uncertified`` (a run without --sign-key)."""
    root = tmp_path_factory.mktemp("conformance")
    folder, keys, other = root / "conformance", root / "keys", root / "other"
    _oup("conformance", "keygen", "--out", str(keys), "--authority", "Gemeente Rotterdam")
    _oup("conformance", "keygen", "--out", str(other), "--authority", "Somebody else")
    folder.mkdir()
    shutil.copy(keys / certificate.PUBLIC_FILE, folder / certificate.PUBLIC_FILE)
    with deploy("context", root / "context") as target:
        for name, key in (("context", keys), ("tampered", keys), ("stranger", other), ("uncertified", None)):
            signing = ["--sign-key", str(key / certificate.PRIVATE_FILE)] if key else []
            _oup("conformance", "run", "--mim", "context", "--target", target.url, "--only", CHECK,
                 "--out", str(folder / "runs" / name), *signing)
    report = folder / "runs" / "tampered" / "report.json"
    report.write_text(report.read_text().replace('"status": "passed"', '"status": "failed"', 1))
    return folder


def test_the_runs_in_the_folder_are_listed_with_their_certificates_verified(folder: Path) -> None:
    runs = {run.name: run for run in list_runs(folder)}
    assert set(runs) == {"context", "tampered", "stranger", "uncertified"}
    assert runs["context"].state == "valid" and runs["context"].verdict.authority == "Gemeente Rotterdam"
    assert runs["tampered"].state == "invalid" and runs["tampered"].verdict.reason == "report-mismatch"
    assert runs["stranger"].state == "invalid" and runs["stranger"].verdict.reason == "other-key"
    assert runs["uncertified"].state == "uncertified" and runs["uncertified"].issued is None
    context = runs["context"]
    assert (context.mim, context.profile, context.certifiable, context.has_html) == ("context", "mim", True, True)
    assert [check["id"] for check in context.checks] == [CHECK] and context.counts["passed"] == 1
    assert (context.expires - context.issued).days == certificate.VALIDITY_DAYS
    assert list_runs(folder)[-1].name == "uncertified"  # runs without a certificate come last


def test_without_an_authority_key_no_certificate_can_be_checked(folder: Path, tmp_path: Path) -> None:
    shutil.copytree(folder / "runs", tmp_path / "runs")
    assert {run.state for run in list_runs(tmp_path) if run.name != "uncertified"} == {"unverifiable"}
    assert verify("a.b.c", []).reason == "no-key"


def test_a_run_name_cannot_leave_the_folder(folder: Path) -> None:
    assert read_run(folder, "..") is None and read_run(folder, "../conformance") is None
    assert read_run(folder, "missing") is None
    assert list_runs(folder / "runs") == []


def test_a_run_is_verified_again_only_when_a_file_or_the_clock_moves_past_its_dates(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = tmp_path / "kept"
    shutil.copytree(folder, kept)
    first = {run.name: run.state for run in list_runs(kept)}
    verified, loaded = [], []
    verify_certificate, load_authority = certificate.verify, certificate.load_authority
    monkeypatch.setattr(certificate, "verify", lambda *args, **kwargs: verified.append(args[0]) or verify_certificate(
        *args, **kwargs))
    monkeypatch.setattr(certificate, "load_authority", lambda path: loaded.append(path) or load_authority(path))
    assert {run.name: run.state for run in list_runs(kept)} == first
    assert verified == [] and loaded == []  # nothing changed: no file read, no signature checked again
    expires = int(read_run(kept, "context").expires.timestamp())
    assert read_run(kept, "context", now=expires).state == "expired" and len(verified) == 1
    assert read_run(kept, "context").state == "valid" and len(verified) == 2
    shutil.copy(kept / "runs" / "stranger" / "certificate.jws", kept / "runs" / "context" / "certificate.jws")
    assert read_run(kept, "context").verdict.reason == "other-key"


def _certificate(key: Path, claims: dict[str, object]) -> str:
    authority = certificate.load_authority(key)
    header = {"typ": certificate.TYP, "alg": certificate.ALG, "kid": authority.key.thumbprint()}
    return jwt.encode(header, claims, authority.key, algorithms=[certificate.ALG])


def test_runs_that_are_not_shaped_as_reports_are_left_out(folder: Path, tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    shutil.copytree(folder, kept)
    report = json.loads((folder / "runs" / "context" / "report.json").read_text())
    for name, change in (("suite", {"suite": "1.0"}), ("counts", {"counts": [1]}), ("checks", {"checks": 5}),
                         ("target", {"target": "x"})):
        (kept / "runs" / name).mkdir()
        (kept / "runs" / name / "report.json").write_text(json.dumps({**report, **change}))
    key = folder.parent / "keys" / certificate.PRIVATE_FILE
    for name, claims in (("far", {"iat": 10**30, "exp": 10**30}), ("before", {"iat": -10**30, "exp": -10**30}),
                         ("no-expiry", {"iss": "Gemeente Rotterdam", "iat": int(time.time())})):
        shutil.copytree(folder / "runs" / "uncertified", kept / "runs" / name)
        (kept / "runs" / name / "certificate.jws").write_text(_certificate(key, claims))
    runs = {run.name: run for run in list_runs(kept)}
    assert set(runs) == {"context", "tampered", "stranger", "uncertified", "far", "before", "no-expiry"}
    assert runs["far"].issued is None and runs["far"].verdict.reason == "not-yet-valid"
    assert runs["before"].expires is None and runs["before"].state == "expired"
    assert runs["no-expiry"].state == "invalid" and runs["no-expiry"].verdict.reason == "malformed"
    gateway = create_app(data_dir=tmp_path / "gateway", identity_url="http://127.0.0.1:9",
                         context_url="http://127.0.0.1:9", portal_conformance_dir=kept)
    with TestClient(gateway, cookies={"oup_lang": "en"}) as http:
        listed, bad, malformed = (http.get("/certificates"), http.get("/certificates/counts"),
                                  http.get("/certificates/no-expiry"))
    assert listed.status_code == 200 and 'href="/certificates/far"' in listed.text
    assert bad.status_code == 404 and malformed.status_code == 200
    assert "does not state what a certificate states" in malformed.text


@pytest.fixture(scope="module")
def portal(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway (its portal) showing ``folder``; nothing behind it is needed for these pages."""
    port, nowhere = free_port(), f"http://127.0.0.1:{closed_port()}"
    gateway = create_app(data_dir=tmp_path_factory.mktemp("gateway"), port=port, identity_url=nowhere,
                         context_url=nowhere, portal_conformance_dir=folder)
    with served(gateway, port) as url:
        yield url


def _client(portal: str) -> httpx.Client:
    return httpx.Client(base_url=portal, cookies={"oup_lang": "en"}, timeout=10)


def test_the_certificates_page_shows_each_run_and_its_state(portal: str) -> None:
    with _client(portal) as http:
        page = http.get("/certificates")
    assert page.status_code == 200
    rows = dict(re.findall(r'<th scope="row"><a href="/certificates/([^"/]+)">(.*?)</tr>', page.text, re.DOTALL))
    assert set(rows) == {"context", "tampered", "stranger", "uncertified"}
    assert ">Valid<" in rows["context"] and "1 passed, 0 failed" in rows["context"]
    assert ">Invalid<" in rows["tampered"] and ">Invalid<" in rows["stranger"]
    assert ">No certificate<" in rows["uncertified"]


def test_a_run_page_lists_its_checks_and_links_its_sandboxed_report(portal: str) -> None:
    with _client(portal) as http:
        page = http.get("/certificates/context")
        tampered = http.get("/certificates/tampered")
        report = http.get("/certificates/context/report.html")
        missing = http.get("/certificates/nothing-here")
        escaping = http.get("/certificates/..%2F..%2Fetc/report.html")
    assert page.status_code == 200 and f"<code>{CHECK}</code>" in page.text and ">Passed<" in page.text
    assert "Gemeente Rotterdam" in page.text and 'href="/certificates/context/report.html"' in page.text
    assert "The report is not the one certified" in tampered.text
    assert report.status_code == 200 and CHECK in report.text
    assert "sandbox" in report.headers["content-security-policy"]
    assert report.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404 and "There is no conformance run named nothing-here" in missing.text
    assert escaping.status_code == 404


def _verify_form(http: httpx.Client) -> None:
    """The verification form: it opens no session (checking a certificate changes nothing)."""
    form = http.get("/certificates/verify")
    assert form.status_code == 200 and "set-cookie" not in form.headers and 'name="csrf"' not in form.text
    assert "at most 1 MB" in form.text  # the gateway's max_body_bytes, which bounds the upload


def test_an_uploaded_certificate_is_verified_with_its_report(portal: str, folder: Path) -> None:
    context, tampered = folder / "runs" / "context", folder / "runs" / "tampered"
    with _client(portal) as http:
        _verify_form(http)
        valid = http.post("/certificates/verify", files={
            "certificate": ("certificate.jws", (context / "certificate.jws").read_bytes()),
            "report": ("report.json", (context / "report.json").read_bytes())})
        alone = http.post("/certificates/verify", files={
            "certificate": ("certificate.jws", (context / "certificate.jws").read_bytes())})
        wrong_report = http.post("/certificates/verify", files={
            "certificate": ("certificate.jws", (tampered / "certificate.jws").read_bytes()),
            "report": ("report.json", (tampered / "report.json").read_bytes())})
        forged = (context / "certificate.jws").read_text().strip()
        forged = forged[:-6] + ("AAAAAA" if not forged.endswith("AAAAAA") else "BBBBBB")
        changed = http.post("/certificates/verify", files={"certificate": ("certificate.jws", forged.encode())})
    assert valid.status_code == 200 and "The certificate is valid" in valid.text
    assert "Signed by Gemeente Rotterdam" in valid.text and "The report you added is the one certified" in valid.text
    assert "The report was not checked" in alone.text
    assert "The certificate is not valid" in wrong_report.text and "not the one certified" in wrong_report.text
    assert "The certificate is not valid" in changed.text and "The signature is not correct" in changed.text
    assert "not confirmed" in changed.text  # what an invalid certificate states is shown as unconfirmed


def test_a_bad_upload_is_refused_with_an_accessible_message(portal: str) -> None:
    with _client(portal) as http:
        _verify_form(http)
        nothing = http.post("/certificates/verify", files={"report": ("report.json", b"{}")})
        binary = http.post("/certificates/verify", files={"certificate": ("certificate.jws", b"\xff\xfe\x00")})
        no_csrf = http.post("/certificates/verify", files={"certificate": ("certificate.jws", b"a.b.c")})
        too_many = http.post("/certificates/verify", files=[("certificate", ("a.jws", b"a.b.c"))] * 3)
        no_boundary = http.post("/certificates/verify", content=b"--x\r\nbroken",
                                headers={"content-type": "multipart/form-data"})
    assert nothing.status_code == 400 and 'role="alert"' in nothing.text
    assert 'aria-describedby="certificate-error"' in nothing.text and "Choose a certificate file" in nothing.text
    assert binary.status_code == 400 and "This file is not a certificate" in binary.text
    assert no_csrf.status_code == 200 and "The signature is not correct" in no_csrf.text  # no token needed
    for refused in (too_many, no_boundary):
        assert refused.status_code == 400 and refused.headers["content-type"].startswith("text/html")
        assert "The upload could not be read" in refused.text and 'role="alert"' in refused.text


def test_the_pages_speak_dutch(portal: str) -> None:
    with httpx.Client(base_url=portal, cookies={"oup_lang": "nl"}) as http:
        page = http.get("/certificates")
    assert page.headers["content-language"] == "nl" and "Gecertificeerde producten" in page.text
    assert ">Geldig<" in page.text and ">Ongeldig<" in page.text


def test_the_conformance_pages_pass_the_audit(portal: str, folder: Path, page: Page) -> None:
    page.goto(f"{portal}/certificates")
    assert page.locator("table caption").count() == 1
    audit(page, "conformance-certificates")
    page.click("a[href='/certificates/context']")
    page.wait_for_url("**/certificates/context")
    audit(page, "conformance-certificate")
    page.goto(f"{portal}/certificates/verify")
    page.set_input_files("#certificate", str(folder / "runs" / "tampered" / "certificate.jws"))
    page.set_input_files("#report", str(folder / "runs" / "tampered" / "report.json"))
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.is_visible("[role=alert]")
    audit(page, "conformance-verify-invalid")
    page.set_input_files("#certificate", str(folder / "runs" / "context" / "certificate.jws"))
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "The certificate is valid" in page.inner_text("#verdict")
    audit(page, "conformance-verify-valid")
