"""Rule sets: one versioned JSON document per municipality in ``rulesets/``, validated against
``rulesets/ruleset.schema.json`` (and its text templates tried) when loaded."""

from __future__ import annotations

import json
import re
import string
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
import orjson

from mims.kit.problems import ProblemError, ProblemItem

PLACEHOLDERS = frozenset({"measured", "limit", "zoning", "tolerance"})
MEMBER_PLACEHOLDERS = frozenset({"what", "member"})
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


class RuleSetError(LookupError):
    """A rule set that is unknown or not valid; ``pointer`` says where in it."""

    def __init__(self, detail: str, pointer: str = "", status: int = 422) -> None:
        super().__init__(detail)
        self.detail, self.pointer, self.status = detail, pointer, status

    def problem(self) -> ProblemError:
        return ProblemError(self.status, "Unusable rule set", self.detail,
                            errors=[ProblemItem(self.pointer, self.detail, "ruleset")])


def municipalities() -> list[str]:
    """The names of the rule sets shipped."""
    files = resources.files(__package__).joinpath("rulesets").iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json") and not f.name.endswith(".schema.json"))


@lru_cache(maxsize=16)
def _load(municipality: str) -> str:
    if not _NAME.match(municipality) or municipality not in municipalities():
        raise RuleSetError(f"no rule set for municipality {municipality!r}; known: {', '.join(municipalities())}",
                           status=404)
    text = resources.files(__package__).joinpath("rulesets", f"{municipality}.json").read_text("utf-8")
    validate_ruleset(json.loads(text))
    return text


def load_ruleset(municipality: str) -> dict[str, Any]:
    """The rule set of ``municipality`` (a fresh copy), validated."""
    return orjson.loads(_load(municipality))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files(__package__).joinpath("rulesets", "ruleset.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate_ruleset(ruleset: dict[str, Any]) -> None:
    """Raise RuleSetError for the first problem of ``ruleset``: its schema, duplicate rule ids, or a
    text template with a placeholder the permit check does not fill."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(ruleset))
    if error is not None:
        raise RuleSetError(error.message, _pointer(error.absolute_path))
    seen: set[str] = set()
    for index, rule in enumerate(ruleset["rules"]):
        if rule["id"] in seen:
            raise RuleSetError(f"rule id {rule['id']!r} is used twice", f"/rules/{index}/id")
        seen.add(rule["id"])
        for part, text in rule["texts"].items():
            for language, template in text.items():
                _check_template(template, PLACEHOLDERS, f"/rules/{index}/texts/{part}/{language}")
    for language, template in ruleset["texts"]["missing"].items():
        _check_template(template, MEMBER_PLACEHOLDERS, f"/texts/missing/{language}")


def _check_template(template: str, allowed: frozenset[str], pointer: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise RuleSetError(f"not a valid template: {error}", pointer) from None
    unknown = names - allowed
    if unknown:
        raise RuleSetError(f"unknown placeholder {{{min(unknown)}}}; allowed: {', '.join(sorted(allowed))}", pointer)


def _pointer(path: Any) -> str:
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in path)
