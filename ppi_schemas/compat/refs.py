"""Local ``$ref`` resolution (JSON Schema 2020-12, section 8.2) for walking two schemas side by side.

Only references into the same document are followed: ``#``, ``#/json/pointer``, ``#anchor`` and
the same forms prefixed by the document's own ``$id``. A PPI's schema is self-contained, so
anything else is reported by the diff as a reference it could not follow, never fetched.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ppi_schemas.compat.values import unescape

#: Keywords of the 2020-12 applicator and validation vocabularies (plus ``format``, which this
#: project asserts). Any other keyword is an annotation and never changes which payloads are valid.
ASSERTIONS = frozenset(
    {
        "$ref",
        "$dynamicRef",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "prefixItems",
        "items",
        "contains",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxContains",
        "minContains",
        "maxProperties",
        "minProperties",
        "required",
        "dependentRequired",
        "format",
    }
)


def accepts_everything(schema: Any) -> bool:
    """True for ``true`` and for object schemas made only of annotations (such as ``{}``)."""
    return schema is True or (isinstance(schema, dict) and ASSERTIONS.isdisjoint(schema))


class LocalRefs:
    """Resolves the local references of one schema document, remembering what it expanded."""

    def __init__(self, root: Any) -> None:
        self._root = root
        self._base = root.get("$id", "").partition("#")[0] if isinstance(root, dict) else ""
        self._anchors: dict[str, Any] = {}
        self._index_anchors(root)
        # id(node) -> (node, expansion); holding the node keeps its id unique while cached.
        self._expanded: dict[int, tuple[Any, Any]] = {}

    def _index_anchors(self, node: Any) -> None:
        if isinstance(node, dict):
            for keyword in ("$anchor", "$dynamicAnchor"):
                if isinstance(node.get(keyword), str):
                    self._anchors.setdefault(node[keyword], node)
            for child in node.values():
                self._index_anchors(child)
        elif isinstance(node, list):
            for child in node:
                self._index_anchors(child)

    def resolve(self, ref: str) -> Any | None:
        """The schema a reference points at, or None when it is not local or does not exist."""
        base, _, fragment = ref.partition("#")
        if base not in ("", self._base):
            return None
        fragment = unquote(fragment)
        if not fragment.startswith("/"):
            return self._anchors.get(fragment) if fragment else self._root
        node = self._root
        for token in map(unescape, fragment[1:].split("/")):
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node

    def expand(self, schema: Any) -> Any:
        """Replace a followable ``$ref`` by its target.

        A ``$ref`` with sibling assertions applies both (2020-12 section 8.2.3.1): they are merged
        into one object when no keyword clashes, else they become ``{"allOf": [siblings,
        target]}``. A cycle of references that never reaches content is left as it is.
        """
        if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
            return schema
        cached = self._expanded.get(id(schema))
        if cached is not None:
            return cached[1]
        self._expanded[id(schema)] = (schema, schema)
        target = self.resolve(schema["$ref"])
        result = schema
        if target is not None:
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            result = _conjunction(siblings, self.expand(target))
        self._expanded[id(schema)] = (schema, result)
        return result


#: Keywords that read their neighbours in the same schema object (``additionalProperties`` sees
#: only sibling ``properties``), so a group split between a ``$ref`` and its target cannot merge.
_NEIGHBOURS = (
    {"properties", "patternProperties", "additionalProperties"},
    {"prefixItems", "items"},
    {"contains", "minContains", "maxContains"},
    {"if", "then", "else"},
)


def _conjunction(siblings: dict[str, Any], target: Any) -> Any:
    """One schema meaning "siblings and target": merged into one object where that is exact."""
    if accepts_everything(siblings) or target is False:
        return target
    if target is True:
        return siblings
    shared = siblings.keys() & target.keys() & ASSERTIONS
    split = any(group & siblings.keys() and group & target.keys() for group in _NEIGHBOURS)
    if shared or split:
        return {"allOf": [siblings, target]}
    return {**target, **siblings}
