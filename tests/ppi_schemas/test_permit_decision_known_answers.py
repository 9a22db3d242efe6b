"""The known-answer cases shipped with permit-decision@1.0.0 (``known-answers/``): each is well
formed and our rule engine gives exactly its hand-computed verdicts, so that the cases, which the
conformance suite holds vendors to, cannot drift from what the rules say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ppi_schemas
from mims.permit_check.rules import check
from mims.permit_check.ruleset import load_ruleset

FOLDER = ppi_schemas.get("permit-decision@1.0.0").path / "known-answers"
CASES = sorted(FOLDER.glob("*.json"))
REQUIRED = {"compliant", "height-at-the-limit", "height-one-centimetre-over", "overhang-of-the-building-plane",
            "use-not-allowed"}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))


def test_the_cases_cover_compliance_the_limits_an_overhang_and_a_use() -> None:
    assert REQUIRED <= {path.stem for path in CASES}


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_a_case_is_well_formed(path: Path) -> None:
    case = load(path)
    assert set(case) == {"description", "zoningPlan", "municipality", "plan", "expected"}
    assert case["description"].strip()
    assert ppi_schemas.validate(case["zoningPlan"], "zoning-plan@1.0.0") == []
    assert case["zoningPlan"]["status"] == "vastgesteld" and case["zoningPlan"]["crs"] == "EPSG:28992"
    assert case["zoningPlan"]["id"].startswith("NL.IMRO.9999.Conformance")  # synthetic, never a real plan
    assert ppi_schemas.validate(case["plan"], "building-plan@1.0.0") == []
    assert case["expected"]["verdict"] in ("compliant", "non-compliant", "insufficient-data")
    assert case["expected"]["rules"]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_our_rule_engine_gives_the_expected_verdicts(path: Path) -> None:
    case = load(path)
    zoning = case["zoningPlan"]
    decision = check(case["plan"], zoning["features"], None, load_ruleset(case["municipality"]),
                     plan_meta={zoning["id"]: zoning})
    assert ppi_schemas.validate(decision, "permit-decision@1.0.0") == []
    got = {result["rule"]: result["verdict"] for result in decision["results"]}
    assert decision["verdict"] == case["expected"]["verdict"]
    assert {rule: got.get(rule) for rule in case["expected"]["rules"]} == case["expected"]["rules"]
