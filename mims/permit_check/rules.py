"""Check a building plan (building-plan@1.0.0) against the zoning plans in force at its footprint
and a municipality's rule set, rule by rule: a permit-decision@1.0.0 document.

Per rule: the limit comes from the zoning (the strictest measurement of its kind among the zoning
features the footprint overlaps), the designation, a parking norm or a constant of the rule set;
the plan's value is measured and rounded to the rule's decimals, then compared ("at most" is
``<=``). Verdicts: pass, fail, not-applicable (no limit applies), insufficient-data (no zoning plan
in force is known here, or the plan lacks a value: the explanation names the member to supply).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shapely.geometry.base import BaseGeometry

import ppi_schemas
from mims.kit.problems import ProblemError, ProblemItem
from mims.permit_check.measures import (
    MEASURES,
    Missing,
    NotApplicable,
    Site,
    geojson,
    site,
)

BUILDING_PLAN = "building-plan@1.0.0"
ROOF_ALLOWED = {"flat": {"flat"}, "pitched": {"pitched"}, "not-flat": {"pitched", "other"},
                "not-pitched": {"flat", "other"}}
WORDS = {  # plan values shown in explanations
    "nl": {"flat": "plat", "pitched": "kap", "other": "anders"},
    "en": {"flat": "flat", "pitched": "pitched", "other": "other"},
}
UNITS = {"m": " m", "m2": " m²", "%": "%", None: ""}
FUNCTIONS = ("agrarisch met waarden", "agrarisch", "bedrijventerrein", "bedrijf", "bos", "centrum",
             "cultuur en ontspanning", "detailhandel", "dienstverlening", "gemengd", "groen", "horeca",
             "kantoor", "maatschappelijk", "natuur", "recreatie", "sport", "tuin", "verkeer", "water",
             "woongebied", "wonen", "overig")


@dataclass(frozen=True)
class Limit:
    value: Any
    unit: str | None
    reference: dict[str, str] | None
    zoning: str = ""
    """The names of the zoning features the limit comes from, for the {zoning} placeholder."""


def check(plan: dict[str, Any], zoning_features: Iterable[dict[str, Any]], parcel: dict[str, Any] | None,
          ruleset: dict[str, Any], *, plan_meta: Mapping[str, Mapping[str, Any]] | None = None,
          checked_at: datetime | None = None, footprint: BaseGeometry | None = None,
          geometries: Sequence[BaseGeometry] | None = None) -> dict[str, Any]:
    """The permit decision for ``plan``.

    ``zoning_features``: zoning-plan@1.0.0 features at the footprint, each citing its plan; a
    feature counts only if its plan's status (its own ``planStatus``, else ``plan_meta[plan id]
    ["status"]``, e.g. ``{doc["id"]: doc}`` for zoning-plan documents) is vastgesteld or
    geconsolideerd. ``parcel``: ``{"reference", "geometry"}`` in EPSG:28992, or None (then the
    plan's own parcel geometry is used, if it has one). ``ruleset``: from ``load_ruleset``.
    ``footprint`` and ``geometries``: see ``measures.site``.
    """
    if not ppi_schemas.is_valid(plan, BUILDING_PLAN):
        problems = ppi_schemas.validate(plan, BUILDING_PLAN)
        raise ProblemError(422, "Not a building plan", f"{problems[0].pointer or '/'} {problems[0].message}",
                           errors=[ProblemItem(p.pointer, p.message, BUILDING_PLAN) for p in problems])
    features = list(zoning_features)
    plan_meta = plan_meta or {}
    tolerance = ruleset["geometryTolerance"]["value"]
    here = site(plan, features, parcel, plan_meta, tolerance, footprint=footprint, geometries=geometries)
    results = [_evaluate(rule, here, ruleset) for rule in ruleset["rules"]]
    verdicts = {result["verdict"] for result in results}
    verdict = ("non-compliant" if "fail" in verdicts
               else "insufficient-data" if "insufficient-data" in verdicts else "compliant")
    return {
        "verdict": verdict,
        "ruleSet": {"municipality": ruleset["municipality"], "version": ruleset["version"]},
        "inputHash": input_hash(plan, features, parcel, ruleset, plan_meta),
        "checkedAt": _timestamp(checked_at or datetime.now(UTC)),
        "results": results,
    }


def input_hash(plan: dict[str, Any], features: list[dict[str, Any]], parcel: dict[str, Any] | None,
               ruleset: dict[str, Any], plan_meta: Mapping[str, Mapping[str, Any]]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of everything the decision depends on:
    the plan, the zoning features (in a fixed order) and the status of their plans, the parcel and
    the rule set's municipality and version."""
    cited = sorted({f.get("cites", {}).get("plan", "") for f in features})
    document = {
        "plan": plan,
        "zoningFeatures": sorted(features, key=lambda f: (f.get("cites", {}).get("plan", ""), f.get("id", ""), f.get("kind", ""))),
        "zoningPlanStatus": {p: plan_meta.get(p, {}).get("status") for p in cited},
        "parcel": parcel,
        "ruleSet": {"municipality": ruleset["municipality"], "version": ruleset["version"]},
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- one rule --------------------------------------------------------------------------------------


def _evaluate(rule: dict[str, Any], here: Site, ruleset: dict[str, Any]) -> dict[str, Any]:
    source = rule["limit"]["source"]
    result = {"rule": rule["id"], "title": rule["texts"]["title"], "measured": None, "limit": None,
              "comparator": rule["comparator"], "legalReference": _zoning_reference(here), "evidence": None}
    needs_zoning = source in ("zoning", "designation") or rule["measure"] == "outside-building-plane"
    if needs_zoning and not here.of_kind("enkelbestemming"):
        return {**result, "verdict": "insufficient-data", "explanation": ruleset["texts"]["noZoning"],
                "legalReference": None}
    if "appliesWhen" in rule:
        functions = here.functions()
        if functions is None:
            return _insufficient(result, "functions", ruleset)
        if not {f["function"] for f in functions} & set(rule["appliesWhen"]["functions"]):
            return _not_applicable(result, rule)
    limit = _limit(rule, here)
    if isinstance(limit, Missing):
        return _insufficient(result, limit.member, ruleset)
    if limit is None:
        return _not_applicable(result, rule)
    result |= {"limit": {"value": limit.value, "unit": limit.unit}, "legalReference": limit.reference}
    measured = MEASURES[rule["measure"]](here, rule)
    if isinstance(measured, NotApplicable):
        return _not_applicable(result, rule)
    if isinstance(measured, Missing):
        return _insufficient(result, measured.member, ruleset)
    value = _rounded(measured.value, rule.get("decimals", 2))
    verdict = "pass" if _holds(value, rule["comparator"], limit.value) else "fail"
    explanation = {}
    for lang in ("nl", "en"):
        template = rule["texts"]["explanation"][lang]
        # the tolerance is shown only where the text names it (few do)
        tolerance = _shown(here.tolerance, "m", lang) if "{tolerance" in template else ""
        explanation[lang] = template.format(
            measured=_shown(value, measured.unit, lang), limit=_shown(limit.value, limit.unit, lang),
            zoning=limit.zoning, tolerance=tolerance) + " " + ruleset["texts"][verdict][lang]
    return {**result, "measured": {"value": value, "unit": measured.unit}, "verdict": verdict,
            "explanation": explanation, "evidence": geojson(measured.evidence)}


def _insufficient(result: dict[str, Any], member: str, ruleset: dict[str, Any]) -> dict[str, Any]:
    texts = ruleset["texts"]
    what = texts["members"].get(member, {"nl": member, "en": member})
    explanation = {lang: texts["missing"][lang].format(what=what[lang], member=member) for lang in ("nl", "en")}
    return {**result, "verdict": "insufficient-data", "explanation": explanation}


def _not_applicable(result: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
    reference = rule["limit"].get("legalReference") or result["legalReference"]
    return {**result, "limit": None, "verdict": "not-applicable", "explanation": rule["texts"]["notApplicable"],
            "legalReference": reference}


def _zoning_reference(here: Site) -> dict[str, str] | None:
    areas = here.of_kind("enkelbestemming")
    return _cites(areas[0]) if areas else None


def _cites(feature: dict[str, Any]) -> dict[str, str]:
    return {key: feature["cites"][key] for key in ("plan", "article") if key in feature["cites"]}


# -- limits ----------------------------------------------------------------------------------------


def _limit(rule: dict[str, Any], here: Site) -> Limit | Missing | None:
    spec = rule["limit"]
    source = spec["source"]
    if source in ("zoning", "zoning-or-constant"):
        found = zoning_limit(here, spec["kind"])
        if found or source == "zoning":
            return found
    if source in ("constant", "zoning-or-constant"):
        reference = spec["legalReference"]
        if rule["measure"] == "outside-building-plane":  # the plan's article on its building planes
            planes = here.of_kind("bouwvlak") or here.of_kind("enkelbestemming")
            reference = _cites(planes[0]) if planes else reference
        return Limit(spec["value"], spec["unit"], reference)
    if source == "designation":
        return _designation_limit(spec, here)
    return _parking_limit(spec, here)


def zoning_limit(here: Site, kind: str) -> Limit | None:
    """The strictest ``kind`` measurement among the zoning features at the footprint: the lowest
    maximum, the highest minimum, the allowed roof types every roof requirement leaves."""
    found = [(m, f) for f in here.features for m in f.get("measurements", []) if m["kind"] == kind]
    if not found:
        return None
    if kind == "roof_requirement":
        allowed = set.intersection(*(ROOF_ALLOWED[m["value"]] for m, _ in found))
        feature = found[0][1]
        return Limit(sorted(allowed), None, _cites(feature), feature["name"])
    measurement, feature = (max if kind.startswith("min_") else min)(found, key=lambda mf: mf[0]["value"])
    return Limit(measurement["value"], measurement["unit"], _cites(feature), feature["name"])


def _designation_limit(spec: dict[str, Any], here: Site) -> Limit | None:
    """The functions every zoning area at the footprint allows, plus those its function indications add."""
    areas = here.of_kind("enkelbestemming")
    if not areas:
        return None
    allowed = set.intersection(*({a["designation"], *spec["allows"].get(a["designation"], [])} for a in areas))
    for indication in here.of_kind("functieaanduiding"):
        name = indication["name"].lower()
        # "horeca tot en met categorie 1" allows horeca; FUNCTIONS lists longer names first
        allowed |= next(({f} for f in FUNCTIONS if name == f or name.startswith(f + " ")), set())
    names = ", ".join(dict.fromkeys(a["name"] for a in areas))
    return Limit(sorted(allowed), None, _cites(areas[0]), names)


def _parking_limit(spec: dict[str, Any], here: Site) -> Limit | Missing | None:
    """Spaces required: the norm per dwelling (the zoning's parking_norm where it sets one) times the
    dwellings, plus per function its norm per 100 m² gross floor area; rounded up to whole spaces."""
    functions = here.functions() or []
    dwellings = here.plan.get("dwellings")
    if dwellings is None and (not functions or any(f["function"] in ("wonen", "woongebied") for f in functions)):
        return Missing("dwellings" if functions else "functions")
    zoning = zoning_limit(here, spec["kind"]) if "kind" in spec else None
    per_dwelling = zoning.value if zoning else spec["perDwelling"]
    required = per_dwelling * (dwellings or 0)
    required += sum(spec["per100m2"].get(f["function"], 0) * f["grossFloorArea"] / 100 for f in functions)
    required = math.ceil(round(required, 6))
    if required == 0:
        return None
    return Limit(required, None, zoning.reference if zoning else spec["legalReference"])


# -- comparing and showing -------------------------------------------------------------------------


def _holds(measured: Any, comparator: str, limit: Any) -> bool:
    if comparator == "in":
        values = measured if isinstance(measured, list) else [measured]
        return set(values) <= set(limit)
    return {"<=": measured <= limit, ">=": measured >= limit, "<": measured < limit,
            ">": measured > limit, "==": measured == limit}[comparator]


def _rounded(value: Any, decimals: int) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    rounded = round(value, decimals) + 0
    return int(rounded) if float(rounded).is_integer() and (decimals == 0 or isinstance(value, int)) else rounded


def _shown(value: Any, unit: str | None, lang: str) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v, None, lang) for v in value) + UNITS[unit]
    if isinstance(value, str):
        return WORDS[lang].get(value, value)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return (text.replace(".", ",") if lang == "nl" else text) + UNITS[unit]
