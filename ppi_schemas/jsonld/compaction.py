"""The Compaction Algorithm (JSON-LD 1.1 API §6.1) over compiled context tables.

Term selection (§6.2) is pyld's own, memoised on a *signature* of the value that holds exactly
what pyld's ``_compact_iri`` reads from it (container kind, type, language, direction, whether a
node's ``@id`` is itself a term), so a memo hit returns what pyld would have computed.
"""

from __future__ import annotations

from typing import Any

from .compiled import KEYWORD_SET, MAP_CONTAINERS, ContextTables, Unsupported, add_value, memo

_EMPTY = ("empty",)  # the signature of an empty array of values


class Compaction(ContextTables):
    """Compaction of an expanded document into the compiled context."""

    def compact(self, expanded: list[Any]) -> dict[str, Any]:
        if len(expanded) != 1 or not isinstance(expanded[0], dict):
            raise Unsupported("not exactly one top-level node")
        node = expanded[0]
        if "@value" in node or "@list" in node or (len(node) == 1 and "@id" in node):
            raise Unsupported("top-level value, list or node reference")
        return self._compact_node(node)

    def _compact_id(self, iri: Any) -> str:
        """``_compact_iri(iri, vocab=False, base="")``: the shortest usable CURIE, else the IRI."""
        if not isinstance(iri, str) or iri in KEYWORD_SET:
            raise Unsupported("@id is not an IRI string")
        best = None
        size = len(iri)
        for length in self.curie_lengths:
            if length >= size:
                break
            for term, is_prefix in self.curie_index.get(iri[:length], ()):
                curie = term + ":" + iri[length:]
                if curie in self.mappings and self.mappings[curie] is None:
                    raise Unsupported("CURIE collides with a null term")
                usable = (is_prefix and curie not in self.mappings) or (
                    curie in self.mappings and self.mappings[curie].get("@id") == iri
                )
                if usable and (best is None or (len(curie), curie) < (len(best), best)):
                    best = curie
        if best is not None:
            return best
        if iri.startswith(self.prefix_colons) or "@base" in self.active:
            raise Unsupported("IRI confused with a prefix, or a context @base")
        return iri

    def _select_term(self, iri: str, value: Any) -> str:
        """pyld's term selection for ``iri`` with ``value``, memoised on what selection reads."""
        try:
            key = (iri, self._signature(value))
        except TypeError as exc:  # an unhashable member: not expanded JSON-LD
            raise Unsupported("unexpected value shape") from exc
        hit = self._selected.get(key)
        if hit is None:
            hit = memo(self._selected, key, self._pyld_compact_iri(iri, value, vocab=True))
        return hit

    def _signature(self, value: Any) -> Any:
        if isinstance(value, list):
            if value:
                raise Unsupported("unexpected value shape")
            return _EMPTY
        if not isinstance(value, dict) or "@index" in value or "@preserve" in value or "@graph" in value:
            raise Unsupported("index, preserve or graph object")
        if "@list" in value:
            return self._list_signature(value["@list"])
        if "@value" in value:
            return (
                "value",
                value.get("@type"),
                value.get("@language"),
                value.get("@direction"),
                "@language" in value,
                "@direction" in value,
                len(value),
            )
        if "@id" in value:
            return ("node", self._id_matches_term(value["@id"]))
        return ("node", None)

    def _list_signature(self, items: Any) -> Any:
        """The common type and language pyld derives for a list (§6.2.2 step 2.6)."""
        if not isinstance(items, list):
            raise Unsupported("@list is not an array")
        if not items:
            return ("list",)
        common_language = common_type = None
        for item in items:
            is_value = isinstance(item, dict) and "@value" in item
            item_language = item_type = "@none"
            if is_value:
                if "@direction" in item:
                    item_language = f"{item.get('@language', '')}_{item.get('@direction', '')}"
                elif "@language" in item:
                    item_language = item["@language"]
                elif "@type" in item:
                    item_type = item["@type"]
                else:
                    item_language = "@null"
            else:
                item_type = "@id"
            if common_language is None:
                common_language = item_language
            elif item_language != common_language and is_value:
                common_language = "@none"
            if common_type is None:
                common_type = item_type
            elif item_type != common_type:
                common_type = "@none"
            if common_language == "@none" and common_type == "@none":
                break
        return ("list", common_type, common_language)

    def _id_matches_term(self, iri: Any) -> bool:
        """Whether ``iri`` compacts (vocab-relative) to a term defined as exactly that IRI."""
        if not isinstance(iri, str):
            raise Unsupported("@id is not a string")
        if iri not in self.term_iris:
            if iri.startswith(self.prefix_colons):
                raise Unsupported("IRI confused with a prefix")
            return False
        term = self._compact_vocab(iri)
        mapping = self.mappings.get(term)
        return bool(mapping) and mapping["@id"] == iri

    def _compact_node(self, element: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for iri in sorted(element):
            values = element[iri]
            if iri == "@id":
                add_value(result, self._alias("@id"), self._compact_id(values), False)
                continue
            if iri == "@type":
                types = [self._compact_vocab(t) for t in (values if isinstance(values, list) else [values])]
                alias = self._alias("@type")
                as_set = "@set" in self.terms.get(alias, self.default_term).container
                add_value(result, alias, types[0] if len(types) == 1 else types, as_set or not types)
                continue
            if iri in KEYWORD_SET or not isinstance(values, list):
                raise Unsupported(f"{iri} in a node object")
            if not values:
                term = self._select_term(iri, values)
                if self.terms.get(term, self.default_term).map_container:
                    raise Unsupported("map container")
                add_value(result, term, [], True)
            for item in values:
                self._compact_property_item(result, iri, item)
        return result

    def _compact_property_item(self, result: dict[str, Any], iri: str, item: Any) -> None:
        term = self._select_term(iri, item)
        container = self.terms.get(term, self.default_term).container
        if container & MAP_CONTAINERS:
            raise Unsupported("map container")
        if "@list" in item:
            compacted = self._compact_list(term, container, item["@list"])
            if "@list" in container:
                result[term] = compacted
                return
            compacted = {self._alias("@list"): compacted}
        else:
            compacted = self._compact_item(term, item)
        if "@language" in container:
            language_map = result.setdefault(term, {})
            if isinstance(compacted, dict) and "@value" in compacted:
                compacted = compacted["@value"]
            add_value(language_map, item.get("@language") or self._alias("@none"), compacted, "@set" in container)
            return
        as_array = "@set" in container or "@list" in container or (isinstance(compacted, list) and not compacted)
        add_value(result, term, compacted, as_array)

    def _compact_list(self, term: str, container: frozenset[str], items: list[Any]) -> list[Any]:
        out = []
        for item in items:
            if not isinstance(item, dict):
                raise Unsupported("list item is not an object")
            if "@list" in item:
                if "@list" not in container:
                    raise Unsupported("list of lists outside a list container")
                compacted = self._compact_list(term, container, item["@list"])
            else:
                compacted = self._compact_item(term, item)
            if compacted is not None:
                out.append(compacted)
        return out

    def _compact_item(self, term: str, item: dict[str, Any]) -> Any:
        if "@value" in item:
            return self._compact_value(term, item)
        if len(item) == 1 and "@id" in item:
            return self._compact_reference(term, item["@id"])
        return self._compact_node(item)

    def _compact_value(self, prop: str, value: dict[str, Any]) -> Any:
        """Value Compaction (§6.5) of a value object without ``@index``."""
        if "@index" in value:
            raise Unsupported("@index on a value")
        term = self.terms.get(prop, self.default_term)
        type_, language, direction = term.type, term.language, term.direction
        if type_ != "@none":
            if "@type" in value and value["@type"] == type_:
                return value["@value"]
            if "@language" in value and value["@language"] == language:
                return value["@value"]
            if "@direction" in value and value["@direction"] == direction:
                return value["@value"]
            if len(value) == 1 and (
                not self.has_default_language or not isinstance(value["@value"], str) or term.null_language
            ):
                return value["@value"]
        result = {}
        if "@type" in value:
            result[self._alias("@type")] = self._compact_vocab(value["@type"])
        elif "@language" in value:
            result[self._alias("@language")] = value["@language"]
        if "@direction" in value:
            result[self._alias("@direction")] = value["@direction"]
        result[self._alias("@value")] = value["@value"]
        return result

    def _compact_reference(self, prop: str, iri: Any) -> Any:
        type_ = self.terms.get(prop, self.default_term).type
        compacted = self._compact_vocab(iri) if type_ == "@vocab" else self._compact_id(iri)
        if type_ in ("@id", "@vocab") or self._key(prop)[0] == "@graph":
            return compacted
        return {self._alias("@id"): compacted}


