"""Comparison of two JSON-LD 1.1 ``@context``s by what each term expands to.

A context gives a payload's keys their meaning. If a term's IRI changes or the term disappears,
the same payload means something else (or nothing: JSON-LD silently drops unmapped terms) to
whoever reads it, whichever version they run, so both directions break. A new term takes no
meaning away and breaks neither.

Terms are expanded within the context itself, following JSON-LD 1.1 IRI expansion: term
references, compact IRIs (``prefix:suffix``) and ``@vocab``. Remote contexts are not fetched,
so their URLs are compared as an ordered list (later contexts override earlier ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ppi_schemas.compat.model import Change
from ppi_schemas.compat.values import canonical, join


def compare_contexts(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Changes in meaning between two context documents (``{"@context": ...}``) or contexts."""
    before, after = _ActiveContext.parse(old), _ActiveContext.parse(new)
    changes: list[Change] = []
    if before.urls != after.urls:
        changes.append(
            Change(
                "context-url-changed",
                after.pointer,
                f"remote contexts {before.urls} -> {after.urls}; their terms cannot be compared offline",
                "both",
            )
        )
    if before.vocab is not None and before.vocab != after.vocab:
        now = "removed" if after.vocab is None else f"-> <{after.vocab}>"
        message = f"@vocab <{before.vocab}> {now}: every term left to @vocab changes meaning"
        changes.append(Change("context-vocab-changed", join(after.pointer, "@vocab"), message, "both"))
    for term in dict.fromkeys([*before.terms, *after.terms]):
        was, now = before.definition(term), after.definition(term)
        at = after.terms.get(term, before.terms.get(term, (None, after.pointer)))[1]
        if was is None or was == now:
            continue
        if now is None:
            message = f"term '{term}' meant <{was.iri}> and is no longer mapped"
            changes.append(Change("context-term-removed", at, message, "both"))
        elif was.iri != now.iri:
            message = f"term '{term}' <{was.iri}> -> <{now.iri}>"
            changes.append(Change("context-term-iri-changed", at, message, "both"))
        else:
            fields = [name for name in _Term._fields if getattr(was, name) != getattr(now, name)]
            message = f"term '{term}' definition changed: {', '.join(fields)}"
            changes.append(Change("context-term-definition-changed", at, message, "both"))
    return changes


class _Term(NamedTuple):
    """What a term means: its IRI plus the keywords that change the RDF it produces."""

    iri: str
    reverse: bool = False
    type: str | None = None
    container: frozenset[str] = frozenset()
    language: Any = None
    direction: Any = None
    context: Any = None


@dataclass
class _ActiveContext:
    pointer: str
    urls: list[str] = field(default_factory=list)
    #: term -> (raw definition, JSON pointer of the definition)
    terms: dict[str, tuple[Any, str]] = field(default_factory=dict)
    vocab_raw: str | None = None

    @classmethod
    def parse(cls, document: Any) -> _ActiveContext:
        """Merge a context's entries in order; ``null`` resets, as in context processing."""
        if isinstance(document, dict) and "@context" in document:
            value, pointer = document["@context"], "/@context"
        else:
            value, pointer = document, ""
        context = cls(pointer)
        entries = value if isinstance(value, list) else [value]
        for index, entry in enumerate(entries):
            at = join(pointer, index) if isinstance(value, list) else pointer
            if entry is None:
                context = cls(pointer)
            elif isinstance(entry, str):
                context.urls.append(entry)
            elif isinstance(entry, dict):
                context._merge(entry, at)
        return context

    def _merge(self, entry: dict[str, Any], at: str) -> None:
        for key, definition in entry.items():
            if key == "@vocab":
                self.vocab_raw = definition
            elif key == "@import" and isinstance(definition, str):
                self.urls.append(definition)
            elif not key.startswith("@"):
                self.terms[key] = (definition, join(at, key))

    @property
    def vocab(self) -> str | None:
        """The expanded ``@vocab``; "@vocab" in ``seen`` stops a vocabulary defined through itself."""
        if self.vocab_raw is None:
            return None
        return self._expand(self.vocab_raw, frozenset({"@vocab"}), vocab=False)

    def definition(self, term: str) -> _Term | None:
        """The meaning of ``term`` used as a key, or None when JSON-LD would drop it."""
        iri = self._iri(term, frozenset())
        if iri is None:
            return None
        raw = self.terms[term][0] if term in self.terms else {}
        if not isinstance(raw, dict):
            return _Term(iri)
        kind = raw.get("@type")
        container = raw.get("@container") or []
        return _Term(
            iri=iri,
            reverse="@reverse" in raw,
            type=self._expand(kind, frozenset()) if isinstance(kind, str) else None,
            container=frozenset([container] if isinstance(container, str) else container),
            language=canonical(raw["@language"]) if "@language" in raw else None,
            direction=canonical(raw["@direction"]) if "@direction" in raw else None,
            context=canonical(raw["@context"]) if "@context" in raw else None,
        )

    def _iri(self, term: str, seen: frozenset[str]) -> str | None:
        """The IRI a term maps to; None when its definition is null or its @id is null."""
        raw = self.terms[term][0] if term in self.terms else {}
        seen = seen | {term}
        if isinstance(raw, str):
            return self._expand(raw, seen)
        if not isinstance(raw, dict):
            return None
        if "@reverse" in raw:
            reference = raw["@reverse"]
        elif "@id" in raw:
            reference = raw["@id"]
        else:
            return self._undefined(term, seen)
        return self._expand(reference, seen) if isinstance(reference, str) else None

    def _undefined(self, term: str, seen: frozenset[str]) -> str | None:
        """A key without an ``@id`` of its own: a compact or absolute IRI, or relative to @vocab."""
        if ":" in term:
            return self._expand(term, seen)
        vocab = None if "@vocab" in seen else self.vocab
        return None if vocab is None else vocab + term

    def _expand(self, value: str, seen: frozenset[str], *, vocab: bool = True) -> str | None:
        """IRI expansion (JSON-LD 1.1 API section 5.2) against this context's own terms."""
        if value.startswith("@"):
            return value
        if value in self.terms and value not in seen:
            return self._iri(value, seen)
        prefix, colon, suffix = value.partition(":")
        if colon:
            if prefix == "_" or suffix.startswith("//") or prefix not in self.terms or prefix in seen:
                return value
            base = self._iri(prefix, seen)
            return value if base is None else base + suffix
        base = self.vocab if vocab and "@vocab" not in seen else None
        return value if base is None else base + value
