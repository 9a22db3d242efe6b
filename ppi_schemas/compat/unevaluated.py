"""Which members ``unevaluatedProperties`` applies to (JSON Schema 2020-12 section 11.3).

``unevaluatedProperties`` sees the members that no adjacent or in-place keyword evaluated. What
the ``allOf`` chain evaluates is certain; what ``anyOf``, ``oneOf``, ``if``/``then``/``else`` and
``dependentSchemas`` evaluate depends on which branches a payload matches, so names declared only
there are *conditional* and the diff does not order changes that involve them.
"""

from __future__ import annotations

from typing import Any

from ppi_schemas.compat.refs import LocalRefs


def certain_names(schema: Any, refs: LocalRefs) -> dict[str, tuple[str | int, ...]]:
    """Members declared by ``properties`` of ``schema`` and its ``allOf`` chain, with their paths."""
    names: dict[str, tuple[str | int, ...]] = {}
    for path, node in _all_of_chain(schema, refs, ()):
        for name in node.get("properties", {}):
            names.setdefault(name, (*path, "properties", name))
    return names


def conditional_names(schema: Any, refs: LocalRefs, seen: frozenset[int] = frozenset()) -> set[str]:
    """Members declared only in branches that may or may not match."""
    found: set[str] = set()
    for _, node in _all_of_chain(schema, refs, ()):
        if id(node) in seen:
            continue
        branches = [*node.get("anyOf", []), *node.get("oneOf", []), *node.get("dependentSchemas", {}).values()]
        branches += [node[keyword] for keyword in ("if", "then", "else") if keyword in node]
        for branch in branches:
            found |= certain_names(branch, refs).keys() | conditional_names(branch, refs, seen | {id(node)})
    return found - certain_names(schema, refs).keys()


def unevaluated(schema: dict[str, Any], refs: LocalRefs) -> Any:
    """The schema unevaluated members meet; ``True`` when every member is evaluated anyway
    (an ``additionalProperties`` or nested ``unevaluatedProperties`` in the ``allOf`` chain)."""
    if "unevaluatedProperties" not in schema:
        return True
    for path, node in _all_of_chain(schema, refs, ()):
        if "additionalProperties" in node or (path and "unevaluatedProperties" in node):
            return True
    return schema["unevaluatedProperties"]


def _all_of_chain(schema: Any, refs: LocalRefs, path: tuple, seen: frozenset[int] = frozenset()) -> list:
    """``schema`` and every subschema reached through ``allOf`` (``$ref`` followed), with paths."""
    schema = refs.expand(schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return []
    chain = [(path, schema)]
    for index, branch in enumerate(schema.get("allOf", [])):
        chain += _all_of_chain(branch, refs, (*path, "allOf", index), seen | {id(schema)})
    return chain
