"""Precompiled JSON-LD expansion and compaction for NGSI-LD entities.

pyld re-derives everything per document (deep copy, IRI expansion of every key, inverse-context
term selection for every value), which caps it at a few hundred entities per second. Here an
*active context* that pyld itself processed (so every term definition is pyld's) is compiled once
into term tables, and entities are expanded and compacted by a direct walk that mirrors pyld's
Expansion and Compaction Algorithms (JSON-LD 1.1 API §5.1, §6.1) step for step. Term selection
is still pyld's own ``_compact_iri``, memoised on exactly the features of a value it looks at.

The walk covers what NGSI-LD payloads use: one top-level ``@context`` (URLs and/or objects),
node objects, ``@id``/``@type``, value objects, ``@json`` literals, ``@list`` and ``@set`` and
``@language`` containers. Anything else (scoped contexts, ``@reverse``, ``@nest``, ``@graph``,
index/id/type maps, embedded contexts below the top, relative IRIs, input pyld rejects) raises
:class:`Unsupported`, and the caller hands the document to pyld unchanged.
"""

from __future__ import annotations

import weakref
from typing import Any

import orjson
from pyld.jsonld import JsonLdProcessor

from .compaction import Compaction
from .compiled import Unsupported
from .expansion import Expansion
from .loader import BoundedCache, DocumentLoader

__all__ = ["CompiledContext", "FastPath", "Unsupported"]


class CompiledContext(Expansion, Compaction):
    """One pyld active context, compiled, with the expansion and compaction walks."""


class FastPath:
    """Compiled contexts for one :class:`DocumentLoader`, keyed by the ``@context`` value."""

    def __init__(self, loader: DocumentLoader) -> None:
        self._loader = weakref.ref(loader)  # the loader keys a weak map of these: don't keep it alive
        self._processor = JsonLdProcessor()
        self._compiled = BoundedCache(maxsize=256)

    def context(self, local_context: Any) -> CompiledContext:
        """The compiled active context for a ``@context`` value (``None``: the initial context)."""
        key = _context_key(local_context)
        compiled = self._compiled.get(key)
        if compiled is None:
            loader = self._loader()
            if loader is None:
                raise ReferenceError("the DocumentLoader of this fast path no longer exists")
            options = loader.pyld_options(base="")
            active = self._processor._get_initial_context(options)
            if local_context is not None:
                active = self._processor.process_context(active, local_context, options)
            try:
                compiled = CompiledContext(active, self._processor)
            except Unsupported as exc:
                compiled = exc
            self._compiled[key] = compiled
        if isinstance(compiled, Unsupported):
            raise Unsupported(*compiled.args)
        return compiled

    def expand(self, document: Any) -> list[Any]:
        """Expand one node object, or an array of them (each with its own ``@context``)."""
        if isinstance(document, list):
            return [node for item in document for node in self.expand_node(item)]
        return self.expand_node(document)

    def expand_node(self, document: Any) -> list[Any]:
        if not isinstance(document, dict):
            raise Unsupported("document is not a JSON object")
        local_context = document.get("@context")
        if isinstance(local_context, dict) and "@context" in local_context:
            raise Unsupported("@context wrapped in an object")
        return self.context(local_context).expand(document)

    def compact(self, expanded: list[Any], local_context: Any) -> dict[str, Any]:
        if local_context is None:
            raise Unsupported("no compaction context")
        compacted = self.context(local_context).compact(expanded)
        if isinstance(local_context, dict) and "@context" in local_context:
            local_context = local_context["@context"]
        contexts = [
            c
            for c in (local_context if isinstance(local_context, list) else [local_context])
            if not (isinstance(c, dict) and not c)
        ]
        if not contexts:
            return compacted
        return {"@context": contexts[0] if len(contexts) == 1 else contexts, **compacted}


def _context_key(local_context: Any) -> Any:
    if local_context is None or isinstance(local_context, str):
        return local_context
    if isinstance(local_context, list) and all(isinstance(c, str) for c in local_context):
        return tuple(local_context)
    try:
        return orjson.dumps(local_context, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise Unsupported("@context is not JSON") from exc
