"""The permit check benchmark runs end to end and prints every figure (a small run: counts, not speed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from shapely.geometry import shape

import ppi_schemas
from bench.permit import building_plans, municipality

ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_municipality_is_reproducible_valid_and_as_large_as_asked() -> None:
    town = municipality(300, 40, seed=7)
    assert ppi_schemas.validate(town.plan, "zoning-plan@1.0.0") == []
    assert len(town.plan["features"]) >= 300 and len(town.parcels["features"]) == 40
    assert municipality(300, 40, seed=7).plan == town.plan and municipality(300, 40, seed=8).plan != town.plan
    kinds = {feature["kind"] for feature in town.plan["features"]}
    assert kinds >= {"enkelbestemming", "dubbelbestemming", "bouwvlak", "maatvoering", "bouwaanduiding"}
    plans = building_plans(town, 30, seed=7)
    assert {verdict for _, verdict in plans} == {"compliant", "non-compliant"}
    lots = [shape(p["geometry"]) for p in town.parcels["features"]]
    for plan, _ in plans:
        assert ppi_schemas.validate(plan, "building-plan@1.0.0") == []
        assert any(lot.contains(shape(plan["footprint"])) for lot in lots)


def test_a_small_benchmark_run_prints_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.permit", "--features", "300", "--parcels", "40", "--checks", "30",
         "--concurrency", "4", "--batch-size", "8"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "Traceback" not in run.stderr
    assert re.search(r"generated \d{3},?\d* zoning features in \d+ blocks and 40 parcels", out)
    assert re.search(r"loaded into the twin: [\d,]+ entities made in [\d.]+ s, published over HTTP in [\d.]+ s", out)
    assert "30 building plans" in out and "every verdict as built" in out
    for row in ("one check over HTTP (POST /v1/checks)", "check_plan in-process (twin query + rules)",
                "rules.check alone", "batch, 4 concurrent clients", "batches of 8 (POST /v1/checks/batch)"):
        assert re.search(rf"│ {re.escape(row)}\s+│ 30 ", out), row
    assert "p50 < 50 ms" in out and ">= 200 checks/s" in out
    for parsed in ("rotterdam_delfshaven_lod2.city.json", "den_haag_lod2.city.json", "IFC4 model, 4 storeys",
                   "IFC4 model, 20 storeys"):
        assert re.search(rf"{re.escape(parsed)}.*│ [\d.]+ ms", out), parsed
    assert "│ 16 building plans" in out and "4 storeys, 12.3 m" in out and "20 storeys, 60.3 m" in out
    summary = out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"permit check, \d+ features, 40 parcels: p50 [\d.]+ ms, p95 [\d.]+ ms \(target p50 < 50 ms: (met|NOT MET)\); "
        r"[\d,]+ checks/s with 4 clients \(target >= 200/s: (met|NOT MET)\), [\d,]+ checks/s in batches of 8 "
        r"\((met|NOT MET)\); parse CityJSON Rotterdam \d+ ms, "
        r"CityJSON Den Haag \d+ ms, IFC 4 storeys \d+ ms, IFC 20 storeys \d+ ms", summary), summary
