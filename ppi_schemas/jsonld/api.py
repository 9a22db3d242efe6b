"""JSON-LD expansion, compaction and RDF conversion with the local loader and the fast path.

Every function takes an optional :class:`DocumentLoader` (default: :func:`default_loader`), so
contexts resolve from local files. ``expand`` and ``compact`` try the precompiled NGSI-LD fast path
first and fall back to pyld for anything it does not cover; ``fast=False`` always uses pyld. The
output is the same either way.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

import rdflib
from pyld import jsonld

from .fastpath import FastPath, Unsupported
from .loader import ContextNotAvailable, DocumentLoader

_fast_paths: WeakKeyDictionary[DocumentLoader, FastPath] = WeakKeyDictionary()


@functools.cache
def default_loader() -> DocumentLoader:
    """The process-wide loader configured from the environment (``OUP_JSONLD_*``)."""
    return DocumentLoader()


def fast_path(loader: DocumentLoader) -> FastPath:
    """The compiled-context cache belonging to ``loader``."""
    fast = _fast_paths.get(loader)
    if fast is None:
        fast = _fast_paths.setdefault(loader, FastPath(loader))
    return fast


@contextmanager
def _context_errors() -> Iterator[None]:
    """Surface a missing context as :class:`ContextNotAvailable`, not as pyld's wrapped error."""
    try:
        yield
    except jsonld.JsonLdError as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ContextNotAvailable):
                raise cause  # keeps its own cause (e.g. the httpx error)
            cause = cause.__cause__
        raise


def expand(
    document: Any, *, loader: DocumentLoader | None = None, base: str | None = None, fast: bool = True
) -> list[Any]:
    """JSON-LD Expansion (JSON-LD 1.1 API §4.1.2) of ``document``; ``base`` resolves relative IRIs."""
    loader = loader or default_loader()
    with _context_errors():
        if fast and not base:
            try:
                return fast_path(loader).expand(document)
            except Unsupported:
                pass
        return jsonld.expand(document, loader.pyld_options(base=base or ""))


def compact(document: Any, context: Any, *, loader: DocumentLoader | None = None, fast: bool = True) -> Any:
    """JSON-LD Compaction (§4.1.1) of ``document`` with ``context`` (URL, object or array)."""
    loader = loader or default_loader()
    with _context_errors():
        if fast:
            engine = fast_path(loader)
            try:
                return engine.compact(engine.expand(document), context)
            except Unsupported:
                pass
        return jsonld.compact(document, context, loader.pyld_options())


def to_rdf(document: Any, *, loader: DocumentLoader | None = None) -> rdflib.Graph:
    """Deserialize JSON-LD to RDF (§4.1.5) as an rdflib graph.

    A document without named graphs gives an ``rdflib.Graph``; one with ``@graph`` objects that
    name graphs gives an ``rdflib.Dataset`` (a ``Graph`` too) holding them.
    """
    loader = loader or default_loader()
    expanded = expand(document, loader=loader)
    with _context_errors():
        dataset = jsonld.JsonLdProcessor().to_rdf(expanded, loader.pyld_options(base=""))
    if not any(name != "@default" and triples for name, triples in dataset.items()):
        graph = rdflib.Graph()
        graph.addN((*_triple(t), graph) for t in dataset.get("@default", ()))
        return graph
    result = rdflib.Dataset()
    for name, triples in dataset.items():
        if name == "@default":
            target = result.default_graph
        else:
            target = result.graph(_term({"type": "blank node" if name.startswith("_:") else "IRI", "value": name}))
        target.addN((*_triple(t), target) for t in triples)
    return result


def _triple(triple: dict[str, Any]) -> tuple[rdflib.term.Node, rdflib.term.Node, rdflib.term.Node]:
    return _term(triple["subject"]), _term(triple["predicate"]), _term(triple["object"])


def _term(node: dict[str, Any]) -> rdflib.term.Node:
    """One pyld RDF term as rdflib's: plain strings stay untyped, as N-Quads writes them."""
    if node["type"] == "IRI":
        return rdflib.URIRef(node["value"])
    if node["type"] == "blank node":
        return rdflib.BNode(node["value"][2:])
    if node.get("language"):
        return rdflib.Literal(node["value"], lang=node["language"])
    datatype = node.get("datatype")
    if datatype in (None, str(rdflib.XSD.string)):
        return rdflib.Literal(node["value"])
    return rdflib.Literal(node["value"], datatype=rdflib.URIRef(datatype))
