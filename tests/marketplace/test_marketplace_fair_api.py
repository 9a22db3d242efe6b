"""FAIR scores over HTTP: one dataset's, 404 for an unknown one, and a catalogue-wide summary whose
numbers are those of the datasets' own scores."""

from __future__ import annotations

from collections import Counter

from tests.marketplace.conftest import PUBLIC_URL
from tests.marketplace.test_marketplace_fair import MINIMAL, RICH

EXAMPLES = ("rotterdam-buildings-digital-twin", "parking-csv-download", "air-quality-geo-filtered")


def path_of(iri: str) -> str:
    return iri.removeprefix(PUBLIC_URL)


def test_a_dataset_s_score_with_its_hints(http):
    iri = http.post("/datasets", json=MINIMAL).json()["@id"]
    response = http.get(path_of(iri) + "/fair")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["dataset"] == iri and body["metricVersion"] == "0.5"
    assert body["score"] == {"earned": 10.0, "total": 20.5, "percent": 48.78}
    assert set(body["principles"]) == {"F", "A", "I", "R"}
    assert sum(p["earned"] for p in body["principles"].values()) == body["score"]["earned"]
    keywords = [h for h in body["hints"] if h["test"] == "FsF-F2-01M-3" and h["remedy"] == "publisher"]
    assert keywords == [{"metric": "FsF-F2-01M", "test": "FsF-F2-01M-3", "remedy": "publisher", "pointer": "/keywords",
                         "text": "Add keywords (dcat:keyword) a search should find the dataset by."}]
    [reachable] = [m for m in body["metrics"] if m["id"] == "FsF-A1-03D"]
    assert reachable["status"] == "not evaluated" and reachable["score"] == {"earned": 0, "total": 0}
    assert reachable["tests"][0]["evidence"].startswith("whether the data links resolve")


def test_an_update_is_scored_as_it_now_stands(http):
    iri = http.post("/datasets", json=MINIMAL).json()["@id"]
    before = http.get(path_of(iri) + "/fair").json()["score"]["earned"]
    better = MINIMAL | {"keywords": ["bomen"], "conformsTo": ["https://www.geonovum.nl/geo-standaarden/bag"]}
    assert http.put(path_of(iri), json=better).status_code == 200
    after = http.get(path_of(iri) + "/fair").json()
    assert after["score"]["earned"] == before + 1  # I3: a related standard (keywords alone miss the creator still)
    assert not [h for h in after["hints"] if h.get("pointer") in ("/keywords", "/conformsTo")]


def test_an_unknown_dataset_is_404(http):
    response = http.get("/datasets/nope/fair")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "nope" in response.json()["detail"]


def test_the_catalogue_summary_matches_the_datasets_scores(http, example):
    iris = [http.post("/datasets", json=example(name)).json()["@id"] for name in EXAMPLES]
    iris += [http.post("/datasets", json=document).json()["@id"] for document in (RICH, MINIMAL)]
    scores = [http.get(path_of(iri) + "/fair").json() for iri in iris]
    summary = http.get("/fair").json()
    percents = [s["score"]["percent"] for s in scores]
    assert summary["count"] == 5
    assert summary["score"] == {"mean": round(sum(percents) / 5, 2), "min": min(percents), "max": max(percents)}
    for principle in "FAIR":
        assert summary["principles"][principle] == round(sum(s["principles"][principle]["percent"] for s in scores) / 5, 2)
    missed = Counter((h["metric"], h["test"]) for s in scores for h in {(h["metric"], h["test"]): h for h in s["hints"]}.values())
    top = summary["mostCommonMisses"]
    assert len(top) == 10
    for miss in top:
        assert miss["count"] == missed[miss["metric"], miss["test"]]
    assert top[0]["count"] == 5 and top[0]["remedy"] == ["platform"]
    assert [m["count"] for m in top] == sorted((m["count"] for m in top), reverse=True)


def test_an_empty_catalogue_has_an_empty_summary(http):
    body = http.get("/fair").json()
    assert body["count"] == 0 and body["score"] == {"mean": None, "min": None, "max": None}
    assert body["mostCommonMisses"] == []
