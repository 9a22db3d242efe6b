"""An active context compiled into lookup tables, shared by the fast expansion and compaction.

The tables come from an active context pyld processed itself, so every term definition, IRI and
container is pyld's. Where a lookup has no table (an unseen key, a term selection for a new value
shape), pyld's own function computes it once and the answer is memoised.
"""

from __future__ import annotations

from typing import Any

from pyld.jsonld import KEYWORDS, JsonLdError, JsonLdProcessor, _is_absolute_iri

_MEMO_LIMIT = 4096
_MISS = object()
MAP_CONTAINERS = frozenset({"@index", "@id", "@type", "@graph"})
DROP, KEYWORD, PROPERTY = 0, 1, 2
KEYWORD_SET = frozenset(KEYWORDS)


class Unsupported(Exception):
    """The fast path does not handle this document or context; use pyld for it."""


class _Term:
    """What expansion and compaction read from one term definition (``get_context_value``)."""

    __slots__ = ("type", "language", "direction", "container", "null_language", "map_container")

    def __init__(self, entry: Any, default_language: Any, default_direction: Any) -> None:
        entry = entry or {}
        self.type = entry.get("@type")
        self.language = entry["@language"] if "@language" in entry else default_language
        self.direction = entry["@direction"] if "@direction" in entry else default_direction
        self.container = frozenset(entry.get("@container") or ())
        self.null_language = "@language" in entry and entry["@language"] is None
        self.map_container = bool(self.container & MAP_CONTAINERS)


def memo(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    """Remember ``value`` unless the memo is full: keys come from payloads, so bound them."""
    if len(cache) < _MEMO_LIMIT:
        cache[key] = value
    return value


def add_value(subject: dict[str, Any], prop: str, value: Any, as_array: bool) -> None:
    """``JsonLdProcessor.add_value`` with duplicates allowed (what expansion and compaction use)."""
    if isinstance(value, list):
        if not value and as_array and prop not in subject:
            subject[prop] = []
        for item in value:
            add_value(subject, prop, item, as_array)
    elif prop in subject:
        existing = subject[prop]
        if not isinstance(existing, list):
            existing = subject[prop] = [existing]
        existing.append(value)
    else:
        subject[prop] = [value] if as_array else value


class ContextTables:
    """Term tables and memoised IRI expansion/compaction for one pyld active context."""

    def __init__(self, active: Any, processor: JsonLdProcessor) -> None:
        if active.get("previousContext") is not None or active.get("processingMode") != "json-ld-1.1":
            raise Unsupported("non-propagated or JSON-LD 1.0 context")
        self.active = active
        self.mappings = active["mappings"]
        self._processor = processor
        language, direction = active.get("@language"), active.get("@direction")
        self.default_term = _Term(None, language, direction)
        self.terms: dict[str, _Term] = {}
        self.term_iris: set[str] = set()
        self.curie_index: dict[str, list[tuple[str, bool]]] = {}
        prefixes = []
        for term, entry in self.mappings.items():
            if entry is None:
                self.terms[term] = _Term(None, None, None)
                continue
            if "@context" in entry or entry.get("reverse") or "@nest" in entry or "@index" in entry:
                raise Unsupported(f"term {term!r} uses a scoped context, @reverse, @nest or @index")
            self.terms[term] = _Term(entry, language, direction)
            iri = entry.get("@id")
            if isinstance(iri, str):
                self.term_iris.add(iri)
            if entry.get("_prefix"):
                prefixes.append(term + ":")
            if ":" not in term and iri:
                self.curie_index.setdefault(iri, []).append((term, bool(entry.get("_prefix"))))
        self.prefix_colons = tuple(prefixes)
        self.curie_lengths = sorted({len(iri) for iri in self.curie_index})
        self.has_default_language = "@language" in active
        self._keys: dict[str, tuple[Any, int]] = {}
        self._vocab: dict[str, Any] = {}
        self._vocab_terms: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        self._selected: dict[tuple[str, Any], str] = {}

    # -- IRI expansion (IRI Expansion, §5.2) -------------------------------------------------

    def _key(self, key: str) -> tuple[Any, int]:
        """A key expanded with ``vocab=True`` and whether it is dropped, a keyword or a property."""
        hit = self._keys.get(key, _MISS)
        if hit is not _MISS:
            return hit
        iri = self._processor._expand_iri(self.active, key, vocab=True)
        if iri is None:
            kind = DROP
        elif iri in KEYWORD_SET:
            kind = KEYWORD
        else:
            kind = PROPERTY if _is_absolute_iri(iri) else DROP
        return memo(self._keys, key, (iri, kind))

    def _vocab_iri(self, value: str) -> str:
        """``@type`` values and ``@vocab``-typed strings: ``vocab=True`` against the empty base."""
        hit = self._vocab.get(value, _MISS)
        if hit is _MISS:
            hit = memo(self._vocab, value, self._processor._expand_iri(self.active, value, vocab=True, base=""))
        if hit is None:
            raise Unsupported("keyword-like IRI")
        return hit

    def _expand_id(self, value: Any) -> str:
        """Document-relative IRI expansion of an ``@id`` (absolute IRIs and CURIEs only)."""
        if not isinstance(value, str) or value.startswith("@"):
            raise Unsupported("@id is not an IRI string")
        colon = value.find(":")
        if colon > 0:
            prefix, suffix = value[:colon], value[colon + 1 :]
            if prefix == "_" or suffix.startswith("//"):
                return value
            mapping = self.mappings.get(prefix)
            if mapping and mapping.get("_prefix"):
                return mapping["@id"] + suffix
            if _is_absolute_iri(value):
                return value
        raise Unsupported("relative IRI, resolved against the base by pyld")

    def _alias(self, keyword: str) -> str:
        hit = self._aliases.get(keyword)
        if hit is None:
            hit = memo(self._aliases, keyword, self._pyld_compact_iri(keyword))
        return hit

    def _compact_vocab(self, iri: Any) -> str:
        if not isinstance(iri, str):
            raise Unsupported("IRI is not a string")
        hit = self._vocab_terms.get(iri)
        if hit is None:
            hit = memo(self._vocab_terms, iri, self._pyld_compact_iri(iri, vocab=True))
        return hit

    def _pyld_compact_iri(self, iri: str, value: Any = None, vocab: bool = False) -> str:
        try:
            return self._processor._compact_iri(self.active, iri, value, vocab=vocab)
        except JsonLdError as exc:
            raise Unsupported(str(exc)) from exc

