"""Keywords that constrain a value in place: ``type``, ``enum``/``const``, bounds, ``pattern``,
``format``, ``uniqueItems`` and ``required`` (JSON Schema 2020-12 validation vocabulary, section 6).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ppi_schemas.compat.model import Change
from ppi_schemas.compat.values import canonical, join, json_type

_ANY_TYPE = frozenset({"null", "boolean", "object", "array", "number", "string"})
#: Lower bounds on counts, with the value an absent keyword means.
_MIN_COUNTS = {"minLength": 0, "minItems": 0, "minProperties": 0, "minContains": 1}
_MAX_COUNTS = ("maxLength", "maxItems", "maxProperties", "maxContains")


class ValueKeywords:
    """Collects changes; subclasses walk the subschemas and call ``compare_values`` on each pair.

    ``flipped`` is set while comparing inside ``not``, where narrowing the inner schema widens
    the outer one.
    """

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.flipped = False

    def _report(self, change: Change) -> None:
        self.changes.append(change.flipped() if self.flipped else change)

    def narrowed(self, rule: str, pointer: str, message: str) -> None:
        """Some payload valid under the old schema is rejected by the new one."""
        self._report(Change(rule, pointer, message, "backward"))

    def widened(self, rule: str, pointer: str, message: str) -> None:
        """Some payload valid under the new schema was rejected by the old one."""
        self._report(Change(rule, pointer, message, "forward"))

    def changed(self, rule: str, pointer: str, message: str) -> None:
        """The change cannot be ordered either way (or the checker cannot prove an order)."""
        self._report(Change(rule, pointer, message, "both"))

    def compare_values(self, old: dict, new: dict, pointer: str) -> None:
        """Compare the in-place keywords of two object schemas found at ``pointer``."""
        self._type(old, new, pointer)
        self._enum(old, new, pointer)
        self._const(old, new, pointer)
        self._counts(old, new, pointer)
        self._range(old, new, pointer, lower=True)
        self._range(old, new, pointer, lower=False)
        self._multiple_of(old, new, pointer)
        for keyword in ("pattern", "format"):
            self._presence(keyword, old, new, pointer)
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            report = self.narrowed if new.get("uniqueItems") else self.widened
            rule = "uniqueItems-added" if new.get("uniqueItems") else "uniqueItems-removed"
            report(rule, join(pointer, "uniqueItems"), rule.replace("-", " "))
        self._required(old, new, pointer)

    def _type(self, old: dict, new: dict, pointer: str) -> None:
        if canonical(old.get("type")) == canonical(new.get("type")):
            return
        old_types, new_types = admitted_types(old), admitted_types(new)
        at = join(pointer, "type")
        description = f"type {old.get('type', 'any')} -> {new.get('type', 'any')}"
        if lost := sorted(t for t in old_types if not covers(new_types, t)):
            self.narrowed("type-narrowed", at, f"{description}: {', '.join(lost)} now rejected")
        if gained := sorted(t for t in new_types if not covers(old_types, t)):
            self.widened("type-widened", at, f"{description}: {', '.join(gained)} now accepted")

    def _enum(self, old: dict, new: dict, pointer: str) -> None:
        at = join(pointer, "enum")
        if "enum" not in old and "enum" not in new:
            return
        if "enum" not in old:
            self.narrowed("enum-narrowed", at, f"enum added: only {new['enum']} accepted")
        elif "enum" not in new:
            self.widened("enum-widened", at, f"enum {old['enum']} removed")
        else:
            old_values = {canonical(value) for value in old["enum"]}
            new_values = {canonical(value) for value in new["enum"]}
            if lost := [value for value in old["enum"] if canonical(value) not in new_values]:
                self.narrowed("enum-narrowed", at, f"enum no longer allows {lost}")
            if gained := [value for value in new["enum"] if canonical(value) not in old_values]:
                self.widened("enum-widened", at, f"enum now allows {gained}")

    def _const(self, old: dict, new: dict, pointer: str) -> None:
        at = join(pointer, "const")
        if "const" in old and "const" in new:
            if canonical(old["const"]) != canonical(new["const"]):
                self.changed("const-changed", at, f"const {old['const']!r} -> {new['const']!r}")
        elif "const" in new:
            self.narrowed("const-added", at, f"const {new['const']!r} added")
        elif "const" in old:
            self.widened("const-removed", at, f"const {old['const']!r} removed")

    def _counts(self, old: dict, new: dict, pointer: str) -> None:
        for keyword, default in _MIN_COUNTS.items():
            before, after = old.get(keyword, default), new.get(keyword, default)
            if after != before:
                self._bound(after > before, join(pointer, keyword), keyword, before, after)
        for keyword in _MAX_COUNTS:
            before, after = old.get(keyword), new.get(keyword)
            if after != before:
                tighter = before is None or (after is not None and after < before)
                self._bound(tighter, join(pointer, keyword), keyword, before, after)

    def _range(self, old: dict, new: dict, pointer: str, *, lower: bool) -> None:
        """``minimum``/``exclusiveMinimum`` (or the maxima) judged together as one bound."""
        before, after = _numeric_bound(old, lower), _numeric_bound(new, lower)
        if before == after:
            return
        if before is None or after is None:
            tighter = before is None
        else:
            tighter = _bound_key(after, lower) > _bound_key(before, lower)
        keyword = (after or before)[2]  # type: ignore[index]
        self._bound(
            tighter,
            join(pointer, keyword),
            "lower bound" if lower else "upper bound",
            _describe(before),
            _describe(after),
        )

    def _multiple_of(self, old: dict, new: dict, pointer: str) -> None:
        before, after = old.get("multipleOf"), new.get("multipleOf")
        if canonical(before) == canonical(after):
            return
        at = join(pointer, "multipleOf")
        if before is None or after is None:
            self._bound(before is None, at, "multipleOf", before, after)
            return
        ratio = Fraction(str(after)) / Fraction(str(before))
        if ratio.denominator == 1 or ratio.numerator == 1:
            # every multiple of ``after`` is a multiple of ``before`` iff after/before is whole
            self._bound(ratio.denominator == 1, at, "multipleOf", before, after)
        else:
            self.changed("bound-changed", at, f"multipleOf {before} -> {after}: neither divides the other")

    def _bound(self, tighter: bool, at: str, what: str, before: Any, after: Any) -> None:
        verb = "tightened" if tighter else "loosened"
        report = self.narrowed if tighter else self.widened
        before = "none" if before is None else before
        after = "none" if after is None else after
        report(f"bound-{verb}", at, f"{what} {verb}: {before} -> {after}")

    def _presence(self, keyword: str, old: dict, new: dict, pointer: str) -> None:
        """``pattern`` and ``format``: whether one regular expression or format contains another
        is not decided here, so a changed value is reported as breaking both ways."""
        before, after = old.get(keyword), new.get(keyword)
        at = join(pointer, keyword)
        if before == after:
            return
        if before is None:
            self.narrowed(f"{keyword}-added", at, f"{keyword} {after!r} added")
        elif after is None:
            self.widened(f"{keyword}-removed", at, f"{keyword} {before!r} removed")
        else:
            self.changed(
                f"{keyword}-changed",
                at,
                f"{keyword} {before!r} -> {after!r}: containment cannot be proven, "
                "so both directions are assumed broken",
            )

    def _required(self, old: dict, new: dict, pointer: str) -> None:
        before, after = old.get("required", []), new.get("required", [])
        for index, name in enumerate(after):
            if name not in before:
                self.narrowed("required-added", join(pointer, "required", index), f"'{name}' is now required")
        for index, name in enumerate(before):
            if name not in after:
                self.widened("required-removed", join(pointer, "required", index), f"'{name}' is no longer required")


def admitted_types(schema: dict) -> frozenset[str]:
    """The JSON types a schema admits, narrowed by ``enum``/``const`` when present."""
    declared = schema.get("type")
    types = _ANY_TYPE if declared is None else frozenset([declared] if isinstance(declared, str) else declared)
    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if values is None:
        return types
    return frozenset(json_type(value) for value in values if covers(types, json_type(value)))


def covers(types: frozenset[str], json_type_name: str) -> bool:
    """Whether a set of type names admits a type ("number" admits "integer")."""
    return json_type_name in types or (json_type_name == "integer" and "number" in types)


def _numeric_bound(schema: dict, lower: bool) -> tuple[float, bool, str] | None:
    """The effective (value, exclusive, keyword) bound, or None when unbounded."""
    inclusive, exclusive = ("minimum", "exclusiveMinimum") if lower else ("maximum", "exclusiveMaximum")
    candidates = [(schema[key], key == exclusive, key) for key in (inclusive, exclusive) if key in schema]
    if not candidates:
        return None
    tightest = max if lower else min
    return tightest(candidates, key=lambda bound: (bound[0], bound[1] if lower else not bound[1]))


def _bound_key(bound: tuple[float, bool, str], lower: bool) -> tuple[float, bool]:
    """Orders bounds so that greater means tighter."""
    value, exclusive, _ = bound
    return (value, exclusive) if lower else (-value, exclusive)


def _describe(bound: tuple[float, bool, str] | None) -> str | None:
    return None if bound is None else f"{bound[2]} {bound[0]}"
