"""The FAIR assessment (F-UJI metrics 0.5) of datasets as the catalogue serves them: what a rich
dataset earns, what a minimal one misses and the hints that say how to fix it, what is not
evaluated, and how the score adds up."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from mims.marketplace import fair, rdf
from mims.marketplace.dcat import Dataset
from tests.marketplace.conftest import GATEWAY_URL, PUBLIC_URL

SITE = rdf.Site(PUBLIC_URL, GATEWAY_URL)
CSV = "http://publications.europa.eu/resource/authority/file-type/CSV"
XLS = "http://publications.europa.eu/resource/authority/file-type/XLS"

# What no publisher can add today: the deployment's IRIs are no PIDs, the PPI has no creator,
# withdrawn datasets leave no tombstone, and there is no HTML landing page.
PLATFORM_MISSES = {"FsF-F1-02D-1", "FsF-F2-01M-2", "FsF-F2-01M-3", "FsF-A2-01M-1", "FsF-I1-01M-1"}
NOT_EVALUATED = {"FsF-F1-02D-2", "FsF-F4-01M-2", "FsF-A1-03D-1", "FsF-R1-01MD-3", "FsF-R1-01MD-4"}

RICH: dict[str, Any] = {
    "title": {"nl": "Gebouwen in Delfshaven", "en": "Buildings in Delfshaven"},
    "description": {"nl": "Gebouwen met hoogte en gebruik.", "en": "Buildings with height and use."},
    "publisher": {"name": "Gemeente Rotterdam", "url": "https://www.rotterdam.nl"},
    "contactPoint": {"name": "Team Open Data", "email": "opendata@rotterdam.nl"},
    "keywords": ["gebouwen", "buildings"],
    "themes": ["http://publications.europa.eu/resource/authority/data-theme/REGI"],
    "spatial": {"bbox": [4.42, 51.89, 4.46, 51.92]},
    "temporal": {"start": "2024-01-01T00:00:00Z"},
    "license": "https://creativecommons.org/licenses/by/4.0/",
    "conformsTo": ["https://www.geonovum.nl/geo-standaarden/bag"],
    "distributions": [{"accessURL": "https://data.rotterdam.nl/gebouwen", "downloadURL": "https://data.rotterdam.nl/gebouwen.csv",
                       "format": CSV, "mediaType": "text/csv"}],
    "digitalTwin": {"entityTypes": ["Building"], "ppi": "sdm-building@1"},
}

MINIMAL: dict[str, Any] = {
    "title": {"nl": "Bomen"},
    "description": {"nl": "Bomen in de stad."},
    "publisher": {"name": "Gemeente Delft"},
    "contactPoint": {"name": "Groen", "email": "groen@delft.nl"},
    "license": "https://delft.example/voorwaarden",
    "distributions": [{"accessURL": "https://delft.example/bomen"}],
}


def dataset(document: dict[str, Any], **harvested: str) -> Dataset:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    return Dataset(id="5f0c0d1e2a3b4c5d6e7f809112233445", document=copy.deepcopy(document), issued=now, modified=now,
                   **harvested)


def results_of(assessment: fair.Assessment) -> dict[str, fair.TestResult]:
    return {t.id: t for m in assessment.metrics for t in m.tests}


def missed(assessment: fair.Assessment) -> set[str]:
    return {t.id for _, t in assessment.missed}


def test_the_seventeen_metrics_of_version_0_5_with_their_principles():
    assert [(m.id, m.principle) for m in fair.METRICS] == [
        ("FsF-F1-01D", "F1"), ("FsF-F1-02D", "F1"), ("FsF-F2-01M", "F2"), ("FsF-F3-01M", "F3"), ("FsF-F4-01M", "F4"),
        ("FsF-A1-01M", "A1"), ("FsF-A1-02M", "A1"), ("FsF-A1-03D", "A1"), ("FsF-A2-01M", "A2"),
        ("FsF-I1-01M", "I1"), ("FsF-I2-01M", "I2"), ("FsF-I3-01M", "I3"),
        ("FsF-R1-01MD", "R1"), ("FsF-R1.1-01M", "R1.1"), ("FsF-R1.2-01M", "R1.2"), ("FsF-R1.3-01M", "R1.3"),
        ("FsF-R1.3-02D", "R1.3"),
    ]
    # F-UJI's total points per metric when every test counts: 25 over the whole set.
    full = {m.id: fair._combine(m.scoring, [t.points for t in m.tests]) for m in fair.METRICS}
    assert full["FsF-F2-01M"] == 2 and full["FsF-R1-01MD"] == 4 and full["FsF-A1-01M"] == 1
    assert sum(full.values()) == 25


def test_a_rich_dataset_scores_high_and_is_told_only_what_the_platform_lacks():
    assessment = fair.assess(dataset(RICH), SITE)
    assert missed(assessment) == PLATFORM_MISSES
    assert all(h.remedy == fair.PLATFORM for _, t in assessment.missed for h in t.outcome.hints)
    score = assessment.score()
    assert score == {"earned": 16.5, "total": 20.5, "percent": 80.49}
    results = results_of(assessment)
    assert "CC-BY-4.0" in results["FsF-R1.1-01M-2"].outcome.evidence
    assert "Building" in results["FsF-R1-01MD-2"].outcome.evidence
    assert "prov:wasAttributedTo" in results["FsF-R1.2-01M-2"].outcome.evidence
    assert assessment.score("R") == {"earned": 8.0, "total": 8.0, "percent": 100.0}


def test_a_minimal_dataset_misses_specific_metrics_with_hints_where_to_fix_them():
    assessment = fair.assess(dataset(MINIMAL), SITE)
    publisher_misses = {
        "FsF-F2-01M-3": {"/keywords"},
        "FsF-F3-01M-1": {"/distributions/0/format"},
        "FsF-F3-01M-2": {"/distributions/0/downloadURL"},
        "FsF-A1-01M-2": {"/license"},
        "FsF-I2-01M-2": {"/themes", "/distributions/0/format"},
        "FsF-I3-01M-1": {"/conformsTo"},
        "FsF-I3-01M-2": {"/publisher/url"},
        "FsF-R1.1-01M-2": {"/license"},
        "FsF-R1.3-02D-1": {"/distributions/0/format"},
    }
    assert missed(assessment) == PLATFORM_MISSES | set(publisher_misses) | {"FsF-R1-01MD-2"}
    for _, test in assessment.missed:
        pointers = {h.pointer for h in test.outcome.hints if h.remedy == fair.PUBLISHER}
        assert pointers == publisher_misses.get(test.id, set()), test.id
    assert assessment.score() == {"earned": 10.0, "total": 20.5, "percent": 48.78}
    # A1-01M is "alternative": a licence is rights information (0.5), but not a machine-readable access level.
    access = next(m for m in assessment.metrics if m.id == "FsF-A1-01M")
    assert (access.earned, access.total) == (0.5, 1)


def test_each_fix_earns_its_points():
    before = fair.assess(dataset(MINIMAL), SITE)
    fixed = copy.deepcopy(MINIMAL)
    fixed["license"] = "http://creativecommons.org/publicdomain/zero/1.0/"
    fixed["distributions"][0] |= {"downloadURL": "https://delft.example/bomen.csv", "format": CSV}
    after = fair.assess(dataset(fixed), SITE)
    gained = missed(before) - missed(after)
    assert gained == {"FsF-A1-01M-2", "FsF-R1.1-01M-2", "FsF-F3-01M-1", "FsF-F3-01M-2", "FsF-I2-01M-2",
                      "FsF-R1.3-02D-1"}
    assert missed(after) <= missed(before)
    assert after.score()["earned"] == before.score()["earned"] + 0.5 + 1 + 0.5 + 0.5 + 1 + 1


def test_a_closed_format_is_named_in_the_hint():
    document = copy.deepcopy(MINIMAL)
    document["distributions"][0]["format"] = XLS
    [hint] = results_of(fair.assess(dataset(document), SITE))["FsF-R1.3-02D-1"].outcome.hints
    assert XLS in hint.text and hint.pointer == "/distributions/0/format"


def test_what_needs_the_network_is_not_evaluated_and_not_counted():
    assessment = fair.assess(dataset(RICH), SITE)
    results = results_of(assessment)
    assert {i for i, t in results.items() if t.status == fair.NOT_EVALUATED} == NOT_EVALUATED
    reachable = next(m for m in assessment.metrics if m.id == "FsF-A1-03D")
    assert (reachable.earned, reachable.total) == (0, 0)
    body = assessment.as_json()
    assert body["metrics"][7]["status"] == "not evaluated"
    assert {n["test"] for n in body["notEvaluated"]} == NOT_EVALUATED
    assert all(n["reason"] for n in body["notEvaluated"])
    # The score is over what was checked: 25 points, less the 4.5 not evaluated.
    assert sum(m.total for m in assessment.metrics) == 20.5


def test_a_harvested_dataset_is_not_credited_with_resolving_its_foreign_iri():
    harvested = dataset(RICH, iri="https://data.denhaag.example/id/dataset/bomen", source="https://data.denhaag.example/catalog")
    results = results_of(fair.assess(harvested, SITE))
    assert results["FsF-F1-01D-1"].status == fair.NOT_EVALUATED
    assert results["FsF-F1-01D-2"].status == fair.FAILED


def test_a_pid_namespace_earns_the_persistent_identifier_syntax_point():
    w3id = fair.assess(dataset(RICH), rdf.Site("https://w3id.org/rotterdam/marketplace", GATEWAY_URL))
    assert "FsF-F1-02D-1" not in missed(w3id)
    assert "FsF-A2-01M-1" in missed(w3id)  # w3id keeps no metadata of withdrawn datasets; DOIs do


@pytest.mark.parametrize(("iri", "expected"), [
    ("https://creativecommons.org/licenses/by/4.0/", ("CC-BY-4.0", True)),
    ("http://creativecommons.org/licenses/by/4.0/legalcode", ("CC-BY-4.0", True)),
    ("https://creativecommons.org/licenses/by/4.0/deed.nl", ("CC-BY-4.0", True)),
    ("http://creativecommons.org/publicdomain/zero/1.0/", ("CC0-1.0", True)),
    ("https://creativecommons.org/licenses/by-nc/4.0/", ("CC-BY-NC-4.0", False)),
    ("https://spdx.org/licenses/ODbL-1.0.html", ("ODbL-1.0", True)),
    ("http://publications.europa.eu/resource/authority/licence/CC_BY_4_0", ("CC-BY-4.0", True)),
    ("https://spdx.org/licenses/Made-Up-1.0", None),
    ("https://delft.example/voorwaarden", None),
])
def test_licences_are_recognised_from_the_shipped_list(iri, expected):
    assert fair.licence_spdx(iri) == expected


def test_the_assessment_is_deterministic():
    assert fair.assess(dataset(RICH), SITE).as_json() == fair.assess(dataset(RICH), SITE).as_json()


def test_summary_of_assessments():
    assessments = [fair.assess(dataset(RICH), SITE), fair.assess(dataset(MINIMAL), SITE)]
    summary = fair.summarize(assessments, most_common=100)
    assert summary["count"] == 2
    assert summary["score"] == {"mean": round((80.49 + 48.78) / 2, 2), "min": 48.78, "max": 80.49}
    misses = {(m["metric"], m["test"]): m["count"] for m in summary["mostCommonMisses"]}
    assert misses[("FsF-F2-01M", "FsF-F2-01M-2")] == 2 and misses[("FsF-F2-01M", "FsF-F2-01M-3")] == 2
    assert misses.get(("FsF-R1.1-01M", "FsF-R1.1-01M-2")) == 1
    counts = [m["count"] for m in summary["mostCommonMisses"]]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == sum(len(a.missed) for a in assessments)
    assert len(fair.summarize(assessments)["mostCommonMisses"]) == 10
    assert summary["principles"]["R"] == round((100.0 + assessments[1].score("R")["percent"]) / 2, 2)
    assert fair.summarize([])["score"] == {"mean": None, "min": None, "max": None}
