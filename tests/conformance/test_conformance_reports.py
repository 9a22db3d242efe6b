"""The three report forms of a run: JSON (complete, no secrets), JUnit XML (what CI systems read)
and the HTML page (self-contained, accessible, evidence and notes shown, content escaped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

from conformance.model import Check, Exchange, Result
from conformance.reports import report_html, report_json, report_junit, write_reports
from conformance.runner import Report
from conformance.session import Session, Target

SCOPE_NOTE = "This is a sampler of NGSI-LD behaviour, not the ETSI conformance suite."


async def _nothing(session: Session) -> None:
    """A check body; these tests build results directly, the body is never run."""


def _check(id: str, severity: str = "must", profile: str = "standard") -> Check:
    return Check(id, f"Title of {id}", "context", profile, severity, "ETSI GS CIM 009 §5.6.1", _nothing)  # type: ignore[arg-type]


def _exchange(body: str = '{"id": "urn:ngsi-ld:Thing:1"}', status: int | None = 201) -> Exchange:
    return Exchange("POST", "http://127.0.0.1:9/ngsi-ld/v1/entities", {"authorization": "Bearer …abcdef"},
                    body, status, {"content-type": "application/json"}, '{"title": "ok"}', 4.2)


def sample_report(token: str = "s3cr3t-token-value") -> Report:
    started = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    results = [
        Result(_check("context.entities.create"), "passed", notes=[SCOPE_NOTE], evidence=[_exchange()], seconds=0.25),
        Result(_check("context.entities.duplicate"), "failed", "POST of an existing id answered 201, expected 409",
               evidence=[_exchange(status=201)], seconds=0.5),
        Result(_check("context.query.geo", "should"), "failed", "geoproperty ignored", notes=[SCOPE_NOTE], seconds=0.1),
        Result(_check("context.temporal.history"), "skipped", "the target advertises no temporal API"),
        Result(_check("context.subscriptions.notify"), "error", "the check itself broke: KeyError: 'x'",
               evidence=[_exchange(body="<script>alert(1)</script>\x00\x07 bell", status=None)]),
    ]
    target = Target("context", "http://127.0.0.1:9/", "mim", token=token, client_id="vendor",
                    client_secret="client-secret-value", token_url="http://127.0.0.1:9/token",
                    options={"region": "rotterdam", "second_client_secret": "other-secret-value"})
    declared = [{"ppi": "ngsi-ld-entity", "version": "1.0.0"}]
    return Report(target, started, started + timedelta(seconds=2), results, declared)


def test_json_report_holds_every_check_with_its_evidence_and_the_verdict() -> None:
    report = sample_report()
    document = json.loads(report_json(report))
    assert document["suite"] == {"name": "oup-conformance", "version": report.suite_version}
    assert document["target"] == {"url": "http://127.0.0.1:9", "mim": "context", "profile": "mim",
                                  "options": {"region": "rotterdam", "second_client_secret": "…"}}
    assert document["started"] == "2026-05-01T12:00:00+00:00" and document["seconds"] == 2.0
    assert document["declared"] == [{"ppi": "ngsi-ld-entity", "version": "1.0.0"}]
    assert document["counts"] == {"passed": 1, "failed": 2, "skipped": 1, "not-run": 0, "error": 1, "must_failed": 2,
                                  "should_failed": 1, "must_not_run": 0}
    assert document["certifiable"] is False
    assert [c["id"] for c in document["checks"]] == [r.check.id for r in report.results]
    first = document["checks"][0]
    assert {key: first[key] for key in ("mim", "profile", "severity", "source", "status", "notes", "seconds")} == {
        "mim": "context", "profile": "standard", "severity": "must", "source": "ETSI GS CIM 009 §5.6.1",
        "status": "passed", "notes": [SCOPE_NOTE], "seconds": 0.25}
    assert first["evidence"][0]["method"] == "POST" and first["evidence"][0]["status"] == 201
    assert document["checks"][1]["message"] == "POST of an existing id answered 201, expected 409"


def test_no_report_form_carries_the_operators_secrets() -> None:
    report = sample_report()
    for form in (report_json(report).decode(), report_junit(report).decode(), report_html(report)):
        for secret in ("s3cr3t-token-value", "client-secret-value", "other-secret-value"):
            assert secret not in form


def test_json_report_bytes_are_stable_for_the_same_report() -> None:
    assert report_json(sample_report()) == report_json(sample_report())


def test_junit_has_one_testsuite_with_a_testcase_per_check_and_its_outcome() -> None:
    suite = ElementTree.fromstring(report_junit(sample_report()))
    assert suite.tag == "testsuite"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5", "failures": "2", "errors": "1", "skipped": "1"}
    assert suite.get("timestamp") == "2026-05-01T12:00:00" and float(suite.get("time", "")) == 0.85
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("context.entities", "create"), ("context.entities", "duplicate"), ("context.query", "geo"),
        ("context.temporal", "history"), ("context.subscriptions", "notify")]
    outcomes = [[child.tag for child in case if child.tag != "system-out"] for case in cases]
    assert outcomes == [[], ["failure"], ["failure"], ["skipped"], ["error"]]
    assert cases[1].find("failure").get("message") == "POST of an existing id answered 201, expected 409"
    assert cases[1].find("failure").get("type") == "must-check"
    assert cases[2].find("failure").get("type") == "should-check"
    assert cases[3].find("skipped").get("message") == "the target advertises no temporal API"
    assert SCOPE_NOTE in cases[0].find("system-out").text
    assert "POST http://127.0.0.1:9/ngsi-ld/v1/entities -> 201" in cases[0].find("system-out").text
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["target.url"] == "http://127.0.0.1:9" and properties["certifiable"] == "false"


def test_junit_stays_well_formed_with_control_characters_in_the_evidence() -> None:
    report = sample_report()
    report.results[0].message = "odd \x00\x1b answer"
    suite = ElementTree.fromstring(report_junit(report))  # raises on characters XML cannot carry
    assert suite.get("tests") == "5"


def test_html_is_self_contained_accessible_and_shows_evidence_and_notes() -> None:
    page = report_html(sample_report())
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert "<script" not in page and "<link" not in page and "src=" not in page  # nothing to fetch or run
    assert "<style>" in page and "<caption>" in page and "<h1>" in page and "<h2" in page
    assert "NOT CERTIFIABLE" in page and "2 must-check(s) failed" in page
    for status in ("PASSED", "FAILED", "SKIPPED", "ERROR"):  # in words, not only in colour
        assert f">{status}<" in page
    assert page.count("<details>") == 3 and "POST http://127.0.0.1:9/ngsi-ld/v1/entities" in page
    assert "POST of an existing id answered 201, expected 409" in page
    assert page.count(SCOPE_NOTE) == 3  # once under scope (citing both checks), once per check
    assert 'href="#context.query.geo"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # evidence is escaped, never markup
    assert "ngsi-ld-entity@1.0.0" in page and "region=rotterdam" in page


def test_html_of_a_certifiable_run_says_so() -> None:
    report = sample_report()
    report.results = [report.results[0], report.results[2], report.results[3]]
    page = report_html(report)
    assert report.certifiable and "CERTIFIABLE: every must-check passed" in page and "NOT CERTIFIABLE" not in page


def not_run_report() -> Report:
    """A run whose must-checks passed or did not apply, but one could not run for lack of an option."""
    report = sample_report()
    needs = "needs an expired token of the trusted issuer: give --option expired_token=..."
    report.results = [report.results[0], report.results[3],
                      Result(_check("context.auth.expired"), "not-run", needs)]
    return report


def test_a_must_check_not_run_is_counted_apart_and_blocks_the_verdict() -> None:
    report = not_run_report()
    document = json.loads(report_json(report))
    assert document["checks"][2]["status"] == "not-run" and document["certifiable"] is False
    assert {k: document["counts"][k] for k in ("skipped", "not-run", "must_failed", "must_not_run")} == {
        "skipped": 1, "not-run": 1, "must_failed": 0, "must_not_run": 1}


def test_junit_shows_a_check_not_run_as_skipped_saying_not_run() -> None:
    suite = ElementTree.fromstring(report_junit(not_run_report()))
    assert suite.get("skipped") == "2" and suite.get("failures") == "0"
    skipped = [case.find("skipped").get("message") for case in suite.findall("testcase")[1:]]
    assert skipped == ["the target advertises no temporal API",
                       "not run: needs an expired token of the trusted issuer: give --option expired_token=..."]
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["certifiable"] == "false"


def test_html_shows_a_check_not_run_apart_from_skipped_and_what_it_needs() -> None:
    page = report_html(not_run_report())
    assert "NOT CERTIFIABLE" in page and "1 must-check(s) not run for lack of the operator's input" in page
    assert '<td class="status not-run">NOT RUN</td>' in page and '<td class="status skipped">SKIPPED</td>' in page
    assert ".not-run { color:" in page and '<th scope="col">Not run (input missing)</th>' in page
    assert page.count("give --option expired_token=...") == 3  # under the verdict, in the table, at the check
    assert "<dt>What it needs</dt>" in page


def test_write_reports_puts_the_three_forms_in_the_folder(tmp_path: Path) -> None:
    report = sample_report()
    paths = write_reports(report, tmp_path / "out")
    assert {kind: path.name for kind, path in paths.items()} == {
        "json": "report.json", "junit": "report.junit.xml", "html": "report.html"}
    assert paths["json"].read_bytes() == report_json(report)
    assert paths["html"].read_text(encoding="utf-8") == report_html(report)
    ElementTree.parse(paths["junit"])
