"""A run's report in the forms its readers need: JSON for machines (and the hash a certificate
signs), JUnit XML for CI systems, and one self-contained HTML page for a person.

Every form shows the same results; none shows a secret of the operator (tokens and client secrets
are never part of the target as reported, and the session masked them in the evidence already).
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import asdict
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from jinja2 import Environment, FileSystemLoader, select_autoescape

from conformance.model import Result
from conformance.runner import Report

SUITE_NAME = "oup-conformance"
FILES = {"json": "report.json", "junit": "report.junit.xml", "html": "report.html"}
_SECRET_OPTION = re.compile(r"secret|password|token|key|credential", re.IGNORECASE)
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry (control characters a response body may hold)."""


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain data: what the JSON file holds and the HTML page shows."""
    target = report.target
    return {
        "suite": {"name": SUITE_NAME, "version": report.suite_version},
        "target": {"url": target.url, "mim": target.mim, "profile": target.profile,
                   "options": {key: "…" if _SECRET_OPTION.search(key) else value
                               for key, value in sorted(target.options.items())}},
        "started": report.started.isoformat(),
        "finished": report.finished.isoformat(),
        "seconds": round((report.finished - report.started).total_seconds(), 3),
        "declared": report.declared,
        "counts": report.counts(),
        "certifiable": report.certifiable,
        "checks": [_result_document(result) for result in report.results],
    }


def _result_document(result: Result) -> dict[str, Any]:
    check = result.check
    return {"id": check.id, "title": check.title, "mim": check.mim, "profile": check.profile,
            "severity": check.severity, "source": check.source, "status": result.status,
            "message": result.message, "notes": list(result.notes), "seconds": result.seconds,
            "evidence": [asdict(exchange) for exchange in result.evidence]}


def report_json(report: Report) -> bytes:
    """The JSON report, byte for byte as written (a certificate's ``reportHash`` is over these bytes)."""
    return json.dumps(report_document(report), indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def report_junit(report: Report) -> bytes:
    """One ``testsuite`` with a ``testcase`` per check, in the common JUnit XML schema CI systems read
    (classname ``<mim>.<area>``; ``failure``, ``error`` or ``skipped``, a check not run for lack of the
    operator's input being ``skipped`` with a message starting "not run: "; notes in ``system-out``)."""
    counts = report.counts()
    suite = ElementTree.Element("testsuite", {
        "name": f"{SUITE_NAME} {report.target.mim} ({report.target.profile})",
        "tests": str(len(report.results)), "failures": str(counts["failed"]), "errors": str(counts["error"]),
        "skipped": str(counts["skipped"] + counts["not-run"]), "time": _seconds(sum(r.seconds for r in report.results)),
        "timestamp": report.started.strftime("%Y-%m-%dT%H:%M:%S"), "hostname": socket.gethostname() or "localhost"})
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (("suite.version", report.suite_version), ("target.url", report.target.url),
                        ("target.mim", report.target.mim), ("target.profile", report.target.profile),
                        ("certifiable", str(report.certifiable).lower())):
        ElementTree.SubElement(properties, "property", {"name": name, "value": _xml_text(value)})
    for result in report.results:
        suite.append(_testcase(result))
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="utf-8", xml_declaration=True) + b"\n"


def _testcase(result: Result) -> ElementTree.Element:
    check = result.check
    parts = check.id.split(".")
    case = ElementTree.Element("testcase", {"classname": ".".join(parts[:2]), "name": ".".join(parts[2:]) or check.id,
                                            "time": _seconds(result.seconds)})
    message = _xml_text(result.message)
    if result.status == "failed":
        failure = ElementTree.SubElement(case, "failure", {"message": message, "type": f"{check.severity}-check"})
        failure.text = _xml_text(f"{check.title} ({check.source}): {result.message}")
    elif result.status == "error":
        ElementTree.SubElement(case, "error", {"message": message, "type": "suite-error"}).text = message
    elif result.status == "skipped":
        ElementTree.SubElement(case, "skipped", {"message": message})
    elif result.status == "not-run":
        ElementTree.SubElement(case, "skipped", {"message": f"not run: {message}"})
    lines = [f"{check.id}: {check.title} [{check.severity}, {check.source}]"]
    lines += [f"note: {note}" for note in result.notes]
    lines += [f"{e.method} {e.url} -> {e.status if e.status is not None else 'no answer'} ({e.milliseconds} ms)"
              for e in result.evidence]
    ElementTree.SubElement(case, "system-out").text = _xml_text("\n".join(lines))
    return case


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def report_html(report: Report) -> str:
    """One page, readable offline, with nothing but inline CSS: summary, each check with its
    evidence (request and response excerpts folded away) and the notes, which state the scope."""
    notes: dict[str, list[str]] = {}
    for result in report.results:
        for note in result.notes:
            notes.setdefault(note, []).append(result.check.id)
    return _TEMPLATES.get_template("report.html").render(report=report_document(report), notes=list(notes.items()))


def write_reports(report: Report, out: Path) -> dict[str, Path]:
    """The three reports in ``out`` (created as needed); the path of each by kind."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / name for kind, name in FILES.items()}
    paths["json"].write_bytes(report_json(report))
    paths["junit"].write_bytes(report_junit(report))
    paths["html"].write_text(report_html(report), encoding="utf-8")
    return paths
