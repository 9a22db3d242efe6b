"""Structural comparison of two JSON Schema 2020-12 documents.

The two schemas are walked side by side from the root; at every pair of subschemas each keyword is
judged as narrowing (some payload valid before is now rejected: breaks backward compatibility),
widening (some payload valid now was rejected before: breaks forward compatibility) or a change
that cannot be ordered (breaks both). Local ``$ref``s are followed, so pointers follow the payload's
structure through ``$defs``: a change inside a shared definition is reported where it is used.

It is not a decision procedure for schema containment. Where it cannot order a change (two
different regular expressions, a ``oneOf`` whose branches may overlap, keywords it does not
analyse) it reports the change as breaking both ways rather than passing over it, and ``check``
backs it with OLD's valid examples validated under NEW.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from itertools import combinations
from typing import Any

from ppi_schemas.compat.keywords import ValueKeywords, admitted_types, covers
from ppi_schemas.compat.model import Change
from ppi_schemas.compat.refs import LocalRefs, accepts_everything
from ppi_schemas.compat.unevaluated import certain_names, conditional_names, unevaluated
from ppi_schemas.compat.values import canonical, join

#: Keywords whose changes are reported without analysis (``keyword-unanalysed``, both ways).
UNANALYSED = ("dependentRequired", "dependentSchemas", "unevaluatedItems", "$dynamicRef")
_IN_PLACE = ("allOf", "anyOf", "oneOf")


def compare_schemas(old: dict[str, Any] | bool, new: dict[str, Any] | bool) -> list[Change]:
    """Every change between two schemas that breaks backward or forward compatibility."""
    diff = _SchemaDiff(LocalRefs(old), LocalRefs(new))
    diff.compare(old, new, "")
    return list(dict.fromkeys(diff.changes))


class _SchemaDiff(ValueKeywords):
    def __init__(self, old_refs: LocalRefs, new_refs: LocalRefs) -> None:
        super().__init__()
        self._old_refs, self._new_refs = old_refs, new_refs
        self._active: set[tuple[int, int, bool]] = set()

    def compare(self, old: Any, new: Any, pointer: str) -> None:
        """Compare two subschemas found at the same place; cycles through ``$ref`` stop here."""
        old, new = self._old_refs.expand(old), self._new_refs.expand(new)
        key = (id(old), id(new), self.flipped)
        if key in self._active:
            return
        self._active.add(key)
        try:
            self._compare(old, new, pointer)
        finally:
            self._active.discard(key)

    def _compare(self, old: Any, new: Any, pointer: str) -> None:
        if old is False or new is False:
            if new is not False:
                self.widened("false-schema-removed", pointer, "schema was false; now accepts values")
            elif old is not False:
                self.narrowed("false-schema-added", pointer, "schema is now false: rejects all")
            return
        old, new = (schema if isinstance(schema, dict) else {} for schema in (old, new))
        self.compare_values(old, new, pointer)
        self._objects(old, new, pointer)
        self._open_ends(old, new, pointer)
        self._arrays(old, new, pointer)
        self._applicators(old, new, pointer)
        self._conditionals(old, new, pointer)
        self._unanalysed(old, new, pointer)

    # -- objects -----------------------------------------------------------------------------

    def _objects(self, old: dict, new: dict, pointer: str) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name in dict.fromkeys([*old_props, *new_props]):
            at = join(pointer, "properties", name)
            if name in old_props and name in new_props:
                self.compare(old_props[name], new_props[name], at)
            elif name in old_props:
                self._property_moved(name, old_props[name], self._undeclared(new, name, False), at)
            else:
                self._property_moved(name, self._undeclared(old, name, True), new_props[name], at)
        old_patterns, new_patterns = old.get("patternProperties", {}), new.get("patternProperties", {})
        for pattern in dict.fromkeys([*old_patterns, *new_patterns]):
            self.compare(
                old_patterns.get(pattern, self._leftover(old, True)),
                new_patterns.get(pattern, self._leftover(new, False)),
                join(pointer, "patternProperties", pattern),
            )
        if "propertyNames" in old or "propertyNames" in new:
            self.compare(
                old.get("propertyNames", True),
                new.get("propertyNames", True),
                join(pointer, "propertyNames"),
            )
        self._evaluated_elsewhere(old, new, pointer)

    def _property_moved(self, name: str, old: Any, new: Any, at: str) -> None:
        """A property declared on one side only: compare it with what the other side allows."""
        old, new = self._old_refs.expand(old), self._new_refs.expand(new)
        if new is False:
            self.narrowed("property-removed", at, f"'{name}' removed under a closed schema")
        elif old is False:
            self.widened("property-added", at, f"'{name}' added under a closed schema")
        else:
            self.compare(old, new, at)

    def _undeclared(self, schema: dict, name: str, old_side: bool) -> Any:
        """The subschema a property not in ``properties`` meets (2020-12 sections 10.3.2, 11.3)."""
        matching = [sub for pattern, sub in schema.get("patternProperties", {}).items() if _search(pattern, name)]
        if matching:
            return matching[0] if len(matching) == 1 else {"allOf": matching}
        if "additionalProperties" in schema:
            return schema["additionalProperties"]
        refs = self._old_refs if old_side else self._new_refs
        if name in certain_names(schema, refs) or name in conditional_names(schema, refs):
            return True
        return unevaluated(schema, refs)

    def _evaluated_elsewhere(self, old: dict, new: dict, pointer: str) -> None:
        """Under ``unevaluatedProperties``, properties declared in in-place subschemas count too."""
        if "unevaluatedProperties" not in old and "unevaluatedProperties" not in new:
            return
        old_names, new_names = certain_names(old, self._old_refs), certain_names(new, self._new_refs)
        own = {*old.get("properties", {}), *new.get("properties", {})}
        for name in sorted(old_names.keys() - new_names.keys() - own):
            if self._new_refs.expand(self._undeclared(new, name, False)) is False:
                self.narrowed(
                    "property-removed", join(pointer, *old_names[name]), f"'{name}' removed under a closed schema"
                )
        for name in sorted(new_names.keys() - old_names.keys() - own):
            if self._old_refs.expand(self._undeclared(old, name, True)) is False:
                self.widened("property-added", join(pointer, *new_names[name]), f"'{name}' added under a closed schema")
        uncertain = conditional_names(old, self._old_refs) | conditional_names(new, self._new_refs)
        moot = accepts_everything(self._leftover(old, True, "unevaluatedProperties")) and accepts_everything(
            self._leftover(new, False, "unevaluatedProperties")
        )
        if uncertain and not moot and canonical(old) != canonical(new):
            self.changed(
                "keyword-unanalysed",
                join(pointer, "unevaluatedProperties"),
                f"{sorted(uncertain)} are evaluated only by branches that may not match, "
                "so unevaluatedProperties cannot be ordered",
            )

    def _leftover(self, schema: dict, old_side: bool, keyword: str | None = None) -> Any:
        """What members outside ``properties``/``patternProperties`` meet, ``$ref`` expanded:
        under ``keyword`` alone when given, else ``additionalProperties`` before
        ``unevaluatedProperties``."""
        refs = self._old_refs if old_side else self._new_refs
        if keyword != "unevaluatedProperties" and "additionalProperties" in schema:
            return refs.expand(schema["additionalProperties"])
        return refs.expand(True if keyword == "additionalProperties" else unevaluated(schema, refs))

    def _open_ends(self, old: dict, new: dict, pointer: str) -> None:
        """``additionalProperties`` / ``unevaluatedProperties``: open, a schema, or closed."""
        for keyword in ("additionalProperties", "unevaluatedProperties"):
            old_rest, new_rest = self._leftover(old, True, keyword), self._leftover(new, False, keyword)
            at = join(pointer, keyword)
            old_open, new_open = accepts_everything(old_rest), accepts_everything(new_rest)
            if (old_open and new_open) or (old_rest is False and new_rest is False):
                continue
            if old_open or new_rest is False:
                self.narrowed(f"{keyword}-narrowed", at, f"{keyword} {_openness(old_rest)} -> {_openness(new_rest)}")
            elif new_open or old_rest is False:
                self.widened(f"{keyword}-widened", at, f"{keyword} {_openness(old_rest)} -> {_openness(new_rest)}")
            else:
                self.compare(old_rest, new_rest, at)

    # -- arrays ------------------------------------------------------------------------------

    def _arrays(self, old: dict, new: dict, pointer: str) -> None:
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        old_items, new_items = old.get("items", True), new.get("items", True)
        for index in range(max(len(old_prefix), len(new_prefix))):
            self.compare(
                old_prefix[index] if index < len(old_prefix) else old_items,
                new_prefix[index] if index < len(new_prefix) else new_items,
                join(pointer, "prefixItems", index),
            )
        if "items" in old or "items" in new:
            self.compare(old_items, new_items, join(pointer, "items"))
        self._optional_subschema("contains", old, new, pointer)

    # -- applicators -------------------------------------------------------------------------

    def _applicators(self, old: dict, new: dict, pointer: str) -> None:
        for keyword in _IN_PLACE:
            if keyword in old and keyword in new:
                self._branches(keyword, old[keyword], new[keyword], join(pointer, keyword))
            else:
                self._optional_subschema(keyword, old, new, pointer)
        if "not" in old and "not" in new:
            self.flipped = not self.flipped
            try:
                self.compare(old["not"], new["not"], join(pointer, "not"))
            finally:
                self.flipped = not self.flipped
        else:
            self._optional_subschema("not", old, new, pointer)

    def _optional_subschema(self, keyword: str, old: dict, new: dict, pointer: str) -> None:
        """An applicator present on one side only constrains that side; on both, recurse."""
        at = join(pointer, keyword)
        if keyword in old and keyword in new:
            self.compare(old[keyword], new[keyword], at)
        elif keyword in new:
            self.narrowed(f"{keyword}-added", at, f"{keyword} added")
        elif keyword in old:
            self.widened(f"{keyword}-removed", at, f"{keyword} removed")

    def _branches(self, keyword: str, old: list, new: list, at: str) -> None:
        """Pair branches (equal, then same ``$ref``/``title``, then same index) and compare them.

        An extra ``allOf`` branch narrows; an extra ``anyOf`` branch widens. ``oneOf`` reads as
        ``anyOf`` only while its branches are mutually exclusive: otherwise narrowing a branch can
        leave a payload matching exactly one branch where it matched two, so a change there is
        also reported as breaking both ways.
        """
        reported = len(self.changes)
        pairs, removed, added = _pair(old, new)
        for old_index, new_index in pairs:
            self.compare(old[old_index], new[new_index], join(at, new_index))
        for index in removed:
            report = self.widened if keyword == "allOf" else self.narrowed
            report(f"{keyword}-branch-removed", join(at, index), f"{keyword} branch {index} removed")
        for index in added:
            report = self.narrowed if keyword == "allOf" else self.widened
            report(f"{keyword}-branch-added", join(at, index), f"{keyword} branch {index} added")
        changed = len(self.changes) > reported
        if keyword == "oneOf" and changed and not (_exclusive(old, self._old_refs) and _exclusive(new, self._new_refs)):
            self.changed(
                "oneOf-not-exclusive",
                at,
                "oneOf branches changed and are not provably mutually exclusive "
                "(disjoint types or a required const/enum discriminator)",
            )

    def _conditionals(self, old: dict, new: dict, pointer: str) -> None:
        """``then``/``else`` are compared only under an unchanged ``if``; otherwise unanalysed."""
        if "if" not in old and "if" not in new:
            return
        if canonical(old.get("if")) != canonical(new.get("if")):
            self.changed(
                "keyword-unanalysed", join(pointer, "if"), "'if' changed; conditional schemas are not analysed"
            )
            return
        for keyword in ("then", "else"):
            if keyword in old or keyword in new:
                at = join(pointer, keyword)
                self.compare(old.get(keyword, True), new.get(keyword, True), at)

    def _unanalysed(self, old: dict, new: dict, pointer: str) -> None:
        for keyword in UNANALYSED:
            if canonical(old.get(keyword)) != canonical(new.get(keyword)):
                self.changed(
                    "keyword-unanalysed",
                    join(pointer, keyword),
                    f"'{keyword}' changed; it is not analysed, so neither direction can be proven",
                )
        if old.get("$ref") != new.get("$ref"):
            self.changed(
                "ref-changed",
                join(pointer, "$ref"),
                f"reference {old.get('$ref')!r} -> {new.get('$ref')!r} is not local and is not followed",
            )


def _openness(schema: Any) -> str:
    return "open" if accepts_everything(schema) else "false" if schema is False else "a schema"


def _search(pattern: str, name: str) -> bool:
    """ECMA-262 patterns mostly read the same in Python; an unreadable one matches nothing."""
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def _exclusive(branches: list, refs: LocalRefs) -> bool:
    """Whether no payload can match two branches: their types are disjoint, or a member all of
    them require takes ``const``/``enum`` values that differ from branch to branch."""
    expanded = [refs.expand(branch) for branch in branches]
    if len(expanded) < 2:
        return True
    if not all(isinstance(branch, dict) for branch in expanded):
        return False
    if all("type" in branch for branch in expanded):
        types = [admitted_types(branch) for branch in expanded]
        if all(not _overlap(a, b) for a, b in combinations(types, 2)):
            return True
    for member in set.intersection(*(set(branch.get("required", ())) for branch in expanded)):
        values = [_allowed(refs.expand(branch.get("properties", {}).get(member))) for branch in expanded]
        if all(v is not None for v in values) and all(not a & b for a, b in combinations(values, 2)):  # type: ignore[operator]
            return True
    return False


def _overlap(types: frozenset[str], others: frozenset[str]) -> bool:
    return any(covers(others, name) for name in types) or any(covers(types, name) for name in others)


def _allowed(schema: Any) -> frozenset | None:
    """The values a schema pins with ``const`` or ``enum``, or None when it pins none."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return frozenset({canonical(schema["const"])})
    return frozenset(map(canonical, schema["enum"])) if "enum" in schema else None


def _pair(old: list, new: list) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Match branches by equality, then a shared ``$ref`` or ``title``, then position.

    Returns the matched (old index, new index) pairs, the unmatched old and new indexes.
    """
    pairs: list[tuple[int, int]] = []
    free_old, free_new = list(range(len(old))), list(range(len(new)))

    def match(key: Callable[[Any, int], Hashable]) -> None:
        for i in list(free_old):
            wanted = key(old[i], i)
            j = next((j for j in free_new if wanted is not None and key(new[j], j) == wanted), None)
            if j is not None:
                pairs.append((i, j))
                free_old.remove(i)
                free_new.remove(j)

    match(lambda branch, _: canonical(branch))
    match(lambda branch, _: _label(branch, "$ref"))
    match(lambda branch, _: _label(branch, "title"))
    match(lambda _, index: index)
    if len(free_old) == len(free_new):
        pairs.extend(zip(free_old, free_new, strict=True))
        free_old, free_new = [], []
    return sorted(pairs), free_old, free_new


def _label(branch: Any, keyword: str) -> Hashable:
    return branch.get(keyword) if isinstance(branch, dict) else None
