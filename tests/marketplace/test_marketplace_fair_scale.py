"""FAIR scores kept between requests: the same numbers as scoring afresh, and never stale after a
publish, update, withdrawal or harvest, nor when the same dataset changes without a new date."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

from bench.marketplace import dataset_document
from mims.marketplace import fair, rdf
from mims.marketplace.dcat import Dataset
from tests.marketplace.conftest import GATEWAY_URL, PUBLIC_URL
from tests.marketplace.test_marketplace_fair import MINIMAL, RICH
from tests.marketplace.test_marketplace_harvest import DEN_HAAG, harvest, peer  # noqa: F401

SITE = rdf.Site(PUBLIC_URL, GATEWAY_URL)
MOMENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def catalogue(count: int) -> list[Dataset]:
    rng = random.Random(6)
    return [Dataset(id=f"{n:032x}", document=dataset_document(n, rng), issued=MOMENT + timedelta(minutes=n),
                    modified=MOMENT + timedelta(minutes=n)) for n in range(count)]


def test_kept_scores_give_the_numbers_of_fresh_ones():
    datasets = catalogue(120) + [Dataset(id="f" * 32, document=copy.deepcopy(RICH), issued=MOMENT, modified=MOMENT)]
    scores = fair.ScoreCache()
    fresh = fair.summarize([fair.assess(d, SITE) for d in datasets], most_common=100)
    assert scores.summary(datasets, SITE, most_common=100) == fresh
    assert scores.summary(datasets, SITE, most_common=100) == fresh  # now from what was kept
    assert fresh["count"] == 121 and len(fresh["mostCommonMisses"]) > 5
    for dataset in datasets[:10]:
        assert scores.assessment(dataset, SITE) == fair.assess(dataset, SITE).as_json()


def test_a_changed_dataset_is_scored_afresh_even_with_the_same_dates():
    scores = fair.ScoreCache()
    before = Dataset(id="a" * 32, document=copy.deepcopy(MINIMAL), issued=MOMENT, modified=MOMENT)
    better = MINIMAL | {"conformsTo": ["https://www.geonovum.nl/geo-standaarden/bag"]}
    after = Dataset(id="a" * 32, document=better, issued=MOMENT, modified=MOMENT)
    assert scores.assessment(before, SITE)["score"] != scores.assessment(after, SITE)["score"]
    assert scores.assessment(after, SITE) == fair.assess(after, SITE).as_json()
    assert scores.summary([after], SITE) == fair.summarize([fair.assess(after, SITE)])
    moved = rdf.Site("https://w3id.org/rotterdam/marketplace", GATEWAY_URL)  # another public URL: other IRIs
    assert scores.assessment(after, moved)["dataset"] == "https://w3id.org/rotterdam/marketplace/datasets/" + "a" * 32


def test_the_least_recently_used_scores_are_forgotten_first():
    scores = fair.ScoreCache(max_scorecards=3, max_assessments=2)
    datasets = catalogue(5)
    scores.summary(datasets, SITE)
    assert len(scores._scorecards) == 3
    for dataset in datasets[:3]:
        scores.assessment(dataset, SITE)
    assert len(scores._assessments) == 2


def path_of(iri: str) -> str:
    return iri.removeprefix(PUBLIC_URL)


def test_the_catalogue_s_score_follows_every_change(http, peer):  # noqa: F811
    first = http.post("/datasets", json=MINIMAL).json()["@id"]
    http.post("/datasets", json=RICH)
    summary = http.get("/fair").json()
    assert summary["count"] == 2 and http.get("/fair").json() == summary
    single = http.get(path_of(first) + "/fair").json()
    assert summary["score"]["min"] == single["score"]["percent"]

    better = MINIMAL | {"keywords": ["bomen"], "publisher": {"name": "Gemeente Delft", "url": "https://www.delft.nl"}}
    assert http.put(path_of(first), json=better).status_code == 200
    updated = http.get("/fair").json()
    rescored = http.get(path_of(first) + "/fair").json()
    assert rescored["score"]["percent"] > single["score"]["percent"]
    assert updated["score"]["min"] == min(rescored["score"]["percent"], summary["score"]["max"])

    assert http.delete(path_of(first)).status_code == 204
    assert http.get("/fair").json()["count"] == 1

    peer.publish(copy.deepcopy(MINIMAL))
    assert harvest(http, peer.url + "/catalog")["harvested"] == 4  # the peer's three examples and it
    harvested = http.get("/fair").json()
    assert harvested["count"] == 5 and harvested["score"]["min"] < summary["score"]["max"]


def test_only_a_dataset_scored_as_it_stands_is_kept():
    scores = fair.ScoreCache()
    dataset = Dataset(id="b" * 32, document=copy.deepcopy(RICH), issued=MOMENT, modified=MOMENT)
    assert scores.kept(dataset, SITE) is None
    assert scores.kept(dataset, SITE) is None and len(scores._assessments) == 0
    scored = scores.assessment(dataset, SITE)
    assert scores.kept(dataset, SITE) is scored
    assert scores.kept(Dataset(id=dataset.id, document=MINIMAL, issued=MOMENT, modified=MOMENT), SITE) is None
