"""Find the keys of a payload that JSON-LD would silently drop.

JSON-LD Expansion discards every key its active context does not map to an absolute IRI or a
keyword (JSON-LD 1.1 API §5.1.2 step 13.3), so a misspelt or undeclared attribute simply
vanishes from the data. :func:`unmapped_terms` reports each such key with its JSON pointer.

It runs pyld's own expansion and inspects each object pyld expands, under the exact active
context pyld uses there: embedded, property-scoped and type-scoped contexts are honoured, and
what is not a term (language-map and index-map keys, ``@json`` literal values) is never looked at.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, NamedTuple

from pyld import jsonld

from .api import _context_errors, default_loader
from .loader import DocumentLoader


class UnmappedTerm(NamedTuple):
    """A key JSON-LD expansion would drop: where it is (RFC 6901 pointer) and the key itself."""

    pointer: str
    term: str


class _TermAuditor(jsonld.JsonLdProcessor):
    """A pyld processor that records, per expanded object, the keys it is about to drop."""

    def __init__(self, pointers: dict[int, str]) -> None:
        super().__init__()
        self._pointers = pointers
        self.unmapped: list[UnmappedTerm] = []

    def _expand_object(  # type: ignore[no-untyped-def]
        self, active_ctx, active_property, expanded_active_property, element, parent, options, *args, **kwargs
    ):
        pointer = self._pointers.get(id(element))
        if pointer is not None:
            for key in sorted(element):
                if key == "@context":
                    continue
                iri = self._expand_iri(active_ctx, key, vocab=True)
                if iri is None or not (jsonld._is_absolute_iri(iri) or jsonld._is_keyword(iri)):
                    self.unmapped.append(UnmappedTerm(f"{pointer}/{_escape(key)}", key))
                    self._audit_dropped(active_ctx, element[key], options)
        return super()._expand_object(
            active_ctx, active_property, expanded_active_property, element, parent, options, *args, **kwargs
        )

    def _audit_dropped(self, active_ctx: Any, value: Any, options: dict[str, Any]) -> None:
        """Look inside a dropped member too, so one run reports every unmapped key in it."""
        if isinstance(value, (dict, list)):
            with contextlib.suppress(jsonld.JsonLdError):  # pyld never expands it, so never rejects it
                self._expand(active_ctx, None, value, options)


def unmapped_terms(document: Any, *, loader: DocumentLoader | None = None) -> list[UnmappedTerm]:
    """Every key of ``document`` (at any depth) that its active context maps to no absolute IRI."""
    loader = loader or default_loader()
    document = copy.deepcopy(document)
    pointers: dict[int, str] = {}
    _index_objects(document, "", pointers)
    auditor = _TermAuditor(pointers)
    options = loader.pyld_options(base="", isFrame=False, keepFreeFloatingNodes=False)
    with _context_errors():
        # _expand, not expand: expand() deep-copies the input, losing the object identities
        # that map each expanded object back to its pointer.
        auditor._expand(auditor._get_initial_context(options), None, document, options)
    return sorted(set(auditor.unmapped), key=_pointer_order)


def _index_objects(value: Any, pointer: str, pointers: dict[int, str]) -> None:
    if isinstance(value, dict):
        pointers[id(value)] = pointer
        for key, item in value.items():
            _index_objects(item, f"{pointer}/{_escape(key)}", pointers)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _index_objects(item, f"{pointer}/{index}", pointers)


def _pointer_order(term: UnmappedTerm) -> list[tuple[int, int | str]]:
    """Document order for pointers: array indices numerically, member names by name."""
    return [(0, int(token)) if token.isdigit() else (1, token) for token in term.pointer.split("/")[1:]]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
