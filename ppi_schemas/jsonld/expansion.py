"""The Expansion Algorithm (JSON-LD 1.1 API §5.1) over compiled context tables.

Each step mirrors pyld's ``_expand``/``_expand_object`` for the constructs NGSI-LD uses; a
construct or an error case it does not mirror raises :class:`Unsupported`.
"""

from __future__ import annotations

import copy
from typing import Any

from pyld.jsonld import _is_absolute_iri

from .compiled import KEYWORD, PROPERTY, ContextTables, Unsupported, add_value

_JSON_SCALARS = (str, int, float, bool)


class Expansion(ContextTables):
    """Expansion of one document under the compiled top-level context."""

    def expand(self, document: dict[str, Any]) -> list[Any]:
        result = self._node(None, document, False, top=True)
        return [] if result is None else [result]

    def _element(self, prop: str | None, element: Any, inside_list: bool) -> Any:
        if isinstance(element, dict):
            return self._node(prop, element, inside_list)
        if isinstance(element, list):
            inside_list = inside_list or "@list" in self.terms.get(prop, self.default_term).container
            out: list[Any] = []
            for item in element:
                expanded = self._element(prop, item, inside_list)
                if inside_list and isinstance(expanded, list):
                    expanded = {"@list": expanded}
                if expanded is None:
                    continue
                if isinstance(expanded, list):
                    out.extend(expanded)
                else:
                    out.append(expanded)
            return out
        if element is None:
            return None
        if not isinstance(element, _JSON_SCALARS):
            raise Unsupported(f"{type(element).__name__} is not a JSON value")
        return self._value(prop, element)

    def _value(self, prop: str, value: Any) -> dict[str, Any]:
        term = self.terms.get(prop, self.default_term)
        type_ = term.type
        if type_ == "@id" and isinstance(value, str):
            return {"@id": self._expand_id(value)}
        if type_ == "@vocab" and isinstance(value, str):
            return {"@id": self._vocab_iri(value)}
        result: dict[str, Any] = {}
        if type_ is not None and type_ not in ("@id", "@vocab", "@none"):
            result["@type"] = type_
        elif isinstance(value, str):
            if term.language is not None:
                result["@language"] = term.language
            if term.direction is not None:
                result["@direction"] = term.direction
        result["@value"] = value
        return result

    def _node(self, prop: str | None, element: dict[str, Any], inside_list: bool, top: bool = False) -> Any:
        if len(element) == 1 and prop is not None:  # the shapes of expanded input, short-cut
            if "@value" in element:
                value = element["@value"]
                if value is None:
                    return None
                if isinstance(value, _JSON_SCALARS):
                    return {"@value": value}
            elif "@id" in element:
                return {"@id": self._expand_id(element["@id"])}
        if not top and "@context" in element:
            raise Unsupported("embedded @context below the top level")
        result: dict[str, Any] = {}
        memo = self._keys
        for key in sorted(element):
            hit = memo.get(key)
            if hit is None:
                if key == "@context":
                    continue
                hit = self._key(key)
            iri, kind = hit
            if kind == PROPERTY:
                expanded = self._property(key, element[key])
                if expanded is None:
                    continue
                if iri in result:
                    add_value(result, iri, expanded, True)
                else:
                    result[iri] = expanded if isinstance(expanded, list) else [expanded]
            elif kind == KEYWORD:
                self._keyword(result, iri, element, key, prop)
        return self._finish_node(prop, element, result, inside_list)

    def _property(self, key: str, value: Any) -> Any:
        term = self.terms.get(key, self.default_term)
        container = term.container
        if not container:
            if term.type == "@json":
                return {"@type": "@json", "@value": copy.deepcopy(value)}
            return self._element(key, value, False)
        if term.map_container:
            raise Unsupported(f"term {key!r} is an index, id, type or graph container")
        if "@language" in container and isinstance(value, dict):
            expanded: Any = self._language_map(value, term.direction)
        elif term.type == "@json":
            expanded = {"@type": "@json", "@value": copy.deepcopy(value)}
        else:
            expanded = self._element(key, value, False)
        if expanded is not None and "@list" in container and not (isinstance(expanded, dict) and "@list" in expanded):
            expanded = {"@list": expanded if isinstance(expanded, list) else [expanded]}
        return expanded

    def _keyword(
        self, result: dict[str, Any], keyword: str, element: dict[str, Any], key: str, prop: str | None
    ) -> None:
        if keyword in result and keyword != "@type":
            raise Unsupported("colliding keywords")
        value = element[key]
        if keyword == "@id":
            result["@id"] = self._expand_id(value)
        elif keyword == "@type":
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise Unsupported("@type is not a string or an array of strings")
            for item in values:
                add_value(result, "@type", self._vocab_iri(item), False)
        elif keyword == "@value":
            if self._is_json_type(element):
                result["@value"] = copy.deepcopy(value)
            elif isinstance(value, (dict, list)):
                raise Unsupported("@value is an object or array")
            else:
                result["@value"] = value
        elif keyword == "@language":
            if value is None:
                return
            if not isinstance(value, str):
                raise Unsupported("@language is not a string")
            result["@language"] = value.lower()
        elif keyword == "@list":
            expanded = self._element(prop, value, True)
            if expanded is not None:
                add_value(result, "@list", expanded, True)
        else:
            raise Unsupported(f"keyword {keyword}")

    def _is_json_type(self, element: dict[str, Any]) -> bool:
        """Whether the first key expanding to ``@type`` names ``@json`` (its value stays as is)."""
        for key in sorted(element):
            if key != "@context" and self._key(key)[0] == "@type":
                first = element[key]
                if isinstance(first, list) and first:
                    first = first[0]
                return isinstance(first, str) and self._key(first)[0] == "@json"
        return False

    def _language_map(self, language_map: dict[str, Any], direction: Any) -> list[dict[str, Any]]:
        out = []
        for language in sorted(language_map):
            items = language_map[language]
            is_none = self._key(language)[0] == "@none"
            for item in items if isinstance(items, list) else [items]:
                if item is None:
                    continue
                if not isinstance(item, str):
                    raise Unsupported("language map value is not a string")
                value = {"@value": item}
                if not is_none:
                    value["@language"] = language.lower()
                if direction:
                    value["@direction"] = direction
                out.append(value)
        return out

    def _finish_node(self, prop: str | None, element: dict[str, Any], result: dict[str, Any], inside_list: bool) -> Any:
        """The checks and clean-ups pyld's ``_expand`` applies after a node's keys (§5.1.2 steps 15-19)."""
        count = len(result)
        if "@value" in result:
            value = self._finish_value(element, result, count)
            return None if prop is None and not inside_list else value
        if "@type" in result:
            if not isinstance(result["@type"], list):
                result["@type"] = [result["@type"]]
        elif "@list" in result:
            if count > 1:
                raise Unsupported("invalid list object")
        elif count == 1 and "@language" in result:
            return None
        if prop is None and not inside_list and (count == 0 or "@list" in result or (count == 1 and "@id" in result)):
            return None  # a free-floating value, list or node reference at the top
        return result

    def _finish_value(self, element: dict[str, Any], result: dict[str, Any], count: int) -> Any:
        has_type, has_language = "@type" in result, "@language" in result
        if has_type and (has_language or "@direction" in result):
            raise Unsupported("invalid value object")
        if count != 1 + has_type + has_language + ("@index" in result) + ("@direction" in result):
            raise Unsupported("invalid value object")
        types = []
        if has_type:
            if any(self._key(k)[0] == "@type" and isinstance(v, list) for k, v in element.items()):
                raise Unsupported("invalid typed value")
            types = [result["@type"]]
        if types == ["@json"]:
            return result
        if result["@value"] is None:
            return None
        if has_language and not isinstance(result["@value"], str):
            raise Unsupported("invalid language-tagged value")
        if not all(_is_absolute_iri(t) and not t.startswith("_:") for t in types):
            raise Unsupported("invalid typed value")
        return result

